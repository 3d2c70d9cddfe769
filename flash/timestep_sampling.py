"""Timestep sampling that favours the early (noisy) denoising stages (A3.2, following ReVersion).

Importance sampling: p(t) ∝ (1/T)(1 − α·cos(πt/T)), t ∈ {0, …, T−1}, α = 0.5 by default; larger t (more
noise) is more likely. ``uniform=True`` gives the plain DDPM distribution (the ablation switch).
Re-implemented from the formula (ReVersion's code is under a non-commercial licence).
"""
from __future__ import annotations

import math

import torch


def timestep_probabilities(num_train_timesteps: int, alpha: float = 0.5) -> torch.Tensor:
    t = torch.arange(num_train_timesteps, dtype=torch.float64)
    weights = (1.0 - alpha * torch.cos(math.pi * t / num_train_timesteps)) / num_train_timesteps
    return weights / weights.sum()


def sample_timesteps(batch: int, num_train_timesteps: int, alpha: float = 0.5, uniform: bool = False,
                     generator: torch.Generator | None = None) -> torch.Tensor:
    """``batch`` integer timesteps (long) drawn from the importance distribution (or uniformly)."""
    if uniform:
        return torch.randint(0, num_train_timesteps, (batch,), generator=generator)
    probs = timestep_probabilities(num_train_timesteps, alpha)
    return torch.multinomial(probs, batch, replacement=True, generator=generator)
