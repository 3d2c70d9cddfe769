"""`folder`: a user's own few-shot actions on disk.

Layout::

    <root>/<action>/prompt.txt          one sentence, e.g. "a person is doing push-ups."
    <root>/<action>/train/*.mp4         training videos (any format video_io reads)
    <root>/<action>/test/<item>.png     reference images (.jpg/.jpeg/.png)
    <root>/<action>/test/<item>.mp4     optional ground-truth video with the same stem

This is also the layout ``flash-bench datasets export`` writes, so any dataset can be frozen to disk.
"""
from __future__ import annotations

import functools
from pathlib import Path

from flash_bench.datasets.base import FewShotDataset, check_id, select_shots
from flash_bench.types import Action, Clip, InputError, TestItem
from flash_bench.video_io import IMAGE_SUFFIXES, VIDEO_SUFFIXES, load_clip, read_image, resize_center_crop


class FolderDataset(FewShotDataset):
    name = "folder"

    def actions(self) -> list[Action]:
        out = []
        for folder in sorted(p for p in self.root.iterdir() if p.is_dir()):
            try:
                out.append(self._action(folder))
            except InputError as e:
                self.failures.append({"action": folder.name, "error": str(e)})
        return out

    def _action(self, folder: Path) -> Action:
        action_id = check_id(folder.name, "action folder", folder)
        prompt_file = folder / "prompt.txt"
        if not prompt_file.is_file():
            raise InputError(f"{prompt_file}: missing prompt file (one sentence describing the action)")
        try:
            prompt = prompt_file.read_text(encoding="utf-8").strip()
        except UnicodeDecodeError:
            raise InputError(f"{prompt_file}: not UTF-8 text") from None
        if not prompt:
            raise InputError(f"{prompt_file}: empty prompt")
        train = tuple(self.clip(p) for p in _files(folder / "train", VIDEO_SUFFIXES))
        if not train:
            raise InputError(f"{folder / 'train'}: no training videos")
        return Action(action_id, prompt, select_shots(train, self.shots, self.seed), self._test_items(folder / "test"))

    def _test_items(self, test_dir: Path) -> tuple[TestItem, ...]:
        """One item per reference image; items whose stem is ambiguous (two images, or two ground-truth videos,
        with one stem) or whose name is not allowed are left out, each recorded in ``failures``."""
        videos = _by_stem(_files(test_dir, VIDEO_SUFFIXES))
        items = []
        for stem, images in _by_stem(_files(test_dir, IMAGE_SUFFIXES)).items():
            try:
                for files, what in ((images, "reference images"), (videos.get(stem, []), "ground-truth videos")):
                    if len(files) > 1:
                        raise InputError(f"{what} {', '.join(map(str, files))} share the stem {stem!r}; "
                                         "rename all but one")
                gt = videos.get(stem)
                items.append(self.image_item(check_id(stem, "test item", images[0]), images[0],
                                             self.clip(gt[0]) if gt else None))
            except InputError as e:
                self.failures.append({"action": test_dir.parent.name, "item": stem, "error": str(e)})
        return tuple(items)

    def clip(self, path: Path, clip_id: str | None = None) -> Clip:
        clip_id = check_id(clip_id or path.stem, "video", path)
        return Clip(clip_id, functools.partial(load_clip, path, self.num_frames, self.size), path)

    def image_item(self, item_id: str, image: Path, ground_truth: Clip | None) -> TestItem:
        load = functools.partial(_load_reference, image, self.size)
        return TestItem(item_id, load, ground_truth, image)

    def video_item(self, item_id: str, video: Path) -> TestItem:
        """A test item whose reference is the first frame of its own ground-truth video."""
        clip = self.clip(video, item_id)
        return TestItem(item_id, lambda: clip.load()[0], clip, video)


def _load_reference(path: Path, size: int):
    return resize_center_crop(read_image(path), size)


def _by_stem(files: list[Path]) -> dict[str, list[Path]]:
    out: dict[str, list[Path]] = {}
    for p in files:
        out.setdefault(p.stem, []).append(p)
    return out


def _files(folder: Path, suffixes: set[str]) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in suffixes)
