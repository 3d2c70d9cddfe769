"""A run's results, read and aggregated in one place: ``load_run`` → per-item table → ``summary``.

``load_run(run_dir)`` reads the JSON a run dir holds (``index.json``, the ``items/<key>/record.json`` it points at,
``scores/<metric>/<key>.json``, ``sets/*.json``, the latest invocation of ``manifest.jsonl``, ``scoring.json``) into a
:class:`Run` whose ``table`` has one row per indexed item: ``method``, ``action``, ``item``, ``key``, ``status``, the
record's other scalar fields, and one float column per per-item metric (NaN: missing, never zero).
:func:`summary` is the one aggregation rule, used by ``per_video.csv``/``summary.csv``, the report, the plots,
``regress`` and the gallery: per method, the mean over its ``ok`` items of every metric and numeric bookkeeping
column (missing values skipped), the counts of ``ok`` (``videos``) and ``failed`` items, and the set-level metrics
(``cd_fvd``) merged — only when the items averaged are all of the method's items, the set they were computed on.

Metric facts (label, direction, decimals) are the metric classes' attributes (:mod:`flash_bench.metrics`; their
modules import no model library), or, for an id no class is registered for, the run's own scoring record. Imports no
model code.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import pandas as pd

from flash_bench.metrics import METRICS
from flash_bench.store import HISTORY, RunStore, atomic_write_bytes, read_history
from flash_bench.types import InputError, Profile

ITEM_KEYS = ("method", "action", "item", "key", "status")
METRIC_ORDER = tuple(METRICS.names())
# Record fields shown beside the metrics: id -> (label, higher_is_better (None: never ranked), decimals).
BOOKKEEPING: dict[str, tuple[str, bool | None, int]] = {
    "seconds": ("Seconds / video", None, 2),
    "num_frames": ("Frames", None, 1),
}
NOT_AVERAGED = ("seed",)   # numeric record fields that are identifiers, not measurements
UNKNOWN_DECIMALS = 4


def _class_facts(metric_id: str) -> tuple[str, bool, int] | None:
    if metric_id not in METRICS:
        return None
    cls = METRICS.get(metric_id)
    return cls.label, cls.higher_is_better, int(cls.decimals)


def column_info(col: str, scoring: dict | None = None) -> tuple[str, bool | None, int]:
    """(label, higher_is_better or None, decimals) of a metric or bookkeeping column: from the metric's class, else
    from ``scoring`` (a run's ``scoring.json``), else the id itself, never ranked."""
    known = _class_facts(col) or BOOKKEEPING.get(col)
    if known:
        return known
    recorded = ((scoring or {}).get("metrics") or {}).get(col) or {}
    if recorded.get("label") and isinstance(recorded.get("higher_is_better"), bool):
        return recorded["label"], recorded["higher_is_better"], int(recorded.get("decimals", UNKNOWN_DECIMALS))
    return col, None, UNKNOWN_DECIMALS


def _order(ids) -> tuple[str, ...]:
    """Registered metrics in the registry's order, then unknown ids sorted."""
    ids = set(ids)
    return tuple(m for m in METRIC_ORDER if m in ids) + tuple(sorted(ids - set(METRIC_ORDER)))


@dataclass(frozen=True)
class Run:
    """One run dir, read. ``table``: one row per item; ``sets``: method -> set-level metric values."""

    root: Path
    manifest: dict
    table: pd.DataFrame
    sets: dict[str, dict]            # of the methods with items
    scoring: dict
    item_metrics: tuple[str, ...]    # metric ids with a per-item column in ``table``
    metrics: tuple[str, ...]         # every metric id of the run: per-item and set-level
    unreadable: tuple[tuple[str, str], ...] = ()  # (file, why) left out by ``load_run(skip_unreadable=True)``

    @property
    def tiny(self) -> bool:
        return bool(self.manifest.get("tiny_backbones")) or self.manifest.get("profile") == Profile.TINY

    @cached_property
    def methods(self) -> list[str]:
        """The methods with items in the run: the manifest's order, then any others, sorted."""
        listed = [m for m in self.manifest.get("methods") or [] if isinstance(m, str)]
        found = set(self.table["method"])
        return [m for m in listed if m in found] + sorted(found - set(listed))

    @cached_property
    def items(self) -> dict[str, list[str]]:
        """action -> its item ids, both sorted."""
        return {a: sorted(set(ids)) for a, ids in self.table.groupby("action")["item"]}

    @property
    def actions(self) -> list[str]:
        return list(self.items)

    @cached_property
    def bookkeeping(self) -> tuple[str, ...]:
        """Numeric record fields that :func:`summary` averages (``seconds``, ``num_frames``, ``height``, …)."""
        t = self.table
        return tuple(c for c in t.columns if c not in self.item_metrics and c not in NOT_AVERAGED
                     and pd.api.types.is_numeric_dtype(t[c]) and not pd.api.types.is_bool_dtype(t[c]))

    @cached_property
    def _rows(self) -> dict[tuple[str, str, str], int]:
        return {k: i for i, k in enumerate(zip(self.table["method"], self.table["action"], self.table["item"]))}

    def record(self, method: str, action: str, item: str) -> dict | None:
        """One item's row (missing values as None), or None when the run has no such item."""
        i = self._rows.get((method, action, item))
        if i is None:
            return None
        return {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in self.table.iloc[i].items()}

    def video(self, method: str, action: str, item: str) -> Path | None:
        """The item's video, or None when it failed or the file is missing."""
        rec = self.record(method, action, item)
        if not rec or rec["status"] != "ok":
            return None
        path = RunStore(self.root).video_file(rec["key"])
        return path if path.is_file() else None


# ----------------------------------------------------------------------------------------------
# Reading
# ----------------------------------------------------------------------------------------------
def _read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(f"{path}: not a readable JSON file ({e})") from None


def _record_row(path: Path, entry: dict) -> dict:
    rec = _read_json(path)
    if not isinstance(rec, dict):
        raise InputError(f"{path}: not a per-video record (a JSON object)")
    # scalar fields only: the inputs, the traceback and other nested fields stay in the record
    fields = {k: v for k, v in rec.items() if k != "traceback" and not isinstance(v, (dict, list))}
    return {**fields, **{k: entry[k] for k in ITEM_KEYS[:4]}, "status": rec.get("status") or "ok"}


def _score_value(path: Path):
    score = _read_json(path)
    if not isinstance(score, dict) or "value" not in score:
        raise InputError(f"{path}: not a score (a JSON object with a value)")
    return score["value"]


def load_run(run_dir: Path | str, need_items: bool = False, skip_unreadable: bool = False) -> Run:
    """Read a run dir (no lock needed: every file in it is written atomically). ``need_items``: a run dir without a
    single per-item record is an error. A record, score or set file that cannot be read is an error naming it,
    unless ``skip_unreadable`` (the end of a run, which has already named it among its failures): then it is left
    out and listed in :attr:`Run.unreadable`."""
    root = Path(run_dir)
    if not root.is_dir():
        raise InputError(f"{root}: run dir not found")
    if not (root / HISTORY).exists() and not (root / "index.json").exists():
        raise InputError(f"{root}: not a run dir (no {HISTORY} and no index.json)")
    history = read_history(root)
    manifest = history[-1] if history else {}
    index = _read_json(root / "index.json").get("items", []) if (root / "index.json").exists() else []
    unreadable: list[tuple[str, str]] = []

    def readable(read, path: Path):
        try:
            return read(path)
        except InputError as e:
            if not skip_unreadable:
                raise
            unreadable.append((str(path), str(e)))
            return None

    items = RunStore(root)
    rows = [r for e in index if items.record_file(e["key"]).exists()
            and (r := readable(lambda q, e=e: _record_row(q, e), items.record_file(e["key"]))) is not None]
    if need_items and not rows:
        raise InputError(f"{root}: no per-video records (is this a run dir?)")
    keys = {r["key"] for r in rows}
    scores: dict[str, dict[str, float | None]] = {}
    for metric_dir in sorted(p for p in (root / "scores").glob("*") if p.is_dir()):
        found = {p.stem: readable(lambda q: [_score_value(q)], p) for p in sorted(metric_dir.glob("*.json"))
                 if p.stem in keys}
        if found := {k: v[0] for k, v in found.items() if v is not None}:   # [value]; None: unreadable
            scores[metric_dir.name] = found
    for r in rows:
        r.update({m: values.get(r["key"]) for m, values in scores.items()})
    table = pd.DataFrame(rows) if rows else pd.DataFrame(columns=list(ITEM_KEYS))
    for m in scores:
        table[m] = pd.to_numeric(table[m], errors="coerce").astype(float)
    for b in BOOKKEEPING:
        if b in table.columns:
            table[b] = pd.to_numeric(table[b], errors="coerce")
    sets_dir = root / "sets"
    # a set is computed on a method's items: one without items in the run (a stale file) has nothing behind it
    sets = {p.stem: v for p in (sorted(sets_dir.glob("*.json")) if sets_dir.exists() else [])
            if p.stem in set(table["method"]) and (v := readable(_read_json, p)) is not None}
    scoring = _read_json(root / "scoring.json") if (root / "scoring.json").exists() else {}
    set_ids = {k for values in sets.values() for k in values}
    return Run(root, manifest, table, sets, scoring, _order(scores), _order(set(scores) | set_ids),
               tuple(unreadable))


# ----------------------------------------------------------------------------------------------
# The one aggregation
# ----------------------------------------------------------------------------------------------
def method_items(run: Run, method: str, actions: set[str] | None = None) -> tuple[pd.DataFrame, bool]:
    """A method's rows (only those of ``actions`` when given) and whether that is all of them — the set its
    set-level metrics were computed on."""
    rows = run.table[run.table["method"] == method]
    if actions is None:
        return rows, True
    keep = rows["action"].isin(actions)
    return rows[keep], bool(keep.all())


def _selected(run: Run, methods: list[str] | None, actions: dict[str, set[str] | None] | None):
    for m in run.methods if methods is None else methods:
        rows, whole = method_items(run, m, (actions or {}).get(m))
        yield m, rows[rows["status"] == "ok"], len(rows), whole


def summary(run: Run, methods: list[str] | None = None,
            actions: dict[str, set[str] | None] | None = None) -> pd.DataFrame:
    """One row per method (default: :attr:`Run.methods`): ``videos`` (ok items), ``failed``, then the mean over its
    ok items of every metric and bookkeeping column, missing values skipped (all missing: NaN). ``actions``
    optionally restricts a method's items to a set of action ids; set-level metrics are merged only when nothing of
    the method was left out."""
    values = list(run.item_metrics) + list(run.bookkeeping)
    rows = {}
    for m, ok, n, whole in _selected(run, methods, actions):
        row = {"videos": len(ok), "failed": n - len(ok), **ok[values].astype(float).mean().to_dict()}
        if whole:
            row.update({k: float(v) for k, v in run.sets.get(m, {}).items()
                        if isinstance(v, (int, float)) and not isinstance(v, bool)})
        rows[m] = row
    columns = ["videos", "failed", *run.metrics, *run.bookkeeping]
    out = pd.DataFrame.from_dict(rows, orient="index", columns=columns, dtype=float)
    out.index.name = "method"
    return out.astype({"videos": int, "failed": int})


def counts(run: Run, methods: list[str] | None = None,
           actions: dict[str, set[str] | None] | None = None) -> pd.DataFrame:
    """How many values each mean of :func:`summary` is over: per method and metric, its ok items with a value (a
    merged set-level metric: all its ok items)."""
    rows = {}
    for m, ok, _, whole in _selected(run, methods, actions):
        rows[m] = {**ok[list(run.item_metrics)].notna().sum().to_dict(),
                   **({k: len(ok) for k in run.sets.get(m, {})} if whole else {})}
    out = pd.DataFrame.from_dict(rows, orient="index", columns=list(run.metrics)).fillna(0).astype(int)
    out.index.name = "method"
    return out


def export_tables(store: RunStore) -> None:
    """``per_video.csv`` (the per-item table) and ``summary.csv`` (:func:`summary`), derived from the records and
    rewritten on every run; nothing is written for a run without records. Record or set files it cannot read are
    left out and noted in ``store.unreadable``, which the run's manifest lists among its failures."""
    run = load_run(store.root, skip_unreadable=True)
    for path, error in run.unreadable:
        store.unreadable.setdefault(path, error)
    if not run.table.empty:
        atomic_write_bytes(run.root / "per_video.csv", run.table.to_csv(index=False).encode())
        atomic_write_bytes(run.root / "summary.csv", summary(run).to_csv().encode())
