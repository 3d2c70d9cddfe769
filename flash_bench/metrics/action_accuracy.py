"""Action Accuracy (suite yardstick, not a paper metric): does the video perform the named action?

The yardstick classifier (:mod:`flash_bench.yardstick`, trained by the suite on the ``synthetic`` ground truth)
reads the video; per video the value is 100 if its most probable action is the intended one (the sample's
action, from its key ``method/action/item``) and 0 otherwise, so the mean is the percentage of videos
recognised as their action (chance: 100/12 ≈ 8.3). Only defined on ``synthetic``: elsewhere every value is
missing (None, never 0) and :attr:`unavailable` says why.
"""
from __future__ import annotations

import numpy as np

from flash_bench import yardstick
from flash_bench.metrics.base import Metric, Sample


def action_accuracy(log_probs: np.ndarray, action_id: str) -> float:
    """(12,) log-probabilities over the yardstick classes → 100 if argmax is ``action_id`` else 0."""
    return 100.0 * float(int(np.argmax(log_probs)) == yardstick.CLASSES.index(action_id))


class ActionMetric(Metric):
    """Shared by the two yardstick metrics: needs the dataset's name; missing (None) off ``synthetic``."""

    higher_is_better = True
    decimals = 1
    level = "video"
    needs_ground_truth = False
    features = ("yardstick",)
    datasets = yardstick.DATASETS

    def __init__(self, backbone: dict | None = None, dataset: str | None = None):
        super().__init__(backbone)
        self.dataset = dataset
        self.unavailable = yardstick.unavailable(dataset)

    def _value(self, sample: Sample) -> float | None:
        action = yardstick.intended_action(sample.key)
        if self.unavailable or action not in yardstick.CLASSES:
            return None
        return self._score(np.asarray(sample.features["yardstick"], np.float64), action)

    def _score(self, log_probs: np.ndarray, action_id: str) -> float:
        raise NotImplementedError


class ActionAccuracy(ActionMetric):
    name = "action_accuracy"
    label = "Action Accuracy"
    scale = "percent of videos classified as the intended action (yardstick; chance 8.3)"

    def _score(self, log_probs: np.ndarray, action_id: str) -> float:
        return action_accuracy(log_probs, action_id)
