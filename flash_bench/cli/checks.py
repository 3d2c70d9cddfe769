"""Checks of command-line values, run before any model or dataset loads: each bad value is one InputError
naming the option and the value (imports only the standard library and flash_bench.types at the top)."""
from __future__ import annotations

from pathlib import Path

from flash_bench.types import InputError, Profile


def message(e: Exception) -> str:
    """The text of an error for the user (a KeyError's ``str`` is its repr, quotes included)."""
    return str(e.args[0]) if isinstance(e, KeyError) and e.args else str(e)


def at_least(option: str, value: int | None, minimum: int) -> None:
    if value is not None and value < minimum:
        raise InputError(f"{option} must be >= {minimum}, got {value}")


def listed(option: str, value: str | None) -> tuple[str, ...] | None:
    """A comma list; None when the option was not given, an error when it was given but names nothing."""
    if value is None:
        return None
    items = tuple(v.strip() for v in value.split(",") if v.strip())
    if not items:
        raise InputError(f"{option} is empty ({value!r}); give a comma list of names")
    return items


def known(option: str, registry, name: str) -> None:
    try:
        registry.target(name)
    except KeyError as e:
        raise InputError(f"{option}: {e.args[0]}") from None


def device(value: str | None) -> str:
    """``--device``, checked; None (not given) is ``cuda`` when torch sees a GPU, else ``cpu``."""
    if value is None:
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    if value != "cpu" and value != "cuda" and not value.startswith("cuda:"):
        raise InputError(f"--device must be cpu, cuda or cuda:N, got {value!r}")
    if value != "cpu":
        import torch

        if not torch.cuda.is_available():
            raise InputError(f"--device {value}: torch sees no CUDA GPU on this machine; use --device cpu")
    return value


def out_dir(option: str, path: Path) -> None:
    """A folder the command will create or write into: not a file, not under a file."""
    for p in (path, *path.parents):
        if p.exists():
            if not p.is_dir():
                what = "is a file" if p == path else f"is under {p}, which is a file"
                raise InputError(f"{option} {path} {what}; give a folder")
            return


def frame_args(frames: int, size: int | None) -> None:
    at_least("--frames", frames, 2)   # temporal metrics and every video method need two frames
    at_least("--size", size, 8)


def profile_and_geometry(dataset: str, profile: Profile | None, frames: int | None,
                         size: int | None) -> tuple[Profile, int, int]:
    """The profile (default :meth:`Profile.default_for` the dataset: tiny on synthetic, paper elsewhere), frame size
    and frame count (default: the profile's, :func:`flash_bench.config.profile_geometry`), checked."""
    from flash_bench.config import profile_geometry

    profile = Profile.default_for(dataset) if profile is None else Profile.parse(profile)
    default_size, default_frames = profile_geometry(profile)
    size = size if size is not None else default_size
    frames = frames if frames is not None else default_frames
    frame_args(frames, size)
    return profile, size, frames


def metric_ids(value: str) -> tuple[str, ...] | None:
    """``--metrics``: 'all' → None, 'none' → (), else the listed registered ids."""
    from flash_bench.metrics import METRICS

    if value in ("all", "none"):
        return None if value == "all" else ()
    chosen = listed("--metrics", value)
    for m in chosen:
        known("--metrics", METRICS, m)
    return chosen
