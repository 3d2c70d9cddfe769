"""`static`: the reference image repeated — the paper's lower-bound control (no motion at all)."""
from __future__ import annotations

import numpy as np

from flash_bench.method import Method


class StaticMethod(Method):
    name = "static"

    def animate(self, reference, prompt, num_frames, seed, item=None):
        return np.repeat(reference[None], num_frames, axis=0)
