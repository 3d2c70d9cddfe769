"""Cosine RGB (A3.3): cosine between the I3D (RGB stream) features of a generated video and its ground truth.

The feature is I3D's pooled 1024-d ``Mixed_5c`` activation (:mod:`flash_bench.features.i3d`). Items without
a ground-truth video get no value (None), never zero.
"""
from __future__ import annotations

from flash_bench.metrics.base import Metric, Sample, cosine


class CosineRGB(Metric):
    name = "cosine_rgb"
    label = "Cosine RGB"
    higher_is_better = True
    scale = "cosine"
    decimals = 4
    needs_ground_truth = True
    features = ("i3d_rgb",)

    def _value(self, sample: Sample) -> float | None:
        return cosine(sample.features["i3d_rgb"], sample.ground_truth["i3d_rgb"])
