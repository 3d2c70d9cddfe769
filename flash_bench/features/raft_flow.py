"""Optical flow for Cosine Flow: torchvision RAFT between consecutive frames, in DeepMind's I3D-flow convention.

Frames are resized (shorter side to size·256/224) and centre-cropped to ``size`` exactly as for the RGB
stream, RAFT estimates the flow of every consecutive pair (T frames → T−1 flow fields, in pixels at that
size, channels (dx, dy)), and :func:`to_i3d_range` clips it to ±20 px and rescales it to ±1, the input
range of I3D's flow stream. ``paper``: ``raft_large`` with ``Raft_Large_Weights.C_T_SKHT_V2`` at 224².
``tiny``: ``raft_small`` at 64², with a 2-level correlation pyramid instead of 4 (4 levels need ≥128 px input):
suite-trained for a dataset geometry that has weights (:mod:`flash_bench.features.trained`; supervised on pool
frames whose figure is moved rigidly, with the refinements it was trained with), otherwise seeded random weights
with 2 refinement iterations instead of 12 — with random weights the iterations cost time (0.25 → 0.14 s per
16-frame video on one core with 4 → 2) and carry no meaning.

Consecutive pairs share frames: frame t is the second image of pair t−1 and the first of pair t. RAFT's
feature encoder sees ``cat([image1, image2])``; :class:`ConsecutiveFrameEncoder` (installed by :func:`build`
in place of that submodule) encodes each distinct frame once — a third of RAFT's cost on a 16-frame video
halved. The encoder normalises every image on its own (instance norm), so the features are the same.
"""
from __future__ import annotations

import numpy as np
import torch

from flash_bench.features.i3d import _resize_crop
from flash_bench.types import Profile

VERSION = "2"   # 2: tiny profile 2 flow updates (was 4)
FLOW_CLIP = 20.0  # pixels: DeepMind's truncation of TV-L1 flow before scaling to [-1, 1]
PAPER = {"size": 224, "updates": 12}
TINY = {"size": 64, "updates": 2, "corr_levels": 2}   # random weights: updates cost, not meaning


def to_i3d_range(flow: torch.Tensor) -> torch.Tensor:
    """Flow in pixels → I3D flow input: truncated to [−20, 20], then divided by 20 to lie in [−1, 1]."""
    return flow.clamp(-FLOW_CLIP, FLOW_CLIP) / FLOW_CLIP


class ConsecutiveFrameEncoder(torch.nn.Module):
    """Wraps RAFT's ``feature_encoder``: for input ``cat([f[:-1], f[1:]])`` (the consecutive pairs of frames f)
    it encodes the T distinct frames once instead of 2(T−1) images; any other input goes through unchanged."""

    def __init__(self, encoder: torch.nn.Module):
        super().__init__()
        self.encoder = encoder

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0] // 2
        first, second = x[:n], x[n:]
        if n < 2 or x.shape[0] % 2 or not torch.equal(first[1:], second[:-1]):
            return self.encoder(x)
        f = self.encoder(torch.cat([first, second[-1:]]))               # (n + 1, C, h, w): each frame once
        return torch.cat([f[:-1], f[1:]])


def build(profile: Profile | str, weights_dir=None, seed: int = 0, share_frames: bool = True, geometry=None):
    """(RAFT model in eval mode, provenance dict with ``size`` and ``updates``).

    ``share_frames``: install :class:`ConsecutiveFrameEncoder` (the plain torchvision model when False).
    ``geometry``: (num_frames, size) of the dataset scored — picks the tiny profile's suite-trained weights
    (:mod:`flash_bench.features.trained`; trained by :func:`flash_bench.backbones_train.train_raft`, with the
    number of refinements it was trained with).
    """
    from torchvision.models.optical_flow import raft_large, raft_small
    from torchvision.models.optical_flow.raft import CorrBlock

    from flash_bench.features import trained

    if Profile.parse(profile) is Profile.PAPER:
        from flash_bench import weights

        path = weights.resolve("raft-large", weights_dir)
        model = raft_large(weights=None)
        model.load_state_dict(weights.load_state_dict(path))
        info = {"backbone": "raft-large", "weights": weights.provenance("raft-large", path), **PAPER}
    elif (path := trained.path("raft", geometry)) is not None:
        cfg = trained.record(path)["config"]
        model = raft_small(weights=None, corr_block=CorrBlock(num_levels=cfg["corr_levels"], radius=cfg["radius"]))
        trained.load_into(model, path)
        info = {"backbone": "raft-small-tiny", "weights": trained.provenance("raft", geometry, seed),
                "size": cfg["size"], "updates": cfg["updates"], "corr_levels": cfg["corr_levels"]}
    else:
        torch.manual_seed(seed)
        model = raft_small(weights=None, corr_block=CorrBlock(num_levels=TINY["corr_levels"], radius=3))
        info = {"backbone": "raft-small-tiny", "weights": f"random (seed {seed})", **TINY}
    if share_frames:
        model.feature_encoder = ConsecutiveFrameEncoder(model.feature_encoder)
    return model.eval(), {**info, "version": VERSION}


@torch.inference_mode()
def flow_fields(model, frames: np.ndarray, size: int, updates: int, batch: int = 16) -> torch.Tensor:
    """uint8 (T, H, W, 3) → flow in pixels (T−1, 2, size, size) between consecutive frames."""
    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float()  # (T, 3, H, W)
    x = (_resize_crop(x, size) / 127.5 - 1.0).clamp(-1, 1)  # RAFT's input range [-1, 1]
    x = x.to(next(model.parameters()).device)
    first, second = x[:-1], x[1:]  # (T-1, 3, s, s) each: the consecutive pairs
    out = [model(first[i:i + batch], second[i:i + batch], num_flow_updates=updates)[-1]
           for i in range(0, len(first), batch)]
    return torch.cat(out)


def i3d_flow_input(model, frames: np.ndarray, size: int, updates: int) -> torch.Tensor:
    """uint8 (T, H, W, 3) → I3D flow-stream input (1, 2, T−1, size, size) in [−1, 1]."""
    flow = to_i3d_range(flow_fields(model, frames, size, updates))  # (T-1, 2, s, s)
    return flow.permute(1, 0, 2, 3).unsqueeze(0)  # → (1, 2, T-1, s, s)
