"""The diffusion loss (eq. 1–2) with noise-free first-frame conditioning.

eq. 2 sums the denoising loss over the original and the augmented video; with the pair stacked in one batch
([original; augmented]) that is the mean over the whole batch (times a constant 2). The target follows the
scheduler's parameterisation: ε for the ``paper`` profile (AnimateDiff is ε-prediction, eq. 1); the ``tiny``
base is pretrained with v-prediction (v = √ᾱ·ε − √(1−ᾱ)·z₀, an equivalent reweighting of eq. 1 that trains
small models faster) and FLASH-tiny keeps it.

The functions are the base's own objective, shared with the tiny base's pretraining and the baselines that
fine-tune it, so they live in :mod:`flash_bench.tiny_world`.
"""
from flash_bench.tiny_world import denoising_loss, diffusion_target, noisy_input  # noqa: F401
