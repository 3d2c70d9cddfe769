"""A test-only method: the static video after a pause, so a run can be killed in the middle."""
import time

from baselines.static import StaticMethod


class SlowStatic(StaticMethod):
    name = "slow"

    def animate(self, reference, prompt, num_frames, seed, item=None):
        time.sleep(0.4)
        return super().animate(reference, prompt, num_frames, seed, item)
