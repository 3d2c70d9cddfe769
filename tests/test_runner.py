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


def test_second_run_skips_finished_items(folder_root, tmp_path):
    run(_cfg(folder_root), tmp_path / "run")
    before = {p: p.stat().st_mtime_ns for p in (tmp_path / "run" / "videos").rglob("*.mp4")}
    run(_cfg(folder_root), tmp_path / "run")
    after = {p: p.stat().st_mtime_ns for p in (tmp_path / "run" / "videos").rglob("*.mp4")}
    assert before == after


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
sys.path.insert(0, {tests!r})
METHODS.register("slow", "slow_method:SlowStatic")
run(RunConfig(dataset="folder", root={root!r}, cells=method_cells(["slow"]), num_frames=8, size=32, metrics=()),
    {run_dir!r})
"""


def test_resume_after_sigkill(folder_root, tmp_path):
    run_dir = tmp_path / "run"
    code = _KILLABLE.format(tests=str(TESTS), root=str(folder_root), run_dir=str(run_dir))
    proc = subprocess.Popen([sys.executable, "-c", code])
    items = run_dir / "items" / "slow"
    deadline = time.time() + 60
    while time.time() < deadline and len(list(items.rglob("*.json"))) < 2:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = {p: p.stat().st_mtime_ns for p in items.rglob("*.json")}
    assert 2 <= len(done) < 4, "kill the run in the middle"
    for p in done:
        json.loads(p.read_text())                       # every record on disk is complete
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
    store = RunStore(run_dir)
    assert len(store.records()) == 4 and all(r["status"] == "ok" for r in store.records())
    assert all(p.stat().st_mtime_ns == t for p, t in done.items())   # finished items were not redone
    for r in store.records():
        assert read_video(store.video_path("slow", r["action"], r["item"])).shape == (8, 32, 32, 3)
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
    for p in (store.root / "manifest.json", store.root / "summary.csv", store.record_path("static", "jump", "t0")):
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
    from flash_bench.scoring import evaluate_videos

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
    assert all(_state(done.root)[p][1] == before[p][1] for p in before if "/static/" in str(p))
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
    (videos / "jump" / "t0.mp4").write_bytes((folder_root / "wave" / "test" / "t1.mp4").read_bytes())
    (videos / "jump" / "t1.mp4").write_bytes((folder_root / "jump" / "test" / "t1.mp4").read_bytes())
    _evaluate(videos, folder_root, store.root)
    assert {p: _state(store.root)[p] for p in kept} == kept                        # finished: not overwritten
    assert store.read_record("mine", "jump", "t1")["status"] == "ok"               # failed: retried
    before = _state(store.root)
    with pytest.raises(InputError, match="other inputs.*dataset_config"):
        _evaluate(videos, folder_root, store.root, size=48)
    with pytest.raises(InputError, match="other inputs.*cells"):
        _evaluate(videos, folder_root, store.root, method="theirs")
    assert _state(store.root) == before
