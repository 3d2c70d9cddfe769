"""CLIP Temporal Consistency (A3.3): mean over consecutive frame pairs of cos(frame_t, frame_t+1), × 100.

All T−1 pairs count, (1, 2) included. A video of one frame has no pair: missing (None).
"""
from __future__ import annotations

import numpy as np

from flash_bench.metrics.base import Metric, Sample, unit_rows


def temporal_consistency(frames: np.ndarray) -> float | None:
    """frames (T, D) CLIP embeddings → 100 · mean_t cos(frame_t, frame_t+1); None when T < 2."""
    if len(frames) < 2:
        return None
    e = unit_rows(frames)
    return float(100.0 * np.sum(e[:-1] * e[1:], axis=1).mean())


class TemporalConsistency(Metric):
    name = "temporal_consistency"
    label = "Temporal Consistency"
    higher_is_better = True
    scale = "cosine x 100"
    features = ("clip",)

    def _value(self, sample: Sample) -> float | None:
        return temporal_consistency(sample.features["clip"])
