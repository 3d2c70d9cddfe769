"""The diffusion loss (eq. 1–2) with noise-free first-frame conditioning.

eq. 2 sums the denoising loss over the original and the augmented video; with the pair stacked in one batch
([original; augmented]) that is the mean over the whole batch (times a constant 2). The target follows the
scheduler's parameterisation: ε for the ``paper`` profile (AnimateDiff is ε-prediction, eq. 1); the ``tiny``
base is pretrained with v-prediction (v = √ᾱ·ε − √(1−ᾱ)·z₀, an equivalent reweighting of eq. 1 that trains
small models faster) and FLASH-tiny keeps it.
"""
from __future__ import annotations

import torch

from flash.first_frame import keep_first_frame_clean, noised_frames_mask


def diffusion_target(scheduler, clean: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    kind = scheduler.config.prediction_type
    if kind == "epsilon":
        return noise
    if kind == "v_prediction":
        return scheduler.get_velocity(clean, noise, t)
    if kind == "sample":
        return clean
    raise ValueError(f"unsupported prediction_type {kind!r}")


def noisy_input(scheduler, clean: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Ž_t (A2.1): clean (B, C, F, h, w) noised to per-video timesteps t (B,), frame 1 left clean."""
    noisy = scheduler.add_noise(clean, noise, t)
    return keep_first_frame_clean(noisy, clean)


def denoising_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """eq. 1/2: squared error on the noised frames 2..N, averaged over all videos of the batch."""
    mask = noised_frames_mask(pred)
    err = (pred.float() - target.float()).pow(2) * mask
    return err.sum() / (mask.sum() * pred.shape[0] * pred.shape[1] * pred.shape[3] * pred.shape[4])
