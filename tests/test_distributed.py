"""Runs spread over ranks with torch.distributed (torchrun, gloo on the CPU): the same items and numbers as one
process, and a run a killed rank leaves is resumed by the same command."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from flash_bench.config import RunConfig, method_cells
from flash_bench.distributed import Ranks, launch_env
from flash_bench.results import load_run, summary
from flash_bench.runner import run
from flash_bench.store import RunStore
from flash_bench.video_io import read_video

TESTS = Path(__file__).parent
ROOT = TESTS.parent
TORCHRUN = shutil.which("torchrun", path=str(Path(sys.executable).parent)) or shutil.which("torchrun")
pytestmark = pytest.mark.skipif(TORCHRUN is None, reason="torchrun (torch's launcher) is not on PATH")


def _torchrun(args: list[str], ranks: int = 2) -> list[str]:
    # --standalone: a local rendezvous on a free port, so tests never collide on MASTER_PORT
    return [TORCHRUN, "--standalone", "--nproc-per-node", str(ranks), *args]


def _env() -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR",
                                                              "MASTER_PORT", "SLURM_NTASKS", "SLURM_PROCID")}
    return {**env, "PYTHONPATH": os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
            "OMP_NUM_THREADS": "1"}


# ------------------------------------------------------------------------------------------ no process group
def test_launch_env_reads_torchrun_then_slurm_and_nothing_else(monkeypatch):
    torchrun = {"RANK": "3", "WORLD_SIZE": "8", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "2", "SLURM_PROCID": "0",
                "SLURM_NTASKS": "2"}
    assert launch_env(torchrun) == {"RANK": "3", "WORLD_SIZE": "8", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "2"}
    srun = {"SLURM_PROCID": "5", "SLURM_NTASKS": "16", "SLURM_LOCALID": "1", "SLURM_NTASKS_PER_NODE": "8"}
    assert launch_env(srun) == {"RANK": "5", "WORLD_SIZE": "16", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "8"}
    assert launch_env({"SLURM_PROCID": "0", "SLURM_NTASKS": "1"}) == {}          # one Slurm task: one process
    assert launch_env({}) == {}
    for k in ("RANK", "WORLD_SIZE", "SLURM_NTASKS"):
        monkeypatch.delenv(k, raising=False)
    assert Ranks.from_env() == Ranks(0, 1, 0, 1)                               # a plain process is rank 0 of 1


def test_shares_are_disjoint_cover_the_work_and_do_not_depend_on_who_asks():
    work = list(range(23))
    shares = [Ranks(r, 4).mine(work) for r in range(4)]
    assert sorted(x for s in shares for x in s) == work
    assert [len(s) for s in shares] == [6, 6, 6, 5]
    assert Ranks().mine(work) == work and Ranks(2, 4).mine(work) == shares[2]
    assert Ranks(0, 1, 0, 2).share(2) == 1 and Ranks(0, 1, 0, 3).share(2) == 1 and Ranks().share(4) == 4


def test_an_srun_without_a_rendezvous_address_is_one_clear_error(monkeypatch):
    from flash_bench.types import InputError

    for k in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("SLURM_PROCID", "1")
    monkeypatch.setenv("SLURM_NTASKS", "2")
    with pytest.raises(InputError, match="MASTER_ADDR and MASTER_PORT not set"):
        Ranks.from_env()


# ------------------------------------------------------------------------------------------ 2 ranks vs 1
# a set metric (CD-FVD), one on the ground truth's features (Cosine RGB), the CLIP ones (text, image)
SAME_NUMBERS = dict(methods=["static", "oracle", "dynamicrafter"], actions=("arm_wave", "push_up"), limit=1,
                    metrics=("cd_fvd", "cosine_rgb", "text_alignment", "image_alignment"))


def _strip(record: dict) -> dict:
    return {k: v for k, v in record.items() if k not in ("seconds", "fit_seconds", "traceback")}


def _scores(root: Path) -> dict:
    return {str(p.relative_to(root)): json.loads(p.read_text()) for p in (root / "scores").rglob("*.json")}


@pytest.mark.slow   # 80-100 s on the shared 2-core host (two runs with every backbone built); in the default run
def test_two_ranks_make_the_items_and_metrics_of_one_process(tmp_path):
    """`torchrun --nproc-per-node 2 -m flash_bench run` (gloo) vs `run()` in one process: the same item keys and
    records, the same decoded videos, every per-video score and the set metric (CD-FVD, gathered to rank 0) equal
    to the last bit, and each rank featurised its own share (nothing twice)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)   # as each rank here (cores // ranks per node): CPU kernels round by thread count
    try:
        one = run(RunConfig(dataset="synthetic", cells=method_cells(SAME_NUMBERS["methods"]),
                            actions=SAME_NUMBERS["actions"], limit=SAME_NUMBERS["limit"],
                            metrics=SAME_NUMBERS["metrics"], cache_dir=str(tmp_path / "c1"), jobs=1), tmp_path / "one")
    finally:
        torch.set_num_threads(threads)
    cmd = _torchrun(["-m", "flash_bench", "run", "--methods", ",".join(SAME_NUMBERS["methods"]),
                     "--actions", ",".join(SAME_NUMBERS["actions"]), "--limit", str(SAME_NUMBERS["limit"]),
                     "--metrics", ",".join(SAME_NUMBERS["metrics"]),
                     "--run-dir", str(tmp_path / "two"), "--cache-dir", str(tmp_path / "c2")])
    out = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.count("run dir:") == 1                       # only rank 0 prints the outcome
    two = RunStore(tmp_path / "two")

    assert one.read_index() == two.read_index() and len(one.read_index()) == 3 * 2
    assert {r["key"]: _strip(r) for r in one.records()} == {r["key"]: _strip(r) for r in two.records()}
    assert all(r["status"] == "ok" for r in two.records())
    for r in one.records():
        assert np.array_equal(read_video(one.video_file(r["key"])), read_video(two.video_file(r["key"])))
    assert _scores(one.root) == _scores(two.root) and len(_scores(one.root)) == 6 * 3
    assert one.set_metrics() == two.set_metrics()
    assert all(v["cd_fvd"] is not None for v in two.set_metrics().values())
    drop = ["seconds", "fit_seconds"]
    assert summary(load_run(one.root)).drop(columns=drop).equals(summary(load_run(two.root)).drop(columns=drop))

    manifest = two.read_manifest()
    assert manifest["status"] == "finished" and manifest["ranks"] == 2
    assert manifest["items"] == {"reused": 0, "new": 6, "failed": 0}
    scoring_one, scoring_two = (json.loads((s.root / "scoring.json").read_text()) for s in (one, two))
    per_rank = scoring_two["ranks"]
    assert [r["rank"] for r in per_rank] == [0, 1] and all(r["misses"] > 0 for r in per_rank)
    assert [r["videos"] for r in per_rank] == [3, 3]      # each rank scored every method's video of one request
    prompts = len(SAME_NUMBERS["actions"])   # a prompt's CLIP embedding may be made by both ranks at once
    assert scoring_one["cache"]["hits"] == 0
    assert scoring_two["cache"]["hits"] <= prompts
    assert scoring_two["cache"]["misses"] <= scoring_one["cache"]["misses"] + prompts


# ------------------------------------------------------------------------------------------ a rank dies
_RANK_SCRIPT = """
import sys
sys.path.insert(0, {tests!r})
from flash_bench.config import RunConfig, method_cells
from flash_bench.registry import METHODS
from flash_bench.runner import run
METHODS.register("slow", "slow_method:SlowStatic")
run(RunConfig(dataset="folder", root={root!r}, cells=method_cells(["slow", "static"]), num_frames=8, size=32,
              metrics=()), {run_dir!r})
"""


def _rank_pids(agent: int, rank: str) -> list[int]:
    """Processes below torchrun's ``agent`` whose environment says RANK=``rank``."""
    from test_runner import _descendants

    out = []
    for pid in _descendants(agent):
        try:
            env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if f"RANK={rank}".encode() in env:
            out.append(pid)
    return out


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="reads /proc")
def test_a_run_a_killed_rank_leaves_is_resumed_by_the_same_command(tmp_path, monkeypatch):
    from conftest import make_folder_dataset

    from flash_bench.registry import METHODS

    root = make_folder_dataset(tmp_path / "data", n_test=4)
    script = tmp_path / "ranks.py"
    script.write_text(_RANK_SCRIPT.format(tests=str(TESTS), root=str(root), run_dir=str(tmp_path / "run")))
    agent = subprocess.Popen(_torchrun([str(script)]), env=_env(), stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    items = tmp_path / "run" / "items"
    deadline = time.time() + 120
    while time.time() < deadline and len(list(items.rglob("record.json"))) < 2:
        time.sleep(0.05)
    victims = _rank_pids(agent.pid, "1")
    for pid in victims:
        os.kill(pid, signal.SIGKILL)
    assert agent.wait(timeout=120) != 0 and victims, "rank 1 was killed and torchrun ended the run"
    store = RunStore(tmp_path / "run")
    done = {r["key"] for r in store.records() if r["status"] == "ok"}
    assert 2 <= len(done) < 16, "kill the run in the middle"
    assert store.read_manifest()["status"] == "running"              # no end line: the run was killed

    subprocess.run(_torchrun([str(script)]), env=_env(), check=True, timeout=300, capture_output=True)
    monkeypatch.syspath_prepend(str(TESTS))
    monkeypatch.setitem(METHODS._entries, "slow", "slow_method:SlowStatic")   # test-only entry, as in the script
    fresh = run(RunConfig(dataset="folder", root=str(root), cells=method_cells(["slow", "static"]), num_frames=8,
                          size=32, metrics=()), tmp_path / "fresh")
    latest = store.read_manifest()
    assert latest["status"] == "finished" and latest["items"]["failed"] == 0
    assert latest["items"]["reused"] == len(done) and latest["items"]["reused"] + latest["items"]["new"] == 16
    assert all(r["status"] == "ok" for r in store.records()) and len(store.records()) == 16
    assert store.read_index() == fresh.read_index()
    assert {r["key"]: _strip(r) for r in store.records()} == {r["key"]: _strip(r) for r in fresh.records()}
    assert not [p for p in (tmp_path / "run").rglob(".*") if p.name != ".lock"]   # no half-written leftovers
