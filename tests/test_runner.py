"""The run loop: records, resume, locking, faults recorded without stopping the run, kill -9 safety."""
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from flash_bench.config import RunConfig, method_cells
from flash_bench.requests import load_requests
from flash_bench.runner import item_seed, run
from flash_bench.store import RunLocked, RunStore
from flash_bench.types import InputError
from flash_bench.video_io import read_video

TESTS = Path(__file__).parent


def _cfg(root, methods=("static", "oracle"), **kw):
    return RunConfig(dataset="folder", root=str(root), cells=method_cells(list(methods)), num_frames=8, size=32,
                     metrics=(), **kw)


def test_run_writes_records_videos_manifest_and_tables(folder_root, tmp_path):
    store = run(_cfg(folder_root), tmp_path / "run")
    records = store.records()
    assert len(records) == 2 * 2 * 2 and all(r["status"] == "ok" for r in records)
    r = store.read_record("static", "jump", "t0")
    assert r["num_frames"] == 8 and (r["height"], r["width"]) == (32, 32)
    assert r["seed"] == item_seed(0, "jump", "t0") == store.read_record("oracle", "jump", "t0")["seed"]
    static = read_video(store.video_path("static", "jump", "t0"))
    assert np.abs(static.astype(int) - static[:1]).max() <= 2         # the reference repeated
    m = store.read_manifest()
    assert m["status"] == "finished" and m["profile"] == "tiny" and m["failures"] == []
    assert {"torch", "numpy"} <= set(m["versions"]) and "git_commit" in m and m["config"]["num_frames"] == 8
    assert (store.root / "summary.csv").exists() and (store.root / "per_video.csv").exists()


def _videos(run_dir: Path) -> dict:
    return {p: p.stat().st_mtime_ns for p in (run_dir / "items").glob("*/video.mp4")}


def test_an_unchanged_rerun_reuses_every_item_and_appends_to_the_history(folder_root, tmp_path):
    first = run(_cfg(folder_root), tmp_path / "run")
    before, history = _videos(first.root), (first.root / "manifest.jsonl").read_bytes()
    assert len(before) == 8 and first.read_manifest()["items"] == {"reused": 0, "new": 8, "failed": 0}
    second = run(_cfg(folder_root), tmp_path / "run")
    assert _videos(second.root) == before                                  # nothing redone
    assert second.read_manifest()["items"] == {"reused": 8, "new": 0, "failed": 0}
    assert (second.root / "manifest.jsonl").read_bytes().startswith(history)   # appended, never rewritten
    runs = second.history()
    assert [r["invocation"] for r in runs] == [1, 2] and all(r["status"] == "finished" for r in runs)
    assert {e["key"] for e in runs[0]["index"]} == {e["key"] for e in runs[1]["index"]} == {
        r["key"] for r in second.records()}
    assert runs[1]["methods_described"]["static"]["method"] == {"name": "static", "profile": "tiny"}


def test_the_cli_says_how_many_items_were_reused_and_new(folder_root, tmp_path):
    from typer.testing import CliRunner

    from flash_bench.cli.main import app

    args = ["run", "--methods", "static", "--dataset", "folder", "--root", str(folder_root), "--frames", "8",
            "--size", "32", "--metrics", "none", "--run-dir", str(tmp_path / "run"), "--jobs", "1"]
    assert "(0 reused, 4 new, 0 failed)" in CliRunner().invoke(app, args).output
    assert "(4 reused, 0 new, 0 failed)" in CliRunner().invoke(app, args).output


def test_bad_inputs_fail_their_items_and_the_run_goes_on(folder_root, tmp_path):
    jump_test = folder_root / "jump" / "test"
    Image.fromarray(np.zeros((32, 32, 4), np.uint8)).save(jump_test / "t0.png")   # RGBA reference
    (jump_test / "t1.mp4").write_bytes(b"not a video")                            # corrupt ground truth
    (folder_root / "wave" / "prompt.txt").unlink()                                # whole action unreadable
    store = run(_cfg(folder_root), tmp_path / "run")
    status = {(r["method"], r["item"]): r["status"] for r in store.records()}
    assert status == {("static", "t0"): "failed", ("static", "t1"): "ok",
                      ("oracle", "t0"): "failed", ("oracle", "t1"): "failed"}
    failures = store.read_manifest()["failures"]
    text = json.dumps(failures)
    assert "t0.png" in text and "t1.mp4" in text and "prompt.txt" in text


def test_failed_items_are_retried(folder_root, tmp_path):
    bad = folder_root / "jump" / "test" / "t0.png"
    good = bad.read_bytes()
    Image.fromarray(np.zeros((32, 32, 4), np.uint8)).save(bad)
    run(_cfg(folder_root, methods=("static",)), tmp_path / "run")
    bad.write_bytes(good)
    store = run(_cfg(folder_root, methods=("static",)), tmp_path / "run")
    assert store.read_record("static", "jump", "t0")["status"] == "ok"


def test_a_second_process_is_refused(folder_root, tmp_path):
    store = RunStore(tmp_path / "run")
    with store.lock():
        with pytest.raises(RunLocked, match="in use by another"):
            run(_cfg(folder_root), tmp_path / "run")


_KILLABLE = """
import sys
from flash_bench.registry import METHODS
from flash_bench.runner import run
from flash_bench.config import RunConfig, method_cells
from flash_bench.requests import load_requests
sys.path.insert(0, {tests!r})
METHODS.register("slow", "slow_method:SlowStatic")
run(RunConfig(dataset="folder", root={root!r}, cells=method_cells(["slow"]), num_frames=8, size=32, metrics=()),
    {run_dir!r})
"""


def test_resume_after_sigkill(folder_root, tmp_path):
    run_dir = tmp_path / "run"
    code = _KILLABLE.format(tests=str(TESTS), root=str(folder_root), run_dir=str(run_dir))
    proc = subprocess.Popen([sys.executable, "-c", code])
    items = run_dir / "items"
    deadline = time.time() + 60
    while time.time() < deadline and len(list(items.rglob("*.json"))) < 2:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = {p: p.stat().st_mtime_ns for p in items.rglob("*.json")}
    assert 2 <= len(done) < 4, "kill the run in the middle"
    assert len(load_requests(run_dir).items) == 4                 # the requests were written before generation
    for p in done:
        json.loads(p.read_text())                       # every record on disk is complete
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
    store = RunStore(run_dir)
    assert len(store.records()) == 4 and all(r["status"] == "ok" for r in store.records())
    assert all(p.stat().st_mtime_ns == t for p, t in done.items())   # finished items were not redone
    for r in store.records():
        assert read_video(store.video_file(r["key"])).shape == (8, 32, 32, 3)
    assert not [p for p in run_dir.rglob(".*") if p.name != ".lock"]   # no half-written leftovers


def _descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (from /proc: each process's parent is field 4 of its stat line)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = set(), [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            out.add(c)
            todo.append(c)
    return out


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_workers_die_with_a_killed_parent_and_write_nothing_after(tmp_path):
    """SIGKILL of a `--jobs 2` run mid-way: no worker outlives it, and the run dir does not change afterwards."""
    from conftest import make_folder_dataset

    root = make_folder_dataset(tmp_path / "data", n_test=4)
    run_dir = tmp_path / "run"
    code = _KILLABLE.format(tests=str(TESTS), root=str(root), run_dir=str(run_dir)).replace(
        "metrics=()", "metrics=(), jobs=2")
    proc = subprocess.Popen([sys.executable, "-c", code])
    deadline = time.time() + 120
    while time.time() < deadline and not list((run_dir / "items").rglob("*.json")):
        time.sleep(0.05)
    workers = _descendants(proc.pid)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert workers, "the run had spawned its workers"
    deadline = time.time() + 10
    while time.time() < deadline and any(map(_alive, workers)):
        time.sleep(0.05)
    assert not [w for w in workers if _alive(w)], "a worker outlived its parent"
    snapshot = lambda: {p: p.stat().st_mtime_ns for p in run_dir.rglob("*") if p.is_file()}  # noqa: E731
    before = snapshot()
    assert len(list((run_dir / "items").rglob("*.json"))) < 8, "kill the run in the middle"
    time.sleep(2.0)   # longer than a worker needs for its next item (0.4 s)
    assert snapshot() == before


def test_fit_per_action_and_joint_fit(folder_root, tmp_path, monkeypatch):
    from flash_bench.config import Cell
    from flash_bench.registry import METHODS

    sys.path.insert(0, str(TESTS))
    from slow_method import RecordingStatic

    monkeypatch.setitem(METHODS._entries, "recording", "slow_method:RecordingStatic")  # test-only entry
    RecordingStatic.calls.clear()
    run(RunConfig(dataset="folder", root=str(folder_root), cells=(Cell("rec", "recording"),), num_frames=8,
                  size=32, metrics=()), tmp_path / "a")
    assert RecordingStatic.calls == [("fit", "jump", 3, "a person is doing jump."),
                                     ("fit", "wave", 3, "a person is doing wave.")]
    RecordingStatic.calls.clear()
    joint = Cell("rec@joint", "recording", {"joint_actions": ("jump", "wave")})
    run(RunConfig(dataset="folder", root=str(folder_root), cells=(joint,), num_frames=8, size=32, metrics=()),
        tmp_path / "b")
    assert RecordingStatic.calls == [("fit_joint", ("jump", "wave"))]


def test_worker_processes_make_the_same_run(folder_root, tmp_path):
    """jobs=2 (spawned workers, one unit per cell and action) writes what jobs=1 writes, bad inputs included."""
    Image.fromarray(np.zeros((32, 32, 4), np.uint8)).save(folder_root / "jump" / "test" / "t0.png")  # RGBA
    one = run(_cfg(folder_root), tmp_path / "one")
    two = run(_cfg(folder_root, jobs=2), tmp_path / "two")
    strip = lambda r: {k: v for k, v in r.items() if k not in ("seconds", "fit_seconds", "traceback")}  # noqa: E731
    key = lambda r: (r["method"], r["action"], r["item"])  # noqa: E731
    assert sorted(map(key, one.records())) == sorted(map(key, two.records())) and len(one.records()) == 8
    assert {key(r): strip(r) for r in one.records()} == {key(r): strip(r) for r in two.records()}
    for r in one.records():
        if r["status"] == "ok":
            assert np.array_equal(read_video(one.video_path(*key(r))), read_video(two.video_path(*key(r))))
    fails = lambda s: sorted((f["method"], f["action"], f["item"]) for f in s.read_manifest()["failures"])  # noqa: E731
    assert fails(one) == fails(two) == [("oracle", "jump", "t0"), ("static", "jump", "t0")]
    assert two.read_manifest()["config"]["jobs"] == 2


def test_run_dir_files_get_the_umask_mode(folder_root, tmp_path):
    from flash_bench.store import _UMASK

    store = run(_cfg(folder_root, methods=("static",)), tmp_path / "run")
    for p in (store.root / "manifest.jsonl", store.root / "summary.csv", store.record_path("static", "jump", "t0"),
              store.root / "requests.json", store.root / "requests" / "jump" / "t0.png"):
        assert p.stat().st_mode & 0o777 == 0o666 & ~_UMASK, p


def _bar_disabled_in_worker() -> bool:
    from tqdm.auto import tqdm

    return tqdm(range(2)).disable


def test_worker_processes_show_no_progress_bars():
    """Workers' tqdm bars would interleave with the parent's; tqdm reads TQDM_DISABLE at import, which torch
    triggers, so the worker initializer must set it before importing torch."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from flash_bench.runner import _worker_init

    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"), initializer=_worker_init,
                             initargs=(1,)) as pool:
        assert pool.submit(_bar_disabled_in_worker).result() is True


# ------------------------------------------------------------------ who owns a run dir (RunStore.claim)
def _evaluate(videos, root, run_dir, **kw):
    from flash_bench.datasets.folder import FolderDataset
    from flash_bench.runner import evaluate_videos

    ds = FolderDataset(root, num_frames=8, size=kw.pop("size", 32))
    return evaluate_videos(videos, ds, run_dir, metrics=[], profile="tiny", cache_dir=run_dir.parent / "cache", **kw)


def _state(run_dir: Path) -> dict:
    return {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in run_dir.rglob("*") if p.is_file() and p.name != ".lock"}


def test_evaluate_refuses_a_run_dir_made_by_run_and_leaves_it_alone(folder_root, tmp_path):
    from typer.testing import CliRunner

    from flash_bench.cli.main import app

    store = run(_cfg(folder_root, methods=("static",)), tmp_path / "run")
    before = _state(store.root)
    videos = tmp_path / "static"
    (videos / "jump").mkdir(parents=True)
    (videos / "jump" / "t0.mp4").write_bytes(store.video_path("static", "jump", "t0").read_bytes())
    result = CliRunner().invoke(app, ["evaluate", "--videos", str(videos), "--dataset", "folder", "--root",
                                      str(folder_root), "--profile", "tiny", "--metrics", "temporal_consistency",
                                      "--run-dir", str(store.root), "--size", "32", "--frames", "8"])
    assert result.exit_code == 2
    assert f"{store.root}: made by `flash-bench run`" in result.output
    assert _state(store.root) == before


def test_run_refuses_an_evaluate_dir_a_run_with_other_inputs_and_a_foreign_folder(folder_root, tmp_path):
    videos = tmp_path / "mine"
    (videos / "jump").mkdir(parents=True)
    (videos / "jump" / "t0.mp4").write_bytes((folder_root / "jump" / "test" / "t0.mp4").read_bytes())
    ev = _evaluate(videos, folder_root, tmp_path / "ev")
    with pytest.raises(InputError, match="made by `flash-bench evaluate`"):
        run(_cfg(folder_root), ev.root)
    done = run(_cfg(folder_root, methods=("static",)), tmp_path / "run")
    before = _state(done.root)
    with pytest.raises(InputError, match=r"other inputs \(seed: 0 -> 1\)"):
        run(_cfg(folder_root, methods=("static",), seed=1), done.root)
    run(_cfg(folder_root, methods=("oracle",)), done.root)   # another method on the same items: welcome
    assert all(_state(done.root)[p][1] == before[p][1] for p in before if "/items/" in str(p))
    assert {r["method"] for r in done.records()} == {"static", "oracle"}
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="not a flash-bench run dir and not empty"):
        run(_cfg(folder_root), tmp_path / "home")


def test_evaluate_again_keeps_finished_items_retries_failed_and_refuses_other_inputs(folder_root, tmp_path):
    videos = tmp_path / "mine"
    (videos / "jump").mkdir(parents=True)
    (videos / "jump" / "t0.mp4").write_bytes((folder_root / "jump" / "test" / "t0.mp4").read_bytes())
    store = _evaluate(videos, folder_root, tmp_path / "ev")
    assert store.read_record("mine", "jump", "t1")["status"] == "failed"           # no video yet
    kept = {p: _state(store.root)[p] for p in (store.video_path("mine", "jump", "t0"),
                                                store.record_path("mine", "jump", "t0"))}
    _evaluate(videos, folder_root, store.root)
    assert store.read_manifest()["items"] == {"reused": 1, "new": 0, "failed": 3}  # the same video: reused
    (videos / "jump" / "t0.mp4").write_bytes((folder_root / "wave" / "test" / "t1.mp4").read_bytes())
    (videos / "jump" / "t1.mp4").write_bytes((folder_root / "jump" / "test" / "t1.mp4").read_bytes())
    _evaluate(videos, folder_root, store.root)
    assert {p: _state(store.root)[p] for p in kept} == kept                        # the old item stays as it was
    assert store.video_path("mine", "jump", "t0") not in kept                      # a changed video: a new item
    assert store.video_path("mine", "jump", "t0").read_bytes() == (videos / "jump" / "t0.mp4").read_bytes()
    assert store.read_record("mine", "jump", "t1")["status"] == "ok"               # failed: retried
    before = _state(store.root)
    with pytest.raises(InputError, match="other inputs.*dataset_config"):
        _evaluate(videos, folder_root, store.root, size=48)
    with pytest.raises(InputError, match="other inputs.*cells"):
        _evaluate(videos, folder_root, store.root, method="theirs")
    assert _state(store.root) == before


# ------------------------------------------------------------------ content keys: nothing stale is reused
def _offset_run(root, run_dir, weight, **options):
    from flash_bench.config import Cell

    return run(RunConfig(dataset="folder", root=str(root), cells=(Cell("m", "offset", {"weight": str(weight),
                                                                                      **options}),),
                         num_frames=8, size=32, metrics=()), run_dir)


def _change_option(root, weight, monkeypatch):
    return {"offset": 7}


def _change_weight_bytes(root, weight, monkeypatch):
    weight.write_bytes(b"\x09")
    return {}


def _change_dataset_version(root, weight, monkeypatch):
    from flash_bench.datasets.folder import FolderDataset

    monkeypatch.setattr(FolderDataset, "version", "2", raising=False)
    return {}


def _change_a_training_video(root, weight, monkeypatch):
    from conftest import moving_square

    from flash_bench.video_io import write_video

    write_video(root / "jump" / "train" / "v000.mp4", moving_square(99))
    return {}


@pytest.mark.parametrize("change, new_actions", [(_change_option, {"jump", "wave"}),
                                                 (_change_weight_bytes, {"jump", "wave"}),
                                                 (_change_dataset_version, {"jump", "wave"}),
                                                 (_change_a_training_video, {"jump"})])
def test_a_changed_setting_makes_new_items_and_keeps_the_old(change, new_actions, folder_root, tmp_path,
                                                              monkeypatch):
    from flash_bench.registry import METHODS

    sys.path.insert(0, str(TESTS))
    monkeypatch.setitem(METHODS._entries, "offset", "slow_method:OffsetStatic")   # test-only entry
    weight = tmp_path / "w.bin"
    weight.write_bytes(b"\x05")
    old = {(r["action"], r["item"]): r["key"] for r in _offset_run(folder_root, tmp_path / "run", weight).records()}
    options = change(folder_root, weight, monkeypatch)
    store = _offset_run(folder_root, tmp_path / "run", weight, **options)
    new = {(r["action"], r["item"]): r["key"] for r in store.records()}
    changed = {k for k in new if new[k] != old[k]}
    assert {a for a, _ in changed} == new_actions and len(changed) == 2 * len(new_actions)
    assert store.read_manifest()["items"] == {"reused": 4 - len(changed), "new": len(changed), "failed": 0}
    bump = int(options.get("offset", 0)) + weight.read_bytes()[0]
    requests = load_requests(store.root)
    for (action, item), key in new.items():                    # every current video follows the current setting
        reference = requests.reference(action, item)           # as the run's request holds it
        expected = (reference.astype(int) + bump).clip(0, 255)
        assert abs((read_video(store.video_file(key))[0].astype(int) - expected).mean()) < 1   # stale: off by 4 or 7
    for key in old.values():                                   # the old items stay addressable
        assert store.finished(key)


def test_flash_keys_follow_its_sampling_steps_and_its_base_weights_bytes(tmp_path, monkeypatch):
    """Without running FLASH: its key changes with the tiny profile's DDIM steps and with a base file's bytes."""
    import shutil

    import flash.config
    from flash.base_model import TINY_BASE_DIR
    from flash.method import FlashMethod
    from flash_bench.config import Cell
    from flash_bench.datasets.synthetic import SyntheticDataset
    from flash_bench.runner import method_identity
    from flash_bench.types import MethodContext

    base = tmp_path / "base"
    shutil.copytree(TINY_BASE_DIR, base)
    cfg, cell, ds = RunConfig(), Cell("flash", "flash"), SyntheticDataset()
    ctx = MethodContext(size=cfg.size, num_frames=cfg.num_frames, options={"base_dir": str(base)})
    key = lambda: method_identity(FlashMethod(ctx), cfg, cell, ds)  # noqa: E731
    first = key()
    assert "base/unet.safetensors" in first["weights"] and "decoder" in first["weights"]
    monkeypatch.setattr(flash.config, "TINY", flash.config.TINY.replace(sample_steps=flash.config.TINY_DDIM_STEPS + 1))
    steps = key()
    assert steps["method"] != first["method"]
    monkeypatch.undo()
    data = bytearray((base / "unet.safetensors").read_bytes())
    data[-1] ^= 1
    (base / "unet.safetensors").write_bytes(bytes(data))
    changed = key()
    assert changed["method"] == first["method"] and changed["weights"] != first["weights"]


def test_scoring_reads_only_the_run_dir(folder_root, tmp_path, monkeypatch):
    """The requests carry prompt, reference and ground truth: rescoring after the dataset is gone gives the same
    values, and no generation record is touched."""
    import shutil

    from flash_bench.registry import DATASETS
    from flash_bench.scoring import score_run

    metrics = ("temporal_consistency", "cosine_rgb", "text_alignment")
    store = run(RunConfig(dataset="folder", root=str(folder_root), cells=method_cells(["static", "oracle"]),
                          num_frames=8, size=32, metrics=metrics, cache_dir=str(tmp_path / "cache")), tmp_path / "run")
    before = {(r["method"], r["action"], r["item"]): store.scores(r["key"]) for r in store.records()}
    assert all(set(v) == set(metrics) for v in before.values())
    assert all(v["cosine_rgb"] > 0.9 for (m, _, _), v in before.items() if m == "oracle")
    records = {p: p.read_bytes() for p in (store.root / "items").glob("*/record.json")}
    shutil.rmtree(folder_root)
    shutil.rmtree(store.root / "scores")
    monkeypatch.setattr(DATASETS, "get", lambda name: pytest.fail(f"scoring opened dataset {name!r}"))
    score_run(store, list(metrics), "tiny", "cpu", tmp_path / "cache2", progress=False)
    after = {(r["method"], r["action"], r["item"]): store.scores(r["key"]) for r in store.records()}
    assert after.keys() == before.keys()
    for k in before:
        for m in metrics:
            assert after[k][m] == pytest.approx(before[k][m], rel=1e-5, abs=1e-6), (k, m)
    assert {p: p.read_bytes() for p in (store.root / "items").glob("*/record.json")} == records


def test_evaluate_writes_the_requests_a_run_writes(folder_root, tmp_path):
    from flash_bench.datasets.folder import FolderDataset

    videos = tmp_path / "mine"
    (videos / "jump").mkdir(parents=True)
    (videos / "jump" / "t0.mp4").write_bytes((folder_root / "jump" / "test" / "t0.mp4").read_bytes())
    ran = load_requests(run(_cfg(folder_root, methods=("static",)), tmp_path / "run").root)
    evaluated = load_requests(_evaluate(videos, folder_root, tmp_path / "ev", real_set="test+train").root)
    assert ran.items.keys() == evaluated.items.keys() and len(ran.items) == 4
    for k, req in ran.items.items():
        other = evaluated.items[k]
        assert req["prompt"] == other["prompt"] and req["seed"] == item_seed(0, *k) and other["seed"] is None
        assert req["reference"]["sha256"] == other["reference"]["sha256"]
        assert req["ground_truth"]["sha256"] == other["ground_truth"]["sha256"]
        assert req["ground_truth"]["source_sha256"] and req["ground_truth"]["source"].endswith(f"{k[1]}.mp4")
    dataset = {a.id: a for a in FolderDataset(folder_root, num_frames=8, size=32).actions()}
    assert np.array_equal(ran.truth("jump", "t1"), dataset["jump"].test[1].ground_truth.load())
    assert np.array_equal(ran.reference("jump", "t1"), dataset["jump"].test[1].reference())
    assert ran.train("jump") == []                                   # a run stores no training frames
    clips = dict(evaluated.train("jump"))                            # test+train: CD-FVD's real set needs them
    assert clips.keys() == {c.id for c in dataset["jump"].train}
    assert all(np.array_equal(clips[c.id](), c.load()) for c in dataset["jump"].train)


def test_every_declared_weight_is_a_weights_row_or_a_shipped_file():
    """A method's ``weights`` name rows of flash_bench.weights or files in the repository (a moved file fails here,
    not silently in the keys)."""
    from flash_bench.method import REPO
    from flash_bench.registry import METHODS
    from flash_bench.weights import WEIGHTS

    declared = {n: METHODS.get(n).weights for n in METHODS.names()}
    assert declared["pia"]["tiny"] and declared["flash"] == {}     # FLASH overrides weight_files (options decide)
    for name, table in declared.items():
        for profile, entries in table.items():
            assert profile in ("tiny", "paper"), (name, profile)
            for entry in entries:
                assert entry in WEIGHTS or (REPO / entry).is_file(), (name, entry)


def test_a_method_whose_weights_are_missing_fails_its_items_naming_the_file(folder_root, tmp_path, monkeypatch):
    from flash_bench.config import Cell
    from flash_bench.registry import METHODS

    for var, sub in (("FLASH_BENCH_WEIGHTS", "w"), ("HF_HUB_CACHE", "hf"), ("TORCH_HOME", "th")):
        (tmp_path / sub).mkdir()
        monkeypatch.setenv(var, str(tmp_path / sub))
    sys.path.insert(0, str(TESTS))
    monkeypatch.setitem(METHODS._entries, "needs-weights", "slow_method:NeedsAbsentWeights")   # test-only entry
    store = run(RunConfig(dataset="folder", root=str(folder_root), num_frames=8, size=32, metrics=(),
                          cells=(Cell("needs", "needs-weights"), Cell("static", "static"))), tmp_path / "run")
    status = {(r["method"], r["action"], r["item"]): r for r in store.records()}
    assert all(r["status"] == "failed" and "missing weights 'sd-v1-4'" in r["error"]
               for (m, _, _), r in status.items() if m == "needs") and len(status) == 8
    assert all(r["status"] == "ok" for (m, _, _), r in status.items() if m == "static")
    assert store.read_manifest()["items"] == {"reused": 0, "new": 4, "failed": 4}
