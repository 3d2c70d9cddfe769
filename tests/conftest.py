"""Shared fixtures: small on-disk dataset trees built by the tests themselves (nothing is downloaded)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from flash_bench.video_io import write_video


def moving_square(seed: int, frames: int = 12, size: int = 48) -> np.ndarray:
    """A coloured square sliding over a gradient: a tiny, codec-friendly test video."""
    rng = np.random.default_rng(seed)
    video = np.zeros((frames, size, size, 3), np.uint8)
    video[:] = np.linspace(40, 200, size, dtype=np.uint8)[None, None, :, None]
    top = int(rng.integers(4, size - 16))
    color = rng.integers(0, 255, 3)
    for t in range(frames):
        x = 2 + t * 2  # every frame differs (GIF writers merge identical frames)
        video[t, top:top + 12, x:x + 12] = color
    return video


def make_folder_dataset(root: Path, actions=("wave", "jump"), n_train=3, n_test=2) -> Path:
    for a_i, action in enumerate(actions):
        d = root / action
        (d / "train").mkdir(parents=True)
        (d / "test").mkdir()
        (d / "prompt.txt").write_text(f"a person is doing {action}.\n")
        for i in range(n_train):
            write_video(d / "train" / f"v{i:03d}.mp4", moving_square(100 * a_i + i))
        for i in range(n_test):
            gt = moving_square(100 * a_i + 50 + i)
            Image.fromarray(gt[0]).save(d / "test" / f"t{i}.png")
            write_video(d / "test" / f"t{i}.mp4", gt)
    return root


@pytest.fixture
def folder_root(tmp_path) -> Path:
    return make_folder_dataset(tmp_path / "data")


def write_sd15_snapshot(folder: Path, seed: int = 7):
    """A stand-in ``sd-v1-5`` weights-folder row: the sub-folders the PIA/SparseCtrl paper loaders read (vae/,
    text_encoder/, tokenizer/, unet/) holding tiny seeded-random models (nothing downloaded). Returns the
    in-memory parts ``{"vae", "text_encoder", "unet"}`` to compare the loaded pipeline against."""
    import torch
    from diffusers import UNet2DConditionModel

    from flash_bench.tiny_world import COMPONENTS as TINY_COMPONENTS, build_tiny_components

    parts = build_tiny_components(seed)                     # tiny VAE, CLIP text encoder, offline CLIP tokenizer
    torch.manual_seed(seed)
    unet = UNet2DConditionModel(**TINY_COMPONENTS["unet"])  # SD1.5's unet/ is a 2-D UNet
    for name, part in (("vae", parts.vae), ("text_encoder", parts.text_encoder), ("tokenizer", parts.tokenizer),
                       ("unet", unet)):
        part.save_pretrained(str(folder / name))
    return {"vae": parts.vae, "text_encoder": parts.text_encoder, "unet": unet}


def animate_checks(method, reference, size: int):
    """16 uint8 frames of ``size``; the same (reference, seed) twice gives the same video, also on a method's
    first call; another seed or another reference gives another. ``reference(k)`` makes reference image k."""
    import numpy as np

    v1 = method.animate(reference(4), "a person is waving.", 16, seed=0)
    assert v1.shape == (16, size, size, 3) and v1.dtype == np.uint8
    assert np.array_equal(v1, method.animate(reference(4), "a person is waving.", 16, seed=0))
    assert not np.array_equal(v1, method.animate(reference(4), "a person is waving.", 16, seed=1))
    assert not np.array_equal(v1, method.animate(reference(5), "a person is waving.", 16, seed=0))


def put_item(store, method: str, action: str, item: str, video=None, metrics: dict | None = None, **fields) -> str:
    """A hand-made item in a run dir: its record (``status`` ok unless given) under a key of (method, action, item),
    indexed, with its video and per-metric scores when given. Returns the key."""
    from flash_bench.store import content_key

    key = content_key({"hand-made": [method, action, item]})
    if video is not None:
        write_video(store.video_file(key), video)
    store.write_record({"key": key, "action": action, "item": item, "status": "ok", **fields})
    store.update_index([{"method": method, "action": action, "item": item, "key": key}])
    for metric, value in (metrics or {}).items():
        store.write_score(metric, key, value)
    return key


def put_requests(store, actions, dataset: str = "folder", train_frames: bool = False) -> None:
    """The requests of ``actions`` (a dataset's), as a run writes them."""
    from flash_bench.requests import write_requests

    write_requests(store, list(actions), lambda a, i: 0, {"name": dataset}, train_frames=train_frames)


def write_item(store, record: dict) -> str:
    """A hand-made item from one dict: ``method``, ``action``, ``item``, record fields and ``metrics`` (its scores)."""
    r = dict(record)
    return put_item(store, r.pop("method"), r.pop("action"), r.pop("item"), metrics=r.pop("metrics", None), **r)


def write_manifest(store, manifest: dict) -> None:
    """A hand-made invocation appended to a run dir's history."""
    store.root.mkdir(parents=True, exist_ok=True)
    store.append_history({"invocation": len(store.history()) + 1, "event": "start", **manifest})
