"""Noise-free first-frame conditioning (A2.1).

Training: the noised latent video keeps frame 1 clean, Ž_t = <z_0^1, z_t^2, …, z_t^N>, and the loss covers the
noised frames only. Sampling: frame 1 is replaced by the encoded reference image at every denoising step.
Latent videos are (B, C, F, h, w), the layout of diffusers' ``UNetMotionModel``.
"""
from __future__ import annotations

import torch


def keep_first_frame_clean(noisy: torch.Tensor, clean: torch.Tensor) -> torch.Tensor:
    """Ž_t: ``noisy`` with frame 1 replaced by ``clean``'s frame 1; both (B, C, F, h, w)."""
    out = noisy.clone()
    out[:, :, 0] = clean[:, :, 0]
    return out


def noised_frames_mask(latents: torch.Tensor) -> torch.Tensor:
    """1 on the noised frames 2..N, 0 on frame 1; broadcastable to (B, C, F, h, w)."""
    mask = torch.ones(1, 1, latents.shape[2], 1, 1, dtype=latents.dtype, device=latents.device)
    mask[:, :, 0] = 0
    return mask


def set_reference_frame(latents: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """Sampling: put the reference latent (B, C, h, w) into frame 1 of ``latents`` (B, C, F, h, w)."""
    latents = latents.clone()
    latents[:, :, 0] = reference.to(latents.dtype)
    return latents
