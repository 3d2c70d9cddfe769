"""Each on-disk dataset against a small tree the test builds; bad trees give one clear error per action."""
import os

import numpy as np
import pytest
from PIL import Image

from conftest import moving_square
from flash_bench.datasets.base import select_shots
from flash_bench.datasets.folder import FolderDataset
from flash_bench.datasets.haa500 import PAPER_ACTIONS, HAA500Dataset
from flash_bench.datasets.ucf_sports import UCFSportsDataset
from flash_bench.registry import DATASETS
from flash_bench.types import InputError
from flash_bench.video_io import write_video


def test_folder_dataset(folder_root):
    ds = FolderDataset(folder_root, num_frames=8, size=32)
    actions = ds.actions()
    assert [a.id for a in actions] == ["jump", "wave"]
    a = actions[0]
    assert a.prompt == "a person is doing jump." and len(a.train) == 3 and len(a.test) == 2
    clip = a.train[0].load()
    assert clip.shape == (8, 32, 32, 3) and clip.dtype == np.uint8
    item = a.test[0]
    assert item.reference().shape == (32, 32, 3) and item.ground_truth.load().shape == (8, 32, 32, 3)
    assert ds.failures == []


def test_folder_dataset_bad_actions_are_reported_not_fatal(folder_root):
    (folder_root / "wave" / "prompt.txt").unlink()
    bad = folder_root / "..x"
    (bad / "train").mkdir(parents=True)
    (bad / "prompt.txt").write_text("x")
    os.mkdir(os.fsencode(folder_root) + b"/caf\xe9")          # a folder name that is not UTF-8
    ds = FolderDataset(folder_root)
    assert [a.id for a in ds.actions()] == ["jump"]
    errors = " | ".join(f["error"] for f in ds.failures)
    assert "prompt.txt: missing prompt file" in errors
    assert "'..x' is not allowed" in errors
    assert "caf\\xe9" in errors or "not allowed" in errors
    assert len(ds.failures) == 3


def test_test_item_without_ground_truth(folder_root):
    Image.fromarray(moving_square(9)[0]).save(folder_root / "jump" / "test" / "internet.png")
    a = FolderDataset(folder_root).actions()[0]
    extra = [t for t in a.test if t.id == "internet"][0]
    assert extra.ground_truth is None


def test_shots_are_seeded_and_nested():
    clips = tuple(range(16))
    four, eight = select_shots(clips, 4, 0), select_shots(clips, 8, 0)
    assert len(four) == 4 and set(four) <= set(eight)
    assert four == select_shots(clips, 4, 0) and four != select_shots(clips, 4, 1)
    assert select_shots(clips, None, 0) == clips


def _haa_tree(root, actions=("push_up", "arm_wave"), n=20):
    for a in actions:
        folder = PAPER_ACTIONS[a][1]
        (root / folder).mkdir(parents=True)
        for i in range(n):
            write_video(root / folder / f"{folder}_{i:03d}.mp4", moving_square(i, frames=6, size=32))
    return root


def test_haa500_split_and_shots(tmp_path):
    root = _haa_tree(tmp_path / "haa")
    (root / "arm_wave" / "extra").mkdir()
    Image.fromarray(moving_square(1)[0]).save(root / "arm_wave" / "extra" / "web1.jpg")
    ds = HAA500Dataset(root, num_frames=6, size=32, shots=8)
    actions = {a.id: a for a in ds.actions()}
    assert set(actions) == {"push_up", "arm_wave"}
    push = actions["push_up"]
    assert len(push.train) == 8 and {c.id for c in push.train} <= {f"{i:03d}" for i in range(16)}
    assert [t.id for t in push.test] == ["016", "017", "018", "019"]
    t = push.test[0]
    np.testing.assert_array_equal(t.reference(), t.ground_truth.load()[0])   # reference = first frame
    assert [t.id for t in actions["arm_wave"].test][-1] == "extra_web1"
    assert actions["arm_wave"].test[-1].ground_truth is None
    assert len(ds.failures) == 10  # the other ten paper actions are absent, each named


def test_haa500_miss_names_closest_folders(tmp_path):
    root = tmp_path / "haa"
    (root / "balancebeam_flip").mkdir(parents=True)
    (root / "balance_beam_jump_x").mkdir()
    ds = HAA500Dataset(root)
    ds.actions()
    err = [f["error"] for f in ds.failures if f["action"] == "balance_beam_jump"][0]
    assert "balancebeam_jump" in err and "closest folders" in err and "balancebeam_flip" in err


def test_ucf_sports_split_is_deterministic(tmp_path):
    root = tmp_path / "ucf"
    for cls, n in (("Golf-Swing-Front", 5), ("Golf-Swing-Side", 4), ("Lifting", 6)):
        for v in range(n):
            d = root / "ucf action" / cls / f"{v:03d}"
            d.mkdir(parents=True)
            for i, f in enumerate(moving_square(v, frames=5, size=24)):
                Image.fromarray(f).save(d / f"{i:04d}.jpg")
    ds = UCFSportsDataset(root, num_frames=5, size=24)
    a = {x.id: x for x in ds.actions()}
    assert len(a["golf_swing"].train) == 6 and len(a["golf_swing"].test) == 3
    assert len(a["lifting"].train) == 4 and len(a["lifting"].test) == 2
    again = {x.id: x for x in UCFSportsDataset(root, seed=7).actions()}
    assert [c.id for c in again["golf_swing"].train] == [c.id for c in a["golf_swing"].train]
    assert a["lifting"].test[0].ground_truth.load().shape == (5, 24, 24, 3)


def test_root_is_required_and_checked(tmp_path):
    with pytest.raises(InputError, match="needs --root"):
        HAA500Dataset(None)
    with pytest.raises(InputError, match="not a folder"):
        FolderDataset(tmp_path / "nope")


def test_registry_names_match_module_names():
    for name in DATASETS.names():
        module = DATASETS.target(name).split(":")[0].rsplit(".", 1)[1]
        assert module == name.replace("-", "_")
    with pytest.raises(KeyError, match="Did you mean synthetic"):
        DATASETS.get("synthetik")
