"""Action Confidence (suite yardstick, not a paper metric): the yardstick's probability of the intended action.

Per video: 100 × softmax probability that the yardstick classifier (:mod:`flash_bench.yardstick`) gives the
video's intended action (uniform guessing: 100/12 ≈ 8.3). A graded companion of
:mod:`flash_bench.metrics.action_accuracy`, with the same rules: only on ``synthetic``, missing (None) elsewhere.
"""
from __future__ import annotations

import numpy as np

from flash_bench import yardstick
from flash_bench.metrics.action_accuracy import ActionMetric


def action_confidence(log_probs: np.ndarray, action_id: str) -> float:
    """(12,) log-probabilities over the yardstick classes → 100 · p(``action_id``)."""
    return 100.0 * float(np.exp(log_probs[yardstick.CLASSES.index(action_id)]))


class ActionConfidence(ActionMetric):
    name = "action_confidence"
    label = "Action Confidence"
    scale = "probability of the intended action x 100 (yardstick; uniform 8.3)"

    def _score(self, log_probs: np.ndarray, action_id: str) -> float:
        return action_confidence(log_probs, action_id)
