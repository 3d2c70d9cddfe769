"""AdaIN on latent videos as post-processing (A3.2, following LAMP): every latent frame's per-channel mean and
standard deviation are matched to those of the first frame."""
from __future__ import annotations

import torch


def latent_adain(latents: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """latents (B, C, F, h, w) -> same shape; frame f, channel c: (z − μ_f,c)/σ_f,c · σ_1,c + μ_1,c."""
    mu = latents.mean(dim=(3, 4), keepdim=True)                      # (B, C, F, 1, 1)
    sd = latents.std(dim=(3, 4), keepdim=True) + eps                 # (B, C, F, 1, 1)
    return (latents - mu) / sd * sd[:, :, :1] + mu[:, :, :1]
