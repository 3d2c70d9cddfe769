"""Seeded video distortions for training the Detail Enhancement Decoder (A2.3, A3.2).

Applied in the paper's order to a float video (T, 3, H, W) in [0, 1]:

1. Gaussian blur, one kernel size per video drawn from the odd sizes in [3, 10] (torchvision needs odd
   kernels: 3, 5, 7, 9); sigma follows the kernel as in torchvision's ``gaussian_blur(sigma=None)``
   (0.3 * ((k - 1) / 2 - 1) + 0.8). Same parameters for every frame, as in A2.2.
2. Colour jitter on 80% of random regions: each frame is cut into a ``grid`` x ``grid`` grid of cells
   (our choice; the paper does not define "regions"), round(0.8 * grid**2) cells are drawn per frame and
   each gets its own brightness, contrast, saturation factors in [0.7, 1.3] and hue shift in [-0.2, 0.2]
   (torchvision's ``adjust_*`` formulas in that fixed order, vectorised over cells with per-pixel factor maps;
   the test checks them against torchvision). Unlike A2.2 the changes are deliberately not
   consistent: they imitate perturbations of the latent video.
3. Elastic transform, torchvision ``ElasticTransform`` semantics: alpha ("displacement strength") drawn in
   [1, 20] per frame, sigma 5 (torchvision's default), a fresh random field per frame (on frames smaller
   than the 41-tap smoothing kernel the kernel is cut to 2 * min(H, W) - 1 taps). The displacement is
   built like ``ElasticTransform.make_params`` but from our seeded generator; its size in pixels is
   alpha / 2 times a Gaussian-smoothed uniform [-1, 1] field, so never more than alpha / 2.

Everything random comes from one ``torch.Generator`` seeded by the caller: same seed, same distortion.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import torch
from torchvision.transforms.v2 import functional as TF

from flash_bench.types import InputError


@dataclass(frozen=True)
class DistortionConfig:
    blur_kernel: tuple[int, int] = (3, 10)          # inclusive range; odd sizes only
    jitter: tuple[float, float] = (0.7, 1.3)        # brightness, contrast, saturation factors
    hue: tuple[float, float] = (-0.2, 0.2)
    region_fraction: float = 0.8
    grid: int = 4                                   # regions = grid x grid cells per frame
    elastic_alpha: tuple[float, float] = (1.0, 20.0)
    elastic_sigma: float = 5.0

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "DistortionConfig":
        unknown = sorted(set(d) - {f.name for f in fields(cls)})
        if unknown:
            raise InputError(f"unknown distortion config keys {unknown}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


def blur_kernel_sizes(cfg: DistortionConfig) -> list[int]:
    lo, hi = cfg.blur_kernel
    return [k for k in range(lo, hi + 1) if k % 2 == 1]


def random_blur(video: torch.Tensor, cfg: DistortionConfig, gen: torch.Generator) -> tuple[torch.Tensor, dict]:
    sizes = blur_kernel_sizes(cfg)
    k = sizes[int(torch.randint(len(sizes), (), generator=gen))]
    sigma = 0.3 * ((k - 1) * 0.5 - 1) + 0.8
    return TF.gaussian_blur(video, [k, k], [sigma, sigma]), {"kernel_size": k, "sigma": sigma}


def _gray(x: torch.Tensor) -> torch.Tensor:
    """ITU-R 601 luma as torchvision's ``rgb_to_grayscale``: (T, 3, H, W) -> (T, 1, H, W)."""
    return (0.2989 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]).unsqueeze(1)


def _hue_shift(x: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Rotate the HSV hue of (T, 3, H, W) by ``shift`` (T, 1, H, W) turns, keeping S and V (as ``adjust_hue``)."""
    r, g, b = x.unbind(1)                                              # (T, H, W) each
    v, minc = x.amax(1), x.amin(1)
    d = v - minc
    safe = torch.where(d > 0, d, torch.ones_like(d))
    h = torch.where(v == r, ((g - b) / safe) % 6, torch.where(v == g, (b - r) / safe + 2, (r - g) / safe + 4))
    h = torch.where(d > 0, h / 6, torch.zeros_like(h))                 # hue in turns, (T, H, W)
    s = d / torch.where(v > 0, v, torch.ones_like(v))
    h = (h + shift[:, 0]) % 1.0
    k = (torch.tensor([5.0, 3.0, 1.0]).view(1, 3, 1, 1) + 6 * h.unsqueeze(1)) % 6   # (T, 3, H, W)
    return v.unsqueeze(1) * (1 - s.unsqueeze(1) * torch.minimum(k, 4 - k).clamp(0, 1))


def _cell_mean(x: torch.Tensor, cell_id: torch.Tensor, n_cells: int) -> torch.Tensor:
    """Mean of (T, 1, H, W) over each cell, broadcast back to (T, 1, H, W)."""
    t = x.shape[0]
    flat_id = cell_id.flatten()                                        # (H*W,)
    sums = torch.zeros(t, n_cells).index_add_(1, flat_id, x.reshape(t, -1))  # (T, n_cells)
    means = sums / torch.bincount(flat_id, minlength=n_cells)
    return means[:, cell_id].unsqueeze(1)                              # (T, 1, H, W)


def jitter_maps(x: torch.Tensor, factors: torch.Tensor, cell_id: torch.Tensor) -> torch.Tensor:
    """Brightness, contrast, saturation, hue (torchvision's ``adjust_*`` formulas, that order) with one factor
    set per cell: ``factors`` (T, n_cells, 4), ``cell_id`` (H, W) -> jittered (T, 3, H, W)."""
    fmap = factors[:, cell_id].permute(0, 3, 1, 2)                     # (T, 4, H, W)
    b, c, s, hue = fmap.split(1, 1)                                    # (T, 1, H, W) each
    x = (x * b).clamp(0, 1)
    x = (c * x + (1 - c) * _cell_mean(_gray(x), cell_id, factors.shape[1])).clamp(0, 1)
    x = (s * x + (1 - s) * _gray(x)).clamp(0, 1)
    return _hue_shift(x, hue).clamp(0, 1)


def random_regional_jitter(video: torch.Tensor, cfg: DistortionConfig,
                           gen: torch.Generator) -> tuple[torch.Tensor, dict]:
    """Colour jitter on round(fraction * grid**2) random cells of every frame, fresh factors per cell."""
    t, _, hgt, wid = video.shape
    n_cells, n_pick = cfg.grid * cfg.grid, round(cfg.region_fraction * cfg.grid * cfg.grid)
    rows = torch.arange(hgt) * cfg.grid // hgt                          # (H,) cell row of each pixel row
    cols = torch.arange(wid) * cfg.grid // wid                          # (W,)
    cell_id = rows[:, None] * cfg.grid + cols[None, :]                  # (H, W)
    picked = torch.stack([torch.randperm(n_cells, generator=gen)[:n_pick] for _ in range(t)])  # (T, n_pick)
    lo = torch.tensor([cfg.jitter[0]] * 3 + [cfg.hue[0]])
    hi = torch.tensor([cfg.jitter[1]] * 3 + [cfg.hue[1]])
    factors = lo + (hi - lo) * torch.rand(t, n_cells, 4, generator=gen)  # (T, n_cells, 4)
    mask = torch.zeros(t, n_cells, dtype=torch.bool).scatter_(1, picked, True)
    factors = torch.where(mask[..., None], factors, torch.tensor([1.0, 1.0, 1.0, 0.0]))
    out = torch.where(mask[:, cell_id].unsqueeze(1), jitter_maps(video, factors, cell_id), video)
    return out, {"mask": mask, "factors": factors, "cell_id": cell_id}


def elastic_displacement(alpha: torch.Tensor, height: int, width: int, sigma: float,
                         gen: torch.Generator) -> torch.Tensor:
    """(T, H, W, 2) displacements in normalised coordinates, one field per ``alpha`` (T,), built as
    torchvision's ``ElasticTransform.make_params`` does (uniform [-1, 1] noise, Gaussian-smoothed, x alpha / size)."""
    t = alpha.shape[0]
    d = torch.rand(2 * t, 1, height, width, generator=gen) * 2 - 1     # (2T, 1, H, W): dx, dy noise
    if sigma > 0:
        k = min(int(8 * sigma + 1), 2 * min(height, width) - 1)       # reflect padding needs k // 2 < size
        k += 1 - k % 2                                                 # odd kernel
        d = TF.gaussian_blur(d, [k, k], [sigma, sigma])
    d = d.reshape(t, 2, height, width)                                 # (T, 2, H, W)
    scale = alpha.view(t, 1, 1, 1) / torch.tensor([width, height]).view(1, 2, 1, 1)
    return (d * scale).permute(0, 2, 3, 1)                             # (T, H, W, 2)


def random_elastic(video: torch.Tensor, cfg: DistortionConfig, gen: torch.Generator) -> tuple[torch.Tensor, dict]:
    t, _, hgt, wid = video.shape
    lo, hi = cfg.elastic_alpha
    alpha = lo + (hi - lo) * torch.rand(t, generator=gen)              # (T,) displacement strengths
    disp = elastic_displacement(alpha, hgt, wid, cfg.elastic_sigma, gen)
    out = torch.stack([TF.elastic_image(video[f], disp[f:f + 1]) for f in range(t)])
    px = disp * torch.tensor([wid / 2, hgt / 2])                       # (T, H, W, 2) in pixels
    return out, {"alpha": alpha, "max_displacement_px": px.abs().flatten(1).amax(1)}


def distort_video(video: torch.Tensor, seed: int | torch.Generator,
                  cfg: DistortionConfig = DistortionConfig()) -> tuple[torch.Tensor, dict]:
    """Blur -> regional colour jitter -> elastic, on float (T, 3, H, W) in [0, 1]; returns (video, params)."""
    if video.ndim != 4 or video.shape[1] != 3 or not video.is_floating_point():
        raise InputError(f"distort_video expects a float video (T, 3, H, W) in [0, 1], got "
                         f"{tuple(video.shape)} {video.dtype}")
    gen = seed if isinstance(seed, torch.Generator) else torch.Generator().manual_seed(int(seed))
    video = video.cpu()
    out, blur = random_blur(video, cfg, gen)
    out, jit = random_regional_jitter(out, cfg, gen)
    out, ela = random_elastic(out, cfg, gen)
    return out.clamp(0, 1), {"blur": blur, "jitter": jit, "elastic": ela}
