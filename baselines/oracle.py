"""`oracle`: returns the ground-truth test video — the upper bound; defined only where one exists."""
from __future__ import annotations

from flash_bench.method import Method
from flash_bench.types import InputError
from flash_bench.video_io import sample_frames


class OracleMethod(Method):
    name = "oracle"
    needs_ground_truth = True

    def animate(self, reference, prompt, num_frames, seed, item=None):
        if item is None or item.ground_truth is None:
            raise InputError(f"oracle: test item {getattr(item, 'id', '?')} has no ground-truth video")
        return sample_frames(item.ground_truth.load(), num_frames)
