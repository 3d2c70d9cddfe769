"""Metric validity checks (`flash-bench validate-metrics`): the videos they build, their statistics, and that each
check can both pass and fail — judged with hand-made featurisers whose answers are known in closed form."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from flash_bench.types import Action, Clip
from flash_bench.types import TestItem as Item


def test_auc_is_the_mann_whitney_statistic():
    from flash_bench.validate import auc

    assert auc([3, 4], [1, 2]) == 1.0 and auc([1, 2], [3, 4]) == 0.0
    assert auc([1, 3], [2]) == 0.5 and auc([2], [2]) == 0.5           # a tie counts one half
    assert auc([2, 3, 4], [1, 3]) == pytest.approx((1 + 1.5 + 2) / 6)


def test_variants_are_what_they_say():
    from flash_bench.validate import variants

    rng = np.random.default_rng(0)
    gt = rng.integers(0, 256, (6, 16, 16, 3), dtype=np.uint8)
    v = variants(gt, gt[0], np.random.default_rng(1))
    assert set(v) == {"gt", "static", "reversed", "shuffled", "blurred", "noise"}
    assert all(x.shape == gt.shape and x.dtype == np.uint8 for x in v.values())
    assert (v["static"] == gt[0]).all() and (v["reversed"] == gt[::-1]).all()
    order = [next(j for j in range(6) if (gt[j] == f).all()) for f in v["shuffled"]]
    assert sorted(order) == list(range(6)) and order != list(range(6))   # a true, non-identity permutation
    assert v["blurred"].std() < gt.std() and not (v["noise"] == gt).all()


# ---------------------------------------------------------------------------------- hand-made featurisers
def _video(action: int, item: int, frames: int = 8, size: int = 16) -> np.ndarray:
    """A bright square moving left-to-right (action 0) or top-to-bottom (action 1) on a background of the item's
    own colour, offset per item."""
    out = np.zeros((frames, size, size, 3), np.uint8)
    out[..., :] = np.array([20 + 25 * item, 20 + 60 * action, 120 - 25 * item], np.uint8)
    for t in range(frames):
        pos = 2 + t + item % 2
        r, c = (4 + item % 3, pos) if action == 0 else (pos, 4 + item % 3)
        out[t, r:r + 4, c:c + 4] = 220
    return out


def _dataset(n_items: int = 4):
    actions = []
    for a, name in enumerate(("slide", "drop")):
        items = tuple(Item(f"{i:03d}", (lambda v=_video(a, i): v[0]), Clip(f"{i:03d}", lambda v=_video(a, i): v))
                      for i in range(n_items))
        actions.append(Action(name, f"a square is {name}ing.", (), items))

    @dataclass
    class Toy:
        name: str = "toy"

        def actions(self):
            return actions

    return Toy()


@dataclass
class _Keys:
    profile: str = "tiny"

    def key(self, name):
        return f"toy-{name}"


class ToyEngine:
    """"clip": each frame's pixels; "i3d_rgb"/"i3d_flow": the mean frame difference (the motion direction) — so
    same-action videos share a direction and shuffling destroys it. ``broken`` makes every feature constant."""

    def __init__(self, broken: bool = False, profile: str = "tiny"):
        self.broken, self.features = broken, _Keys(profile)

    def featurise(self, frames, names):
        x = frames.astype(np.float64) / 255
        motion = (x[1:] - x[:-1]).mean(axis=(0, 3))                     # (H, W): where things moved to
        clip = x.reshape(len(x), -1)
        out = {"clip": clip, "i3d_rgb": motion.ravel() + 1e-3, "i3d_flow": motion.ravel() + 1e-3,
               "videomae": np.concatenate([x.mean(axis=(1, 2, 3)), np.abs(x[1:] - x[:-1]).mean(axis=(1, 2, 3))])}
        if self.broken:
            out = {k: np.ones_like(v) for k, v in out.items()}
        return {n: out[n] for n in names}

    def text(self, prompt):
        return np.ones(16 * 16 * 3)

    def image(self, image):
        return image.astype(np.float64).ravel() / 255


@pytest.mark.parametrize("metric", ["temporal_consistency", "cosine_rgb", "image_alignment"])
def test_checks_pass_on_informative_features_and_fail_on_constant_ones(metric):
    from flash_bench.validate import Validation

    good = Validation(_dataset(), ToyEngine(), [metric]).run()
    bad = Validation(_dataset(), ToyEngine(broken=True), [metric]).run()
    assert good and all(c.passed for c in good), [c for c in good if not c.passed]
    assert any(not c.passed for c in bad), bad
    assert all(c.metric == metric for c in good + bad)


def test_cd_fvd_check_passes_on_informative_features_and_fails_on_constant_ones():
    """The paper profile's CD-FVD reads "videomae" (here each frame's mean and each step's mean |difference|: a still
    or shuffled video moves it). Constant features put every set at distance 0 from the real half: that must fail,
    not pass as an infinite ratio."""
    from flash_bench.validate import Validation

    good = Validation(_dataset(), ToyEngine(profile="paper"), ["cd_fvd"]).run()
    bad = Validation(_dataset(), ToyEngine(broken=True, profile="paper"), ["cd_fvd"]).run()
    assert [c.passed for c in good] == [True] and "videomae features" in good[0].detail
    assert [c.passed for c in bad] == [False] and bad[0].statistic == 0.0


def test_cosine_separation_statistic_matches_a_direct_count():
    """The same-vs-different-action AUC, recomputed here from the features by plain counting."""
    from flash_bench.metrics.base import cosine
    from flash_bench.validate import Validation

    engine, ds = ToyEngine(), _dataset()
    check = Validation(ds, engine, ["cosine_rgb"]).run()[0]
    feats = [(a.id, engine.featurise(it.ground_truth.load(), ["i3d_rgb"])["i3d_rgb"])
             for a in ds.actions() for it in a.test]
    same = [cosine(f, g) for i, (a, f) in enumerate(feats) for j, (b, g) in enumerate(feats) if j > i and a == b]
    diff = [cosine(f, g) for i, (a, f) in enumerate(feats) for j, (b, g) in enumerate(feats) if j > i and a != b]
    wins = sum((s > d) + 0.5 * (s == d) for s in same for d in diff)
    assert check.statistic == pytest.approx(wins / (len(same) * len(diff)))


def test_too_few_items_is_one_clear_error():
    from flash_bench.types import InputError
    from flash_bench.validate import Validation

    with pytest.raises(InputError, match="needs ground-truth test videos of ≥ 2 actions"):
        Validation(_dataset(n_items=1), ToyEngine(), ["temporal_consistency"])


def test_cli_checks_its_values_before_any_work():
    from typer.testing import CliRunner

    from flash_bench.cli.main import app

    runner = CliRunner()
    result = runner.invoke(app, ["validate-metrics", "--metrics", "bogus"])
    assert result.exit_code == 2 and "bogus" in result.output
    result = runner.invoke(app, ["validate-metrics", "--frames", "1"])
    assert result.exit_code == 2 and "--frames must be >= 2" in result.output


def test_every_registered_metric_has_a_validity_check():
    """`validate-metrics` with its default (every registered metric) must not refuse one of them."""
    from flash_bench.metrics import METRICS
    from flash_bench.validate import Validation

    assert [m for m in METRICS.names() if not hasattr(Validation, m)] == []
