"""Noise-free first-frame conditioning (A2.1).

Training: the noised latent video keeps frame 1 clean, Ž_t = <z_0^1, z_t^2, …, z_t^N>, and the loss covers the
noised frames only (:func:`flash_bench.tiny_world.noisy_input`, :func:`~flash_bench.tiny_world.denoising_loss`:
the tiny base is pretrained with it too). Sampling: frame 1 is replaced by the encoded reference image at every
denoising step. Latent videos are (B, C, F, h, w), the layout of diffusers' ``UNetMotionModel``.
"""
from __future__ import annotations

import torch


def set_reference_frame(latents: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """Sampling: put the reference latent (B, C, h, w) into frame 1 of ``latents`` (B, C, F, h, w)."""
    latents = latents.clone()
    latents[:, :, 0] = reference.to(latents.dtype)
    return latents
