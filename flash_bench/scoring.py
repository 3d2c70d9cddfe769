"""The metrics engine: score every video of a run dir with the paper's six metrics (A3.3).

Each video is decoded once; its frames go to the featurisers the requested metrics need (CLIP frames,
VideoMAE, I3D-RGB, RAFT→I3D-flow), each built lazily on its first cache miss. Features are cached on disk
under ``<cache_dir>/features/<featuriser>/<backbone key>/<hh>/<sha256 of the frames>.npy`` (plain ``.npy``,
``allow_pickle=False``), the key naming backbone, weights (sha256 prefix, or the tiny profile's seed) and
preprocessing version — so ground-truth features are computed once for all methods, and re-scoring or
re-reporting never recomputes a feature. Per-video values go into each record (``None`` = missing, e.g. no
ground truth); CD-FVD goes into ``sets/<method>.json``; which backbones and weights produced the numbers goes
into ``scoring.json`` at the run root (``"tiny_backbones": true`` for the tiny profile). Resume: a per-video
metric already in a record is not recomputed unless it failed there (its error is kept in the record's
``metric_errors``); set metrics are recomputed from cached features every time. A checkpoint that does
not load stops the scoring once, naming the file (:class:`WeightsBroken`), instead of blanking a metric
on every video.
"""
from __future__ import annotations

import contextlib
import hashlib
import importlib
import inspect
import json
import threading
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from flash_bench.metrics import METRICS
from flash_bench.metrics.base import Sample
from flash_bench.store import RunStore, atomic_path, atomic_write_json
from flash_bench.types import Action, InputError, TestItem
from flash_bench.weights import WeightsMissing


class WeightsBroken(WeightsMissing):
    """A checkpoint is present but a featuriser cannot be built from it (wrong keys, not loadable)."""

SEED = 0  # seed of the tiny profile's random backbones
REAL_SETS = ("test", "test+train")


@dataclass(frozen=True)
class FeaturiserSpec:
    modules: tuple[str, ...]      # modules (in flash_bench.features, or dotted paths) whose VERSION keys the cache
    weights: tuple[str, ...]      # rows of flash_bench.weights (paper profile)
    paper: str
    tiny: str
    plugin: bool = False          # modules[0] offers build(profile, weights_dir, seed) -> (model, info),
    #                               video_features(model, frames) -> array, and optionally weights_sha256(weights_dir)
    trained: tuple[str, ...] = ()  # tiny profile: its suite-trained backbones (flash_bench.features.trained)


FEATURISERS: dict[str, FeaturiserSpec] = {
    "clip": FeaturiserSpec(("clip",), ("clip-vit-l-14-openai",), "clip-ViT-L-14-openai", "clip-tiny-vit",
                           trained=("clip",)),
    "videomae": FeaturiserSpec(("videomae",), ("videomae-v2-g-ssv2",), "videomae-v2-g14-ssv2", "videomae-v2-tiny",
                               trained=("videomae",)),
    "i3d_rgb": FeaturiserSpec(("i3d",), ("i3d-rgb-imagenet",), "i3d-rgb-imagenet", "i3d-rgb-tiny",
                              trained=("i3d_rgb",)),
    "i3d_flow": FeaturiserSpec(("raft_flow", "i3d"), ("raft-large", "i3d-flow-imagenet"),
                               "raft-large+i3d-flow-imagenet", "raft-small+i3d-flow-tiny",
                               trained=("raft", "i3d_flow")),
    # suite-trained action classifier (not a paper backbone): same weights in both profiles
    "yardstick": FeaturiserSpec(("flash_bench.yardstick",), (), "yardstick-3dcnn", "yardstick-3dcnn", plugin=True),
}


def frames_digest(frames: np.ndarray) -> str:
    """Content hash of decoded frames (shape and dtype included)."""
    h = hashlib.sha256(f"{frames.dtype}{frames.shape}".encode())
    h.update(np.ascontiguousarray(frames).tobytes())
    return h.hexdigest()


def select_metrics(metrics: list[str] | tuple[str, ...] | None) -> list[str]:
    """None → every registered metric; otherwise validated names (did-you-mean error for unknown ones)."""
    if metrics is None:
        return METRICS.names()
    for m in metrics:
        METRICS.target(m)
    return list(dict.fromkeys(metrics))


class FeatureCache:
    def __init__(self, cache_dir: Path | str):
        self.root = Path(cache_dir) / "features"
        self.hits = self.misses = 0

    def path(self, key: str, digest: str) -> Path:
        return self.root / key / digest[:2] / f"{digest}.npy"

    def get(self, key: str, digest: str, compute) -> np.ndarray:
        p = self.path(key, digest)
        if p.exists():
            self.hits += 1
            return np.load(p, allow_pickle=False)
        self.misses += 1
        value = np.asarray(compute(), dtype=np.float32)
        with atomic_path(p) as tmp:
            np.save(tmp, value, allow_pickle=False)
        return value


class Featurisers:
    """The backbones of one profile, built on first use; ``key(name)`` needs no model, only weight hashes.

    ``geometry``: (num_frames, size) of the dataset scored; the tiny profile uses the suite-trained backbones
    shipped for it (:mod:`flash_bench.features.trained`), seeded random ones where there are none."""

    def __init__(self, profile: str, device: str = "cpu", weights_dir: Path | str | None = None, seed: int = SEED,
                 geometry: tuple[int, int] | None = None):
        if profile not in ("tiny", "paper"):
            raise InputError(f"profile must be 'tiny' or 'paper', got {profile!r}")
        self.profile, self.device, self.weights_dir, self.seed = profile, device, weights_dir, seed
        self.geometry = tuple(geometry) if geometry is not None else None
        self._models: dict[str, object] = {}
        self._keys: dict[str, str] = {}
        self.built: dict[str, dict] = {}
        self._lock = threading.Lock()  # featurising threads build each model once
        self._local = threading.local()

    def describe(self, name: str) -> dict:
        spec = FEATURISERS[name]
        out = {"backbone": getattr(spec, self.profile), "key": self.key(name),
               "versions": {m: _feature_module(m).VERSION for m in spec.modules}}
        if spec.plugin:
            out["weights"] = self._weights_tag(spec)
        elif self.profile == "tiny":
            from flash_bench.features import trained

            parts = [trained.provenance(t, self.geometry, self.seed) for t in spec.trained]
            out["weights"] = "; ".join(dict.fromkeys(parts))
        else:
            from flash_bench import weights

            out["weights"] = [weights.provenance(w, weights.resolve(w, self.weights_dir)) for w in spec.weights]
        return {**out, **self.built.get(name, {})}

    def key(self, name: str) -> str:
        if name not in self._keys:
            spec = FEATURISERS[name]
            versions = "-".join(f"v{_feature_module(m).VERSION}" for m in spec.modules)
            self._keys[name] = f"{name}/{getattr(spec, self.profile)}-{self._weights_tag(spec)}-{versions}"
        return self._keys[name]

    def _weights_tag(self, spec: FeaturiserSpec) -> str:
        if spec.plugin:
            sha = getattr(_feature_module(spec.modules[0]), "weights_sha256", None)
            return f"sha{sha(self.weights_dir)[:12]}" if sha else f"seed{self.seed}"
        if self.profile == "tiny":
            from flash_bench.features import trained

            return trained.tag(spec.trained, self.geometry, self.seed)
        from flash_bench import weights

        return "+".join(weights.sha256_of(weights.resolve(w, self.weights_dir))[:12] for w in spec.weights)

    def model(self, name: str):
        """The featuriser, built on first use; one that cannot be built from its weights raises
        :class:`WeightsBroken` naming them (the caller stops scoring: no video is to blame)."""
        with self._lock:
            if name not in self._models:
                try:
                    self._models[name] = self._build(name)
                except InputError:
                    raise
                except Exception as e:  # noqa: BLE001 — wrong keys, not loadable: the checkpoint's problem
                    files = self.describe(name)["weights"]
                    shown = ", ".join(w["path"] for w in files) if isinstance(files, list) else files
                    raise WeightsBroken(f"featuriser {name!r} ({getattr(FEATURISERS[name], self.profile)}) could "
                                        f"not be built from its weights {shown}: {type(e).__name__}: {e}") from None
        return self._models[name]

    def _build(self, name: str):
        from flash_bench.features import clip, i3d, raft_flow, videomae

        args = (self.profile, self.weights_dir, self.seed)
        if FEATURISERS[name].plugin:
            model, info = _feature_module(FEATURISERS[name].modules[0]).build(*args)
            self.built[name] = _strip_weights(info)
            return model.to(self.device)
        if name == "clip":
            backbone = clip.build(*args, geometry=self.geometry)
            backbone.model.to(self.device)
            self.built[name] = {k: v for k, v in backbone.info.items() if k != "weights"}
            return backbone
        if name == "videomae":
            model, info = videomae.build(*args, geometry=self.geometry)
        elif name == "i3d_rgb":
            model, info = i3d.build("rgb", *args, geometry=self.geometry)
        else:
            raft, raft_info = raft_flow.build(*args)
            flow, info = i3d.build("flow", *args, geometry=self.geometry)
            model, info = (raft.to(self.device), flow.to(self.device)), {**info, "raft": _strip_weights(raft_info)}
        self.built[name] = _strip_weights(info)
        return model if isinstance(model, tuple) else model.to(self.device)

    def compute(self, name: str, frames: np.ndarray) -> np.ndarray:
        """One video's feature: clip (T, D) frame embeddings; the others a pooled (D,) vector."""
        import torch

        from flash_bench.features import i3d, raft_flow, videomae

        model = self.model(name)
        with torch.inference_mode():
            if FEATURISERS[name].plugin:
                return _feature_module(FEATURISERS[name].modules[0]).video_features(model, frames)
            if name == "clip":
                return model.encode_frames(frames)
            if name == "videomae":
                return videomae.video_features(model, frames[None])[0]
            if name == "i3d_rgb":
                size = self.built[name]["input_size"]
                return model.features(i3d.rgb_input(frames, size).to(self.device))[0].cpu().numpy()
            raft, flow_i3d = model
            raft = self._thread_own(raft)
            r = self.built[name]["raft"]
            x = raft_flow.i3d_flow_input(raft, frames, r["size"], r["updates"])  # (1, 2, T-1, s, s)
            return flow_i3d.features(x.to(self.device))[0].cpu().numpy()


    def _thread_own(self, module):
        """This thread's copy of ``module`` — for RAFT, whose ``CorrBlock`` keeps each call's correlation
        pyramid on itself (``self.corr_pyramid``), so two threads must not share one instance."""
        import copy

        if threading.current_thread() is threading.main_thread():
            return module
        copies = self._local.__dict__.setdefault("copies", {})
        if id(module) not in copies:
            copies[id(module)] = copy.deepcopy(module)
        return copies[id(module)]


def _feature_module(name: str):
    return importlib.import_module(name if "." in name else f"flash_bench.features.{name}")


def _strip_weights(info: dict) -> dict:
    return {k: v for k, v in info.items() if k != "weights"}


class Engine:
    """Decode once, featurise once (cached), hand :class:`Sample` objects to the metrics."""

    def __init__(self, profile: str, device: str, cache_dir: Path | str, weights_dir=None, seed: int = SEED,
                 geometry: tuple[int, int] | None = None):
        self.features = Featurisers(profile, device, weights_dir, seed, geometry)
        self.cache = FeatureCache(cache_dir)
        self._gt: dict[tuple, dict] = {}
        self._text: dict[str, np.ndarray] = {}
        self._ref: dict[tuple, np.ndarray] = {}
        self._bad_gt: set[tuple] = set()
        self.errors: list[dict] = []  # unreadable ground truth / training videos: metrics that need them are None

    def featurise(self, frames: np.ndarray, names) -> dict[str, np.ndarray]:
        digest = frames_digest(frames)
        return {n: self.cache.get(self.features.key(n), digest, lambda n=n: self.features.compute(n, frames))
                for n in names}

    def ground_truth(self, action: Action, item: TestItem, names) -> dict[str, np.ndarray] | None:
        """Features of the item's real video; None without one, or when it cannot be read (error kept)."""
        if item.ground_truth is None or (action.id, item.id) in self._bad_gt:
            return None
        cached = self._gt.setdefault((action.id, item.id), {})
        missing = [n for n in names if n not in cached]
        if missing:
            try:
                frames = _check(item.ground_truth.load(), f"{action.id}/{item.id} ground truth")
            except InputError as e:
                self._bad_gt.add((action.id, item.id))
                self.errors.append({"video": f"ground truth {action.id}/{item.id}", "error": str(e)})
                return None
            cached.update(self.featurise(frames, missing))
        return cached

    def prompt(self, action: Action) -> np.ndarray:
        if action.prompt not in self._text:
            digest = hashlib.sha256(action.prompt.encode()).hexdigest()
            self._text[action.prompt] = self.cache.get(
                self.features.key("clip") + "-text", digest,
                lambda: self.features.model("clip").encode_texts([action.prompt])[0])
        return self._text[action.prompt]

    def reference(self, action: Action, item: TestItem) -> np.ndarray:
        key = (action.id, item.id)
        if key not in self._ref:
            image = _check(item.reference()[None], f"{action.id}/{item.id} reference image")
            self._ref[key] = self.featurise(image, ["clip"])["clip"][0]
        return self._ref[key]

    def sample(self, key: str, frames: np.ndarray, action: Action, item: TestItem, names: set[str]) -> Sample:
        feats = self.featurise(frames, sorted(names))
        clip_needed = "clip" in names
        gt_names = sorted(names & {"i3d_rgb", "i3d_flow"})
        return Sample(key, feats, self.ground_truth(action, item, gt_names) if gt_names else None,
                      self.prompt(action) if clip_needed else None,
                      self.reference(action, item) if clip_needed else None)

    def real_features(self, action: Action, real_set: str) -> list[np.ndarray]:
        """VideoMAE features of an action's real videos: ground-truth test videos (+ training videos)."""
        gts = [self.ground_truth(action, it, ["videomae"]) for it in action.test]
        out = [g["videomae"] for g in gts if g is not None]
        if real_set == "test+train":
            for clip in action.train:
                try:
                    frames = _check(clip.load(), f"{action.id} training video {clip.id}")
                except InputError as e:
                    self.errors.append({"video": f"training video {action.id}/{clip.id}", "error": str(e)})
                    continue
                out.append(self.featurise(frames, ["videomae"])["videomae"])
        return out


def _check(frames, what: str, min_frames: int = 1) -> np.ndarray:
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or len(frames) == 0:
        raise InputError(f"{what}: expected uint8 (T, H, W, 3) frames, got {frames.dtype} {frames.shape}")
    if len(frames) < min_frames:
        raise InputError(f"{what}: has {len(frames)} frame(s); a scored video needs at least {min_frames}")
    return frames


def check_weights(metrics: list[str] | None, profile: str, weights_dir=None) -> None:
    """Raise :class:`WeightsMissing` now if any checkpoint the metrics need is absent,
    :class:`~flash_bench.weights.WeightsCorrupt` if one differs from its sha256 or does not load as tensors, and
    :class:`WeightsBroken` if it loads but does not fit its backbone (wrong keys or shapes): in the paper profile
    each backbone is built once from its checkpoint, then freed (call before long work; scoring builds them again)."""
    import gc

    from flash_bench import weights

    features = Featurisers(profile, "cpu", weights_dir)
    for name in sorted({f for m in select_metrics(metrics) for f in METRICS.get(m).features}):
        features.key(name)
        if profile == "paper":
            for w in FEATURISERS[name].weights:
                weights.check_loadable(weights.resolve(w, weights_dir))
            features.model(name)                         # WeightsBroken names the checkpoint
            features._models.pop(name, None)
            gc.collect()


# --------------------------------------------------------------------------------------------------
# score_run: the entry point the runner and `flash-bench evaluate` call
# --------------------------------------------------------------------------------------------------
def score_run(store: RunStore, actions: list[Action], metrics: list[str] | None = None, profile: str = "tiny",
              device: str = "cpu", cache_dir: Path | str = Path("results/cache"), *, weights_dir=None,
              real_set: str = "test", progress: bool | None = None, workers: int | None = None) -> dict:
    """Score every ``ok`` video of ``store``; returns the provenance written to ``scoring.json``.

    ``workers``: threads that decode and featurise videos concurrently (default: the CPU count, at most 4, on
    the CPU; 1 on a GPU). With more than one, each runs torch ops single-threaded — on small CPU models two
    videos at once use two cores better than one video on two intra-op threads. Metrics are updated in record
    order in the calling thread either way, so the numbers do not depend on ``workers``.
    """
    if real_set not in REAL_SETS:
        raise InputError(f"real_set must be one of {REAL_SETS}, got {real_set!r}")
    ids = select_metrics(metrics)
    classes = {m: METRICS.get(m) for m in ids}
    manifest = store.read_manifest()
    engine = Engine(profile, device, cache_dir, weights_dir, geometry=_geometry(manifest.get("config", {})))
    for name in sorted({f for cls in classes.values() for f in cls.features}):
        engine.features.key(name)  # paper profile: every checkpoint resolved (or one error) before any video
    dataset = manifest.get("dataset")
    video_metrics = {m: make_metric(cls, engine, dataset) for m, cls in classes.items() if cls.level == "video"}
    set_ids = [m for m, cls in classes.items() if cls.level == "set"]
    items = {(a.id, it.id): (a, it) for a in actions for it in a.test}
    errors: list[dict] = []
    if workers is None:
        from flash_bench.config import default_workers

        workers = default_workers(device)
    with _torch_threads(1 if workers > 1 else None):
        scored = _score_videos(store, engine, items, video_metrics, classes, set_ids, errors, progress, workers)
    for method, samples in scored.items():
        store.write_set_metrics(method, _set_values(engine, samples, set_ids, classes, real_set, dataset))
    errors += engine.errors
    provenance = _provenance(store, engine, classes, real_set, errors)
    atomic_write_json(store.root / "scoring.json", provenance)
    return provenance


def _geometry(config: dict) -> tuple[int, int] | None:
    """(num_frames, size) of the dataset a run dir's config names (a run's own fields, or evaluate's dataset_config)."""
    d = config.get("dataset_config") or config
    return (int(d["num_frames"]), int(d["size"])) if d.get("num_frames") and d.get("size") else None


def _score_videos(store, engine, items, video_metrics, classes, set_ids, errors, progress, workers: int = 1) -> dict:
    """Per-video metrics into the records; returns method → [(action, Sample)] for the set metrics.

    Videos are decoded and featurised by ``workers`` threads (a bounded window ahead of the consumer); the
    metrics are updated and the records written here, in record order.
    """
    from concurrent.futures import ThreadPoolExecutor

    from tqdm import tqdm

    scored: dict[str, list] = defaultdict(list)
    jobs = []  # (record, todo metrics, action, feature names)
    for rec in (r for r in store.records() if r.get("status") == "ok"):
        method, a_id, i_id = rec["method"], rec["action"], rec["item"]
        failed = rec.get("metric_errors") or {}
        todo = [m for m in video_metrics if m not in (rec.get("metrics") or {}) or m in failed]
        if not todo and not set_ids:
            continue
        if (a_id, i_id) not in items:
            errors.append({"video": f"{method}/{a_id}/{i_id}", "error": "not among the scored dataset's test items"})
            continue
        jobs.append((rec, todo, *items[(a_id, i_id)], {f for m in todo + set_ids for f in classes[m].features}))

    def featurise(job):
        rec, _todo, action, item, names = job
        path = store.video_path(rec["method"], rec["action"], rec["item"])
        frames = _check(_read(path), str(path), min_frames=2)
        return engine.sample(f"{rec['method']}/{rec['action']}/{rec['item']}", frames, action, item, names)

    bar = tqdm(total=len(jobs), desc="scoring", leave=False,
               disable=True if progress is False else (False if progress else None))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        ahead = 2 * workers
        futures = [pool.submit(featurise, job) for job in jobs[:ahead]]
        for k, (rec, todo, action, _item, _names) in enumerate(jobs):
            if k + ahead < len(jobs):
                futures.append(pool.submit(featurise, jobs[k + ahead]))
            method, a_id, i_id = rec["method"], rec["action"], rec["item"]
            bar.update(1)
            try:
                sample = futures[k].result()
            except WeightsMissing:
                raise
            except Exception as e:  # noqa: BLE001 — this video's problem: its metrics stay missing, retried next time
                error = str(e) if isinstance(e, InputError) else f"{type(e).__name__}: {e}"
                errors.append({"video": f"{method}/{a_id}/{i_id}", "error": error})
                if todo:
                    store.update_metrics(method, a_id, i_id, {m: None for m in todo}, {m: error for m in todo})
                continue
            finally:
                futures[k] = None  # frames and features of consumed videos are not kept
            if todo:
                store.update_metrics(method, a_id, i_id,
                                     {m: _json_number(video_metrics[m].update(sample)) for m in todo})
            if set_ids:
                scored[method].append((action, sample))
    bar.close()
    return scored


@contextlib.contextmanager
def _torch_threads(n: int | None):
    """Run a block with ``n`` torch intra-op threads (unchanged when None)."""
    import torch

    before = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _read(path: Path) -> np.ndarray:
    from flash_bench.video_io import read_video

    return read_video(path)


def make_metric(cls, engine: Engine, dataset: str | None):
    """A metric object told its backbones (and the dataset, for metrics whose constructor asks for it)."""
    kwargs = {"backbone": {f: engine.features.key(f) for f in cls.features}}
    if "dataset" in inspect.signature(cls.__init__).parameters:
        kwargs["dataset"] = dataset
    return cls(**kwargs)


def _set_values(engine: Engine, samples: list, set_ids: list[str], classes: dict, real_set: str,
                dataset: str | None) -> dict:
    """Set-level metrics of one method: generated set = its videos; real set = the same actions' real videos."""
    out = {}
    actions = {a.id: a for a, _ in samples}
    for m in set_ids:
        metric = make_metric(classes[m], engine, dataset)
        for _, sample in samples:
            metric.update(sample)
        for action in actions.values():
            for feature in engine.real_features(action, real_set):
                metric.update_real(feature)
        out[m] = _json_number(metric.compute().value)
    return out


def _json_number(value) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


def _provenance(store: RunStore, engine: Engine, classes: dict, real_set: str, errors: list) -> dict:
    old_path = store.root / "scoring.json"
    old = json.loads(old_path.read_text()) if old_path.exists() else {}
    names = sorted({f for cls in classes.values() for f in cls.features})
    featurisers = {**old.get("featurisers", {}), **{n: engine.features.describe(n) for n in names}}
    profile = engine.features.profile
    return {
        "profile": profile,
        "tiny_backbones": profile == "tiny",
        "note": ("tiny profile: reduced-size backbones, suite-trained or with seeded random weights (see each "
                 "featuriser's weights); numbers are not comparable to the paper's") if profile == "tiny"
        else "paper profile: published backbones and weights",
        "metrics": {**old.get("metrics", {}), **{m: make_metric(cls, engine, None).facts() for m, cls in classes.items()}},
        "featurisers": featurisers,
        "real_set": real_set,
        "frames": "all frames count (frame 1 included) in the CLIP metrics; temporal consistency uses all T-1 pairs",
        "feature_cache": str(engine.cache.root),
        "cache": {"hits": engine.cache.hits, "misses": engine.cache.misses},
        "errors": errors,
    }


# --------------------------------------------------------------------------------------------------
# evaluate_videos: score videos made elsewhere (`flash-bench evaluate`)
# --------------------------------------------------------------------------------------------------
EVALUATE_INPUTS = ("dataset", "root", "profile", "cells", "real_set", "dataset_config")  # what a run dir is of


def evaluate_videos(videos: Path | str, dataset, run_dir: Path | str, *, method: str | None = None,
                    metrics: list[str] | None = None, profile: str = "paper", device: str = "cpu",
                    cache_dir: Path | str = Path("results/cache"), weights_dir=None, real_set: str = "test",
                    command: list[str] | None = None) -> RunStore:
    """Score ``videos/<action>/<item>.<ext>`` against ``dataset``'s test items into a run dir ``report`` reads.

    Each video is copied into ``videos/<method>/<action>/<item>.mp4`` (mp4 byte for byte, other formats
    re-encoded near-losslessly). A test item without a video is recorded as failed ("no video"), a video
    that matches no test item is listed in the manifest's failures; neither stops the others. An existing
    run dir is reused only when an ``evaluate`` of the same inputs made it (:meth:`RunStore.claim`); its
    finished items are kept, its failed ones retried.
    """
    import sys

    from flash_bench.manifest import new_manifest
    from flash_bench.results import export_tables

    videos = Path(videos)
    if not videos.is_dir():
        raise InputError(f"{videos}: --videos must be a folder laid out as <action>/<item>.mp4")
    method = method or videos.name
    check_weights(metrics, profile, weights_dir)
    actions = dataset.actions()
    store = RunStore(run_dir)
    with store.lock():
        config = {"dataset": dataset.name, "root": str(dataset.root) if dataset.root else None, "profile": profile,
                  "cells": [{"label": method, "method": "precomputed", "options": {"videos": str(videos)}}],
                  "seed": None, "experiment": None, "metrics": metrics, "real_set": real_set,
                  "cache_dir": str(cache_dir), "dataset_config": dataset.describe()}
        store.claim("evaluate", {k: config[k] for k in EVALUATE_INPUTS})
        manifest = new_manifest(config, command or sys.argv, made_by="evaluate")
        with store.closed_manifest(manifest) as failures:
            failures += list(dataset.failures) + _import_videos(videos, actions, store, method)
            score_run(store, actions, metrics, profile, device, cache_dir, weights_dir=weights_dir,
                      real_set=real_set)
            export_tables(store)
    return store


def _import_videos(videos: Path, actions: list[Action], store: RunStore, method: str) -> list[dict]:
    import shutil

    from flash_bench.video_io import VIDEO_SUFFIXES, read_video, write_video

    failures, known = [], set()
    for action in actions:
        for item in action.test:
            known.add((action.id, item.id))
            if store.finished(method, action.id, item.id):
                continue
            found = sorted(p for p in (videos / action.id).glob(f"{item.id}.*") if p.suffix.lower() in VIDEO_SUFFIXES)
            record = {"method": method, "action": action.id, "item": item.id, "metrics": {},
                      "has_ground_truth": item.ground_truth is not None}
            try:
                if not found:
                    raise InputError(f"no video {videos / action.id / item.id}.mp4")
                frames = _check(read_video(found[0]), str(found[0]), min_frames=2)
                target = store.video_path(method, action.id, item.id)
                if found[0].suffix.lower() == ".mp4" and found[0].is_file():
                    with atomic_path(target) as tmp:
                        shutil.copyfile(found[0], tmp)
                else:  # other containers, and a folder of frames named like a video
                    write_video(target, frames)
                record.update(status="ok", source=str(found[0]), num_frames=int(frames.shape[0]),
                              height=int(frames.shape[1]), width=int(frames.shape[2]))
            except InputError as e:
                record.update(status="failed", error=str(e))
                failures.append({k: record[k] for k in ("method", "action", "item", "error")})
            store.write_record(record)
    for path in sorted(videos.glob("*/*")):
        if path.suffix.lower() in VIDEO_SUFFIXES and (path.parent.name, path.stem) not in known:
            failures.append({"method": method, "action": path.parent.name, "item": path.stem,
                             "error": f"{path}: matches no test item of the dataset"})
    return failures

