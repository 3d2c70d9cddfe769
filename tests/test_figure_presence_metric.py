"""The registered metric ``figure_presence`` (issue 17's tiny-world diagnostic) on hand-built videos whose answer
is known by construction — a figure pasted into k of F frames shows it in k/F of them, noise in none — scored
through the registry, the run dir (its reference image, its score cache), the report and validate-metrics."""
from __future__ import annotations

import json

import numpy as np
import pytest

from flash_bench import report as R
from flash_bench.metrics import METRICS
from flash_bench.metrics import figure_presence as fp
from flash_bench.metrics.base import Sample
from flash_bench.results import load_run, summary
from flash_bench.scoring import score_run
from flash_bench.store import RunStore
from flash_bench.types import Action, Clip
from flash_bench.types import TestItem as Item
from tests.conftest import put_item, put_requests, write_item, write_manifest

F, SIZE = 8, 32
WALL, FLOOR = (196, 180, 150), (90, 110, 70)            # a two-tone scene, constant along rows
SHIRT, SKIN = (200, 40, 40), (230, 190, 160)


def scene() -> np.ndarray:
    img = np.empty((SIZE, SIZE, 3), np.uint8)
    img[:20], img[20:] = WALL, FLOOR
    return img


def with_figure(img: np.ndarray, top: int, left: int, shirt=SHIRT, skin=SKIN) -> np.ndarray:
    """A blocky figure (a 4×4 head over a 10×6 torso) pasted at (top, left)."""
    out = img.copy()
    out[top:top + 4, left + 1:left + 5] = skin
    out[top + 4:top + 14, left:left + 6] = shirt
    return out


def video_with_figure_in(frames: set[int]) -> np.ndarray:
    """F frames of the scene; the figure, moving, in ``frames`` only."""
    return np.stack([with_figure(scene(), 6 + t % 3, 3 + 2 * t) if t in frames else scene() for t in range(F)])


REFERENCE = with_figure(scene(), 8, 12)


def metric(dataset: str | None = "synthetic"):
    return METRICS.get("figure_presence")(dataset=dataset)


@pytest.mark.parametrize("k", range(F + 1))
def test_a_figure_pasted_into_k_of_f_frames_is_present_in_k_over_f(k):
    shown = set(np.random.default_rng(k).choice(F, k, replace=False).tolist())
    video = video_with_figure_in(shown)
    assert fp.figure_presence(REFERENCE, video) == pytest.approx(100 * k / F)
    assert metric().update(Sample("m/a/i", {}, frames=video, reference_image=REFERENCE)) == pytest.approx(100 * k / F)


def test_another_figure_noise_and_a_frame_twice_the_size():
    stranger = np.stack([with_figure(scene(), 6, 3 + 2 * t, shirt=(40, 60, 210), skin=(60, 40, 30)) for t in range(F)])
    noise = np.random.default_rng(0).integers(0, 256, (F, SIZE, SIZE, 3), dtype=np.uint8)
    assert fp.figure_presence(REFERENCE, stranger) == 0.0            # other colours: not the reference's figure
    assert fp.figure_presence(REFERENCE, noise) == 0.0
    half = video_with_figure_in(set(range(0, F, 2)))
    big = half.repeat(2, axis=1).repeat(2, axis=2)                   # another size: compared at the reference's
    assert metric().update(Sample("m/a/i", {}, frames=big, reference_image=REFERENCE)) == 50.0


def test_off_the_synthetic_world_it_is_missing_not_zero_and_says_why():
    m = metric("haa500")
    assert m.update(Sample("m/a/i", {}, frames=video_with_figure_in({0}), reference_image=REFERENCE)) is None
    result = m.compute()
    assert result.value is None and result.n == 0 and "haa500" in result.backbone["unavailable"]
    facts = metric().facts()
    assert facts["datasets"] == list(fp.DATASETS) == ["synthetic"] and facts["pixels"] is True
    assert "not one of the paper's six metrics" in facts["note"] and facts["higher_is_better"] is True


# ------------------------------------------------------------------------------------ through a run dir
@pytest.fixture
def run_dir(tmp_path):
    """A run dir on ``synthetic``: one request (REFERENCE), the figure in 3 of 8 frames of a method's video."""
    item = Item("016", reference=lambda: REFERENCE)
    store = RunStore(tmp_path / "run")
    put_requests(store, [Action("arm_wave", "a person waves.", (), (item,))], dataset="synthetic")
    key = put_item(store, "m", "arm_wave", "016", video_with_figure_in({1, 4, 6}))
    return store, key, item


def test_scored_from_the_run_dirs_reference_and_cached_by_content(run_dir, tmp_path, monkeypatch):
    store, key, item = run_dir
    provenance = score_run(store, ["figure_presence"], "tiny", "cpu", tmp_path / "cache", progress=False)
    saved = json.loads((store.root / "scores" / "figure_presence" / f"{key}.json").read_text())
    assert saved["value"] == pytest.approx(100 * 3 / F) and saved["basis"]
    assert provenance["metrics"]["figure_presence"]["label"] == "Figure Presence"
    calls = []
    monkeypatch.setattr(fp, "figure_presence", lambda r, v: calls.append(1) or -1.0)
    score_run(store, ["figure_presence"], "tiny", "cpu", tmp_path / "cache", progress=False)
    assert calls == [] and store.scores(key)["figure_presence"] == saved["value"]     # basis holds: not recomputed
    moved = with_figure(scene(), 8, 2)                  # another reference: the value depends on it, so recomputed
    put_requests(store, [Action("arm_wave", "a person waves.", (), (Item("016", reference=lambda: moved),))],
                 dataset="synthetic")
    score_run(store, ["figure_presence"], "tiny", "cpu", tmp_path / "cache", progress=False)
    assert calls == [1] and store.scores(key)["figure_presence"] == -1.0


def test_a_run_dir_of_another_dataset_gets_none(tmp_path):
    store = RunStore(tmp_path / "run")
    put_requests(store, [Action("wave", "a person waves.", (), (Item("t0", reference=lambda: REFERENCE),))])
    key = put_item(store, "m", "wave", "t0", video_with_figure_in(set(range(F))))
    score_run(store, ["figure_presence"], "tiny", "cpu", tmp_path / "cache", progress=False)
    assert store.scores(key) == {"figure_presence": None}


def test_report_and_summary_show_the_column_with_its_direction_and_say_it_is_a_diagnostic(tmp_path):
    store = RunStore(tmp_path / "run")
    for method, values in {"flash": (100.0, 50.0), "lamp": (25.0, 0.0)}.items():
        for item, v in zip(("016", "017"), values):
            write_item(store, {"method": method, "action": "arm_wave", "item": item, "num_frames": F,
                               "metrics": {"figure_presence": v, "cosine_rgb": 0.5}})
    write_manifest(store, {"profile": "tiny", "dataset": "synthetic", "methods": ["flash", "lamp"], "failures": []})
    means = summary(load_run(store.root))
    assert means.loc["flash", "figure_presence"] == 75.0 and means.loc["lamp", "figure_presence"] == 12.5
    md = R.report_text(store.root)
    header = next(line for line in md.splitlines() if line.startswith("| Method"))
    assert "Figure Presence (↑)" in header
    assert "| **75.0** |" in next(line for line in md.splitlines() if line.startswith("| flash"))
    assert "Not among the paper's six metrics (the suite's own measures): Figure Presence." in md
    assert "Figure Presence is a tiny-world diagnostic, not one of the paper's six metrics" in md
    assert "Figure Presence ($\\uparrow$)" in R.report_text(store.root, "latex")


# ------------------------------------------------------------------------------------ validate-metrics
def _toy(name: str):
    """Two actions × 2 items of the hand-built world: the figure walks across the scene in every frame."""
    def item(a: int, i: int) -> Item:
        gt = np.stack([with_figure(scene(), 6 + a, 2 + 3 * i + 2 * t) for t in range(F)])
        return Item(f"{i:03d}", reference=lambda: gt[0], ground_truth=Clip(f"{i:03d}", lambda: gt))

    actions = [Action(f"act{a}", "a figure walks.", (), (item(a, 0), item(a, 1))) for a in range(2)]

    class Toy:
        def actions(self):
            return actions

    toy = Toy()
    toy.name = name
    return toy


class _NoFeatures:
    def featurise(self, frames, names):
        assert names == []                            # figure presence reads no feature
        return {}


def test_validity_check_passes_on_the_world_and_fails_when_the_metric_cannot_tell(monkeypatch):
    from flash_bench.validate import Validation

    checks = Validation(_toy("synthetic"), _NoFeatures(), ["figure_presence"]).run()
    assert [c.question.split()[0] for c in checks] == ["gt", "static", "noise", "figureless"]
    assert all(c.passed for c in checks) and [c.statistic for c in checks] == [100.0, 100.0, 0.0, 0.0]
    monkeypatch.setattr(fp, "THRESHOLD", 0.0)        # every frame "shows the figure": noise must fail
    broken = Validation(_toy("synthetic"), _NoFeatures(), ["figure_presence"]).run()
    assert [c.passed for c in broken] == [True, True, False, False]
    skipped = Validation(_toy("folder"), _NoFeatures(), ["figure_presence"]).run()
    assert len(skipped) == 1 and skipped[0].passed and skipped[0].statistic is None


def test_figureless_texture_is_the_references_scene_without_the_figure():
    from flash_bench.validate import figureless

    video = figureless(REFERENCE, F, np.random.default_rng(0))
    assert video.shape == (F, SIZE, SIZE, 3) and video.dtype == np.uint8
    rows = video.astype(float).mean(axis=(0, 2))                              # (H, 3): the scene's row colours
    assert np.abs(rows[:20] - WALL).max() < 15 and np.abs(rows[20:] - FLOOR).max() < 15
    assert (video[1:] != video[:-1]).any()                                    # it drifts
