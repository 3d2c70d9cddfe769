"""Mixed noise prior: diffusion noise whose frames share a fraction of its variance (a base-model property).

    ε_f = √s · ε_shared + √(1 − s) · ε'_f        (every frame f; each ε is standard normal, so ε_f is too)

``s = 0`` is the i.i.d. noise of AnimateDiff and of the ``paper`` profile (and draws the same numbers as a
plain ``torch.randn``). The ``tiny`` base is pretrained, fine-tuned and sampled with ``s > 0`` — the "mixed
noise model" of Ge et al., *Preserve Your Own Correlation* (ICCV 2023) — because a CPU-scale base trained on
i.i.d. noise turned every frame's independent noise into independent detail: its samples flickered ~13× more
than the ground truth however long it was pretrained or fine-tuned (README, "Tiny profile"). Whatever trains or
samples on a base draws its noise here, with that base's ``s``, so FLASH and the baselines see the same prior.
"""
from __future__ import annotations

import torch


def video_noise(shape, generator: torch.Generator | None, shared: float) -> torch.Tensor:
    """Noise of ``shape`` (B, C, F, h, w) with fraction ``shared`` of each element's variance common to all frames."""
    if not 0.0 <= shared < 1.0:
        raise ValueError(f"shared noise fraction must be in [0, 1), got {shared}")
    noise = torch.randn(shape, generator=generator)
    if shared == 0.0:
        return noise
    common = torch.randn((shape[0], shape[1], 1, *shape[3:]), generator=generator)
    return shared ** 0.5 * common + (1.0 - shared) ** 0.5 * noise
