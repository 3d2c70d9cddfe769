"""The metrics engine: score every video of a run dir with the paper's six metrics (A3.3).

Each video is decoded once; its frames go to the featurisers the requested metrics need (CLIP frames,
VideoMAE, I3D-RGB, RAFT→I3D-flow), each built lazily on its first cache miss; metrics with ``pixels`` (figure
presence) get the frames and the run dir's reference image instead. Features are cached on disk
under ``<cache_dir>/features/<featuriser>/<backbone key>/<hh>/<sha256 of the frames>.npy`` (plain ``.npy``,
``allow_pickle=False``), the key naming backbone, weights (sha256 prefix, or the tiny profile's seed) and
preprocessing version — so ground-truth features are computed once for all methods, and re-scoring or
re-reporting never recomputes a feature. Scoring reads only the run dir: its index, its videos and its requests
(prompts, references, ground truth; :mod:`flash_bench.requests`) — never a dataset — and never edits a generation
record. Per-video values go to ``scores/<metric>/<key>.json`` (``None`` = missing, e.g. no ground truth), with the
basis they were computed from; CD-FVD goes into ``sets/<method>.json``; which backbones and weights produced the
numbers goes into ``scoring.json`` at the run root (``"tiny_backbones": true`` for the tiny profile). Resume: a
per-video value whose basis still holds is not recomputed unless it failed (its error is kept in its score file);
set metrics are recomputed from cached features every time. A checkpoint that does not load stops the scoring
once, naming the file (:class:`WeightsBroken`), instead of blanking a metric on every video.
"""
from __future__ import annotations

import contextlib
import hashlib
import importlib
import inspect
import json
import threading
from collections import defaultdict
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from flash_bench.distributed import Ranks
from flash_bench.metrics import METRICS
from flash_bench.metrics.base import Sample
from flash_bench.requests import Requests, checked, frames_digest, load_requests
from flash_bench.store import RunStore, atomic_path, atomic_write_json, content_key
from flash_bench.types import InputError, Profile
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

    def __init__(self, profile: Profile | str, device: str = "cpu", weights_dir: Path | str | None = None,
                 seed: int = SEED, geometry: tuple[int, int] | None = None):
        self.profile, self.device, self.weights_dir, self.seed = Profile.parse(profile), device, weights_dir, seed
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
        elif self.profile is Profile.TINY:
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
        if self.profile is Profile.TINY:
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
            raft, raft_info = raft_flow.build(*args, geometry=self.geometry)
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
    """Decode once, featurise once (cached), hand :class:`Sample` objects to the metrics. ``requests``: the run
    dir's (ground truth, prompts, references); none for featurising alone (``validate``)."""

    def __init__(self, profile: Profile | str, device: str, cache_dir: Path | str, weights_dir=None, seed: int = SEED,
                 requests: Requests | None = None, geometry: tuple[int, int] | None = None):
        self.features = Featurisers(profile, device, weights_dir, seed, geometry)
        self.cache = FeatureCache(cache_dir)
        self.requests = requests
        self._gt: dict[tuple, dict] = {}
        self._text: dict[str, np.ndarray] = {}
        self._ref: dict[tuple, np.ndarray] = {}          # (action, item) -> the reference's CLIP embedding
        self._ref_image: dict[tuple, np.ndarray] = {}    # (action, item) -> the reference image, read once
        self._bad_gt: set[tuple] = set()
        self.errors: list[dict] = []  # unreadable ground truth / training videos: metrics that need them are None
        self.ranks: list[dict] = []   # a distributed scoring: each rank's videos and feature-cache hits and misses

    def featurise(self, frames: np.ndarray, names) -> dict[str, np.ndarray]:
        digest = frames_digest(frames)
        return {n: self.cache.get(self.features.key(n), digest, lambda n=n: self.features.compute(n, frames))
                for n in names}

    def ground_truth(self, action: str, item: str, names) -> dict[str, np.ndarray] | None:
        """Features of the item's real video; None without one, or when it cannot be read (error kept)."""
        if not self.requests.has_truth(action, item) or (action, item) in self._bad_gt:
            return None
        cached = self._gt.setdefault((action, item), {})
        missing = [n for n in names if n not in cached]
        if missing:
            try:
                frames = checked(self.requests.truth(action, item), f"{action}/{item} ground truth")
            except InputError as e:
                self._bad_gt.add((action, item))
                self.errors.append({"video": f"ground truth {action}/{item}", "error": str(e)})
                return None
            cached.update(self.featurise(frames, missing))
        return cached

    def text(self, prompt: str) -> np.ndarray:
        """The CLIP embedding of a prompt (cached by its sha256)."""
        if prompt not in self._text:
            digest = hashlib.sha256(prompt.encode()).hexdigest()
            self._text[prompt] = self.cache.get(
                self.features.key("clip") + "-text", digest,
                lambda: self.features.model("clip").encode_texts([prompt])[0])
        return self._text[prompt]

    def image(self, image: np.ndarray, what: str = "reference image") -> np.ndarray:
        """The CLIP embedding of an image."""
        return self.featurise(checked(image[None], what), ["clip"])["clip"][0]

    def reference_image(self, action: str, item: str) -> np.ndarray:
        """The run dir's reference image of a request, decoded once for every method's video of it."""
        if (action, item) not in self._ref_image:
            self._ref_image[(action, item)] = checked(self.requests.reference(action, item),
                                                      f"{action}/{item} reference image", ndim=3)
        return self._ref_image[(action, item)]

    def reference(self, action: str, item: str) -> np.ndarray:
        if (action, item) not in self._ref:
            self._ref[(action, item)] = self.image(self.reference_image(action, item),
                                                   f"{action}/{item} reference image")
        return self._ref[(action, item)]

    def sample(self, key: str, frames: np.ndarray, action: str, item: str, names: set[str],
               pixels: bool = False) -> Sample:
        """``pixels``: the sample also carries the frames and the reference image (for ``pixels`` metrics)."""
        feats = self.featurise(frames, sorted(names))
        clip_needed = "clip" in names
        gt_names = sorted(names & {"i3d_rgb", "i3d_flow"})
        prompt = self.requests.prompt(action)
        image = self.reference_image(action, item) if pixels else None
        return Sample(key, feats, self.ground_truth(action, item, gt_names) if gt_names else None,
                      self.text(prompt) if clip_needed else None,
                      self.reference(action, item) if clip_needed else None,
                      frames if pixels else None, image)

    def real_features(self, action: str, real_set: str, names) -> list[dict[str, np.ndarray]]:
        """The ``names`` features (featuriser id → feature) of each of an action's real videos: its requests'
        ground truth (+ training clips)."""
        names = sorted(names)
        items = sorted(i for a, i in self.requests.items if a == action)
        gts = [self.ground_truth(action, i, names) for i in items]
        out = [g for g in gts if g is not None]
        if real_set == "test+train":
            clips = self.requests.train(action)
            if not clips and not self.requests.train_errors(action):
                raise InputError(f"{self.requests.root}: real set test+train needs the training clips' frames, and "
                                 f"the run dir holds none of action {action!r} (`evaluate --real-set test+train` "
                                 "writes them)")
            for error in self.requests.train_errors(action):
                self.errors.append({"video": f"training video of {action}", "error": error})
            for clip_id, load in clips:
                try:
                    frames = checked(load(), f"{action} training video {clip_id}")
                except InputError as e:
                    self.errors.append({"video": f"training video {action}/{clip_id}", "error": str(e)})
                    continue
                out.append(self.featurise(frames, names))
        return out


def check_weights(metrics: list[str] | None, profile: Profile | str, weights_dir=None) -> None:
    """Raise :class:`WeightsMissing` now if any checkpoint the metrics need is absent,
    :class:`~flash_bench.weights.WeightsCorrupt` if one differs from its sha256 or does not load as tensors, and
    :class:`WeightsBroken` if it loads but does not fit its backbone (wrong keys or shapes): in the paper profile
    each backbone is built once from its checkpoint, then freed (call before long work; scoring builds them again)."""
    import gc

    from flash_bench import weights

    features = Featurisers(profile, "cpu", weights_dir)
    for name in sorted({f for m in select_metrics(metrics) for f in METRICS.get(m).features_for(features.profile)}):
        features.key(name)
        if features.profile is Profile.PAPER:
            for w in FEATURISERS[name].weights:
                weights.check_loadable(weights.resolve(w, weights_dir))
            features.model(name)                         # WeightsBroken names the checkpoint
            features._models.pop(name, None)
            gc.collect()


# --------------------------------------------------------------------------------------------------
# score_run: the entry point the runner and `flash-bench evaluate` call
# --------------------------------------------------------------------------------------------------
def score_run(store: RunStore, metrics: list[str] | None = None, profile: Profile | str = Profile.TINY,
              device: str = "cpu", cache_dir: Path | str = Path("results/cache"), *, weights_dir=None,
              real_set: str = "test", progress: bool | None = None, workers: int | None = None,
              ranks: Ranks | None = None) -> dict | None:
    """Score every ``ok`` item of ``store``'s index against the run dir's requests; returns the provenance written to
    ``scoring.json``. Reads only the run dir. Each per-video value goes to ``scores/<metric>/<key>.json`` with the
    basis it was computed from (backbone, ground truth, prompt, reference); a value whose basis still holds is not
    recomputed, a failed one is.

    ``workers``: threads that decode and featurise videos concurrently (default: the CPU count, at most 4, on
    the CPU; 1 on a GPU). With more than one, each runs torch ops single-threaded — on small CPU models two
    videos at once use two cores better than one video on two intra-op threads. Metrics are updated in index
    order in the calling thread either way, so the numbers do not depend on ``workers``.

    ``ranks`` (a run launched with torchrun or srun, :mod:`flash_bench.distributed`): each rank featurises and scores
    the videos of its share of the requests (every method's video of one test item on one rank, so its ground truth
    is featurised once); the set metrics' features — the generated videos' and the ground truth's — are gathered to
    rank 0, which computes the set metrics in index order, as one process would, and writes ``sets/`` and
    ``scoring.json`` (returned there; None on the other ranks).
    """
    ranks = ranks or Ranks()
    if real_set not in REAL_SETS:
        raise InputError(f"real_set must be one of {REAL_SETS}, got {real_set!r}")
    ids = select_metrics(metrics)
    classes = {m: METRICS.get(m) for m in ids}
    requests = load_requests(store.root)
    engine = Engine(profile, device, cache_dir, weights_dir, requests=requests,
                    geometry=_geometry(requests.dataset or {}))
    for name in sorted({f for cls in classes.values() for f in _features(engine, cls)}):
        engine.features.key(name)  # paper profile: every checkpoint resolved (or one error) before any video
    dataset = (engine.requests.dataset or {}).get("name")
    video_metrics = {m: make_metric(cls, engine, dataset) for m, cls in classes.items() if cls.level == "video"}
    set_ids = [m for m, cls in classes.items() if cls.level == "set"]
    errors: list[dict] = []
    if workers is None:
        from flash_bench.config import default_workers

        workers = ranks.share(default_workers(device))
    with _torch_threads(1 if workers > 1 else None):
        mine = _my_requests(store, engine, ranks) if ranks.size > 1 else None
        scored = _score_videos(store, engine, video_metrics, classes, set_ids, errors,
                               progress if ranks.main else False, workers, mine)
    if ranks.size > 1:
        scored = _gather(store, engine, scored, {f for m in set_ids for f in _features(engine, classes[m])}, errors, ranks,
                         mine)
        if not ranks.main:
            return None
    for method, samples in scored.items():
        store.write_set_metrics(method, _set_values(engine, samples, set_ids, classes, real_set, dataset))
    errors += engine.errors
    provenance = _provenance(store, engine, classes, real_set, errors)
    atomic_write_json(store.root / "scoring.json", provenance)
    return provenance


def _geometry(dataset: dict) -> tuple[int, int] | None:
    """(num_frames, size) of the dataset a run dir's requests name (the suite-trained tiny backbones are chosen by it)."""
    return (int(dataset["num_frames"]), int(dataset["size"])) if dataset.get("num_frames") and dataset.get("size") else None


def _basis(engine: Engine, cls, action: str, item: str) -> str:
    """What a per-video value of ``cls`` depends on besides the video: backbones, and the request parts it reads."""
    req = engine.requests.items.get((action, item)) or {}
    parts = {"metric": cls.name, "version": cls.version,
             "backbone": {f: engine.features.key(f) for f in _features(engine, cls)}}
    if cls.needs_ground_truth:
        parts["truth"] = (req.get("ground_truth") or {}).get("sha256")
    if "clip" in _features(engine, cls):
        parts.update(prompt=req.get("prompt"), reference=(req.get("reference") or {}).get("sha256"))
    if cls.pixels:
        parts["reference"] = (req.get("reference") or {}).get("sha256")
    return content_key(parts)


def _score_videos(store, engine, video_metrics, classes, set_ids, errors, progress, workers: int = 1,
                  mine: set | None = None) -> dict:
    """Per-video metrics into ``scores/``; returns method -> [(action, Sample)] for the set metrics. With ``mine``
    (a rank's (action, item) requests, :func:`_my_requests`), only their videos.

    Videos are decoded and featurised by ``workers`` threads (a bounded window ahead of the consumer); the
    metrics are updated and the scores written here, in index order.
    """
    from concurrent.futures import ThreadPoolExecutor

    from tqdm import tqdm

    scored: dict[str, list] = defaultdict(list)
    jobs = []  # (entry, {metric: basis} to compute, feature names, pixels wanted)
    for entry in (e for e in store.read_index() if (store.record(e["key"]) or {}).get("status") == "ok"):
        a_id, i_id = entry["action"], entry["item"]
        if (a_id, i_id) not in engine.requests.items:
            errors.append({"video": f"{entry['method']}/{a_id}/{i_id}", "error": "no request for this item in the run dir"})
            continue
        todo = {}
        for m in video_metrics:
            basis, old = _basis(engine, classes[m], a_id, i_id), store.score(m, entry["key"])
            if not old or old.get("error") or old.get("basis") != basis:
                todo[m] = basis
        if todo or set_ids:
            jobs.append((entry, todo, {f for m in [*todo, *set_ids] for f in _features(engine, classes[m])},
                         any(classes[m].pixels for m in todo)))
    if mine is not None:
        jobs = [job for job in jobs if (job[0]["action"], job[0]["item"]) in mine]

    def featurise(job):
        entry, _todo, names, pixels = job
        path = store.video_file(entry["key"])
        frames = checked(_read(path), str(path), min_frames=2)
        return engine.sample(f"{entry['method']}/{entry['action']}/{entry['item']}", frames, entry["action"],
                             entry["item"], names, pixels)

    bar = tqdm(total=len(jobs), desc="scoring", leave=False,
               disable=True if progress is False else (False if progress else None))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        ahead = 2 * workers
        futures = [pool.submit(featurise, job) for job in jobs[:ahead]]
        for k, (entry, todo, *_) in enumerate(jobs):
            if k + ahead < len(jobs):
                futures.append(pool.submit(featurise, jobs[k + ahead]))
            bar.update(1)
            try:
                sample = futures[k].result()
            except WeightsMissing:
                raise
            except Exception as e:  # noqa: BLE001 — this video's problem: its metrics stay missing, retried next time
                error = str(e) if isinstance(e, InputError) else f"{type(e).__name__}: {e}"
                errors.append({"video": f"{entry['method']}/{entry['action']}/{entry['item']}", "error": error})
                for m, basis in todo.items():
                    store.write_score(m, entry["key"], None, basis, error)
                continue
            finally:
                futures[k] = None  # frames and features of consumed videos are not kept
            for m, basis in todo.items():
                store.write_score(m, entry["key"], _json_number(video_metrics[m].update(sample)), basis)
            if set_ids:   # set metrics read features only: the pixels are not kept
                scored[entry["method"]].append((entry["action"], replace(sample, frames=None, reference_image=None)))
    bar.close()
    return scored


def _my_requests(store: RunStore, engine: Engine, ranks: Ranks) -> set[tuple[str, str]]:
    """This rank's share of the requests (:meth:`Ranks.mine`): those with a video first, so that the videos are dealt
    evenly, then the rest (ground truth only, for the set metrics' real set)."""
    made = {(e["action"], e["item"]) for e in store.read_index()
            if (store.record(e["key"]) or {}).get("status") == "ok"} & set(engine.requests.items)
    return set(ranks.mine(sorted(made) + sorted(set(engine.requests.items) - made)))


def _gather(store: RunStore, engine: Engine, scored: dict, names: set[str], errors: list, ranks: Ranks,
            mine: set) -> dict:
    """All ranks' set-metric inputs on rank 0: the ``names`` features of every rank's generated videos (method ->
    [(action, Sample)], back in index order) and of its requests' ground truth (adopted by rank 0's ``engine``, so
    :meth:`Engine.real_features` reads them instead of computing them again); errors, cache counts and built
    backbones merged. Each rank featurises the ground truth of its own requests of the actions scored."""
    actions = {a for share in ranks.gather(sorted({a for s in scored.values() for a, _ in s})) for a in share}
    truth = {k: {n: f[n] for n in names} for k in sorted(mine) if k[0] in actions and names
             and (f := engine.ground_truth(*k, sorted(names)))}
    local = {"fake": [(m, a, s.key, {n: s.features[n] for n in names}) for m, samples in scored.items()
                      for a, s in samples],
             "truth": truth, "bad_truth": sorted(engine._bad_gt), "errors": errors + engine.errors,
             "cache": (engine.cache.hits, engine.cache.misses), "built": engine.features.built,
             "videos": sum((e["action"], e["item"]) in mine and (store.record(e["key"]) or {}).get("status") == "ok"
                           for e in store.read_index())}
    shares = ranks.gather(local)
    if not ranks.main:
        return {}
    order = {f"{e['method']}/{e['action']}/{e['item']}": k for k, e in enumerate(store.read_index())}
    out: dict[str, list] = defaultdict(list)
    for m, a, key, feats in sorted((x for sh in shares for x in sh["fake"]), key=lambda x: order[x[2]]):
        out[m].append((a, Sample(key, feats)))
    errors[:] = [e for sh in shares for e in sh["errors"]]
    engine.errors = []
    for sh in shares:
        for k, feats in sh["truth"].items():
            engine._gt.setdefault(k, {}).update(feats)
        engine._bad_gt.update(map(tuple, sh["bad_truth"]))
        engine.features.built.update(sh["built"])
    engine.cache.hits, engine.cache.misses = (sum(sh["cache"][j] for sh in shares) for j in (0, 1))
    engine.ranks = [{"rank": r, "hits": sh["cache"][0], "misses": sh["cache"][1], "videos": sh["videos"]}
                    for r, sh in enumerate(shares)]
    return out


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


def _features(engine: Engine, cls) -> tuple[str, ...]:
    """The featurisers metric class ``cls`` reads under ``engine``'s profile."""
    return cls.features_for(engine.features.profile)


def make_metric(cls, engine: Engine, dataset: str | None):
    """A metric object told its backbones (and the dataset and profile, for metrics whose constructor asks)."""
    asks = inspect.signature(cls.__init__).parameters
    kwargs = {"dataset": dataset} if "dataset" in asks else {}
    if "profile" in asks:                    # it chooses its featurisers per profile (CD-FVD)
        kwargs["profile"] = engine.features.profile
    features = cls.features_for(kwargs.get("profile"))
    return cls(backbone={f: engine.features.key(f) for f in features}, **kwargs)


def _set_values(engine: Engine, samples: list, set_ids: list[str], classes: dict, real_set: str,
                dataset: str | None) -> dict:
    """Set-level metrics of one method: generated set = its videos; real set = the same actions' real videos."""
    out = {}
    actions = sorted({a for a, _ in samples})
    for m in set_ids:
        metric = make_metric(classes[m], engine, dataset)
        for _, sample in samples:
            metric.update(sample)
        for action in actions:
            for features in engine.real_features(action, real_set, metric.features):
                metric.update_real(features)
        out[m] = _json_number(metric.compute().value)
    return out


def _json_number(value) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


def _provenance(store: RunStore, engine: Engine, classes: dict, real_set: str, errors: list) -> dict:
    old_path = store.root / "scoring.json"
    old = json.loads(old_path.read_text()) if old_path.exists() else {}
    names = sorted({f for cls in classes.values() for f in _features(engine, cls)})
    featurisers = {**old.get("featurisers", {}), **{n: engine.features.describe(n) for n in names}}
    profile = engine.features.profile
    return {
        "profile": profile,
        "tiny_backbones": profile is Profile.TINY,
        "note": ("tiny profile: reduced-size backbones, suite-trained or with seeded random weights (see each "
                 "featuriser's weights); numbers are not comparable to the paper's") if profile is Profile.TINY
        else "paper profile: published backbones and weights",
        "metrics": {**old.get("metrics", {}), **{m: make_metric(cls, engine, None).facts() for m, cls in classes.items()}},
        "featurisers": featurisers,
        "real_set": real_set,
        "frames": "all frames count (frame 1 included) in the CLIP metrics; temporal consistency uses all T-1 pairs",
        "feature_cache": str(engine.cache.root),
        "cache": {"hits": engine.cache.hits, "misses": engine.cache.misses},
        **({"ranks": engine.ranks} if engine.ranks else {}),
        "errors": errors,
    }
