"""The scoring engine end to end on the tiny profile: ground truth scored as generated, missing ground truth,
resume from the feature cache, provenance in scoring.json."""
import json
import shutil

import numpy as np
import pytest

from flash_bench.requests import frames_digest
from flash_bench.scoring import FeatureCache, score_run, select_metrics
from flash_bench.store import RunStore
from flash_bench import types
from flash_bench.types import Action, Clip
from flash_bench.video_io import read_video, write_video
from tests.conftest import moving_square, put_item, put_requests

FRAMES, SIZE = 8, 64


def _actions(root):
    actions = []
    for a in range(2):
        items = []
        for i in range(3):
            path = root / f"act{a}" / f"t{i}.mp4"
            write_video(path, moving_square(10 * a + i, frames=FRAMES, size=SIZE))
            gt = Clip(f"t{i}", load=lambda p=path: read_video(p), path=path) if i < 2 else None  # t2: no video
            items.append(types.TestItem(f"t{i}", reference=lambda p=path: read_video(p)[0], ground_truth=gt, path=path))
        actions.append(Action(f"act{a}", f"a person does action number {a}.", (), tuple(items)))
    return actions


def _add(store, method, action, item, frames=None):
    key = put_item(store, method, action.id, item.id, frames)
    if frames is None:
        store.item_dir(key).mkdir(parents=True, exist_ok=True)
        shutil.copy(item.path, store.video_file(key))  # byte-identical: decodes to the ground truth's frames


def _values(store) -> dict:
    return {(r["method"], r["action"], r["item"]): store.scores(r["key"]) for r in store.records()}


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("engine")
    actions = _actions(tmp / "data")
    store = RunStore(tmp / "run")
    put_requests(store, actions, dataset="synthetic")
    for a in actions:
        for it in a.test:
            if it.ground_truth is not None:
                _add(store, "copy", a, it)
            ref = read_video(it.path)[:1]
            _add(store, "still", a, it, np.repeat(ref, FRAMES, axis=0))
    put_item(store, "still", "act0", "t9", status="failed")
    provenance = score_run(store, None, "tiny", "cpu", tmp / "cache", progress=False)
    return store, actions, provenance, tmp


def test_ground_truth_scored_as_generated_gives_cosines_one_and_cd_fvd_zero(scored):
    store, _, _, _ = scored
    for r in store.records():
        if r["method"] == "copy":
            assert store.scores(r["key"])["cosine_rgb"] == pytest.approx(1.0, abs=1e-5)
            assert store.scores(r["key"])["cosine_flow"] == pytest.approx(1.0, abs=1e-5)
    sets = store.set_metrics()
    assert sets["copy"]["cd_fvd"] == pytest.approx(0.0, abs=1e-6)
    assert sets["still"]["cd_fvd"] > 1e-3  # a still video is not the real set


def test_every_metric_is_written_and_missing_ground_truth_is_none_not_zero(scored):
    store, _, _, _ = scored
    still = {r["item"] + r["action"]: r for r in store.records() if r["method"] == "still" and r["status"] == "ok"}
    assert len(still) == 6
    for r in still.values():
        assert set(store.scores(r["key"])) == {m for m in select_metrics(None) if m != "cd_fvd"}
        assert store.scores(r["key"])["temporal_consistency"] == pytest.approx(100.0, abs=1e-4)  # a constant video
        if r["item"] == "t2":
            assert store.scores(r["key"])["cosine_rgb"] is None and store.scores(r["key"])["cosine_flow"] is None
        else:
            assert store.scores(r["key"])["cosine_rgb"] < 1.0
    failed = store.read_record("still", "act0", "t9")
    assert store.scores(failed["key"]) == {}


def test_clip_values_equal_the_functional_metrics_on_the_backbone(scored):
    from flash_bench.features import clip
    from flash_bench.metrics.image_alignment import image_alignment
    from flash_bench.metrics.text_alignment import text_alignment

    store, actions, _, _ = scored
    backbone = clip.build("tiny")
    action, item = actions[1], actions[1].test[0]
    frames = read_video(store.video_path("still", action.id, item.id))
    emb = backbone.encode_frames(frames)
    record = store.scores(store.read_record("still", action.id, item.id)["key"])
    assert record["text_alignment"] == pytest.approx(
        text_alignment(emb, backbone.encode_texts([action.prompt])[0]), rel=1e-5)
    assert record["image_alignment"] == pytest.approx(
        image_alignment(emb, backbone.encode_frames(item.reference()[None])[0]), rel=1e-5)


def test_tiny_cd_fvd_is_the_frechet_distance_of_i3d_flow_features(scored):
    """The tiny profile's CD-FVD featuriser is I3D-flow (metrics.cd_fvd.FEATURISER): its value equals the Fréchet
    distance of RAFT → I3D-flow features computed here with torchvision's plain RAFT, not through the engine."""
    import torch

    from flash_bench.features import i3d, raft_flow
    from flash_bench.metrics.cd_fvd import fvd_from_features

    store, actions, _, _ = scored
    raft, info = raft_flow.build("tiny", share_frames=False)
    flow, _ = i3d.build("flow", "tiny")

    def feature(frames):
        with torch.no_grad():
            return flow.features(raft_flow.i3d_flow_input(raft, frames, info["size"], info["updates"]))[0].numpy()

    real = [feature(it.ground_truth.load()) for a in actions for it in a.test if it.ground_truth is not None]
    fake = [feature(read_video(store.video_path("still", a.id, it.id))) for a in actions for it in a.test]
    expected = fvd_from_features(np.stack(real), np.stack(fake))
    assert expected > 1e-3 and store.set_metrics()["still"]["cd_fvd"] == pytest.approx(expected, rel=1e-4)


def test_a_tiny_runs_table_says_which_featuriser_made_cd_fvd(scored):
    from flash_bench.metrics.cd_fvd import TINY_NOTE
    from flash_bench.report import run_table
    from flash_bench.results import load_run

    store, _, _, _ = scored
    assert TINY_NOTE in run_table(load_run(store.root)).notes


def test_paper_cd_fvd_still_asks_for_videomae_v2(tmp_path):
    from flash_bench.metrics.cd_fvd import CDFVD
    from flash_bench.scoring import Engine, make_metric
    from flash_bench.weights import WeightsMissing

    engine = Engine("paper", "cpu", tmp_path / "cache", weights_dir=tmp_path)
    with pytest.raises(WeightsMissing, match="vit_g_hybrid_pt_1200e_ssv2_ft.pth"):
        make_metric(CDFVD, engine, None)


def test_provenance_names_backbones_and_flags_tiny(scored):
    store, _, provenance, _ = scored
    on_disk = json.loads((store.root / "scoring.json").read_text())
    assert on_disk["tiny_backbones"] is True and on_disk["profile"] == "tiny"
    assert set(on_disk["featurisers"]) == {"clip", "i3d_rgb", "i3d_flow", "yardstick"}  # tiny CD-FVD: I3D-flow
    assert on_disk["featurisers"]["i3d_flow"]["raft"]["backbone"] == "raft-small-tiny"
    cd_fvd = on_disk["metrics"]["cd_fvd"]
    assert cd_fvd["higher_is_better"] is False and cd_fvd["features"] == ["i3d_flow"]
    assert "I3D-flow" in cd_fvd["scale"] and "not of VideoMAE-v2" in cd_fvd["note"]
    assert on_disk["errors"] == [] and provenance["cache"]["misses"] > 0


def test_rescoring_reuses_cached_features_and_keeps_values(scored):
    store, actions, _, tmp = scored
    before = _values(store)
    for r in store.records():  # forget one value: only it is recomputed, from cached features
        if r["method"] == "still" and r["item"] == "t0" and r["action"] == "act1":
            store.score_file("cosine_rgb", r["key"]).unlink()
    sets = store.set_metrics()
    provenance = score_run(store, None, "tiny", "cpu", tmp / "cache", progress=False)
    assert provenance["cache"]["misses"] == 0 and provenance["cache"]["hits"] > 0
    assert _values(store) == before and store.set_metrics() == sets


def test_feature_cache_is_plain_npy_keyed_by_content(tmp_path):
    cache = FeatureCache(tmp_path)
    frames = moving_square(0, frames=4, size=32)
    calls = []
    value = cache.get("demo/v1", frames_digest(frames), lambda: calls.append(1) or np.arange(3.0))
    again = cache.get("demo/v1", frames_digest(frames.copy()), lambda: calls.append(1) or np.zeros(3))
    np.testing.assert_array_equal(value, again)
    assert calls == [1] and frames_digest(frames) != frames_digest(frames[:, ::-1])
    path = cache.path("demo/v1", frames_digest(frames))
    np.testing.assert_array_equal(np.load(path, allow_pickle=False), value)


def test_unknown_metric_name_is_refused_with_a_suggestion():
    with pytest.raises(KeyError, match="cd_fvd"):
        select_metrics(["cd-fvd"])


def test_evaluate_scores_a_folder_of_videos_into_a_run_dir(tmp_path):
    from typer.testing import CliRunner

    from flash_bench.cli.evaluate import evaluate
    from tests.conftest import make_folder_dataset

    import typer

    root = make_folder_dataset(tmp_path / "data", actions=("wave",), n_train=1, n_test=2)
    videos = tmp_path / "mine"
    (videos / "wave").mkdir(parents=True)
    shutil.copy(root / "wave" / "test" / "t0.mp4", videos / "wave" / "t0.mp4")   # t1 has no video
    shutil.copy(root / "wave" / "test" / "t0.mp4", videos / "wave" / "zz.mp4")   # matches no test item
    app = typer.Typer()
    app.command()(evaluate)
    run_dir = tmp_path / "run"
    result = CliRunner().invoke(app, ["--videos", str(videos), "--dataset", "folder", "--root", str(root),
                                      "--profile", "tiny", "--metrics", "temporal_consistency,cosine_rgb",
                                      "--run-dir", str(run_dir), "--cache-dir", str(tmp_path / "cache"),
                                      "--size", "48", "--frames", "12"])
    assert result.exit_code == 0, result.output
    store = RunStore(run_dir)
    ok = store.read_record("mine", "wave", "t0")
    scores = store.scores(ok["key"])
    assert ok["status"] == "ok" and set(scores) == {"temporal_consistency", "cosine_rgb"}
    assert scores["cosine_rgb"] == pytest.approx(1.0, abs=1e-3)  # its own ground truth, re-sampled
    assert store.read_record("mine", "wave", "t1")["status"] == "failed"
    manifest = store.read_manifest()
    assert manifest["status"] == "finished" and manifest["tiny_backbones"] is True
    assert any("matches no test item" in f["error"] for f in manifest["failures"])
    assert (run_dir / "summary.csv").exists() and json.loads((run_dir / "scoring.json").read_text())["tiny_backbones"]


def test_an_unreadable_ground_truth_only_blanks_the_metrics_that_need_it(tmp_path):
    from flash_bench.types import InputError

    def broken():
        raise InputError("gt.mp4: not a decodable video")

    video = moving_square(1, frames=FRAMES, size=SIZE)
    write_video(tmp_path / "v.mp4", video)
    item = types.TestItem("t0", reference=lambda: video[0], ground_truth=Clip("t0", load=broken))
    action = Action("act", "a person waves.", (), (item,))
    store = RunStore(tmp_path / "run")
    put_requests(store, [action])
    _add(store, "m", action, types.TestItem("t0", reference=item.reference, path=tmp_path / "v.mp4"))
    provenance = score_run(store, ["temporal_consistency", "cosine_rgb"], "tiny", "cpu", tmp_path / "cache",
                           progress=False)
    metrics = store.scores(store.read_record("m", "act", "t0")["key"])
    assert metrics["cosine_rgb"] is None and metrics["temporal_consistency"] > 0
    assert any("not a decodable video" in e["error"] for e in provenance["errors"])


def test_featurising_threads_do_not_change_the_numbers(scored):
    """workers=1 (one video at a time) and workers=3 (three threads ahead of the metrics) agree."""
    store, actions, _, tmp = scored
    values = {}
    for workers in (1, 3):
        run = RunStore(tmp / f"run-w{workers}")
        put_requests(run, actions, dataset="synthetic")
        for r in store.records():
            if r["status"] == "ok":
                run.item_dir(r["key"]).mkdir(parents=True)
                shutil.copy(store.video_file(r["key"]), run.video_file(r["key"]))
                shutil.copy(store.record_file(r["key"]), run.record_file(r["key"]))
        run.update_index([e for e in store.read_index()])
        score_run(run, None, "tiny", "cpu", tmp / f"cache-w{workers}", progress=False, workers=workers)
        values[workers] = (_values(run), run.set_metrics())
    (one, sets_one), (three, sets_three) = values[1], values[3]
    assert one.keys() == three.keys() and len(one) == 10
    for key in one:
        assert one[key].keys() == three[key].keys()
        for m, v in one[key].items():
            assert (v is None and three[key][m] is None) or v == pytest.approx(three[key][m], rel=1e-5, abs=1e-6), (key, m)
    for method in sets_one:
        assert sets_one[method]["cd_fvd"] == pytest.approx(sets_three[method]["cd_fvd"], rel=1e-4, abs=1e-6)
