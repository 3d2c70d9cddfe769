"""The few-shot action dataset contract: actions, each with a prompt, training videos and test items."""
from __future__ import annotations

import re
from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np

from flash_bench.tiny_world import NUM_FRAMES, SIZE
from flash_bench.types import Action, InputError

_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


class FewShotDataset(ABC):
    """A dataset yields :class:`Action` objects. Subclasses set ``name`` and implement ``actions``.

    ``num_frames`` and ``size`` describe the clips the dataset hands out (frame sampling and
    resize + centre crop happen in :mod:`flash_bench.video_io`); ``shots`` keeps a seeded subset of
    each action's training videos; ``test_items`` asks a procedural dataset (``more_test_items``) for that
    many test items per action, for statistical power (a dataset of files has the test split it has). An action that cannot be read (a missing prompt file, a badly named
    folder) is left out of ``actions()`` and its error is kept in ``failures`` so a run can record it
    and go on with the others.
    """

    name: str = ""
    needs_root: bool = True
    more_test_items: bool = False    # True: it can render any number of test items (``test_items``)

    def __init__(self, root: Path | str | None = None, *, num_frames: int = NUM_FRAMES, size: int = SIZE,
                 shots: int | None = None, seed: int = 0, test_items: int | None = None):
        if self.needs_root and root is None:
            raise InputError(f"dataset {self.name!r} needs --root pointing at your copy of it")
        self.test_items = self.check_test_items(test_items)
        self.root = Path(root) if root is not None else None
        if self.root is not None and not self.root.is_dir():
            raise InputError(f"{self.root}: dataset root is not a folder")
        self.num_frames, self.size, self.shots, self.seed = num_frames, size, shots, seed
        self.failures: list[dict] = []

    @classmethod
    def check_test_items(cls, test_items: int | None) -> int | None:
        """``test_items`` if this dataset can render that many test items per action; else one clear error."""
        if test_items is not None and (not cls.more_test_items or test_items < 1):
            raise InputError(f"--test-items {test_items}: " + (
                "must be >= 1" if cls.more_test_items else
                f"dataset {cls.name!r} has the test split its files give; only a procedural dataset "
                "(synthetic) renders more test items"))
        return test_items

    @abstractmethod
    def actions(self) -> list[Action]:
        """All readable actions, in a fixed order."""

    def describe(self) -> dict:
        return {"name": self.name, "root": str(self.root) if self.root else None, "num_frames": self.num_frames,
                "size": self.size, "shots": self.shots, "seed": self.seed}


def check_id(name: str, what: str, where: Path | str) -> str:
    """Ids become path components of the run dir: refuse ``..``, slashes, non-UTF-8 bytes, odd characters."""
    if not _SAFE_ID.match(name) or ".." in name:
        shown = name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        raise InputError(f"{where}: {what} name {shown!r} is not allowed "
                         "(use letters, digits, '_', '-', '.'; no '..', no slashes, UTF-8 only)")
    return name


def select_shots(clips: tuple, shots: int | None, seed: int) -> tuple:
    """A seeded subset of ``shots`` training clips (all of them when ``shots`` is None or too big).

    The subset for a smaller ``shots`` is contained in the one for a larger ``shots`` (a prefix of one
    seeded permutation), so the 4-shot videos are among the 8-shot ones, as a few-shot curve needs.
    """
    if shots is None or shots >= len(clips):
        return tuple(clips)
    if shots < 1:
        raise InputError(f"--shots must be >= 1, got {shots}")
    order = np.random.default_rng(seed).permutation(len(clips))[:shots]
    return tuple(clips[i] for i in sorted(order))
