"""Action Refusal (suite yardstick, not a paper metric): how often the yardstick answers "no action".

Per video: 100 if the yardstick's answer (:func:`flash_bench.yardstick.answer`) is "no action" — it sees none
of the 12 actions: a still, flickering, figureless or melting video — and 0 otherwise. The companion of
:mod:`flash_bench.metrics.action_accuracy`, which counts such a video as wrong; v2's yardstick refuses 4.2% of
the ground-truth test videos (docs/tiny_world_v2.md, G3). A yardstick without a "no action" class (v1's) never refuses.
Same rules as the other yardstick metrics: only on the synthetic worlds, missing (None) elsewhere.
"""
from __future__ import annotations

import numpy as np

from flash_bench import yardstick
from flash_bench.metrics.action_accuracy import ActionMetric


def action_refusal(log_probs: np.ndarray) -> float:
    """(K,) log-probabilities of the yardstick → 100 if its answer is "no action" else 0."""
    return 100.0 * float(yardstick.answer(log_probs) == yardstick.NO_ACTION)


class ActionRefusal(ActionMetric):
    name = "action_refusal"
    label = "No Action"
    higher_is_better = False
    scale = "percent of videos the yardstick answers 'no action' (it sees none of the 12 actions)"

    def _score(self, log_probs: np.ndarray, action_id: str) -> float:
        return action_refusal(log_probs)
