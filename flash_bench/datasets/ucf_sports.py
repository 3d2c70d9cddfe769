"""`ucf-sports`: UCF Sports Action, golf swing and lifting (paper A4.3), from the user's copy (``--root``).

Every video is a folder of frames (or a folder holding one video file) under the class folders
(``Golf-Swing-Back``, ``Golf-Swing-Front``, ``Golf-Swing-Side`` for golf swing; ``Lifting``), found
anywhere below ``--root``. No official split exists, so ours is fixed and documented: all videos of an
action sorted by their path below the root, then a permutation seeded with 0 (independent of
``--seed``); the first 6 (golf swing) / 4 (lifting) train as in the paper, the rest are test items
whose reference is their first frame and whose ground truth is the video.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from flash_bench.datasets.base import select_shots
from flash_bench.datasets.folder import FolderDataset
from flash_bench.types import Action, InputError
from flash_bench.video_io import IMAGE_SUFFIXES, VIDEO_SUFFIXES

# action id: (class folder prefixes, number of training videos, prompt)
UCF_ACTIONS: dict[str, tuple[tuple[str, ...], int, str]] = {
    "golf_swing": (("Golf-Swing",), 6, "a person is swinging a golf club."),
    "lifting": (("Lifting",), 4, "a person is lifting a barbell."),
}
SPLIT_SEED = 0


class UCFSportsDataset(FolderDataset):
    name = "ucf-sports"

    def actions(self) -> list[Action]:
        out = []
        for action_id, (prefixes, n_train, prompt) in UCF_ACTIONS.items():
            try:
                out.append(self._ucf_action(action_id, prefixes, n_train, prompt))
            except InputError as e:
                self.failures.append({"action": action_id, "error": str(e)})
        return out

    def _videos(self, prefixes: tuple[str, ...]) -> list[Path]:
        classes = [d for d in self.root.rglob("*") if d.is_dir() and d.name.startswith(prefixes)]
        videos = []
        for c in classes:
            for v in sorted(p for p in c.iterdir() if p.is_dir()):
                inner = sorted(p for p in v.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES)
                has_frames = any(p.suffix.lower() in IMAGE_SUFFIXES for p in v.iterdir())
                if has_frames or inner:
                    videos.append(v if has_frames else inner[0])
        return sorted(videos, key=lambda p: str(p.relative_to(self.root)))

    def _ucf_action(self, action_id, prefixes, n_train, prompt) -> Action:
        videos = self._videos(prefixes)
        if len(videos) <= n_train:
            raise InputError(f"{self.root}: found {len(videos)} '{prefixes[0]}*' videos; need more than {n_train}")
        order = np.random.default_rng(SPLIT_SEED).permutation(len(videos))
        ids = {p: f"{'_'.join(p.relative_to(self.root).parts[-2:]).replace('.', '_')}" for p in videos}
        train = tuple(self.clip(videos[i], ids[videos[i]]) for i in sorted(order[:n_train]))
        test = tuple(self.video_item(ids[videos[i]], videos[i]) for i in sorted(order[n_train:]))
        return Action(action_id, prompt, select_shots(train, self.shots, self.seed), test)
