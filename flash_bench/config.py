"""RunConfig: everything that defines a run, frozen, serialisable, recorded in the manifest."""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field

from flash_bench import tiny_world
from flash_bench.types import Profile

PAPER_GEOMETRY = (512, 16)   # the paper's frames: 512x512 (SD1.5's canvas), 16 per video (A3.2)


def profile_geometry(profile: Profile | str) -> tuple[int, int]:
    """(frame size, frames per video) a profile generates by default: tiny = the tiny world's, paper = the paper's."""
    return (tiny_world.SIZE, tiny_world.NUM_FRAMES) if Profile.parse(profile) is Profile.TINY else PAPER_GEOMETRY


@dataclass(frozen=True)
class Cell:
    """One row of a results table: a method with its settings, under a unique store label."""

    label: str                       # folder name in the run dir, e.g. "flash" or "flash#5@shots=8"
    method: str                      # registry name, e.g. "flash"
    options: dict = field(default_factory=dict, hash=False)
    shots: int | None = None         # overrides the run's --shots
    actions: tuple[str, ...] | None = None   # restricts the run's actions


@dataclass(frozen=True)
class RunConfig:
    dataset: str = "synthetic"
    cells: tuple[Cell, ...] = ()
    root: str | None = None
    actions: tuple[str, ...] | None = None
    shots: int | None = None
    profile: Profile = Profile.TINY
    seed: int = 0
    limit: int | None = None         # test items per action
    test_items: int | None = None    # a procedural dataset renders this many test items per action (synthetic)
    num_frames: int = tiny_world.NUM_FRAMES
    size: int = tiny_world.SIZE
    device: str = "cpu"
    metrics: tuple[str, ...] | None = None   # None: every metric available for the dataset; () none
    experiment: str | None = None
    cache_dir: str = "results/cache"
    jobs: int = 1                    # worker processes for generation (flash_bench.runner); not part of results

    def __post_init__(self):
        object.__setattr__(self, "profile", Profile.parse(self.profile))

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "RunConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown RunConfig keys: {sorted(unknown)}")
        d = dict(d)
        d["cells"] = tuple(Cell(**c) for c in d.get("cells", ()))
        for k in ("actions", "metrics"):
            if d.get(k) is not None:
                d[k] = tuple(d[k])
        return cls(**d)


def default_workers(device: str) -> int:
    """Worker processes (generation) or threads (scoring): one per CPU core, at most 4, on the CPU; 1 on a GPU."""
    return 1 if device != "cpu" else max(1, min(4, os.cpu_count() or 1))


def method_cells(names: list[str]) -> tuple[Cell, ...]:
    """Plain ``--methods a,b``: each method with default settings under its own name."""
    return tuple(Cell(label=n, method=n) for n in names)
