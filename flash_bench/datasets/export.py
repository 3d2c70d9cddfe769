"""Write any dataset to disk in the `folder` layout, so it can be shared or re-read with `--dataset folder`."""
from __future__ import annotations

from pathlib import Path

from PIL import Image

from flash_bench.datasets.base import FewShotDataset
from flash_bench.store import atomic_path, atomic_write_bytes
from flash_bench.video_io import write_video


def export_dataset(dataset: FewShotDataset, out: Path) -> int:
    n = 0
    for action in dataset.actions():
        folder = Path(out) / action.id
        atomic_write_bytes(folder / "prompt.txt", (action.prompt + "\n").encode())
        for clip in action.train:
            write_video(folder / "train" / f"{clip.id}.mp4", clip.load())
        for item in action.test:
            with atomic_path(folder / "test" / f"{item.id}.png") as tmp:
                Image.fromarray(item.reference()).save(tmp, format="PNG")
            if item.ground_truth is not None:
                write_video(folder / "test" / f"{item.id}.mp4", item.ground_truth.load())
        n += 1 + len(action.train) + len(action.test) + sum(t.ground_truth is not None for t in action.test)
    return n
