"""Mixed noise prior for sampling: initial noise whose frames share a fraction of its variance.

    ε_f = √s · ε_shared + √(1 − s) · ε'_f        (every frame f; each ε is standard normal, so ε_f is too)

``s = 0`` is the i.i.d. noise of AnimateDiff and of the ``paper`` profile, and draws the same numbers as a plain
``torch.randn``. Every method that samples the ``tiny`` base starts from ``s = flash.config.TINY_NOISE_SHARED``
(the base's ``noise_shared``): the correlated "mixed" noise of Ge et al., *Preserve Your Own Correlation*
(ICCV 2023), used here at sampling time only, the way FreeInit (Wu et al., 2023) reshapes initial noise for a
model trained on i.i.d. noise. Why: the CPU-scale base turns each frame's independent noise into independent
detail, so its i.i.d. samples flicker (FLASH-tiny: twice the ground truth's mean |second temporal difference|
over the 48 synthetic test videos, 13× on gentle ``arm_wave``) however long it was pretrained or fine-tuned.
A base pretrained on this prior as well brought the flicker partly back (README, "Tiny profile"), so training
everywhere stays on i.i.d. noise, as in the paper.
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
