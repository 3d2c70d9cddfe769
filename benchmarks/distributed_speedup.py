"""2 ranks vs 1: wall time of the same `flash-bench run` on a CPU subset of the main job (tiny profile).

    .venv/bin/python benchmarks/distributed_speedup.py [--ranks 2] [--methods lamp,dynamicrafter,static,oracle]
                                                       [--actions arm_wave,push_up] [--limit 2] [--metrics all]

Runs the command twice, each in a fresh run dir and a cold cache (nothing reused): once as one process
(``--jobs 1``, torch's default intra-op threads on every core) and once as ``torchrun --standalone
--nproc-per-node N`` (gloo; each rank ``cores // N`` threads). Fits are sharded by (method, action), videos and
features by test item (:mod:`flash_bench.distributed`). It checks that both made the same item keys (the numbers'
identity at equal threads per process is tests/test_distributed.py's business), and prints wall and CPU seconds of each, the speed-up, the core count and the load average before
and after each run — on a shared host the load says how far the figure is from an idle machine's. OpenMP's idle
threads sleep (``OMP_WAIT_POLICY=PASSIVE``, as in CI) unless the caller sets the variable.
Target (issue 20): ≥ 1.7× with 2 ranks on 2 cores.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(cmd: list[str], env: dict) -> dict:
    load_before, cpu, start = os.getloadavg()[0], _cpu_seconds(), time.perf_counter()
    out = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"failed ({out.returncode}): {' '.join(cmd)}\n{out.stderr[-3000:]}")
    return {"wall": time.perf_counter() - start, "cpu": _cpu_seconds() - cpu, "load_before": load_before,
            "load_after": os.getloadavg()[0]}


def made(run_dir: Path) -> list[dict]:
    """The run's items: (method, action, item) -> key."""
    return json.loads((run_dir / "index.json").read_text())["items"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ranks", type=int, default=2)
    ap.add_argument("--methods", default="lamp,dynamicrafter,static,oracle")
    ap.add_argument("--actions", default="arm_wave,push_up")
    ap.add_argument("--limit", type=int, default=2)
    ap.add_argument("--metrics", default="all")
    args = ap.parse_args()
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent)) or shutil.which("torchrun")
    if torchrun is None:
        sys.exit("torchrun (torch's launcher) is not on PATH")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    env.pop("OMP_NUM_THREADS", None)   # each side sets its own threads: torch's default, or cores // ranks
    # idle OpenMP threads must not spin (as in .ci/run): on a shared host a spinning intra-op thread burns the
    # cores the others wait for, and the one-process side would be measured several times too slow
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    job = ["run", "--dataset", "synthetic", "--methods", args.methods, "--actions", args.actions,
           "--limit", str(args.limit), "--metrics", args.metrics]
    with tempfile.TemporaryDirectory(prefix="dist_speedup_") as tmp:
        tmp = Path(tmp)
        dirs = lambda name: ["--run-dir", str(tmp / name / "run"), "--cache-dir", str(tmp / name / "cache")]  # noqa: E731
        one = timed([sys.executable, "-m", "flash_bench", *job, "--jobs", "1", *dirs("one")], env)
        many = timed([torchrun, "--standalone", "--nproc-per-node", str(args.ranks), "-m", "flash_bench", *job,
                      *dirs("many")], env)
        same_items = made(tmp / "one" / "run") == made(tmp / "many" / "run")
        videos = len(made(tmp / "one" / "run"))
    print(f"job: flash-bench {' '.join(job)}  ({videos} videos, cold caches)")
    print(f"cores: {os.cpu_count()}")
    for name, r in (("1 process", one), (f"{args.ranks} ranks", many)):
        print(f"{name:<10} wall {r['wall']:7.1f} s  cpu {r['cpu']:7.1f} s  "
              f"load average {r['load_before']:.2f} -> {r['load_after']:.2f}")
    print(f"same item keys: {same_items}")
    print(f"speed-up: {one['wall'] / many['wall']:.2f}x with {args.ranks} ranks (target >= 1.7x on 2 cores)")


if __name__ == "__main__":
    main()
