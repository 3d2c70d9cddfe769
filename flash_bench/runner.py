"""run(cfg): dataset → requests → fit → animate → store → metrics, resumable, content-keyed and fault-tolerant.

Before generation the runner writes every test item's request into the run dir (:mod:`flash_bench.requests`) and
gives each (cell, action, item) its key (:func:`item_inputs`: a hash of everything that determines the video). An
item whose key already has a finished record and video is reused, whatever invocation made it; any change makes a
new key and so a new item, and the old stays addressable. A failed item is retried on the next run. One bad input
fails its own item (recorded in the manifest), never the run. Methods are reached only through the registry.

``cfg.jobs`` > 1 runs the work units — one per (cell, action), or one per joint-training cell — in that
many worker processes (spawned, ``cpu_count // jobs`` torch threads each), since small CPU models use two
cores better as two processes than as two intra-op threads. Workers write their own records and videos
(atomic, one file per item); the parent holds the run-dir lock, plans the keys, counts progress and scores at the
end. A worker dies with its parent (:func:`_die_with_parent`), so no write reaches the run dir once the lock holder
is gone. Every item is seeded from (seed, action, item) alone, so which worker makes it does not matter.
Launched as several ranks (torchrun, srun: :mod:`flash_bench.distributed`), the same units are dealt to the ranks
instead, each running its share in its own process (docs/scale_out.md).
"""
from __future__ import annotations

import hashlib
import os
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from flash_bench.config import Cell, RunConfig
from flash_bench.datasets.base import FewShotDataset
from flash_bench.distributed import Ranks
from flash_bench.manifest import new_manifest
from flash_bench.registry import DATASETS, METHODS
from flash_bench.requests import checked, train_identity, write_requests
from flash_bench.results import export_tables
from flash_bench.store import RunStore, content_key
from flash_bench.types import Action, InputError, MethodContext, Profile
from flash_bench.video_io import write_video


def item_seed(seed: int, action: str, item: str) -> int:
    """The same seed for every method on one test item (the paper's protocol), different across items."""
    return int.from_bytes(hashlib.sha256(f"{seed}/{action}/{item}".encode()).digest()[:4], "little") % 2**31


def load_dataset(cfg: RunConfig, shots: int | None = None) -> FewShotDataset:
    cls = DATASETS.get(cfg.dataset)
    return cls(cfg.root, num_frames=cfg.num_frames, size=cfg.size, shots=shots if shots is not None else cfg.shots,
               seed=cfg.seed, test_items=cfg.test_items)


def select_actions(dataset: FewShotDataset, wanted: tuple[str, ...] | None) -> list[Action]:
    actions = dataset.actions()
    if wanted:
        known = {a.id for a in actions}
        missing = [a for a in wanted if a not in known]
        if missing:
            raise InputError(f"unknown action(s) {missing} in dataset {dataset.name!r}; known: {sorted(known)}")
        actions = [a for a in actions if a.id in wanted]
    return actions


RUN_INPUTS = ("dataset", "root", "profile", "seed", "num_frames", "size")  # what a `run` dir is of (RunStore.claim)


def dataset_identity(dataset: FewShotDataset) -> dict:
    """What of a dataset determines its clips: its settings and ``version`` (the files are hashed per item)."""
    return {**{k: v for k, v in dataset.describe().items() if k != "root"},
            "version": getattr(dataset, "version", None)}


def method_identity(method, cfg: RunConfig, cell: Cell, dataset: FewShotDataset) -> dict:
    """The part of an item's inputs that a cell shares: the method's resolved settings, the sha256 of every weight
    file it loads, the dataset, frames, size and device. A method that cannot say (a missing checkpoint) gets its
    error here, and its items fail with it."""
    from flash_bench.weights import digest_of

    shared = {"registry": cell.method, "dataset": dataset_identity(dataset), "num_frames": cfg.num_frames,
              "size": cfg.size, "device": cfg.device}
    try:
        return {**shared, "method": method.describe(),
                "weights": {n: digest_of(Path(p)) for n, p in sorted(method.weight_files().items())}}
    except InputError as e:
        return {**shared, "error": f"{type(e).__name__}: {e}"}


def item_inputs(shared: dict, request: dict, train: dict[str, list], needs_ground_truth: bool) -> dict:
    """Everything that determines one item's video; its :func:`~flash_bench.store.content_key` is the item's key.
    ``train``: the training clips the fit sees, per action (one action, or a joint cell's all)."""
    gt = request.get("ground_truth") or {}
    return {**shared, "action": request["action"], "item": request["item"], "prompt": request["prompt"],
            "seed": request["seed"], "reference": (request.get("reference") or {}).get("sha256"), "train": train,
            "ground_truth": gt.get("sha256") if needs_ground_truth else None}


def run(cfg: RunConfig, run_dir: Path, command: list[str] | None = None, progress=None) -> RunStore:
    """Run every cell on every selected action; returns the store. ``progress`` is a rich Progress or None.
    The manifest's latest invocation counts the items ``reused``, ``new`` and ``failed``.

    Launched as several ranks (``torchrun``, ``srun``: :mod:`flash_bench.distributed`), every rank runs this on the
    shared run dir: rank 0 holds the lock, writes the history, requests and index and plans which units are left;
    each rank fits and animates its share of them (:meth:`~flash_bench.distributed.Ranks.mine`), then scores its
    share of the videos; rank 0 writes the set metrics and tables."""
    ranks = Ranks.from_env(cfg.device)
    progress = progress if ranks.main else None
    store = RunStore(run_dir)
    with ranks.on_main(store.lock):
        if ranks.main:
            store.claim("run", {k: v for k, v in cfg.to_dict().items() if k in RUN_INPUTS})
        with ranks.on_main(lambda: store.invocation(new_manifest(cfg.to_dict(), command or sys.argv)),
                           {"failures": []}) as outcome:
            failures = outcome["failures"]
            if cfg.metrics != () and ranks.main:
                from flash_bench.scoring import check_weights

                check_weights(list(cfg.metrics) if cfg.metrics else None, cfg.profile)  # fail before generating
            cells, actions_by_id = [], {}
            for cell in cfg.cells:
                dataset = load_dataset(cfg, cell.shots)
                actions = select_actions(dataset, cell.actions or cfg.actions)
                failures += [{"method": cell.label, **f} for f in dataset.failures] if ranks.main else []
                actions_by_id.update({a.id: a for a in actions if a.id not in actions_by_id})
                cells.append((cell, dataset, actions))
            requests = ranks.broadcast(write_requests(
                store, list(actions_by_id.values()), lambda a, i: item_seed(cfg.seed, a, i),
                dataset_identity(cells[0][1]) if cells else {}) if ranks.main else None)
            plans = [_plan(cfg, cell, dataset, actions, requests) for cell, dataset, actions in cells]
            entries = [{"method": p.cell.label, "action": a, "item": i, "key": k}
                       for p in plans for (a, i), (k, _) in p.items.items()]
            if ranks.main:
                store.update_index(entries)
                reused = {(e["method"], e["action"], e["item"]) for e in entries if store.finished(e["key"])}
            if ranks.size > 1:
                failures += _run_ranks(cfg, plans, store, ranks)
            elif cfg.jobs > 1:
                failures += _run_parallel(cfg, plans, store, progress)
            else:
                for p in plans:
                    failures += _run_cell(cfg, p, store, progress)
            if ranks.main:
                done = sum(store.finished(e["key"]) for e in entries)
                outcome["items"] = {"reused": len(reused), "new": done - len(reused), "failed": len(entries) - done}
                outcome["index"] = entries
                described = ("method", "weights", "error")
                outcome["methods_described"] = {p.cell.label: {k: p.shared[k] for k in described if k in p.shared}
                                                 for p in plans}
                outcome["ranks"] = ranks.size
            if cfg.metrics != ():
                _score(cfg, store, ranks)
            if ranks.main:
                export_tables(store)
    return store


@dataclass
class _Plan:
    """One cell's work: its actions, a method instance (made in the parent, for its description), per item its key
    and inputs, and the inputs every item of the cell shares (:func:`method_identity`)."""

    cell: Cell
    actions: list[Action]
    method: object
    items: dict[tuple[str, str], tuple[str, dict]]
    shared: dict

    @property
    def error(self) -> str | None:
        """Why the method cannot make any item (a missing checkpoint): its items fail with it."""
        return self.shared.get("error")


def _plan(cfg: RunConfig, cell: Cell, dataset: FewShotDataset, actions: list[Action], requests: dict) -> _Plan:
    method = METHODS.get(cell.method)(_context(cfg, cell))
    shared = method_identity(method, cfg, cell, dataset)
    joint = cell.options.get("joint_actions")
    by_id = {a.id: a for a in actions}
    items = {}
    for action in actions:
        fit_on = [by_id[a] for a in joint if a in by_id] if joint else [action]
        train = {a.id: train_identity(a) for a in fit_on}
        for item in _items(action, cfg):
            inputs = item_inputs(shared, requests[(action.id, item.id)], train, method.needs_ground_truth)
            items[(action.id, item.id)] = (content_key(inputs), inputs)
    return _Plan(cell, actions, method, items, shared)


def _context(cfg: RunConfig, cell: Cell) -> MethodContext:
    return MethodContext(profile=cfg.profile, device=cfg.device, size=cfg.size, num_frames=cfg.num_frames,
                         cache_dir=Path(cfg.cache_dir),
                         options={k: v for k, v in cell.options.items() if k != "joint_actions"})


def _run_cell(cfg: RunConfig, plan: _Plan, store: RunStore, progress) -> list[dict]:
    """Fit and animate the plan's unfinished items with the plan's method."""
    cell, method = plan.cell, plan.method
    joint = cell.options.get("joint_actions")
    failures, joint_fit = [], None
    task = progress.add_task(cell.label, total=sum(len(_items(a, cfg)) for a in plan.actions)) if progress else None
    for action in plan.actions:
        todo = [it for it in _items(action, cfg) if not store.finished(plan.items[(action.id, it.id)][0])]
        if progress:
            progress.advance(task, len(_items(action, cfg)) - len(todo))
        if not todo:
            continue
        if joint and joint_fit is None and not plan.error:
            joint_fit = _fit(method, [a for a in plan.actions if a.id in joint], joint=True)
        if plan.error:
            fit_error, fit_seconds = plan.error, 0.0
        else:
            fit_error, fit_seconds = joint_fit if joint else _fit(method, [action])
        for item in todo:
            key, inputs = plan.items[(action.id, item.id)]
            record = _animate_one(cfg, method, action, item, store, key, inputs, fit_error, fit_seconds)
            if record["status"] == "failed":
                failures.append({"method": cell.label, "action": action.id, "item": item.id,
                                 "error": record["error"]})
            if progress:
                progress.advance(task)
    return failures


# ----------------------------------------------------------------------------------------- worker processes
def _units(cfg: RunConfig, plans: list[_Plan], store: RunStore) -> list[tuple[int, list[str]]]:
    """The work left, in plan order: (plan index, action ids) per unit — one per (cell, action) with an unfinished
    item, or one per joint-training cell."""
    units = []
    for n, p in enumerate(plans):
        todo = [a.id for a in p.actions
                if any(not store.finished(p.items[(a.id, it.id)][0]) for it in _items(a, cfg))]
        if todo:
            units += [(n, todo)] if p.cell.options.get("joint_actions") else [(n, [a]) for a in todo]
    return units


def _run_ranks(cfg: RunConfig, plans: list[_Plan], store: RunStore, ranks: Ranks) -> list[dict]:
    """This rank's share of the units rank 0 found left (one list for all, whatever each rank's view of a shared
    filesystem), run in this process; returns every rank's failures on rank 0 (after all ranks are done)."""
    units = ranks.broadcast(_units(cfg, plans, store) if ranks.main else None)
    failures = []
    for n, ids in ranks.mine(units):
        p = plans[n]
        actions = p.actions if p.cell.options.get("joint_actions") else [a for a in p.actions if a.id in ids]
        failures += _run_cell(cfg, _Plan(p.cell, actions, p.method, p.items, p.shared), store, None)
    return [f for rank_failures in ranks.gather(failures) for f in rank_failures]


def _run_parallel(cfg: RunConfig, plans: list[_Plan], store: RunStore, progress) -> list[dict]:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    units, tasks, failures = [], {}, []
    left = _units(cfg, plans, store)
    count = lambda p, ids=None: sum(len(_items(a, cfg)) for a in p.actions if ids is None or a.id in ids)  # noqa: E731
    for n, p in enumerate(plans):
        if progress:
            tasks[p.cell.label] = progress.add_task(p.cell.label, total=count(p))
            progress.advance(tasks[p.cell.label], count(p) - count(p, {a for m, ids in left if m == n for a in ids}))
    for n, ids in left:
        p = plans[n]
        units.append((p.cell, ids, {k: v for k, v in p.items.items() if k[0] in ids}, p.error, count(p, ids)))
    if not units:
        return failures
    threads = max(1, (os.cpu_count() or 1) // cfg.jobs)
    with ProcessPoolExecutor(max_workers=min(cfg.jobs, len(units)), mp_context=multiprocessing.get_context("spawn"),
                             initializer=_worker_init, initargs=(threads, os.getpid(), _method_entries())) as pool:
        futures = {pool.submit(_worker_unit, cfg, cell, ids, keys, error, str(store.root)): (cell, ids, n)
                   for cell, ids, keys, error, n in units}
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


def _worker_unit(cfg: RunConfig, cell: Cell, action_ids: list[str], items: dict, error: str | None,
                 run_dir: str) -> list[dict]:
    """One unit in a worker process: the cell's ``action_ids`` (one action, or a joint cell's all), with the keys
    and inputs the parent planned for their items."""
    key = ("dataset", cell.shots)
    if key not in _WORKER:
        _WORKER[key] = load_dataset(cfg, cell.shots)
    if ("method", cell.label) not in _WORKER:
        _WORKER[("method", cell.label)] = METHODS.get(cell.method)(_context(cfg, cell))
    plan = _Plan(cell, select_actions(_WORKER[key], tuple(action_ids)), _WORKER[("method", cell.label)], items,
                 {"error": error} if error else {})
    return _run_cell(cfg, plan, RunStore(run_dir), None)


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


def _animate_one(cfg, method, action, item, store, key, inputs, fit_error, fit_seconds) -> dict:
    """Make one item's video and its record under ``key``; a failure is recorded (and retried next run)."""
    record = {"key": key, "inputs": inputs, "action": action.id, "item": item.id, "seed": inputs["seed"],
              "fit_seconds": round(fit_seconds, 3), "has_ground_truth": item.ground_truth is not None}
    if fit_error:
        return _fail(store, record, fit_error)
    try:
        start = time.perf_counter()
        video = method.animate(item.reference(), action.prompt, cfg.num_frames, inputs["seed"], item=item)
        seconds = time.perf_counter() - start
        write_video(store.video_file(key), video)
    except Exception as e:  # noqa: BLE001 — recorded with its traceback; the run goes on
        return _fail(store, record, f"{type(e).__name__}: {e}", traceback.format_exc(limit=3))
    record.update(status="ok", seconds=round(seconds, 4), num_frames=int(video.shape[0]),
                  height=int(video.shape[1]), width=int(video.shape[2]))
    store.write_record(record)
    return record


def _fail(store, record, error, tb=None) -> dict:
    record.update(status="failed", error=error)
    if tb:
        record["traceback"] = tb
    store.write_record(record)
    return record


def _score(cfg: RunConfig, store: RunStore, ranks: Ranks) -> None:
    from flash_bench.scoring import score_run

    score_run(store, list(cfg.metrics) if cfg.metrics else None, cfg.profile, cfg.device, Path(cfg.cache_dir),
              ranks=ranks)


# --------------------------------------------------------------------------------------------------
# evaluate_videos: videos made elsewhere (`flash-bench evaluate`) into a run dir, then scored
# --------------------------------------------------------------------------------------------------
EVALUATE_INPUTS = ("dataset", "root", "profile", "cells", "real_set", "dataset_config")  # what a run dir is of


def evaluate_videos(videos: Path | str, dataset: FewShotDataset, run_dir: Path | str, *, method: str | None = None,
                    metrics: list[str] | None = None, profile: Profile | str | None = None, device: str = "cpu",
                    cache_dir: Path | str = Path("results/cache"), weights_dir=None, real_set: str = "test",
                    command: list[str] | None = None) -> RunStore:
    """Score ``videos/<action>/<item>.<ext>`` against ``dataset``'s test items into a run dir ``report`` reads.

    The requests are written as a run writes them (with the training clips' frames for ``real_set="test+train"``);
    each video becomes an item keyed by its file's sha256 and copied into ``items/<key>/video.mp4`` (mp4 byte for
    byte, other formats re-encoded near-losslessly). A test item without a video is recorded as failed ("no
    video"), a video that matches no test item is listed in the manifest's failures; neither stops the others. An
    existing run dir is reused only when an ``evaluate`` of the same inputs made it (:meth:`RunStore.claim`): a
    video seen before is reused, a changed one is a new item, a failed one is retried. ``profile``: default
    :meth:`Profile.default_for` the dataset (tiny on ``synthetic``, paper elsewhere), as ``run`` does.
    """
    from flash_bench.scoring import REAL_SETS, check_weights, score_run

    videos = Path(videos)
    if not videos.is_dir():
        raise InputError(f"{videos}: --videos must be a folder laid out as <action>/<item>.mp4")
    if real_set not in REAL_SETS:
        raise InputError(f"real_set must be one of {REAL_SETS}, got {real_set!r}")
    method = method or videos.name
    profile = Profile.parse(profile) if profile is not None else Profile.default_for(dataset.name)
    check_weights(metrics, profile, weights_dir)
    actions = dataset.actions()
    store = RunStore(run_dir)
    with store.lock():
        config = {"dataset": dataset.name, "root": str(dataset.root) if dataset.root else None, "profile": profile,
                  "cells": [{"label": method, "method": "precomputed", "options": {"videos": str(videos)}}],
                  "seed": None, "experiment": None, "metrics": metrics, "real_set": real_set,
                  "cache_dir": str(cache_dir), "dataset_config": dataset.describe()}
        store.claim("evaluate", {k: config[k] for k in EVALUATE_INPUTS})
        with store.invocation(new_manifest(config, command or sys.argv, made_by="evaluate")) as outcome:
            outcome["failures"] += list(dataset.failures)
            write_requests(store, actions, lambda a, i: None, dataset_identity(dataset),
                           train_frames=real_set == "test+train")
            entries, counts, failures = _import_videos(videos, actions, store, method)
            outcome["failures"] += failures
            store.update_index(entries)
            outcome["items"], outcome["index"] = counts, entries
            score_run(store, metrics, profile, device, cache_dir, weights_dir=weights_dir, real_set=real_set)
            export_tables(store)
    return store


def _import_videos(videos: Path, actions: list[Action], store: RunStore, label: str):
    """(index entries, reused/new/failed counts, failures) of copying every test item's video into the store."""
    import shutil

    from flash_bench.store import atomic_path
    from flash_bench.video_io import VIDEO_SUFFIXES, read_video
    from flash_bench.weights import digest_of

    entries, failures, known = [], [], set()
    counts = {"reused": 0, "new": 0, "failed": 0}
    for action in actions:
        for item in action.test:
            known.add((action.id, item.id))
            found = sorted(p for p in (videos / action.id).glob(f"{item.id}.*") if p.suffix.lower() in VIDEO_SUFFIXES)
            inputs = {"method": "precomputed", "action": action.id, "item": item.id,
                      "video": str(found[0]) if found else None,
                      "video_sha256": digest_of(found[0]) if found else None}
            key = content_key(inputs)
            entries.append({"method": label, "action": action.id, "item": item.id, "key": key})
            if store.finished(key):
                counts["reused"] += 1
                continue
            record = {"key": key, "inputs": inputs, "action": action.id, "item": item.id,
                      "has_ground_truth": item.ground_truth is not None}
            try:
                if not found:
                    raise InputError(f"no video {videos / action.id / item.id}.mp4")
                frames = checked(read_video(found[0]), str(found[0]), min_frames=2)
                if found[0].suffix.lower() == ".mp4" and found[0].is_file():
                    with atomic_path(store.video_file(key)) as tmp:
                        shutil.copyfile(found[0], tmp)
                else:  # other containers, and a folder of frames named like a video
                    write_video(store.video_file(key), frames)
                record.update(status="ok", source=str(found[0]), num_frames=int(frames.shape[0]),
                              height=int(frames.shape[1]), width=int(frames.shape[2]))
                counts["new"] += 1
            except InputError as e:
                record.update(status="failed", error=str(e))
                failures.append({"method": label, "action": action.id, "item": item.id, "error": str(e)})
                counts["failed"] += 1
            store.write_record(record)
    for path in sorted(videos.glob("*/*")):
        if path.suffix.lower() in VIDEO_SUFFIXES and (path.parent.name, path.stem) not in known:
            failures.append({"method": label, "action": path.parent.name, "item": path.stem,
                             "error": f"{path}: matches no test item of the dataset"})
    return entries, counts, failures
