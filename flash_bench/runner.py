"""run(cfg): dataset → fit → animate → store → metrics, resumable and fault-tolerant.

Each (cell, action, item) is done once: a finished record in the run dir is never redone, a failed
one is retried on the next run. One bad input fails its own item (recorded in the manifest), never
the run. Methods are reached only through the registry.

``cfg.jobs`` > 1 runs the work units — one per (cell, action), or one per joint-training cell — in that
many worker processes (spawned, ``cpu_count // jobs`` torch threads each), since small CPU models use two
cores better as two processes than as two intra-op threads. Workers write their own records and videos
(atomic, one file per item); the parent holds the run-dir lock, counts progress and scores at the end. A worker
dies with its parent (:func:`_die_with_parent`), so no write reaches the run dir once the lock holder is gone.
Every item is seeded from (seed, action, item) alone, so which worker makes it does not matter.
"""
from __future__ import annotations

import hashlib
import os
import sys
import time
import traceback
from pathlib import Path

from flash_bench.config import Cell, RunConfig
from flash_bench.datasets.base import FewShotDataset
from flash_bench.manifest import new_manifest
from flash_bench.registry import DATASETS, METHODS
from flash_bench.results import export_tables
from flash_bench.store import RunStore
from flash_bench.types import Action, InputError, MethodContext
from flash_bench.video_io import write_video


def item_seed(seed: int, action: str, item: str) -> int:
    """The same seed for every method on one test item (the paper's protocol), different across items."""
    return int.from_bytes(hashlib.sha256(f"{seed}/{action}/{item}".encode()).digest()[:4], "little") % 2**31


def load_dataset(cfg: RunConfig, shots: int | None = None) -> FewShotDataset:
    cls = DATASETS.get(cfg.dataset)
    return cls(cfg.root, num_frames=cfg.num_frames, size=cfg.size, shots=shots if shots is not None else cfg.shots,
               seed=cfg.seed)


def select_actions(dataset: FewShotDataset, wanted: tuple[str, ...] | None) -> list[Action]:
    actions = dataset.actions()
    if wanted:
        known = {a.id for a in actions}
        missing = [a for a in wanted if a not in known]
        if missing:
            raise InputError(f"unknown action(s) {missing} in dataset {dataset.name!r}; known: {sorted(known)}")
        actions = [a for a in actions if a.id in wanted]
    return actions


RUN_INPUTS = ("dataset", "root", "profile", "seed", "num_frames", "size")  # a finished item is valid only for these


def run(cfg: RunConfig, run_dir: Path, command: list[str] | None = None, progress=None) -> RunStore:
    """Run every cell on every selected action; returns the store. ``progress`` is a rich Progress or None."""
    store = RunStore(run_dir)
    with store.lock():
        store.claim("run", {k: v for k, v in cfg.to_dict().items() if k in RUN_INPUTS})
        manifest = new_manifest(cfg.to_dict(), command or sys.argv)
        with store.closed_manifest(manifest) as failures:
            if cfg.metrics != ():
                from flash_bench.scoring import check_weights

                check_weights(list(cfg.metrics) if cfg.metrics else None, cfg.profile)  # fail before generating
            scored_actions: dict[str, Action] = {}
            cells = []
            for cell in cfg.cells:
                dataset = load_dataset(cfg, cell.shots)
                actions = select_actions(dataset, cell.actions or cfg.actions)
                failures += [{"method": cell.label, **f} for f in dataset.failures]
                scored_actions.update({a.id: a for a in actions})
                cells.append((cell, actions))
            if cfg.jobs > 1:
                failures += _run_parallel(cfg, cells, store, progress)
            else:
                for cell, actions in cells:
                    failures += _run_cell(cfg, cell, actions, store, progress)
            if cfg.metrics != ():
                _score(cfg, store, list(scored_actions.values()))
            export_tables(store)
    return store


def _context(cfg: RunConfig, cell: Cell) -> MethodContext:
    return MethodContext(profile=cfg.profile, device=cfg.device, size=cfg.size, num_frames=cfg.num_frames,
                         cache_dir=Path(cfg.cache_dir),
                         options={k: v for k, v in cell.options.items() if k != "joint_actions"})


def _run_cell(cfg: RunConfig, cell: Cell, actions: list[Action], store: RunStore, progress,
              method_for=None) -> list[dict]:
    """Fit and animate ``actions`` of one cell. ``method_for(cell)`` supplies the method instance (workers keep
    one per cell across their units); by default one is made here."""
    method = None
    joint = cell.options.get("joint_actions")
    failures = []
    task = progress.add_task(cell.label, total=sum(len(_items(a, cfg)) for a in actions)) if progress else None
    for action in actions:
        todo = [it for it in _items(action, cfg) if not store.finished(cell.label, action.id, it.id)]
        if progress:
            progress.advance(task, len(_items(action, cfg)) - len(todo))
        if not todo:
            continue
        if method is None:
            method = method_for(cell) if method_for else METHODS.get(cell.method)(_context(cfg, cell))
            if joint:
                joint_error, joint_seconds = _fit(method, [a for a in actions if a.id in joint], joint=True)
        fit_error, fit_seconds = (joint_error, joint_seconds) if joint else _fit(method, [action])
        for item in todo:
            record = _animate_one(cfg, cell, method, action, item, store, fit_error, fit_seconds)
            if record["status"] == "failed":
                failures.append({k: record[k] for k in ("method", "action", "item", "error")})
            if progress:
                progress.advance(task)
    return failures


# ----------------------------------------------------------------------------------------- worker processes
def _run_parallel(cfg: RunConfig, cells: list[tuple[Cell, list[Action]]], store: RunStore, progress) -> list[dict]:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    units, tasks, failures = [], {}, []
    for cell, actions in cells:
        todo = [a for a in actions
                if any(not store.finished(cell.label, a.id, it.id) for it in _items(a, cfg))]
        total = sum(len(_items(a, cfg)) for a in actions)
        if progress:
            tasks[cell.label] = progress.add_task(cell.label, total=total)
            progress.advance(tasks[cell.label], total - sum(len(_items(a, cfg)) for a in todo))
        if not todo:
            continue
        groups = [todo] if cell.options.get("joint_actions") else [[a] for a in todo]
        units += [(cell, [a.id for a in group], sum(len(_items(a, cfg)) for a in group)) for group in groups]
    if not units:
        return failures
    threads = max(1, (os.cpu_count() or 1) // cfg.jobs)
    with ProcessPoolExecutor(max_workers=min(cfg.jobs, len(units)), mp_context=multiprocessing.get_context("spawn"),
                             initializer=_worker_init, initargs=(threads, os.getpid(), _method_entries())) as pool:
        futures = {pool.submit(_worker_unit, cfg, cell, ids, str(store.root)): (cell, ids, n)
                   for cell, ids, n in units}
        for future in as_completed(futures):
            cell, ids, n = futures[future]
            try:
                failures += future.result()
            except Exception as e:  # noqa: BLE001 — a dead worker fails its unit's items, not the run
                for a_id in ids:
                    failures.append({"method": cell.label, "action": a_id, "item": "*",
                                     "error": f"worker failed: {type(e).__name__}: {e}"})
            if progress:
                progress.advance(tasks[cell.label], n)
    return failures


_WORKER: dict = {}   # per worker process: datasets by shots, methods by cell label


def _method_entries() -> dict[str, str]:
    return {n: METHODS.target(n) for n in METHODS.names()}


def _worker_init(threads: int, parent: int | None = None, methods: dict[str, str] | None = None) -> None:
    if parent is not None:
        _die_with_parent(parent)
    for name, target in (methods or {}).items():  # plug-ins the parent registered at run time
        if name not in METHODS:
            METHODS.register(name, target)
    # the parent's progress bars count the items; no interleaved worker bars. tqdm reads TQDM_* once, when it is
    # imported — and importing torch imports it — so this must come first.
    os.environ["TQDM_DISABLE"] = "1"
    import torch

    torch.set_num_threads(threads)


def _die_with_parent(parent: int) -> None:
    """Kill this worker the moment ``parent`` (the run-dir lock holder) dies, even by SIGKILL: the kernel's
    parent-death signal on Linux, else a thread that polls the parent pid. Checked once more after arming, for
    a parent that died before."""
    import signal

    try:
        import ctypes

        pr_set_pdeathsig = 1
        if ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL) != 0:
            raise OSError(ctypes.get_errno(), "prctl")
    except (OSError, AttributeError):
        import threading

        def watch():
            while os.getppid() == parent:
                time.sleep(0.1)
            os._exit(1)

        threading.Thread(target=watch, daemon=True, name="parent-watchdog").start()
    if os.getppid() != parent:
        os._exit(1)


def _worker_unit(cfg: RunConfig, cell: Cell, action_ids: list[str], run_dir: str) -> list[dict]:
    """One unit in a worker process: the cell's ``action_ids`` (one action, or a joint cell's all)."""
    key = ("dataset", cell.shots)
    if key not in _WORKER:
        _WORKER[key] = load_dataset(cfg, cell.shots)
    actions = select_actions(_WORKER[key], tuple(action_ids))

    def method_for(c: Cell):
        if ("method", c.label) not in _WORKER:
            _WORKER[("method", c.label)] = METHODS.get(c.method)(_context(cfg, c))
        return _WORKER[("method", c.label)]

    return _run_cell(cfg, cell, actions, RunStore(run_dir), None, method_for)


def _items(action: Action, cfg: RunConfig):
    return action.test[: cfg.limit] if cfg.limit else action.test


def _fit(method, actions: list[Action], joint: bool = False) -> tuple[str | None, float]:
    start = time.perf_counter()
    try:
        if joint:
            method.fit_joint(actions)
        else:
            method.fit(actions[0], [clip.load() for clip in actions[0].train], actions[0].prompt)
    except Exception as e:  # noqa: BLE001 — one action's failure must not end the run; it is recorded
        return f"fit failed: {type(e).__name__}: {e}", time.perf_counter() - start
    return None, time.perf_counter() - start


def _animate_one(cfg, cell, method, action, item, store, fit_error, fit_seconds) -> dict:
    seed = item_seed(cfg.seed, action.id, item.id)
    record = {"method": cell.label, "action": action.id, "item": item.id, "seed": seed,
              "fit_seconds": round(fit_seconds, 3), "has_ground_truth": item.ground_truth is not None}
    if fit_error:
        return _fail(store, record, fit_error)
    try:
        start = time.perf_counter()
        video = method.animate(item.reference(), action.prompt, cfg.num_frames, seed, item=item)
        seconds = time.perf_counter() - start
        write_video(store.video_path(cell.label, action.id, item.id), video)
    except Exception as e:  # noqa: BLE001 — recorded with its traceback; the run goes on
        return _fail(store, record, f"{type(e).__name__}: {e}", traceback.format_exc(limit=3))
    record.update(status="ok", seconds=round(seconds, 4), num_frames=int(video.shape[0]),
                  height=int(video.shape[1]), width=int(video.shape[2]), metrics={})
    store.write_record(record)
    return record


def _fail(store, record, error, tb=None) -> dict:
    record.update(status="failed", error=error, metrics={})
    if tb:
        record["traceback"] = tb
    store.write_record(record)
    return record


def _score(cfg: RunConfig, store: RunStore, actions: list[Action]) -> None:
    from flash_bench.scoring import score_run

    score_run(store, actions, list(cfg.metrics) if cfg.metrics else None, cfg.profile, cfg.device,
              Path(cfg.cache_dir))


