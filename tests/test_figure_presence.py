"""Figure presence (issue 17's tiny-world diagnostic): from the reference image and the video alone, the share
of frames that show the reference's figure — high on ground truth and a still reference, zero on noise and
on figureless texture, and exactly the share of frames in which the figure is drawn."""
import numpy as np
import pytest

from flash_bench.datasets import synthetic as v2
from flash_bench.datasets.synthetic import ACTIONS
from flash_bench.metrics import figure_presence as fp
from flash_bench.types import InputError


@pytest.fixture(scope="module")
def test_set():
    """The 48 v2 test videos (016-019 of every action) at the tiny profile's v2 geometry, with their masks."""
    pairs = [v2.render(a, i, num_frames=8, size=32) for a in ACTIONS for i in range(16, 20)]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def test_ground_truth_and_a_still_reference_show_the_figure(test_set):
    videos, _ = test_set
    gt = [fp.figure_presence(v[0], v) for v in videos]
    still = [fp.figure_presence(v[0], np.repeat(v[:1], len(v), 0)) for v in videos]
    assert np.mean(gt) >= 90 and min(gt) >= 50
    assert still == [100.0] * len(videos)


def test_noise_and_figureless_texture_do_not(test_set):
    videos, _ = test_set
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:32, :32] / 32
    noise, texture = [], []
    for v in videos:
        noise.append(fp.figure_presence(v[0], rng.integers(0, 256, v.shape, dtype=np.uint8)))
        wave = np.sin(2 * np.pi * (rng.uniform(1, 5) * (xx[None] + 0.05 * np.arange(8)[:, None, None])
                                   + rng.uniform(1, 5) * yy[None]))                      # drifting grating
        scene = np.median(v[0].reshape(-1, 3), axis=0)
        texture.append(fp.figure_presence(v[0], np.clip(scene + wave[..., None] * rng.uniform(15, 40, 3), 0, 255)
                                          .astype(np.uint8)))
    assert np.mean(noise) <= 5 and np.mean(texture) <= 5


def test_a_figure_that_vanishes_halfway_is_present_in_half_the_frames(test_set):
    videos, masks = test_set
    for v, m in zip(videos[::6], masks[::6]):
        gone = v.copy()
        for y in range(v.shape[1]):              # the scene behind the figure: v2's scene is constant along rows
            background = np.median(v[0, y][~m[0, y]], axis=0) if (~m[0, y]).any() else v[0, y, 0]
            gone[4:, y] = background
        assert fp.figure_presence(v[0], np.concatenate([np.repeat(v[:1], 4, 0), gone[4:]])) == 50.0


def test_the_references_foreground_is_the_renderers_figure(test_set):
    videos, masks = test_set
    own = [fp.foreground(v[:1], fp.background(v[0]))[0] for v in videos]
    iou = [(a & b).sum() / (a | b).sum() for a, b in zip(own, (m[0] for m in masks))]
    assert np.mean(iou) >= 0.75                  # props (cup, canoe, beam) are foreground but not in the mask


def test_bad_inputs_are_named():
    flat = np.full((32, 32, 3), 120, np.uint8)
    assert fp.figure_presence(flat, np.repeat(flat[None], 4, 0)) is None            # nothing to look for
    with pytest.raises(InputError, match="does not match the reference"):
        fp.figure_presence(flat, np.zeros((4, 16, 16, 3), np.uint8))
    with pytest.raises(InputError, match="reference must be a uint8"):
        fp.figure_presence(flat.astype(np.float32), np.repeat(flat[None], 4, 0))
