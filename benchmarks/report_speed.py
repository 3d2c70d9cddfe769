"""How long `flash-bench report` takes on a finished run of Table 1's size (target: <= 3 s, no torch).

Writes a hand-made run dir (9 methods x 12 actions x 6 test items = 648 per-video records with all six
metrics + set-level CD-FVD) and times fresh interpreters running the report, as a user would.

    .venv/bin/python benchmarks/report_speed.py [--items 6]
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flash_bench.experiments import HAA500_ACTIONS, PAPER_METRICS
from flash_bench.store import RunStore, content_key

METHODS = ["ti2v-zero", "sparsectrl", "pia", "dynamicrafter", "dreamvideo", "lamp", "flash", "static", "oracle"]


def make_run(root: Path, items: int) -> int:
    store, rng, entries = RunStore(root), np.random.default_rng(0), []
    for m in METHODS:
        for a in HAA500_ACTIONS:
            for i in range(items):
                key = content_key({"benchmark": [m, a, i]})
                store.write_record({"key": key, "action": a, "item": f"{i:03d}", "status": "ok", "seconds": 1.0,
                                    "num_frames": 16})
                for k in PAPER_METRICS:
                    if k != "cd_fvd":
                        store.write_score(k, key, float(rng.uniform(0.5, 1.0)))
                entries.append({"method": m, "action": a, "item": f"{i:03d}", "key": key})
        store.write_set_metrics(m, {"cd_fvd": float(rng.uniform(500, 1500))})
    store.update_index(entries)
    store.append_history({"invocation": 1, "event": "start", "profile": "paper", "tiny_backbones": False,
                          "dataset": "haa500", "methods": METHODS, "experiment": "table1", "failures": []})
    return len(entries)


CASES = {
    "summary markdown": "report_text(run, 'markdown')",
    "table 1 latex --paper --ci": "report_text(run, 'latex', table='1', paper=True, ci=True)",
    "all tables csv --paper": "report_text(run, 'csv', table='all', paper=True)",
}


def time_case(run: Path, expr: str) -> tuple[float, bool]:
    code = (f"import sys; from flash_bench.report import report_text; run = {str(run)!r}; {expr}; "
            "print('torch' in sys.modules)")
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return time.perf_counter() - t0, out.stdout.strip().endswith("True")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=6, help="test items per action")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        n = make_run(Path(tmp) / "run", args.items)
        print(f"run: {len(METHODS)} methods, {len(HAA500_ACTIONS)} actions, {n} records")
        for name, expr in CASES.items():
            seconds, torch_loaded = time_case(Path(tmp) / "run", expr)
            flag = "OK" if seconds <= 3.0 and not torch_loaded else "SLOW" if seconds > 3.0 else "TORCH IMPORTED"
            print(f"{name:<28} {seconds:6.2f} s  (fresh interpreter, incl. imports)  {flag}")


if __name__ == "__main__":
    main()
