"""The `synthetic-v2` world (issue 17): determinism, pool disjointness, figure masks, static simple scenes,
VERSION, and that v2 pretraining builds its own geometry."""
from __future__ import annotations

import json

import numpy as np
import pytest

from flash_bench.datasets import synthetic as v1
from flash_bench.datasets import synthetic_v2 as v2
from flash_bench.registry import DATASETS

SMALL = dict(num_frames=8, size=32)


def test_registered_with_its_own_version():
    ds = DATASETS.get("synthetic-v2")(None, **SMALL)
    assert ds.needs_root is False and ds.describe()["version"] == v2.VERSION != v1.VERSION
    actions = ds.actions()
    assert [a.id for a in actions] == list(v1.ACTIONS)
    assert [a.prompt for a in actions] == [s.prompt for s in v1.ACTIONS.values()]
    assert [t.id for t in actions[0].test] == ["016", "017", "018", "019"] and len(actions[0].train) == 16


def test_same_seed_is_identical_and_seed_or_index_matter():
    video, mask = v2.render("arm_wave", 3, seed=0, **SMALL)
    again, mask2 = v2.render("arm_wave", 3, seed=0, **SMALL)
    assert video.tobytes() == again.tobytes() and np.array_equal(mask, mask2)
    assert video.tobytes() != v2.render_video("arm_wave", 3, seed=1, **SMALL).tobytes()
    assert video.tobytes() != v2.render_video("arm_wave", 4, seed=0, **SMALL).tobytes()
    assert video.tobytes() != v1.render_video("arm_wave", 3, seed=0, **SMALL).tobytes()


def test_pretrain_pool_is_disjoint_from_the_few_shot_actions_and_adds_random_choreographies():
    pool = v2.pretrain_pool(num_videos=2, num_random=3, **SMALL)
    ids = [a for a, _, _ in pool]
    assert not set(ids) & set(v2.ACTIONS)
    assert set(ids) == set(v1.PRETRAIN_ACTIONS) | {v2.RANDOM_ACTION} and ids.count(v2.RANDOM_ACTION) == 3
    assert {p for a, p, _ in pool if a == v2.RANDOM_ACTION} == {v2.RANDOM_PROMPT}
    randoms = [c.load() for a, _, c in pool if a == v2.RANDOM_ACTION]
    assert len({r.tobytes() for r in randoms}) == 3                   # a new choreography per index
    for r in randoms:                                                   # and each one moves
        assert np.abs(np.diff(r.astype(np.int16), axis=0)).mean() > 0.5


def test_canvas_mask_channel_leaves_the_pixels_unchanged():
    # v1's drawing with the coverage channel on must give the same pixels (v1 never turns it on)
    cam = dict(k=np.full(2, 20.0), cx=np.full(2, 16.0), gy=np.full(2, 30.0), camx=np.zeros(2), m=1.0)
    plain, masked = v1._Canvas(cam, 32, 2), v1._Canvas(cam, 32, 2)
    masked.mask, masked.mask_value = np.zeros((2, 32, 32), np.float32), 1.0
    for cv in (plain, masked):
        cv.capsule((0.0, 0.2), (0.3, 0.9), 0.1, (0.9, 0.2, 0.1))
    assert np.array_equal(plain.img, masked.img) and masked.mask.max() == 1.0


@pytest.mark.parametrize("action", ["arm_wave", "sprint_run", "push_up", v2.RANDOM_ACTION])
def test_static_scene_outside_the_figure_and_mask_covers_a_large_figure(action):
    video, mask = v2.render(action, 16, num_frames=8, size=64)
    assert mask.dtype == bool and mask.shape == video.shape[:3]
    grown = mask.any(0)                                                 # union over frames, grown by 2 px
    for _ in range(2):
        grown = grown | np.roll(grown, 1, 0) | np.roll(grown, -1, 0) | np.roll(grown, 1, 1) | np.roll(grown, -1, 1)
    # no camera motion and a flat scene: every pixel away from the figure is constant over time
    assert (np.ptp(video.astype(np.int16), axis=0).max(-1)[~grown] == 0).all()
    # the mask is the figure: its pixels differ from the scene behind them (the median over the frame)
    scene = np.median(video[0].reshape(-1, 3), axis=0)
    inside = np.abs(video[0].astype(np.float32) - scene).max(-1)[mask[0]]
    assert (inside > 20).mean() > 0.9
    rows = np.flatnonzero(mask[0].any(1))
    if action != "push_up":                                             # upright figures are tall
        assert rows.max() - rows.min() >= 0.45 * 64


def test_flat_scenes_few_colours_and_appearance_varies_per_video():
    firsts = [v2.render_video("arm_wave", i, **SMALL)[0] for i in range(6)]
    for f in firsts:                                                   # a handful of solid colours, no texture
        assert len(np.unique(f.reshape(-1, 3), axis=0)) < 0.35 * f.shape[0] * f.shape[1]
    corners = {tuple(f[0, 0]) for f in firsts}
    assert len(corners) == len(firsts)                                 # each video its own scene colour


def test_v2_pretraining_builds_its_own_geometry_32px_to_16x16_latents(tmp_path):
    from flash.base_model import load_tiny_base
    from flash.pretrain_base import PretrainConfig, pretrain_base

    cfg = PretrainConfig(out_dir=str(tmp_path / "out"), resume_dir=str(tmp_path / "r"), source="synthetic-v2",
                         num_frames=8, size=32, videos_per_action=1, random_videos=2, vae_minutes=0.003,
                         vae_batch=2, unet_max_steps=2, unet_batch=1, decoder_every=0, threads=1)
    pretrain_base(cfg)
    saved = json.loads((tmp_path / "out" / "config.json").read_text())
    assert saved["pretrain"]["unet_steps"] == 2 and saved["pretrain"]["source"] == "synthetic-v2"
    base = load_tiny_base(tmp_path / "out")
    import torch

    with torch.no_grad():
        z = base.encode_frames(torch.zeros(1, 3, 32, 32))
    assert tuple(z.shape) == (1, 4, 16, 16)
    log = [json.loads(line) for line in (tmp_path / "out" / "train_log.jsonl").read_text().splitlines()]
    data = next(r for r in log if r["stage"] == "data")
    assert data["videos"] == 10 + 2 and v2.RANDOM_PROMPT in data["prompts"]


def test_v2_pretraining_refuses_another_canvas_size(tmp_path):
    from flash.pretrain_base import PretrainConfig, pretrain_base
    from flash_bench.types import InputError

    with pytest.raises(InputError, match="size=64"):
        pretrain_base(PretrainConfig(out_dir=str(tmp_path / "o"), resume_dir=str(tmp_path / "r"),
                                     source="synthetic-v2", size=64))
