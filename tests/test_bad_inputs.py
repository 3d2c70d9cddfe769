"""Hostile inputs, generated here: each gives one clear error naming the file or value, fails only its own
item (the run's other items finish) and leaves the manifest closed with the failure recorded."""
import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from conftest import make_folder_dataset, moving_square, put_item, put_requests
from flash_bench.cli.main import app
from flash_bench.config import RunConfig, method_cells
from flash_bench.runner import run
from flash_bench.store import RunStore
from flash_bench.types import InputError
from flash_bench.video_io import write_video

cli = CliRunner()


def _text(output: str) -> str:
    """CLI output as one line: click's usage errors come in a box that wraps at the terminal width."""
    return " ".join(output.translate(str.maketrans("│╭╮╰╯─", "      ")).split())


def _has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


# ------------------------------------------------------------ command-line values, refused before any work
RUN_ARGS = [
    (["--limit", "0"], "--limit must be >= 1, got 0"),
    (["--limit", "-1"], "--limit must be >= 1, got -1"),
    (["--frames", "0"], "--frames must be >= 2, got 0"),
    (["--frames", "1"], "--frames must be >= 2, got 1"),
    (["--size", "0"], "--size must be >= 8, got 0"),
    (["--size", "-4"], "--size must be >= 8, got -4"),
    (["--jobs", "0"], "--jobs must be >= 1, got 0"),
    (["--jobs", "-2"], "--jobs must be >= 1, got -2"),
    (["--shots", "0"], "--shots must be >= 1, got 0"),
    (["--test-items", "0"], "--test-items 0: must be >= 1"),
    (["--test-items", "501"], "synthetic renders at most 500 test items"),
    (["--test-items", "8", "--dataset", "ucf-sports", "--root", "."], "'ucf-sports' has the test split its files give"),
    (["--methods", ""], "--methods is empty"),
    (["--methods", " , "], "--methods is empty"),
    (["--methods", "statik"], "Did you mean static"),
    (["--metrics", ""], "--metrics is empty"),
    (["--metrics", "cd-fvd"], "unknown metric 'cd-fvd'"),
    (["--actions", ""], "--actions is empty"),
    (["--dataset", "nope"], "--dataset: unknown dataset 'nope'"),
    (["--dataset", "haa5000"], "Did you mean haa500"),
    (["--device", "gpu"], "--device must be cpu, cuda or cuda:N, got 'gpu'"),
    (["--profile", "huge"], "'huge' is not one of 'tiny', 'paper'"),
]


@pytest.mark.parametrize("args,message", RUN_ARGS, ids=[" ".join(a) or "empty" for a, _ in RUN_ARGS])
def test_run_refuses_a_bad_value_before_any_work(args, message, tmp_path):
    run_dir = tmp_path / "run"
    result = cli.invoke(app, ["run", "--methods", "static", "--run-dir", str(run_dir), *args])
    assert result.exit_code == 2, result.output
    assert message in _text(result.output)
    assert not run_dir.exists()                         # refused before the run dir (or any model) was made


@pytest.mark.skipif(_has_cuda(), reason="this machine has a GPU")
@pytest.mark.parametrize("command", ["run", "evaluate"])
def test_device_cuda_without_a_gpu_is_refused_up_front(command, tmp_path):
    args = (["run", "--methods", "static"] if command == "run" else
            ["evaluate", "--videos", str(tmp_path), "--dataset", "synthetic", "--profile", "tiny"])
    result = cli.invoke(app, [*args, "--device", "cuda", "--run-dir", str(tmp_path / "run")])
    assert result.exit_code == 2 and "--device cuda: torch sees no CUDA GPU" in result.output
    assert not (tmp_path / "run").exists()


def test_run_dir_that_is_a_file_or_under_a_file(tmp_path):
    (tmp_path / "f").write_text("x")
    for run_dir in (tmp_path / "f", tmp_path / "f" / "sub"):
        result = cli.invoke(app, ["run", "--methods", "static", "--run-dir", str(run_dir)])
        assert result.exit_code == 2 and f"--run-dir {run_dir}" in result.output and "is a file" in result.output
        with pytest.raises(InputError, match=f"run dir {run_dir}: it, or a folder above it, is a file"):
            with RunStore(run_dir).lock():
                pass


EVALUATE_ARGS = [
    (["--frames", "1"], "--frames must be >= 2, got 1"),
    (["--size", "0"], "--size must be >= 8, got 0"),
    (["--dataset", "nope"], "--dataset: unknown dataset 'nope'"),
    (["--metrics", ""], "--metrics is empty"),
    (["--metrics", "cosine"], "unknown metric 'cosine'"),
    (["--profile", "big"], "'big' is not one of 'tiny', 'paper'"),
]


@pytest.mark.parametrize("args,message", EVALUATE_ARGS, ids=[" ".join(a) for a, _ in EVALUATE_ARGS])
def test_evaluate_refuses_a_bad_value_before_any_work(args, message, tmp_path):
    run_dir = tmp_path / "run"
    base = {"--videos": str(tmp_path), "--dataset": "synthetic", "--profile": "tiny", "--run-dir": str(run_dir)}
    base.update(dict(zip(args[::2], args[1::2])))
    result = cli.invoke(app, ["evaluate", *[x for kv in base.items() for x in kv]])
    assert result.exit_code == 2, result.output
    assert message in _text(result.output) and not run_dir.exists()


def test_evaluate_videos_must_be_a_folder(tmp_path):
    (tmp_path / "v.mp4").write_bytes(b"")
    result = cli.invoke(app, ["evaluate", "--videos", str(tmp_path / "v.mp4"), "--dataset", "synthetic",
                              "--profile", "tiny", "--run-dir", str(tmp_path / "run")])
    assert result.exit_code == 2 and f"--videos {tmp_path / 'v.mp4'}: not a folder" in result.output


def test_datasets_export_unknown_name_or_into_a_file(tmp_path, folder_root):
    result = cli.invoke(app, ["datasets", "export", "nope", str(tmp_path / "out")])
    assert result.exit_code == 2 and "unknown dataset 'nope'" in result.output
    (tmp_path / "file").write_text("x")
    result = cli.invoke(app, ["datasets", "export", "folder", str(tmp_path / "file"), "--root", str(folder_root)])
    assert result.exit_code == 2 and f"OUT {tmp_path / 'file'} is a file" in result.output
    result = cli.invoke(app, ["datasets", "inspect", "nope"])
    assert result.exit_code == 2 and "unknown dataset 'nope'" in result.output


def test_datasets_export_goes_on_past_an_unreadable_video(tmp_path, folder_root):
    bad = folder_root / "jump" / "train" / "v001.mp4"
    bad.write_bytes(b"not a video")
    result = cli.invoke(app, ["datasets", "export", "folder", str(tmp_path / "out"), "--root", str(folder_root),
                              "--size", "32", "--frames", "8"])
    assert result.exit_code == 1 and str(bad) in result.output
    assert (tmp_path / "out" / "wave" / "test" / "t1.mp4").is_file()     # the rest was exported
    assert (tmp_path / "out" / "jump" / "train" / "v002.mp4").is_file()


# ------------------------------------------------------------ bad files inside a dataset: one run, many defects
def _png_bytes(size=32) -> bytes:
    import io

    buf = io.BytesIO()
    Image.fromarray(moving_square(3, size=size)[0]).save(buf, format="PNG")
    return buf.getvalue()


def _gif87a(path, frames):
    images = [Image.fromarray(f).convert("P") for f in frames]
    images[0].save(path, format="GIF", save_all=True, append_images=images[1:])
    data = path.read_bytes()
    path.write_bytes(b"GIF87a" + data[6:])


# action -> (how to spoil it, the file the error names, which items fail: "all", an item id, or "dataset")
def _spoil(root):
    def test(a, name):
        return root / a / "test" / name

    def train(a, name):
        return root / a / "train" / name

    cases = {}

    def case(action, target, fails, spoil, expect=None):
        spoil(target)
        cases[action] = (target, fails, expect)

    case("gtpng", test("gtpng", "t0.mp4"), "t0:oracle", lambda p: p.write_bytes(_png_bytes()), "1 frame")
    case("gttrunc", test("gttrunc", "t0.mp4"), "t0:oracle", lambda p: p.write_bytes(p.read_bytes()[:300]))
    case("gtempty", test("gtempty", "t0.mp4"), "t0:oracle", lambda p: p.write_bytes(b""), "empty file")
    case("gttext", test("gttext", "t0.mp4"), "t0:oracle", lambda p: p.write_text("hello"), "not a decodable")
    case("trainpng", train("trainpng", "v000.mp4"), "all", lambda p: p.write_bytes(_png_bytes()), "1 frame")
    case("traintext", train("traintext", "v000.mp4"), "all", lambda p: p.write_text("x" * 1000))
    case("trainempty", train("trainempty", "v000.mp4"), "all", lambda p: p.write_bytes(b""), "empty file")
    case("refrgba", test("refrgba", "t0.png"), "t0",
         lambda p: Image.fromarray(np.zeros((32, 32, 4), np.uint8)).save(p), "alpha channel")
    case("refgray", test("refgray", "t0.png"), "t0",
         lambda p: Image.fromarray(np.zeros((32, 32), np.uint8)).save(p), "grayscale")
    case("ref16", test("ref16", "t0.png"), "t0",
         lambda p: Image.fromarray(np.zeros((32, 32), np.uint16)).save(p), "16-bit")
    case("refpalette", test("refpalette", "t0.png"), "t0",
         lambda p: Image.fromarray(np.zeros((32, 32, 3), np.uint8)).convert("P").save(p), "palette")
    case("reftrunc", test("reftrunc", "t0.png"), "t0", lambda p: p.write_bytes(p.read_bytes()[:60]))
    case("reftext", test("reftext", "t0.png"), "t0", lambda p: p.write_text("not an image"), "not a readable image")
    case("refbomb", test("refbomb", "t0.png"), "t0",
         lambda p: Image.fromarray(np.zeros((120, 120, 3), np.uint8)).save(p), "decompression bomb")
    case("dupstem", test("dupstem", "t0.png"), "t0:dataset",
         lambda p: shutil.copy(p, p.with_suffix(".jpg")), "share the stem 't0'")
    case("badname", test("badname", "t 2.png"), "t 2:dataset",
         lambda p: shutil.copy(p.with_name("t0.png"), p), "is not allowed")
    case("noprompt", root / "noprompt" / "prompt.txt", "dataset", lambda p: p.unlink(), "missing prompt file")
    case("emptyprompt", root / "emptyprompt" / "prompt.txt", "dataset", lambda p: p.write_text("  \n"),
         "empty prompt")
    case("binprompt", root / "binprompt" / "prompt.txt", "dataset", lambda p: p.write_bytes(b"\xff\xfe\xfa"),
         "not UTF-8")
    case("notrain", root / "notrain" / "train", "dataset",
         lambda p: [f.unlink() for f in p.iterdir()], "no training videos")
    case("gif87", test("gif87", "t0.mp4"), None,
         lambda p: (_gif87a(p.with_suffix(".gif"), moving_square(7, frames=10, size=32)), p.unlink()))
    return cases


@pytest.fixture(scope="module")
def spoiled(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bad")
    names = ("good", "gtpng", "gttrunc", "gtempty", "gttext", "trainpng", "traintext", "trainempty", "refrgba",
             "refgray", "ref16", "refpalette", "reftrunc", "reftext", "refbomb", "dupstem", "badname", "noprompt",
             "emptyprompt", "binprompt", "notrain", "gif87")
    root = make_folder_dataset(tmp / "data", actions=names, n_train=2, n_test=2)
    cases = _spoil(root)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Image, "MAX_IMAGE_PIXELS", 3000)     # 120×120 > 2×3000 pixels: PIL's DecompressionBombError
        store = run(RunConfig(dataset="folder", root=str(root), cells=method_cells(["static", "oracle"]),
                              num_frames=8, size=32, metrics=()), tmp / "run")
    return store, cases


CASES = ["gtpng", "gttrunc", "gtempty", "gttext", "trainpng", "traintext", "trainempty", "refrgba", "refgray",
         "ref16", "refpalette", "reftrunc", "reftext", "refbomb", "dupstem", "badname", "noprompt", "emptyprompt",
         "binprompt", "notrain"]


@pytest.mark.parametrize("action", CASES)
def test_a_bad_file_fails_only_its_own_items(spoiled, action):
    store, cases = spoiled
    target, fails, expect = cases[action]
    manifest = store.read_manifest()
    assert manifest["status"] == "finished"
    mine = [f for f in manifest["failures"] if f.get("action") == action]
    assert mine and all(str(target) in f["error"] for f in mine), mine
    if expect:
        assert all(expect in f["error"] for f in mine), mine
    records = {(r["method"], r["item"]): r["status"] for r in store.records() if r["action"] == action}
    if fails == "dataset":                                   # the action cannot be read: no item of it runs
        assert records == {}
    elif fails == "all":                                     # a training video: the fit fails, for each method
        assert set(records.values()) == {"failed"} and len(records) == 4
    elif fails.endswith(":dataset"):                         # an unreadable test item is left out, the other runs
        item = fails.split(":")[0]
        assert {f["item"] for f in mine} == {item} and records and all(v == "ok" for v in records.values())
        assert item not in {i for _, i in records} and {i for _, i in records} == {"t0", "t1"} - {item}
    else:
        item, *only = fails.split(":")
        bad = {(m, item) for m in (only or ["static", "oracle"])}
        assert {k for k, v in records.items() if v == "failed"} == bad
        assert all(v == "ok" for k, v in records.items() if k not in bad) and len(records) == 4
    good = [r for r in store.records() if r["action"] == "good"]
    assert len(good) == 4 and all(r["status"] == "ok" for r in good)


def test_a_gif87a_ground_truth_keeps_all_its_frames(spoiled):
    from flash_bench.datasets.folder import FolderDataset

    store, cases = spoiled
    records = [r for r in store.records() if r["action"] == "gif87"]
    assert len(records) == 4 and all(r["status"] == "ok" for r in records)
    gif = cases["gif87"][0].with_suffix(".gif")
    assert gif.read_bytes()[:6] == b"GIF87a"
    item = next(a for a in FolderDataset(gif.parents[2], num_frames=10, size=32).actions() if a.id == "gif87").test[0]
    frames = item.ground_truth.load()
    assert len({f.tobytes() for f in frames}) == 10                     # ten distinct frames, not one repeated


# ------------------------------------------------------------ damaged run dirs
def _small_run(root, run_dir, **kw):
    return run(RunConfig(dataset="folder", root=str(root), cells=method_cells(["static"]), num_frames=8, size=32,
                         metrics=(), **kw), run_dir)


def test_a_corrupt_record_is_named_and_redone(folder_root, tmp_path):
    store = _small_run(folder_root, tmp_path / "run")
    bad = store.record_path("static", "jump", "t0")
    bad.write_text('{"status": "ok", ')
    assert "jump" not in {r["action"] for r in store.records() if r["item"] == "t0"}
    assert str(bad) in store.unreadable[str(bad)]
    store = _small_run(folder_root, tmp_path / "run")
    assert store.read_record("static", "jump", "t0")["status"] == "ok"
    manifest = store.read_manifest()
    assert manifest["status"] == "finished" and len(store.records()) == 4


def test_a_corrupt_set_file_is_named_and_the_run_goes_on(folder_root, tmp_path):
    store = _small_run(folder_root, tmp_path / "run")
    sets = store.root / "sets" / "static.json"
    sets.parent.mkdir(exist_ok=True)
    sets.write_text("[1, 2")
    store = _small_run(folder_root, tmp_path / "run")
    manifest = store.read_manifest()
    assert manifest["status"] == "finished" and len(store.records()) == 4
    assert any(f.get("file") == str(sets) and str(sets) in f["error"] for f in manifest["failures"])


def test_a_corrupt_manifest_is_one_error_naming_it(folder_root, tmp_path):
    store = _small_run(folder_root, tmp_path / "run")
    with open(store.root / "manifest.jsonl", "a") as f:
        f.write("{\n")
    with pytest.raises(InputError, match=f"{store.root / 'manifest.jsonl'}: unreadable \\(line 3"):
        _small_run(folder_root, tmp_path / "run")


@pytest.mark.skipif(shutil.which("chattr") is None, reason="needs chattr (e2fsprogs)")
def test_an_immutable_run_dir_is_one_error_naming_it(folder_root, tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    if subprocess.run(["chattr", "+i", str(run_dir)], capture_output=True).returncode != 0:
        pytest.skip("this file system (or user) cannot set the immutable flag")
    try:
        with pytest.raises(InputError, match=f"run dir {run_dir}: not writable"):
            _small_run(folder_root, run_dir)
    finally:
        subprocess.run(["chattr", "-i", str(run_dir)], check=True)


def test_a_run_stopped_by_an_error_leaves_the_manifest_closed(folder_root, tmp_path, monkeypatch):
    """The paper profile's metric weights are absent here: refused before generating, manifest 'failed'."""
    for var, sub in (("FLASH_BENCH_WEIGHTS", "w"), ("HF_HUB_CACHE", "hf"), ("TORCH_HOME", "th")):
        monkeypatch.setenv(var, str(tmp_path / sub))
    store = RunStore(tmp_path / "run")
    with pytest.raises(InputError, match="missing weights"):
        run(RunConfig(dataset="folder", root=str(folder_root), cells=method_cells(["static"]), num_frames=8,
                      size=32, profile="paper", metrics=("cosine_rgb",)), store.root)
    manifest = store.read_manifest()
    assert manifest["status"] == "failed" and "missing weights" in manifest["failures"][-1]["error"]
    assert store.records() == []


# ------------------------------------------------------------ evaluate: each bad video fails its own item
@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    from flash_bench.datasets.folder import FolderDataset
    from flash_bench.runner import evaluate_videos

    tmp = tmp_path_factory.mktemp("eval")
    root = make_folder_dataset(tmp / "data", actions=("wave",), n_train=1, n_test=8)
    videos = tmp / "mine" / "wave"
    videos.mkdir(parents=True)
    for i in range(8):
        shutil.copy(root / "wave" / "test" / f"t{i}.mp4", videos / f"t{i}.mp4")
    bad = {
        "t1": (videos / "t1.mp4", lambda p: p.write_bytes(_png_bytes()), "1 frame"),
        "t2": (videos / "t2.mp4", lambda p: p.write_bytes(b""), "empty file"),
        "t3": (videos / "t3.mp4", lambda p: p.write_text("text"), "not a decodable video"),
        "t4": (videos / "t4.mp4", lambda p: (p.unlink(), p.mkdir()), "folder holds no frames"),
        "t5": (videos / "t5.mp4", lambda p: write_video(p, moving_square(1, frames=1, size=48)), "1 frame"),
        "t6": (videos / "t6.mp4", lambda p: p.write_bytes(p.read_bytes()[:400]), None),
    }
    for target, spoil, _ in bad.values():
        spoil(target)
    (videos / "t7.mp4").unlink()
    _gif87a(videos / "t7.gif", moving_square(5, frames=12, size=48))
    store = evaluate_videos(tmp / "mine", FolderDataset(root, num_frames=12, size=48), tmp / "run",
                            metrics=["temporal_consistency", "cosine_flow"], profile="tiny",
                            cache_dir=tmp / "cache")
    return store, bad


@pytest.mark.parametrize("item", ["t1", "t2", "t3", "t4", "t5", "t6"])
def test_evaluate_fails_a_bad_video_alone(evaluated, item):
    store, bad = evaluated
    target, _, expect = bad[item]
    record = store.read_record("mine", "wave", item)
    assert record["status"] == "failed" and str(target) in record["error"]
    if expect:
        assert expect in record["error"]
    assert store.read_manifest()["status"] == "finished"
    for good in ("t0", "t7"):                                # a real mp4, and a GIF87a re-encoded
        ok = store.read_record("mine", "wave", good)
        assert ok["status"] == "ok" and store.score("cosine_flow", ok["key"])["value"] is not None, ok


# ------------------------------------------------------------ checkpoints that do not load
def test_a_pickle_named_safetensors_is_one_error_naming_it(tmp_path):
    import pickle

    from flash_bench.weights import load_state_dict

    path = tmp_path / "model.safetensors"
    path.write_bytes(pickle.dumps({"w": [1, 2, 3]}))
    with pytest.raises(InputError, match=f"{path}: not a safetensors file"):
        load_state_dict(path)


def test_an_i3d_file_with_wrong_keys_stops_scoring_once_naming_it(tmp_path, monkeypatch):
    """The run fails up front with the checkpoint's name — not one failed metric per video."""
    import torch

    from flash_bench.datasets.folder import FolderDataset
    from flash_bench.scoring import WeightsBroken, score_run

    for var, sub in (("HF_HUB_CACHE", "hf"), ("TORCH_HOME", "th")):
        monkeypatch.setenv(var, str(tmp_path / sub))
    weights = tmp_path / "weights"
    weights.mkdir()
    torch.save({"conv.weight": torch.zeros(3, 3)}, weights / "rgb_imagenet.pt")
    root = make_folder_dataset(tmp_path / "data", actions=("wave",), n_train=1, n_test=2)
    store = RunStore(tmp_path / "run")
    put_requests(store, FolderDataset(root, num_frames=8, size=32).actions())
    keys = [put_item(store, "m", "wave", f"t{i}", moving_square(i, frames=8, size=32)) for i in range(2)]
    with pytest.raises(WeightsBroken, match=f"i3d_rgb.*{weights / 'rgb_imagenet.pt'}.*ValueError"):
        score_run(store, ["cosine_rgb"], "paper", cache_dir=tmp_path / "cache", weights_dir=weights, progress=False)
    assert all(store.scores(k) == {} for k in keys)                # no video was blamed for the checkpoint


# ------------------------------------------------------------ a metric that failed is retried on rerun
def test_a_metric_that_failed_on_a_video_is_retried_on_rerun(tmp_path):
    from flash_bench.datasets.folder import FolderDataset
    from flash_bench.scoring import score_run

    root = make_folder_dataset(tmp_path / "data", actions=("wave",), n_train=1, n_test=2)
    store = RunStore(tmp_path / "run")
    put_requests(store, FolderDataset(root, num_frames=8, size=32).actions())
    good = moving_square(1, frames=8, size=32)
    k0, k1 = put_item(store, "m", "wave", "t0", good), put_item(store, "m", "wave", "t1")
    store.video_file(k1).write_bytes(b"broken")                          # fails its metrics, not the scoring
    records = {k: store.record_file(k).read_bytes() for k in (k0, k1)}
    score = lambda: score_run(store, ["temporal_consistency"], "tiny",  # noqa: E731
                              cache_dir=tmp_path / "cache", progress=False)
    errors = score()["errors"]
    failed = store.score("temporal_consistency", k1)
    assert failed["value"] is None and str(store.video_file(k1)) in failed["error"]
    assert any(e["video"] == "m/wave/t1" for e in errors)
    first = store.score("temporal_consistency", k0)["value"]
    write_video(store.video_file(k1), good)                              # the video is mended
    score()
    retried = store.score("temporal_consistency", k1)
    assert "error" not in retried and retried["value"] == pytest.approx(first)
    assert {k: store.record_file(k).read_bytes() for k in (k0, k1)} == records   # scoring never edits a record
