"""Regression of a run's metrics against a golden file (``flash-bench regress``).

Golden file (JSON, written by ``--update``)::

    {"version": 1,
     "source": {"experiment", "dataset", "profile", "git_commit", "created", "run_dir"},
     "tolerances": {"<metric id>": {"abs": a, "rel": r}, ...},
     "values": {"<method label>": {"<metric id>": value or null, "videos": n}, ...}}

A value passes when ``|now - golden| <= abs + rel * |golden|``. Tolerances live in the golden file so
they can be tuned there; ``--update`` keeps the file's tolerances and only refreshes values.

Why these defaults: the same seed on the same CPU gives bit-identical videos and features, so any
difference comes from floating-point summation order (BLAS threads, a different CPU). That moves a
cosine by ~1e-6; we allow 1e-4 (cosines, confidences), 0.01 on the ×100 CLIP scores (= 1e-4 in
cosine), 1e-3 relative on CD-FVD (a matrix square root amplifies rounding), and none on counts
(``videos``, ``num_frames``, ``action_accuracy`` is a fraction of videos: 1e-9). ``seconds`` is never compared.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from flash_bench.results import load_run, summary
from flash_bench.store import atomic_write_json
from flash_bench.types import InputError

DEFAULT_TOLERANCES: dict[str, dict[str, float]] = {   # runs are bit-reproducible on the CPU (docs/run_dir.md);
    "text_alignment": {"abs": 1e-4, "rel": 0.0},         # CD-FVD alone moves (<= 1e-7) with the BLAS thread count
    "image_alignment": {"abs": 1e-4, "rel": 0.0},
    "temporal_consistency": {"abs": 1e-4, "rel": 0.0},
    "cd_fvd": {"abs": 1e-6, "rel": 0.0},
    "cosine_rgb": {"abs": 1e-6, "rel": 0.0},
    "cosine_flow": {"abs": 1e-6, "rel": 0.0},
    "action_accuracy": {"abs": 1e-9, "rel": 0.0},
    "action_confidence": {"abs": 1e-4, "rel": 0.0},
    "action_refusal": {"abs": 1e-9, "rel": 0.0},
    "figure_presence": {"abs": 1e-9, "rel": 0.0},
    "num_frames": {"abs": 0.0, "rel": 0.0},
    "videos": {"abs": 0.0, "rel": 0.0},
}
FALLBACK_TOLERANCE = {"abs": 1e-4, "rel": 1e-4}   # metrics without a default
COMPARED_BOOKKEEPING = ("num_frames",)   # deterministic; seconds, fit_seconds and the failed count never are
SETUP = ("dataset", "profile", "size", "num_frames")   # what a golden file's values are only valid for


@dataclass(frozen=True)
class Drift:
    metric: str
    method: str
    golden: float | None
    now: float | None
    tolerance: str
    reason: str   # "drift" | "missing now" | "new value" | "method missing"


def _clean(v) -> float | None:
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


def run_values(run_dir: Path | str) -> tuple[dict[str, dict[str, float | None]], dict]:
    """({method: {column: mean}}, manifest) for every method in the run: the report's numbers (``videos``, every
    metric, ``num_frames``), from :func:`flash_bench.results.summary`."""
    run = load_run(run_dir)
    means = summary(run)
    cols = [c for c in ("videos", *run.metrics, *COMPARED_BOOKKEEPING) if c in means.columns]
    values = {m: {c: _clean(means.loc[m, c]) for c in cols} for m in means.index}
    return values, run.manifest


def run_setup(values: dict, manifest: dict) -> dict:
    """The run's :data:`SETUP` (from its manifest's config; frames from the values when the config lacks them)."""
    config = {**manifest, **(manifest.get("config") or {})}
    setup = {k: config[k] for k in SETUP if config.get(k) is not None}
    frames = {v.get("num_frames") for v in values.values()} - {None}
    if "num_frames" not in setup and len(frames) == 1:
        setup["num_frames"] = int(frames.pop())
    return setup


def run_environment(manifest: dict) -> dict:
    """What a run's floats depend on besides code and inputs: package versions and the CPU kernels torch picked
    (``cpu_capability``: the CPU and its widest vector extension), from its manifest."""
    env = {"versions": manifest.get("versions") or {}}
    cpu = manifest.get("cpu_capability")
    return {**env, "cpu_capability": cpu} if cpu else env


def environment_differences(golden: dict, manifest: dict) -> list[str]:
    """Where the run's environment differs from the one the golden values were made in ("diffusers 0.42.1 ->
    0.43.0"): the first suspects when values drift without a code change. Empty when the golden file records none."""
    made = (golden.get("source") or {}).get("environment")
    if not made:
        return []
    now = run_environment(manifest)
    out = [f"{k} {made['versions'].get(k)} -> {now['versions'].get(k)}"
           for k in sorted(set(made.get("versions", {})) | set(now["versions"]))
           if made.get("versions", {}).get(k) != now["versions"].get(k)]
    if made.get("cpu_capability") != now.get("cpu_capability"):
        out.append(f"cpu_capability {made.get('cpu_capability')} -> {now.get('cpu_capability')}")
    return out


def read_golden(path: Path | str) -> dict:
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: golden file not found (create it with --update)")
    try:
        golden = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise InputError(f"{path}: not a readable JSON golden file ({e})") from None
    if not isinstance(golden, dict) or not isinstance(golden.get("values"), dict):
        raise InputError(f"{path}: golden file needs a 'values' object of method -> metric -> value")
    return golden


def update_golden(run_dir: Path | str, path: Path | str) -> Path:
    """Write the run's values into ``path``, keeping the tolerances (and their ``tolerance_note``) already in
    the file."""
    path = Path(path)
    values, manifest = run_values(run_dir)
    if not values:
        raise InputError(f"{run_dir}: the run has no per-video records to take golden values from")
    old = read_golden(path) if path.exists() else {}
    metrics = {k for v in values.values() for k in v}
    tolerances = {m: DEFAULT_TOLERANCES.get(m, FALLBACK_TOLERANCE) for m in sorted(metrics)}
    tolerances.update(old.get("tolerances") or {})
    source = {k: manifest.get(k) for k in ("experiment", "dataset", "profile", "git_commit", "created")}
    source.update(setup=run_setup(values, manifest), environment=run_environment(manifest), run_dir=str(run_dir),
                  updated=datetime.now(timezone.utc).isoformat(timespec="seconds"))
    note = {"tolerance_note": old["tolerance_note"]} if old.get("tolerance_note") else {}
    atomic_write_json(path, {"version": 1, "source": source, **note, "tolerances": tolerances, "values": values})
    return path


def _check(metric: str, method: str, golden, now, tol: dict) -> Drift | None:
    golden, now = _clean(golden), _clean(now)
    text = f"±({tol.get('abs', 0):g} + {tol.get('rel', 0):g}·|golden|)"
    if golden is None and now is None:
        return None
    if golden is None or now is None:
        return Drift(metric, method, golden, now, text, "new value" if golden is None else "missing now")
    if abs(now - golden) <= tol.get("abs", 0.0) + tol.get("rel", 0.0) * abs(golden):
        return None
    return Drift(metric, method, golden, now, text, "drift")


def compare(run_dir: Path | str, golden_path: Path | str) -> tuple[list[Drift], int]:
    """(drifts, number of values checked). Every golden (method, metric) must be present and within tolerance."""
    golden = read_golden(golden_path)
    values, manifest = run_values(run_dir)
    made_for = (golden.get("source") or {}).get("setup") or run_setup(golden["values"], golden.get("source") or {})
    now = run_setup(values, manifest)
    differ = sorted(k for k in set(made_for) & set(now) if made_for[k] != now[k])
    if differ:
        shown = ", ".join(f"{k} {made_for[k]} -> {now[k]}" for k in differ)
        raise InputError(f"{golden_path} holds values for another setup than {run_dir} ({shown}): its values cannot "
                         "be compared. If the change is intended (e.g. new tiny-world geometry or weights), refresh "
                         f"the file once the weights are final: flash-bench regress {run_dir} --golden {golden_path} "
                         "--update")
    tolerances = golden.get("tolerances") or {}
    drifts, checked = [], 0
    for method, expected in golden["values"].items():
        if method not in values:
            drifts.append(Drift("*", method, None, None, "-", "method missing"))
            continue
        for metric, g in expected.items():
            checked += 1
            tol = tolerances.get(metric) or DEFAULT_TOLERANCES.get(metric, FALLBACK_TOLERANCE)
            drift = _check(metric, method, g, values[method].get(metric), tol)
            if drift:
                drifts.append(drift)
    return drifts, checked


def drift_table(drifts: list[Drift]) -> str:
    """Plain-text table: metric, method, golden, now, tolerance, reason."""
    def show(v):
        return "-" if v is None else f"{v:.6g}"

    rows = [("metric", "method", "golden", "now", "tolerance", "reason")]
    rows += [(d.metric, d.method, show(d.golden), show(d.now), d.tolerance, d.reason) for d in drifts]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in rows)
