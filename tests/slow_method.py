"""A test-only method: the static video after a pause, so a run can be killed in the middle."""
import time

from baselines.static import StaticMethod


class SlowStatic(StaticMethod):
    name = "slow"

    def animate(self, reference, prompt, num_frames, seed, item=None):
        time.sleep(0.4)
        return super().animate(reference, prompt, num_frames, seed, item)


class RecordingStatic(StaticMethod):
    """Records which fit path the runner used (class-level, for in-process tests)."""

    calls: list = []

    def fit(self, action, videos, prompt):
        self.calls.append(("fit", action.id, len(videos), prompt))

    def fit_joint(self, actions):
        self.calls.append(("fit_joint", tuple(a.id for a in actions)))
