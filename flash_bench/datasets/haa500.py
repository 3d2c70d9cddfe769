"""`haa500`: the paper's 12 HAA500 actions (Sec. 4, A3.1), read from the user's copy (``--root``).

Expected layout (as on the HAA500 page): ``<root>/<class>/<class>_<NNN>.mp4``. Videos 000–015 train
(``--shots`` keeps a seeded subset), videos 016–019 are test items: the first frame is the reference
image, the video the ground truth. Extra reference images without ground truth (the paper's internet
images) may sit in ``<root>/<class>/extra/*.{jpg,png}``.

HAA500 class-folder spellings are not all confirmed; the one table below maps the paper's action
names to folders, and a miss names the closest folders found so the table is easy to fix.
"""
from __future__ import annotations

import difflib
import re
from pathlib import Path

from flash_bench.datasets.folder import FolderDataset, _files
from flash_bench.datasets.base import select_shots
from flash_bench.types import Action, InputError
from flash_bench.video_io import IMAGE_SUFFIXES, VIDEO_SUFFIXES

# action id: (paper name, HAA500 class folder, prompt sentence). The sentence is the paper's where it prints one
# (Fig. 1a, A1a, A1b, A4, A3.1's soccer example; tests/test_paper_constants.py); the others follow A3.1's rule.
PAPER_ACTIONS: dict[str, tuple[str, str, str]] = {
    "push_up": ("push-up", "push_up", "A person is doing a pushup."),
    "arm_wave": ("arm wave", "arm_wave", "a person is waving their arm."),
    "shoot_dance": ("shoot dance", "shoot_dance", "A person is performing a shoot dance."),
    "running_in_place": ("running in place", "running_in_place", "a person is running in place."),
    "sprint_run": ("sprint run", "sprint_run", "a person is sprinting."),
    "soccer_shoot": ("soccer shoot", "soccer_shoot", "a person is shooting a soccer ball."),
    "drinking_from_cup": ("drinking from a cup", "drinking_from_a_cup", "a person is drinking from a cup."),
    "balance_beam_jump": ("balance beam jump", "balancebeam_jump", "An athlete is performing a balance beam jump."),
    "canoeing_sprint": ("canoeing sprint", "canoeing_sprint", "a person is paddling a canoe."),
    "chopping_wood": ("chopping wood", "chopping_wood", "a person is chopping wood with an axe."),
    "ice_bucket_challenge": ("ice bucket challenge", "ice_bucket_challenge",
                             "A person is pouring water over their head as part of the ALS Ice Bucket Challenge."),
    "hugging_human": ("hugging human", "hugging_human", "two people are hugging each other."),
}
TRAIN_INDICES = range(0, 16)
TEST_INDICES = range(16, 20)
_INDEX = re.compile(r"_(\d{3})$")


class HAA500Dataset(FolderDataset):
    name = "haa500"

    def actions(self) -> list[Action]:
        out = []
        for action_id, (paper_name, folder_name, prompt) in PAPER_ACTIONS.items():
            try:
                out.append(self._paper_action(action_id, self._class_dir(folder_name, paper_name), prompt))
            except InputError as e:
                self.failures.append({"action": action_id, "error": str(e)})
        return out

    def _class_dir(self, folder_name: str, paper_name: str) -> Path:
        folder = self.root / folder_name
        if folder.is_dir():
            return folder
        found = sorted(p.name for p in self.root.iterdir() if p.is_dir())
        close = difflib.get_close_matches(folder_name, found, n=5, cutoff=0.5)
        raise InputError(f"{folder}: HAA500 class folder for '{paper_name}' not found; closest folders: "
                         f"{', '.join(close) or 'none'} (fix PAPER_ACTIONS in {__file__})")

    def _paper_action(self, action_id: str, folder: Path, prompt: str) -> Action:
        by_index = {}
        for p in _files(folder, VIDEO_SUFFIXES):
            m = _INDEX.search(p.stem)
            if m:
                by_index[int(m.group(1))] = p
        train = tuple(self.clip(by_index[i], f"{i:03d}") for i in TRAIN_INDICES if i in by_index)
        if not train:
            raise InputError(f"{folder}: no training videos named <class>_000 … <class>_015")
        test = [self.video_item(f"{i:03d}", by_index[i]) for i in TEST_INDICES if i in by_index]
        test += [self.image_item(f"extra_{p.stem}", p, None) for p in _files(folder / "extra", IMAGE_SUFFIXES)]
        return Action(action_id, prompt, select_shots(train, self.shots, self.seed), tuple(test))
