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


class OffsetStatic(StaticMethod):
    """The static video shifted by ``options["offset"]`` plus the first byte of the file ``options["weight"]``:
    videos that follow an option and a weight file's bytes (which it declares, as a method declares its checkpoints)."""

    name = "offset"

    def weight_files(self):
        from pathlib import Path

        return {"w": Path(self.ctx.options["weight"])} if "weight" in self.ctx.options else {}

    def animate(self, reference, prompt, num_frames, seed, item=None):
        bump = int(self.ctx.options.get("offset", 0))
        for path in self.weight_files().values():
            bump += path.read_bytes()[0]
        return (super().animate(reference, prompt, num_frames, seed, item).astype(int) + bump).clip(0, 255).astype("uint8")


class NeedsAbsentWeights(StaticMethod):
    """Declares a checkpoint row (SD v1.4) that the test's empty weights folders do not hold."""

    name = "needs-weights"
    weights = {"tiny": ("sd-v1-4",)}
