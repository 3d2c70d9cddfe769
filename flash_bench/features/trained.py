"""The tiny profile's suite-trained backbones: the shipped file of each backbone, for datasets of the tiny world's
geometry.

`flash-bench train backbone NAME` (:mod:`flash_bench.backbones_train`) trains a backbone on the tiny world's
pretraining pool at its geometry (:data:`GEOMETRY`) and writes ``<name>-tiny-<WORLD>.safetensors`` into
``flash_bench/trained/`` with a JSON record beside it (architecture config, sha256, the command that made it,
training figures) and its training log (``.log.jsonl``). A tiny-profile featuriser scoring a dataset of that
geometry loads the file when it is there (safetensors, strict keys, sha256 checked); at any other geometry, or
without the file, it keeps its seeded random weights — and says which in its provenance and its feature-cache key.
"""
from __future__ import annotations

import json
from pathlib import Path

from flash_bench import tiny_world
from flash_bench.types import InputError

TRAINED_DIR = Path(__file__).resolve().parent.parent / "trained"
GEOMETRY = (tiny_world.NUM_FRAMES, tiny_world.SIZE)   # (num_frames, size) the backbones are trained and used at
WORLD = "v2"                                          # the tiny world's name in the shipped files' names
NAMES = ("clip", "videomae", "i3d_rgb", "raft", "i3d_flow")


def file_name(name: str) -> str:
    if name not in NAMES:
        raise InputError(f"unknown tiny backbone {name!r}; known: {list(NAMES)}")
    return f"{name}-tiny-{WORLD}.safetensors"


def path(name: str, geometry: tuple[int, int] | None, folder: Path | str | None = None) -> Path | None:
    """The shipped weights of backbone ``name`` when ``geometry`` (num_frames, size) is :data:`GEOMETRY`, or None."""
    if geometry is None or tuple(geometry) != GEOMETRY:
        return None
    p = Path(folder or TRAINED_DIR) / file_name(name)
    return p if p.exists() else None


def record(weights: Path) -> dict:
    """The JSON record beside a weights file (config, sha256, training)."""
    meta = weights.with_suffix(".json")
    if not meta.exists():
        raise InputError(f"{weights}: its record {meta.name} is missing; re-run the command that made it "
                         "(`flash-bench train backbone NAME`)")
    return json.loads(meta.read_text())


def tag(names: tuple[str, ...], geometry, seed: int) -> str:
    """Feature-cache tag of a tiny featuriser: the trained files' sha256 prefixes (``seed<seed>`` for a part left
    random), or ``seed<seed>`` alone when all of it is random."""
    paths = [path(n, geometry) for n in names]
    if not any(paths):
        return f"seed{seed}"
    return "+".join(f"sha{record(p)['sha256'][:12]}" if p else f"seed{seed}" for p in paths)


def provenance(name: str, geometry, seed: int) -> str:
    p = path(name, geometry)
    return f"suite-trained ({p.name}, sha256 {record(p)['sha256'][:12]})" if p else f"random (seed {seed})"


def load_into(model, weights: Path) -> dict:
    """Load ``weights`` into ``model`` (strict: every key and shape must match); returns its record."""
    from safetensors.torch import load_file

    from flash_bench.weights import sha256_of

    info = record(weights)
    if sha256_of(weights) != info["sha256"]:
        raise InputError(f"{weights}: sha256 differs from its record {weights.with_suffix('.json').name}")
    try:
        state = load_file(str(weights))
    except Exception as e:  # noqa: BLE001 — safetensors raises its own error types for a bad header
        raise InputError(f"{weights}: not a safetensors file ({type(e).__name__}: {e})") from None
    try:
        model.load_state_dict({k: v.float() for k, v in state.items()}, strict=True)
    except RuntimeError as e:
        raise InputError(f"{weights}: does not fit its backbone ({str(e).splitlines()[0]})") from None
    return info
