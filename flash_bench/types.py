"""Typed hand-offs between the stages: dataset -> method -> store -> metrics -> report.

A leaf module: it imports nothing from the project, so every stage can depend on it.
Frames are always ``uint8`` arrays of shape (T, H, W, 3); a reference image is (H, W, 3).
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

VideoArray = np.ndarray  # uint8 (T, H, W, 3)
ImageArray = np.ndarray  # uint8 (H, W, 3)


@dataclass(frozen=True)
class Clip:
    """One video, loaded lazily. ``id`` is unique within its action (e.g. ``"007"``)."""

    id: str
    load: Callable[[], VideoArray] = field(repr=False, compare=False)
    path: Path | None = None


@dataclass(frozen=True)
class TestItem:
    """A reference image to animate and, where one exists, the real video it starts."""

    id: str
    reference: Callable[[], ImageArray] = field(repr=False, compare=False)
    ground_truth: Clip | None = None
    path: Path | None = None


@dataclass(frozen=True)
class Action:
    """One few-shot action: a prompt sentence, its training videos and its test items."""

    id: str
    prompt: str
    train: tuple[Clip, ...]
    test: tuple[TestItem, ...]


class InputError(ValueError):
    """Bad user input (a file, a folder, a value). The message names it and says what is wrong."""


class Profile(str, enum.Enum):
    """Which models a run uses: ``tiny`` (CPU-sized models of the tiny world) or ``paper`` (the published ones).

    A ``str`` enum, so it is its value in JSON, paths, manifests and content keys (``Profile.TINY == "tiny"``).
    Entry points turn what a user gives into one with :meth:`parse`; everything downstream compares members.
    """

    TINY = "tiny"
    PAPER = "paper"

    __hash__ = str.__hash__   # a member and its value are one dict key

    def __str__(self) -> str:
        return self.value

    @classmethod
    def parse(cls, value: "Profile | str") -> "Profile":
        """``value`` as a Profile; anything else is one InputError naming it."""
        try:
            return cls(value)
        except ValueError:
            raise InputError(f"profile must be {' or '.join(p.value for p in cls)}, got {value!r}") from None

    @classmethod
    def default_for(cls, dataset: str) -> "Profile":
        """The profile a command uses when none is given: tiny on ``synthetic`` (the tiny world), paper elsewhere."""
        return cls.TINY if dataset == "synthetic" else cls.PAPER


@dataclass(frozen=True, kw_only=True)
class MethodContext:
    """What the runner tells a method about where and how it runs (keywords only; the geometry has no default:
    the run's, :class:`flash_bench.config.RunConfig`, always decides it)."""

    profile: Profile = Profile.TINY
    device: str = "cpu"
    size: int                        # output height = width in pixels
    num_frames: int
    cache_dir: Path = Path("results/cache")   # shared across runs: fitted weights live here
    options: dict = field(default_factory=dict)  # method-specific settings (e.g. FLASH variant switches)

    def __post_init__(self):
        object.__setattr__(self, "profile", Profile.parse(self.profile))
