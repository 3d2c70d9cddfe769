"""Cosine Flow (A3.3): RAFT optical flow → I3D (flow stream) feature; cosine between generated and ground truth.

Flow between consecutive frames, clipped to ±20 px and scaled to ±1 (:mod:`flash_bench.features.raft_flow`),
pooled ``Mixed_5c`` feature of the flow I3D. Items without a ground-truth video get None.
"""
from __future__ import annotations

from flash_bench.metrics.base import Metric, Sample, cosine


class CosineFlow(Metric):
    name = "cosine_flow"
    label = "Cosine Flow"
    higher_is_better = True
    scale = "cosine"
    decimals = 4
    needs_ground_truth = True
    features = ("i3d_flow",)

    def _value(self, sample: Sample) -> float | None:
        return cosine(sample.features["i3d_flow"], sample.ground_truth["i3d_flow"])
