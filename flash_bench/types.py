"""Typed hand-offs between the stages: dataset -> method -> store -> metrics -> report.

A leaf module: it imports nothing from the project, so every stage can depend on it.
Frames are always ``uint8`` arrays of shape (T, H, W, 3); a reference image is (H, W, 3).
"""
from __future__ import annotations

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


@dataclass(frozen=True)
class MethodContext:
    """What the runner tells a method about where and how it runs."""

    profile: str = "tiny"            # "tiny" | "paper"
    device: str = "cpu"
    size: int = 64                   # output height = width in pixels
    num_frames: int = 16
    cache_dir: Path = Path("results/cache")   # shared across runs: fitted weights live here
    options: dict = field(default_factory=dict)  # method-specific settings (e.g. FLASH variant switches)


class InputError(ValueError):
    """Bad user input (a file, a folder, a value). The message names it and says what is wrong."""
