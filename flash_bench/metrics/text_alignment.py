"""CLIP Text Alignment (A3.3): mean over frames of cos(frame, prompt), × 100.

Every frame counts, the first included: frame 1 is the method's own output (for first-frame-preserving
methods it equals the reference image), and the paper averages over all frames without exception.
"""
from __future__ import annotations

import numpy as np

from flash_bench.metrics.base import Metric, Sample, unit_rows


def text_alignment(frames: np.ndarray, prompt: np.ndarray) -> float:
    """frames (T, D), prompt (D,) CLIP embeddings → 100 · mean_t cos(frame_t, prompt)."""
    return float(100.0 * (unit_rows(frames) @ unit_rows(prompt)).mean())


class TextAlignment(Metric):
    name = "text_alignment"
    label = "Text Alignment"
    higher_is_better = True
    scale = "cosine x 100"
    features = ("clip",)

    def _value(self, sample: Sample) -> float | None:
        return text_alignment(sample.features["clip"], sample.prompt)
