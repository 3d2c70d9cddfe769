"""The v2 yardstick (issue 17, gate G3): a "no action" answer in the API and the metrics, the shipped v2
weights (recognise ground truth, refuse still, figureless and noise videos), and the choice of weights by
the video's geometry."""
import json

import numpy as np
import pytest

from flash_bench import yardstick
from flash_bench.datasets import synthetic as v2
from flash_bench.metrics.action_accuracy import ActionAccuracy
from flash_bench.metrics.action_refusal import ActionRefusal, action_refusal
from flash_bench.metrics.base import Sample
from flash_bench.types import InputError

torch = pytest.importorskip("torch")
NO = len(yardstick.CLASSES)


def _logp(target: int, k: int = NO + 1, peak: float = 3.0) -> np.ndarray:
    z = np.zeros(k)
    z[target] = peak
    return z - np.log(np.exp(z).sum())


def test_no_action_is_an_answer_that_accuracy_counts_as_wrong():
    logp = np.stack([_logp(1), _logp(NO), _logp(NO, peak=0.1)])
    assert list(yardstick.answers(logp)) == [1, NO, NO]
    assert yardstick.answer(logp[0]) == "arm_wave" and yardstick.answer(logp[1]) == yardstick.NO_ACTION
    s = yardstick.scores(logp, ["arm_wave"] * 3)
    assert list(s["accuracy"]) == [1.0, 0.0, 0.0] and list(s["refused"]) == [0.0, 1.0, 1.0]
    # a threshold on the top probability refuses an unsure 12-way answer too
    unsure = _logp(4, k=NO, peak=0.5)
    assert yardstick.answers(unsure[None], threshold=0.5)[0] == NO
    assert yardstick.answers(unsure[None])[0] == 4
    acc, ref = ActionAccuracy(dataset="synthetic"), ActionRefusal(dataset="synthetic")
    for s in (Sample("m/arm_wave/016", {"yardstick": _logp(1)}), Sample("m/arm_wave/017", {"yardstick": _logp(NO)})):
        acc.update(s), ref.update(s)
    assert acc.values == [100.0, 0.0] and ref.values == [0.0, 100.0]
    assert action_refusal(_logp(3, k=NO)) == 0.0                          # v1's 12 outputs never refuse


def test_recipe_is_the_shipped_record():
    """recipe() must keep the recipe the shipped weights were trained with."""
    info = json.loads(yardstick.WEIGHTS_PATH.with_suffix(".json").read_text())
    cfg = yardstick.recipe()
    for key, value in info["training"].items():
        if hasattr(cfg, key):
            assert getattr(cfg, key) == (tuple(value) if isinstance(value, list) else value), key
    assert cfg.model.reject and min(cfg.texture_per_batch, cfg.blob_per_batch, cfg.melt_per_batch) > 0


def test_junk_clips_are_what_they_claim():
    rng = np.random.default_rng(0)
    clip = torch.from_numpy(v2.render_video("arm_wave", 1000, num_frames=8, size=32)).permute(3, 0, 1, 2) / 255
    tex = yardstick.texture(clip, rng)
    assert tex.shape == clip.shape and (tex[:, 1:] - tex[:, :-1]).abs().mean() > 0.005      # it moves
    # smooth in space, unlike the figure's sharp edges
    grad = lambda x: (x[..., 1:] - x[..., :-1]).abs().mean()                                   # noqa: E731
    assert grad(tex) < grad(clip)
    blob = yardstick.drifting_blob(clip, rng)
    assert not torch.allclose(blob[:, 0], blob[:, -1])
    melt = yardstick.melting(clip, rng)
    assert torch.allclose(melt[:, 0], clip[:, 0], atol=1e-6)                  # starts as the figure's frame ...
    assert grad(melt[:, -1]) < 0.7 * grad(clip[:, 0])                          # ... and ends smeared


def test_batch_targets_no_action_clips():
    cfg0 = yardstick.YardstickConfig(frames=8, size=32)
    videos, regions = map(np.stack, zip(*[yardstick.render_with_region(cfg0, a, 1000) for a in yardstick.CLASSES]))
    cfg = yardstick.recipe(batch=4, static_per_batch=1, flicker_per_batch=1, texture_per_batch=1,
                           blob_per_batch=1, melt_per_batch=1, still_per_batch=2, scene_prob=1.0)
    x, target = yardstick._batch(videos, np.arange(12), regions, cfg, np.random.default_rng(0))
    assert x.shape == (11, 3, 7, 32, 32) and target.shape == (11, 13)
    assert (target[:4].argmax(1) < NO).all() and (target[4:].argmax(1) == NO).all()
    torch.testing.assert_close(target.sum(1), torch.ones(11))


def _rendered(action: str, index: int = 1000):
    video, mask = v2.render(action, index, num_frames=8, size=32)
    return video, mask, yardstick.figure_region(video, mask), yardstick.clip_to_unit(video)


@pytest.mark.parametrize("action", ["balance_beam_jump", "soccer_shoot", "hugging_human"])
def test_figure_region_holds_everything_the_rendered_clip_moves(action):
    """The region covers the renderer's figure mask in every frame, and outside it the rendered clip never changes
    (a ball, an axe or a second person included)."""
    video, mask, region, _ = _rendered(action)
    assert (mask & ~region[None]).sum() == 0
    assert np.array_equal(video[:, ~region], np.repeat(video[:1, ~region], len(video), 0))
    assert 0.05 < region.mean() < 0.9


@pytest.mark.parametrize("action", ["push_up", "canoeing_sprint", "chopping_wood"])
def test_still_figure_junk_has_a_still_figure_region_and_a_moving_rest(action):
    from flash_bench.metrics import figure_presence as fp

    video, mask, region, clip = _rendered(action)
    r = torch.from_numpy(region)
    motion = lambda x: (x[:, 1:] - x[:, :-1]).abs().amax(dim=(0, 1))                      # noqa: E731  (H, W)
    for n, how in enumerate(yardstick.STILL_FIGURE):
        junk = yardstick.still_figure(clip, region, np.random.default_rng(n), how, exact=True)
        assert junk.shape == clip.shape
        assert motion(junk)[r].max() == 0                                # the figure region does not move ...
        assert motion(junk)[~r].mean() > 0.01                            # ... the rest of the frame does
        assert motion(clip)[r].max() > 0.1                               # (where the rendered figure acts)
        inside = yardstick.clip_to_uint8(junk)[0]
        if how == "frozen":                                             # the reference's figure, frozen
            assert np.array_equal(inside[region], video[0][region])
        else:                                                           # no figure: the scene, by the figure-
            assert not fp.foreground(inside[None], fp.background(video[0]))[0][mask[0]].any()  # presence rule
    jittered = [yardstick.still_figure(clip, region, np.random.default_rng(n)) for n in range(8)]
    still = [motion(j)[r].max() == 0 for j in jittered]
    assert any(still) and not all(still)                                 # the region jitters in some of them
    with pytest.raises(InputError, match="how must be one of"):
        yardstick.still_figure(clip, region, np.random.default_rng(0), "melted")


def test_the_acting_figure_keeps_its_motion_when_the_scene_moves():
    video, _, region, clip = _rendered("arm_wave")
    moved = yardstick.with_moving_scene(clip, region, np.random.default_rng(3))
    r = torch.from_numpy(region)
    assert torch.equal(moved[:, :, r], clip[:, :, r])                   # the action, untouched
    assert (moved[:, 1:, ~r] - moved[:, :-1, ~r]).abs().mean() > 0.01    # a scene that the renderer keeps still
    assert (clip[:, 1:, ~r] - clip[:, :-1, ~r]).abs().max() == 0


def _sinusoid_texture(video: np.ndarray, rng) -> np.ndarray:
    """The scene's median colour under a drifting sinusoid grating (another generator than training's)."""
    t, h, w, _ = video.shape
    yy, xx = np.mgrid[:h, :w] / h
    fx, fy, vx = rng.uniform(1, 5), rng.uniform(1, 5), rng.uniform(-0.3, 0.3)
    wave = np.sin(2 * np.pi * (fx * (xx[None] + vx * np.arange(t)[:, None, None] / t) + fy * yy[None]))
    colour = np.median(video[0].reshape(-1, 3), axis=0)
    return np.clip(colour + wave[..., None] * rng.uniform(15, 40, 3), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def shipped_v2():
    model, info = yardstick.load(yardstick.WEIGHTS_PATH)
    videos, ids = yardstick.ground_truth_test_set(model.cfg)
    return model, info, videos, ids


def test_shipped_v2_recognises_ground_truth_and_refuses_what_is_not_an_action(shipped_v2):
    model, info, videos, ids = shipped_v2
    assert (model.cfg.dataset, model.cfg.frames, model.cfg.size, model.cfg.reject) == ("synthetic", 8, 32, True)
    gt = yardstick.log_probs(model, videos)
    assert yardstick.scores(gt, ids)["accuracy"].mean() >= 0.9                # gate G3, 48 held-out videos
    assert info["quality"]["ground_truth"]["accuracy"] == pytest.approx(yardstick.scores(gt, ids)["accuracy"].mean())
    rng = np.random.default_rng(5)
    junk = {"static": [np.repeat(v[:1], len(v), 0) for v in videos],
            "texture": [_sinusoid_texture(v, rng) for v in videos],
            "noise": [rng.integers(0, 256, v.shape, dtype=np.uint8) for v in videos]}
    for kind, vids in junk.items():
        assert (yardstick.answers(yardstick.log_probs(model, vids)) == NO).mean() >= 0.9, kind


def test_shipped_v2_refuses_a_frozen_figure_in_a_moving_scene(shipped_v2):
    """The reference's figure region (the renderer's mask over the clip, dilated) frozen, a drifting grating
    around it (other code than the training's moving scene): "no action"."""
    from scipy.ndimage import binary_dilation

    model, _, _, _ = shipped_v2
    rng, made = np.random.default_rng(6), []
    for a in yardstick.CLASSES:
        for i in yardstick.TEST_INDICES:
            video, mask = v2.render(a, i, num_frames=8, size=32)
            region = binary_dilation(mask.any(0), iterations=3)[None, ..., None]
            made.append(np.where(region, video[:1], _sinusoid_texture(video, rng)))
    assert (yardstick.answers(yardstick.log_probs(model, made)) == NO).mean() >= 0.9


def test_the_metric_judges_every_geometry_with_the_one_yardstick_resampled():
    """One yardstick: a video of another geometry is resampled to its 8 frames at 32 px (the frames spread evenly,
    both ends kept; each resized bilinearly) and judged as that video."""
    import hashlib

    import torch.nn.functional as F

    model, info = yardstick.build()
    assert (model.cfg.frames, model.cfg.size) == (info["frames"], info["size"]) == (8, 32)
    record = json.loads(yardstick.WEIGHTS_PATH.with_suffix(".json").read_text())["sha256"]
    assert info["sha256"] == hashlib.sha256(record.encode()).hexdigest()   # the feature-cache key of before
    odd = v2.render_video("push_up", 16, num_frames=15, size=48)
    by_hand = torch.from_numpy(odd[::2].copy()).permute(0, 3, 1, 2).float() / 255          # frames 0, 2, ..., 14
    by_hand = F.interpolate(by_hand, size=(32, 32), mode="bilinear", antialias=True, align_corners=False)
    small = (by_hand.permute(0, 2, 3, 1) * 255).round().byte().numpy()                     # exactly 8 x 32 px
    assert yardstick.video_features(model, odd).shape == (13,)           # with "no action"
    np.testing.assert_allclose(yardstick.video_features(model, odd), yardstick.video_features(model, small),
                               atol=0.05)
