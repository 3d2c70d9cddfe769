"""A run dir's requests: what every test item asks for, written before generation (as VBench's ``full_info``).

``requests.json`` lists, per test item: action, item id, prompt, seed, the reference image (a PNG in the run dir and
the sha256 of its pixels) and the ground truth (the frames as the run sampled them, lossless in the run dir, with
the sha256 of those frames and of the source file); per action: the prompt and the training clips' identities
(id, source file, its sha256) — and their frames when scoring needs them (CD-FVD's ``test+train`` real set).
Scoring, report, gallery and user study read these files and never open a dataset. Writing needs the dataset's
:class:`~flash_bench.types.Action` objects (:func:`write_requests`, called by the runner and by ``evaluate``);
reading needs only the run dir (:func:`load_requests`).
"""
from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from flash_bench.store import RunStore, atomic_write_bytes, atomic_write_json, read_json
from flash_bench.types import Action, InputError

REQUESTS = "requests.json"


def frames_digest(frames: np.ndarray) -> str:
    """Content hash of decoded frames or an image (shape and dtype included)."""
    h = hashlib.sha256(f"{frames.dtype}{frames.shape}".encode())
    h.update(np.ascontiguousarray(frames).tobytes())
    return h.hexdigest()


def checked(frames, what: str, ndim: int = 4, min_frames: int = 1) -> np.ndarray:
    """uint8 frames (T, H, W, 3) (``ndim`` 4) of at least ``min_frames``, or an image (H, W, 3) (``ndim`` 3);
    InputError naming ``what``."""
    frames = np.asarray(frames)
    if frames.ndim != ndim or frames.shape[-1] != 3 or frames.dtype != np.uint8 or frames.size == 0:
        raise InputError(f"{what}: expected uint8 {'(T, H, W, 3) frames' if ndim == 4 else '(H, W, 3) image'}, "
                         f"got {frames.dtype} {frames.shape}")
    if ndim == 4 and len(frames) < min_frames:
        raise InputError(f"{what}: has {len(frames)} frame(s); a scored video needs at least {min_frames}")
    return frames


def source_identity(path: Path | None) -> dict:
    """A dataset file's path and sha256 (a folder of frames: of its sorted file digests); None for rendered data."""
    if path is None:
        return {"source": None, "source_sha256": None}
    from flash_bench.weights import digest_of

    path = Path(path)
    return {"source": str(path), "source_sha256": digest_of(path) if path.exists() else None}


def train_identity(action: Action) -> list[dict]:
    """The training clips an action's fit sees: ids and source files (their sha256), in order."""
    return [{"id": c.id, **source_identity(c.path)} for c in action.train]


# ----------------------------------------------------------------------------------------------- writing
def write_requests(store: RunStore, actions: list[Action], seed_of: Callable[[str, str], int | None],
                   dataset: dict, train_frames: bool = False) -> dict[tuple[str, str], dict]:
    """Write every test item's request into the run dir; returns (action, item) -> request. An unreadable reference
    is kept as the request's ``error`` (its items fail with it); an unreadable ground truth as the ground truth's
    ``error``. Requests of actions not given here (an earlier invocation's) stay."""
    old = _read(store.root)
    items = {(r["action"], r["item"]): r for r in old.get("items", [])}
    per_action = dict(old.get("actions", {}))
    for action in actions:
        per_action[action.id] = {"prompt": action.prompt, "train": train_identity(action)}
        if train_frames:
            per_action[action.id]["train"] = [_train_clip(store, action.id, c, t) for c, t in
                                              zip(action.train, per_action[action.id]["train"])]
        for item in action.test:
            items[(action.id, item.id)] = _request(store, action, item, seed_of(action.id, item.id),
                                                   items.get((action.id, item.id), {}))
    atomic_write_json(store.root / REQUESTS, {"dataset": dataset, "actions": per_action,
                                              "items": [items[k] for k in sorted(items)]})
    return items


def _request(store: RunStore, action: Action, item, seed, old: dict) -> dict:
    req = {"action": action.id, "item": item.id, "prompt": action.prompt, "seed": seed,
           "reference": None, "ground_truth": None}
    base = f"requests/{action.id}/{item.id}"
    try:
        image = checked(item.reference(), f"{action.id}/{item.id} reference image", ndim=3)
        req["reference"] = {"file": f"{base}.png", **_stored(store, f"{base}.png", image, old.get("reference"),
                                                             _png), **source_identity(item.path)}
    except InputError as e:
        req["error"] = str(e)
    if item.ground_truth is not None:
        gt = item.ground_truth
        try:
            frames = checked(gt.load(), f"{action.id}/{item.id} ground truth")
            req["ground_truth"] = {"file": f"{base}.truth.npz", "num_frames": int(frames.shape[0]),
                                   **_stored(store, f"{base}.truth.npz", frames, old.get("ground_truth"), _npz),
                                   **source_identity(gt.path)}
        except InputError as e:
            req["ground_truth"] = {"error": str(e), **source_identity(gt.path)}
    return req


def _train_clip(store: RunStore, action_id: str, clip, identity: dict) -> dict:
    name = f"requests/{action_id}/train/{clip.id}.npz"
    try:
        frames = checked(clip.load(), f"{action_id} training video {clip.id}")
    except InputError as e:
        return {**identity, "error": str(e)}
    return {**identity, "file": name, **_stored(store, name, frames, None, _npz)}


def _stored(store: RunStore, name: str, array: np.ndarray, old: dict | None, encode) -> dict:
    """Write ``array`` to ``name`` unless the file there already holds it (by the old request's digest)."""
    digest = frames_digest(array)
    path = store.root / name
    if not (old and old.get("sha256") == digest and path.is_file()):
        atomic_write_bytes(path, encode(array))
    return {"sha256": digest}


def _png(image: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    return buf.getvalue()


def _npz(frames: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.savez_compressed(buf, frames=frames)
    return buf.getvalue()


# ----------------------------------------------------------------------------------------------- reading
def _read(root: Path) -> dict:
    p = Path(root) / REQUESTS
    return read_json(p) if p.exists() else {}


@dataclass(frozen=True)
class Requests:
    """A run dir's requests, read: ``items`` (action, item) -> request, ``actions`` action -> prompt and train."""

    root: Path
    items: dict[tuple[str, str], dict]
    actions: dict[str, dict]
    dataset: dict

    def __bool__(self) -> bool:
        return bool(self.items)

    def prompt(self, action: str) -> str | None:
        return (self.actions.get(action) or {}).get("prompt")

    def reference(self, action: str, item: str) -> np.ndarray:
        """The reference image, uint8 (H, W, 3); InputError naming the request's error or the file."""
        req = self.items[(action, item)]
        if not req.get("reference"):
            raise InputError(req.get("error") or f"{action}/{item}: the request has no reference image")
        from flash_bench.video_io import read_image

        return read_image(self.root / req["reference"]["file"])

    def has_truth(self, action: str, item: str) -> bool:
        return bool((self.items.get((action, item)) or {}).get("ground_truth"))

    def truth(self, action: str, item: str) -> np.ndarray | None:
        """The ground-truth frames as the run sampled them; None without one; InputError when unreadable."""
        gt = (self.items.get((action, item)) or {}).get("ground_truth")
        if not gt:
            return None
        if "file" not in gt:
            raise InputError(gt.get("error") or f"{action}/{item}: ground truth unreadable")
        return load_frames(self.root / gt["file"])

    def train(self, action: str) -> list[tuple[str, Callable[[], np.ndarray]]]:
        """(clip id, loader) of the training clips whose frames the run dir holds."""
        clips = (self.actions.get(action) or {}).get("train") or []
        return [(c["id"], lambda f=self.root / c["file"]: load_frames(f)) for c in clips if c.get("file")]

    def train_errors(self, action: str) -> list[str]:
        return [c["error"] for c in (self.actions.get(action) or {}).get("train") or [] if c.get("error")]


def load_frames(path: Path) -> np.ndarray:
    try:
        with np.load(path, allow_pickle=False) as z:
            return checked(z["frames"], str(path))
    except (OSError, ValueError, KeyError) as e:
        raise InputError(f"{path}: unreadable frames ({type(e).__name__}: {e})") from None


def load_requests(run_dir: Path | str) -> Requests:
    """The requests of a run dir (empty when it has none: a run dir of an older layout)."""
    root = Path(run_dir)
    data = _read(root)
    return Requests(root, {(r["action"], r["item"]): r for r in data.get("items", [])}, data.get("actions", {}),
                    data.get("dataset", {}))
