"""The embedded `synthetic` dataset (the tiny world, VERSION 2): determinism, counts, shapes, real and action-specific
motion, the pretrain pool with random choreographies, figure masks, static simple scenes."""
from __future__ import annotations

import numpy as np
import pytest

from flash_bench.datasets import figures
from flash_bench.datasets.synthetic import (ACTIONS, PRETRAIN_ACTIONS, RANDOM_ACTION, RANDOM_PROMPT,
                                            RANDOM_VARIANTS, VARIANT_ACTIONS, VERSION, SyntheticDataset,
                                            pretrain_pool, render, render_video)
from flash_bench.registry import DATASETS
from flash_bench.tiny_world import NUM_FRAMES, SIZE

SMALL = dict(num_frames=8, size=32)   # keeps the file fast on 2 shared cores


def _energy(video: np.ndarray) -> np.ndarray:
    """Mean absolute frame difference per pixel: where (and how much) things move."""
    return np.abs(np.diff(video.astype(np.float32), axis=0)).mean(axis=(0, 3))


def test_registry_resolves_and_needs_no_root():
    ds = DATASETS.get("synthetic")(None)
    assert ds.name == "synthetic" and ds.needs_root is False and ds.describe()["version"] == VERSION == "2"


def test_same_seed_is_byte_identical_and_seed_matters():
    a, mask = render("soccer_shoot", 3, seed=0, **SMALL)
    again, mask2 = render("soccer_shoot", 3, seed=0, **SMALL)
    assert a.tobytes() == again.tobytes() and np.array_equal(mask, mask2)
    assert a.tobytes() != render_video("soccer_shoot", 3, seed=1, **SMALL).tobytes()
    assert a.tobytes() != render_video("soccer_shoot", 4, seed=0, **SMALL).tobytes()


def test_dataset_clips_are_deterministic_across_instances():
    one = SyntheticDataset(seed=5, **SMALL).actions()[0].train[2].load()
    two = SyntheticDataset(seed=5, **SMALL).actions()[0].train[2].load()
    assert np.array_equal(one, two)


def test_counts_ids_prompts_and_shots():
    actions = SyntheticDataset(**SMALL).actions()
    assert [a.id for a in actions] == list(ACTIONS) and len(actions) == 12
    for a in actions:
        assert a.prompt.endswith(".") and len(a.prompt.split()) >= 4
        assert [c.id for c in a.train] == [f"{i:03d}" for i in range(16)]
        assert [t.id for t in a.test] == ["016", "017", "018", "019"]
    four = SyntheticDataset(shots=4, seed=3, **SMALL).actions()
    eight = SyntheticDataset(shots=8, seed=3, **SMALL).actions()
    for a4, a8 in zip(four, eight):
        assert len(a4.train) == 4 and {c.id for c in a4.train} <= {c.id for c in a8.train}


def test_shapes_dtype_and_test_item_reference_is_first_frame():
    action = SyntheticDataset().actions()[5]               # default: the tiny profile's geometry
    video = action.train[0].load()
    assert video.shape == (NUM_FRAMES, SIZE, SIZE, 3) and video.dtype == np.uint8
    item = action.test[0]
    gt = item.ground_truth.load()
    assert np.array_equal(item.reference(), gt[0]) and gt.shape == (NUM_FRAMES, SIZE, SIZE, 3)
    video[:] = 0                                            # a caller's writes must not leak into the cache
    assert action.train[0].load().any()


@pytest.mark.parametrize("frames,size", [(4, 24), (24, 48)])
def test_other_sizes_and_frame_counts_render_natively(frames, size):
    video = render_video("chopping_wood", 0, num_frames=frames, size=size)
    assert video.shape == (frames, size, size, 3) and video.dtype == np.uint8


def test_every_action_moves():
    for action in [*ACTIONS, *PRETRAIN_ACTIONS]:
        energy = _energy(render_video(action, 0, **SMALL)).mean()
        assert energy > 0.5, f"{action} looks static (mean |frame diff| = {energy:.3f})"


def test_actions_differ_in_motion_not_only_in_look():
    # Average motion-energy maps over a few videos per action: appearance averages out, the motion
    # pattern does not. Every action's map must be closer to a second sample of itself than to the
    # map of at least most other actions, and no two actions may share one map.
    def profile(action, indices):
        maps = [_energy(render_video(action, i, num_frames=8, size=24)) for i in indices]
        m = np.mean([mp / (mp.sum() + 1e-9) for mp in maps], axis=0)
        return np.concatenate([m.sum(0), m.sum(1)])          # column + row profiles: where motion happens
    ids = list(ACTIONS)
    a = np.stack([profile(x, range(0, 4)) for x in ids])
    b = np.stack([profile(x, range(4, 8)) for x in ids])
    dist = np.abs(a[:, None] - b[None]).sum(-1)                # (12, 12) L1 between sample sets
    assert len({np.round(row, 4).tobytes() for row in a}) == len(ids)
    better_than = (dist.diagonal()[:, None] < dist).sum(1)     # how many other actions each beats
    assert np.median(better_than) >= 8, dist.round(3)


def test_pretrain_pool_is_disjoint_big_enough_and_lazy():
    pool = pretrain_pool(num_frames=4, size=24)
    ids = {a for a, _, _ in pool}
    assert len(ids) >= 8 and not ids & set(ACTIONS) and RANDOM_ACTION not in ids   # no random ones unless asked
    for a in ids:
        clips = [c for x, _, c in pool if x == a]
        assert len(clips) >= 50 and len({c.id for c in clips}) == len(clips)
    prompts = {a: p for a, p, _ in pool}
    assert all(p == PRETRAIN_ACTIONS[a].prompt for a, p in prompts.items())
    sample = [pool[0], pool[len(pool) // 2], pool[-1]]
    for _, _, clip in sample:
        assert clip.load().shape == (4, 24, 24, 3)


def test_high_indices_render_for_extra_data():
    a, b = render_video("push_up", 1000, **SMALL), render_video("push_up", 1001, **SMALL)
    assert a.shape == b.shape and not np.array_equal(a, b)


def test_unknown_action_is_named():
    with pytest.raises(KeyError, match="unknown synthetic action"):
        render_video("moonwalk", 0)


def test_pretrain_pool_is_disjoint_from_the_few_shot_actions_and_adds_random_choreographies():
    pool = pretrain_pool(num_videos=2, num_random=3, **SMALL)
    ids = [a for a, _, _ in pool]
    assert not set(ids) & set(ACTIONS)
    assert set(ids) == set(PRETRAIN_ACTIONS) | {RANDOM_ACTION} and ids.count(RANDOM_ACTION) == 3
    assert {p for a, p, _ in pool if a == RANDOM_ACTION} == {RANDOM_PROMPT}
    randoms = [c.load() for a, _, c in pool if a == RANDOM_ACTION]
    assert len({r.tobytes() for r in randoms}) == 3                   # a new choreography per index
    for r in randoms:                                                   # and each one moves
        assert np.abs(np.diff(r.astype(np.int16), axis=0)).mean() > 0.5


def test_pretrain_pool_adds_random_choreography_variants_in_the_few_shot_poses():
    from flash_bench.datasets.synthetic import SPARSE_ACTIONS

    pool = pretrain_pool(num_videos=1, num_random=1, num_variants=2, **SMALL)
    ids = [a for a, _, _ in pool]
    assert not set(ids) & set(ACTIONS) and all(ids.count(a) == 2 for a in VARIANT_ACTIONS + SPARSE_ACTIONS)
    assert {p for a, p, _ in pool if a in VARIANT_ACTIONS} == {p for p, _ in RANDOM_VARIANTS.values()}
    assert {p for a, p, _ in pool if a in SPARSE_ACTIONS} == {p for p, _ in RANDOM_VARIANTS.values()} | {RANDOM_PROMPT}
    assert pretrain_pool(num_videos=1, num_random=1, **SMALL) == [e for e in pool
                                                                   if e[0] not in VARIANT_ACTIONS + SPARSE_ACTIONS]

    def extent(action, i):                       # the figure's mean height and width (pixels, over frames)
        mask = render(action, i, **SMALL)[1]
        rows, cols = mask.any(2), mask.any(1)
        return rows.sum(1).mean(), cols.sum(1).mean()

    # lying: wider than tall, like push_up's plank; the plain random choreographies stand (taller than wide)
    for i in range(3):
        h, w = extent(f"{RANDOM_ACTION}+lying", i)
        assert w > 1.5 * h, (i, h, w)
        h, w = extent(RANDOM_ACTION, i)
        assert h > w, (i, h, w)
    for action in VARIANT_ACTIONS + SPARSE_ACTIONS:                     # every variant moves (sparse ones less)
        video, _ = render(action, 0, **SMALL)
        assert np.abs(np.diff(video.astype(np.int16), axis=0)).mean() > 0.1, action


def test_canvas_mask_channel_leaves_the_pixels_unchanged():
    # drawing with the coverage channel on gives the same pixels as without it
    cam = dict(k=np.full(2, 20.0), cx=np.full(2, 16.0), gy=np.full(2, 30.0), camx=np.zeros(2), m=1.0)
    plain, masked = figures._Canvas(cam, 32, 2), figures._Canvas(cam, 32, 2)
    masked.mask, masked.mask_value = np.zeros((2, 32, 32), np.float32), 1.0
    for cv in (plain, masked):
        cv.capsule((0.0, 0.2), (0.3, 0.9), 0.1, (0.9, 0.2, 0.1))
    assert np.array_equal(plain.img, masked.img) and masked.mask.max() == 1.0


@pytest.mark.parametrize("action", ["arm_wave", "sprint_run", "push_up", RANDOM_ACTION])
def test_static_scene_outside_the_figure_and_mask_covers_a_large_figure(action):
    video, mask = render(action, 16, num_frames=8, size=64)   # 64 px: room to grow the mask
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
    firsts = [render_video("arm_wave", i, **SMALL)[0] for i in range(6)]
    for f in firsts:                                                   # a handful of solid colours, no texture
        assert len(np.unique(f.reshape(-1, 3), axis=0)) < 0.35 * f.shape[0] * f.shape[1]
    corners = {tuple(f[0, 0]) for f in firsts}
    assert len(corners) == len(firsts)                                 # each video its own scene colour


def test_sparse_variants_hold_all_but_a_few_degrees_of_freedom_still():
    from flash_bench.datasets import synthetic

    ph = np.linspace(0, 1, 8)
    body = synthetic._sample_body(np.random.default_rng(0))
    names = list(synthetic._SIDE_DOF)
    v = dict(drop_seed=7, front=False)
    moving = lambda pose: {k for k, val in pose.items() if np.ptp(val) > 1e-9}     # noqa: E731
    assert moving(synthetic._random_pose(ph, {**v, "still": frozenset(names)}, body)) == set()
    one = moving(synthetic._random_pose(ph, {**v, "still": frozenset(names) - {"bend_r"}}, body))
    assert one == {"la_r"}                                   # the right elbow bends; nothing else moves
    dense = len(moving(synthetic._random_pose(ph, v, body)))
    sparse = [len(moving(synthetic._sparse(synthetic._random_pose, ph, {**v, "drop_seed": s}, body)))
              for s in range(20)]
    assert dense >= 8 and all(1 <= n <= 6 for n in sparse)  # 1-3 degrees of freedom: at most 6 derived angles
    # in pixels: a sparse random choreography changes fewer of the figure's pixels than its dense twin
    def share(action):
        out = []
        for i in range(6):
            video, mask = render(action, i, **SMALL)
            changed = np.abs(np.diff(video.astype(np.int16), axis=0)).sum((0, 3)) > 0
            out.append(changed[mask.any(0)].mean())
        return np.mean(out)
    assert share(RANDOM_ACTION + synthetic.SPARSE) < 0.8 * share(RANDOM_ACTION)


def test_more_test_items_extend_the_test_split_and_keep_the_first_four():
    from flash_bench.datasets.synthetic import MAX_TEST_ITEMS
    from flash_bench.types import InputError

    plain, more = SyntheticDataset(**SMALL).actions()[1], SyntheticDataset(**SMALL, test_items=10).actions()[1]
    assert [t.id for t in plain.test] == ["016", "017", "018", "019"]
    assert [t.id for t in more.test] == [f"{i:03d}" for i in range(16, 26)]
    assert all((a.ground_truth.load() == b.ground_truth.load()).all() for a, b in zip(plain.test, more.test))
    assert [c.id for c in more.train] == [c.id for c in plain.train]          # the training videos are the same
    assert len({t.ground_truth.load().tobytes() for t in more.test}) == 10
    with pytest.raises(InputError, match="at most"):
        SyntheticDataset(test_items=MAX_TEST_ITEMS + 1)
    with pytest.raises(InputError, match=">= 1"):
        SyntheticDataset(test_items=0)


def test_a_dataset_of_files_refuses_more_test_items(tmp_path):
    from flash_bench.registry import DATASETS
    from flash_bench.types import InputError

    with pytest.raises(InputError, match="haa500.*test split"):
        DATASETS.get("haa500")(tmp_path, test_items=8)


# sha256 of the renders below (ids, prompts, videos, masks), computed on the code the tiny base pretrains on
# (main at 008d69d): a change of what an existing action id draws changes it (then bump VERSION and re-pin).
POOL_DIGEST = "5348070d649a05872c619f0aea1a28283eb107119720ad843357749dea4cc047"


def test_pretrain_pool_and_few_shot_renders_are_pinned():
    import hashlib

    h = hashlib.sha256()
    for a, p, c in pretrain_pool(num_videos=1, num_random=2, num_variants=2, **SMALL):
        video, mask = render(a, int(c.id), **SMALL)
        for part in (a.encode(), p.encode(), video.tobytes(), mask.tobytes()):
            h.update(part)
    for a in ACTIONS:
        h.update(render_video(a, 16, **SMALL).tobytes())
    assert h.hexdigest() == POOL_DIGEST


def test_reach_variants_hold_the_prop_where_the_few_shot_actions_do_and_stay_out_of_the_pool():
    from flash_bench.datasets import synthetic

    assert not {a for a, _, _ in pretrain_pool(num_videos=1, num_random=1, num_variants=1, **SMALL)} \
        & set(synthetic.REACH_ACTIONS)
    for kind, action in zip(synthetic.REACH_KINDS, synthetic.REACH_ACTIONS):
        plain = f"{RANDOM_ACTION}+{kind}"
        assert synthetic.pool_prompt(action) == synthetic.pool_prompt(plain) and \
            synthetic.pool_class(action) == RANDOM_ACTION
        assert render_video(action, 0, **SMALL).tobytes() != render_video(plain, 0, **SMALL).tobytes()

    ph = np.linspace(0, 1, 8)
    body = synthetic._sample_body(np.random.default_rng(0))

    def wrist(p):                                # forward kinematics: right wrist (forward, up) from the shoulder
        return (np.array(figures._dir(np.asarray(p["ua_r"]), body["upper_arm"]))
                + np.array(figures._dir(np.asarray(p["la_r"]), body["forearm"])))

    cup_at_mouth = wrist(figures._drinking(ph, {}, body))[:, 2:6]       # the drinking action's cup at the mouth
    reach = body["upper_arm"] + body["forearm"]
    cover = {}
    for name, pose in (("plain", synthetic._prop_pose),
                       ("reach", lambda *a: synthetic._reach(synthetic._prop_pose, *a))):
        hands = np.concatenate([wrist(pose(ph, dict(drop_seed=d, front=False, side=1.0), body))
                                for d in range(200)], 1)                  # (2, 1600)
        if name == "reach":                      # the hand goes where inverse kinematics sent it, within reach
            share = np.hypot(*hands) / reach
            assert share.min() >= 0.29 and share.max() <= 1.0
        cover[name] = (np.hypot(*(hands[:, :, None] - cup_at_mouth[:, None])) < 0.04).mean()
    assert cover["reach"] > 5 * cover["plain"] and cover["reach"] > 0.02, cover


def test_near_variant_brings_two_people_as_close_as_the_hugging_pair_and_stays_out_of_the_pool():
    from flash_bench.datasets import synthetic

    assert not {a for a, _, _ in pretrain_pool(num_videos=1, num_random=1, num_variants=1, **SMALL)} \
        & set(synthetic.NEAR_ACTIONS)
    near, plain = synthetic.NEAR_ACTIONS[0], f"{RANDOM_ACTION}+two"
    assert synthetic.pool_prompt(near) == synthetic.pool_prompt(plain) and synthetic.pool_class(near) == RANDOM_ACTION
    ph = np.linspace(0, 1, 8)
    bodies = [synthetic._sample_body(np.random.default_rng(j)) for j in range(2)]
    hug = abs(figures._hugging(ph, dict(amp=1.0), bodies)[0]["x"][-1])         # the hugging pair at the end
    gaps = np.concatenate([[abs(np.asarray(f["x"])) for f in synthetic._near(
        synthetic._two_pose, ph, dict(drop_seed=d, front=False, side=1.0), bodies)] for d in range(100)])
    lo, hi = synthetic.NEAR_GAP
    assert gaps.min() >= lo and gaps.max() <= hi and lo < hug < 0.4          # the plain pair stands at +-0.4
    assert (gaps < 0.2).mean() > 0.05
