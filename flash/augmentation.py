"""Strong augmentation (Sec. 3.2, A2.2, A3.2).

First a random horizontal flip and a random crop (resized back), shared by the pair; then, for the augmented
copy, Gaussian blur with a random kernel size in [3, 10] (odd sizes 3, 5, 7, 9, as Gaussian kernels are odd)
and a colour jitter — brightness, contrast, saturation factors in [0.5, 1.5], hue shift in [−0.25, 0.25],
applied in a random order as ``ColorJitter`` does — with the same parameters for every frame of the video.
Videos are float (F, 3, H, W) in [0, 1].
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class AugmentationRanges:
    crop_scale: float = 0.8                 # crop side ≥ this fraction of the frame side
    blur_kernels: tuple[int, ...] = (3, 5, 7, 9)
    brightness: tuple[float, float] = (0.5, 1.5)
    contrast: tuple[float, float] = (0.5, 1.5)
    saturation: tuple[float, float] = (0.5, 1.5)
    hue: tuple[float, float] = (-0.25, 0.25)


def _uniform(lo: float, hi: float, gen: torch.Generator) -> float:
    return lo + (hi - lo) * torch.rand((), generator=gen).item()


def flip_and_crop(video: torch.Tensor, gen: torch.Generator, crop_scale: float = 0.8) -> torch.Tensor:
    """Shared geometric augmentation: random horizontal flip, random square crop resized back to (H, W)."""
    f, c, h, w = video.shape
    if torch.rand((), generator=gen).item() < 0.5:
        video = video.flip(-1)
    side = _uniform(crop_scale, 1.0, gen)
    ch, cw = max(1, round(h * side)), max(1, round(w * side))
    top = int(torch.randint(0, h - ch + 1, (), generator=gen))
    left = int(torch.randint(0, w - cw + 1, (), generator=gen))
    crop = video[:, :, top:top + ch, left:left + cw]
    if (ch, cw) == (h, w):
        return crop
    return F.interpolate(crop, size=(h, w), mode="bilinear", antialias=True, align_corners=False)


def colour_jitter(video: torch.Tensor, gen: torch.Generator, ranges: AugmentationRanges) -> torch.Tensor:
    """ColorJitter with one draw of factors and order for the whole video (torchvision functional ops)."""
    import torchvision.transforms.v2.functional as TF

    ops = [
        lambda v, f: TF.adjust_brightness(v, f), lambda v, f: TF.adjust_contrast(v, f),
        lambda v, f: TF.adjust_saturation(v, f), lambda v, f: TF.adjust_hue(v, f),
    ]
    factors = [_uniform(*ranges.brightness, gen), _uniform(*ranges.contrast, gen),
               _uniform(*ranges.saturation, gen), _uniform(*ranges.hue, gen)]
    for i in torch.randperm(4, generator=gen).tolist():
        video = ops[i](video, factors[i])
    return video.clamp(0, 1)


def strong_augment(video: torch.Tensor, gen: torch.Generator,
                   ranges: AugmentationRanges = AugmentationRanges()) -> torch.Tensor:
    """The augmented copy: Gaussian blur (one kernel for all frames), then colour jitter (one draw)."""
    import torchvision.transforms.v2.functional as TF

    k = ranges.blur_kernels[int(torch.randint(0, len(ranges.blur_kernels), (), generator=gen))]
    blurred = TF.gaussian_blur(video, kernel_size=[k, k])
    return colour_jitter(blurred, gen, ranges)


def make_pair(video: torch.Tensor, gen: torch.Generator, ranges: AugmentationRanges = AugmentationRanges(),
              strong: bool = True) -> torch.Tensor:
    """(F, 3, H, W) -> (2, F, 3, H, W) [original; augmented] after the shared flip + crop, or (1, …) without
    strong augmentation (variant #1)."""
    base = flip_and_crop(video, gen, ranges.crop_scale)
    if not strong:
        return base[None]
    return torch.stack([base, strong_augment(base, gen, ranges)])
