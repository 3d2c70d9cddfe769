"""The embedded `synthetic` dataset: determinism, counts, shapes, real and action-specific motion, pretrain pool."""
from __future__ import annotations

import numpy as np
import pytest

from flash_bench.datasets.synthetic import (ACTIONS, PRETRAIN_ACTIONS, SyntheticDataset, pretrain_pool,
                                            render_video)
from flash_bench.registry import DATASETS

SMALL = dict(num_frames=8, size=32)   # keeps the file fast on 2 shared cores


def _energy(video: np.ndarray) -> np.ndarray:
    """Mean absolute frame difference per pixel: where (and how much) things move."""
    return np.abs(np.diff(video.astype(np.float32), axis=0)).mean(axis=(0, 3))


def test_registry_resolves_and_needs_no_root():
    ds = DATASETS.get("synthetic")(None)
    assert ds.name == "synthetic" and ds.needs_root is False and ds.describe()["version"]


def test_same_seed_is_byte_identical_and_seed_matters():
    a = render_video("soccer_shoot", 3, seed=0, **SMALL)
    assert a.tobytes() == render_video("soccer_shoot", 3, seed=0, **SMALL).tobytes()
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
    action = SyntheticDataset().actions()[5]               # default 16 frames, 64 px
    video = action.train[0].load()
    assert video.shape == (16, 64, 64, 3) and video.dtype == np.uint8
    item = action.test[0]
    gt = item.ground_truth.load()
    assert np.array_equal(item.reference(), gt[0]) and gt.shape == (16, 64, 64, 3)
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
    assert len(ids) >= 8 and not ids & set(ACTIONS)
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
