"""Motion feature alignment (Sec. 3.2, eq. 3–4), applied after every temporal attention layer (motion module).

The batch is a pair [original; augmented] of latent videos. For the features F (after a motion module),
per channel and position: F̂ = (F − μ_T)/σ_T over time (eq. 3). s[c] = σ_T averaged over positions; the
motion channels C_m are those of the *original* video whose s exceeds its τ-percentile. The augmented
video's F̂ on C_m is replaced by the original's (eq. 4), then each video is restored with its own μ_T, σ_T.
The original half passes through unchanged. Installed as forward hooks; off unless ``enabled``.
"""
from __future__ import annotations

import torch


def align_motion_features(features: torch.Tensor, num_frames: int, tau: float = 90.0,
                          eps: float = 1e-6) -> torch.Tensor:
    """features (2B*F, C, h, w), batch [original; augmented] -> same shape, augmented half aligned."""
    bf2, c, h, w = features.shape
    x = features.view(2, bf2 // (2 * num_frames), num_frames, c, h, w)      # (2, B, F, C, h, w)
    mu = x.mean(dim=2, keepdim=True)                                        # (2, B, 1, C, h, w)
    sigma = x.std(dim=2, keepdim=True, unbiased=False) + eps                # (2, B, 1, C, h, w)
    normed = (x - mu) / sigma                                               # eq. 3 (F̂)
    s = sigma[0].mean(dim=(-1, -2)).squeeze(1)                              # (B, C) original video
    threshold = torch.quantile(s, tau / 100.0, dim=1, keepdim=True)        # (B, 1)
    motion = (s > threshold)[:, None, :, None, None]                        # (B, 1, C, 1, 1)
    aligned = normed[0] * sigma[1] + mu[1]                                  # eq. 4, restored with the aug's μ, σ
    aug = torch.where(motion, aligned, x[1])                                # other channels: untouched
    return torch.stack([x[0], aug]).view(bf2, c, h, w)


def motion_channels(features: torch.Tensor, num_frames: int, tau: float = 90.0) -> torch.Tensor:
    """Boolean (B, C): the motion channels of each original video (for inspection and tests)."""
    bf2, c, h, w = features.shape
    x = features.view(2, bf2 // (2 * num_frames), num_frames, c, h, w)      # (2, B, F, C, h, w)
    s = x[0].std(dim=1, unbiased=False).mean(dim=(-1, -2))                  # (B, C)
    return s > torch.quantile(s, tau / 100.0, dim=1, keepdim=True)


def temporal_modules(unet) -> list[tuple[str, torch.nn.Module]]:
    """The motion modules (AnimateDiffTransformer3D) of a UNetMotionModel, in forward order of definition."""
    from diffusers.models.unets.unet_motion_model import AnimateDiffTransformer3D

    return [(n, m) for n, m in unet.named_modules() if isinstance(m, AnimateDiffTransformer3D)]


class MotionAlignment:
    """Forward hooks on every motion module; ``enabled`` toggles them (training pairs only)."""

    def __init__(self, unet, state, tau: float = 90.0):
        self.state, self.tau, self.enabled = state, tau, False
        self.handles = [m.register_forward_hook(self._hook) for _, m in temporal_modules(unet)]

    def _hook(self, module, args, output):
        if not self.enabled:
            return None
        return align_motion_features(output, self.state.num_frames, self.tau)

    def remove(self) -> None:
        for h in self.handles:
            h.remove()
        self.handles = []


def apply_motion_alignment(unet, state, tau: float = 90.0) -> MotionAlignment:
    """The UNet's one :class:`MotionAlignment`, with ``tau`` (installed on first use).

    Idempotent, like :func:`flash_bench.cross_frame_attention.apply_cross_frame_attention`: every fit on the same UNet
    reuses the same hooks instead of stacking another set on the motion modules.
    """
    existing = getattr(unet, "_flash_motion_alignment", None)
    if existing is not None and existing.handles:
        existing.state, existing.tau, existing.enabled = state, tau, False
        return existing
    unet._flash_motion_alignment = MotionAlignment(unet, state, tau)
    return unet._flash_motion_alignment
