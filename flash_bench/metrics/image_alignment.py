"""CLIP Image Alignment (A3.3): mean over frames of cos(frame, reference image), × 100.

Every frame counts, the first included (see :mod:`flash_bench.metrics.text_alignment`); a method that keeps
frame 1 equal to the reference gets that frame's cosine of ≈1 like any other frame that matches it.
"""
from __future__ import annotations

import numpy as np

from flash_bench.metrics.base import Metric, Sample, unit_rows


def image_alignment(frames: np.ndarray, reference: np.ndarray) -> float:
    """frames (T, D), reference (D,) CLIP embeddings → 100 · mean_t cos(frame_t, reference)."""
    return float(100.0 * (unit_rows(frames) @ unit_rows(reference)).mean())


class ImageAlignment(Metric):
    name = "image_alignment"
    label = "Image Alignment"
    higher_is_better = True
    scale = "cosine x 100"
    features = ("clip",)

    def _value(self, sample: Sample) -> float | None:
        return image_alignment(sample.features["clip"], sample.reference)
