"""Write any dataset to disk in the `folder` layout, so it can be shared or re-read with `--dataset folder`."""
from __future__ import annotations

from pathlib import Path

from PIL import Image

from flash_bench.datasets.base import FewShotDataset
from flash_bench.store import atomic_path, atomic_write_bytes
from flash_bench.types import InputError
from flash_bench.video_io import write_video


def export_dataset(dataset: FewShotDataset, out: Path) -> tuple[int, list[dict]]:
    """Write every readable action; returns (files written, failures). An unreadable video or image fails
    its own file (listed in the failures, with the dataset's own), not the export."""
    n, failures = 0, []
    for action in dataset.actions():
        folder = Path(out) / action.id
        atomic_write_bytes(folder / "prompt.txt", (action.prompt + "\n").encode())
        n += 1
        files = [(folder / "train" / f"{c.id}.mp4", c.load) for c in action.train]
        for item in action.test:
            files.append((folder / "test" / f"{item.id}.png", item.reference))
            if item.ground_truth is not None:
                files.append((folder / "test" / f"{item.id}.mp4", item.ground_truth.load))
        for target, load in files:
            try:
                (_write_png if target.suffix == ".png" else write_video)(target, load())
                n += 1
            except InputError as e:
                failures.append({"action": action.id, "item": target.name, "error": str(e)})
    return n, list(dataset.failures) + failures


def _write_png(path: Path, image) -> None:
    with atomic_path(path) as tmp:
        Image.fromarray(image).save(tmp, format="PNG")
