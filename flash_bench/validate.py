"""Metric validity: does each metric order known-good and known-bad videos the way it must, on this dataset?

From a dataset's own test items (reference image, prompt, ground-truth video) we build videos whose quality is
known without any model: the ground truth; the reference repeated (``static``); the ground truth time-reversed,
frame-shuffled and blurred; uniform noise; and other items' ground truths (same action, other action). Each metric
is then asked a question its definition answers (``CHECKS``), scored through the same featurisers and metric
classes as a run (:class:`flash_bench.scoring.Engine`, the registry's metric classes), with a statistic
(retrieval accuracy, rank share, AUC, ratio of Fréchet distances, ordering of means) and a PASS/FAIL threshold.

It runs in any profile on any dataset with ground truth, so a user can check their weights and data before trusting
a table; on ``synthetic`` with the tiny profile's random backbones many lines FAIL, and they should. The checks use
the dataset's geometry (frames, size): the tiny profile's featurisers load the suite-trained backbones shipped for
it (:mod:`flash_bench.features.trained`; docs/tiny_backbones.md).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Callable

import numpy as np

from flash_bench.metrics.base import Sample, cosine
from flash_bench.types import Action, InputError, Profile, TestItem

SEED = 0


@dataclass(frozen=True)
class Check:
    metric: str
    question: str
    statistic: float | None
    threshold: str
    passed: bool
    detail: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def auc(positives, negatives) -> float:
    """P(positive > negative) + ½ P(tie): the Mann–Whitney AUC of two score lists."""
    p, n = np.asarray(positives, np.float64)[:, None], np.asarray(negatives, np.float64)[None, :]
    if p.size == 0 or n.size == 0:
        return float("nan")
    return float((p > n).mean() + 0.5 * (p == n).mean())


def _blur(frames: np.ndarray) -> np.ndarray:
    from PIL import Image, ImageFilter

    radius = max(1.0, frames.shape[1] / 16)
    return np.stack([np.asarray(Image.fromarray(f).filter(ImageFilter.GaussianBlur(radius))) for f in frames])


def variants(gt: np.ndarray, reference: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Known-good and known-bad videos of one item (uint8 (T, H, W, 3) each, the ground truth's shape)."""
    t = len(gt)
    perm = rng.permutation(t)
    while t > 1 and (perm == np.arange(t)).all():
        perm = rng.permutation(t)
    ref = reference if reference.shape == gt.shape[1:] else gt[0]
    return {"gt": gt, "static": np.repeat(ref[None], t, axis=0), "reversed": np.ascontiguousarray(gt[::-1]),
            "shuffled": np.ascontiguousarray(gt[perm]), "blurred": _blur(gt),
            "noise": rng.integers(0, 256, gt.shape, dtype=np.uint8)}


def figureless(reference: np.ndarray, frames: int, rng: np.random.Generator) -> np.ndarray:
    """A video of the reference's scene with no figure: each row's colour (the mean of its two end pixels)
    under a drifting sinusoidal grating of 15-40 levels per channel, uint8 (T, H, W, 3)."""
    h, w = reference.shape[:2]
    scene = reference[:, [0, -1]].astype(np.float64).mean(1)[None, :, None]            # (1, H, 1, 3)
    yy, xx = np.mgrid[:h, :w] / max(h, w)
    phase = rng.uniform(1, 5) * (xx[None] + 0.05 * np.arange(frames)[:, None, None]) + rng.uniform(1, 5) * yy[None]
    wave = np.sin(2 * np.pi * phase)[..., None] * rng.uniform(15, 40, 3)               # (T, H, W, 3)
    return np.clip(scene + wave, 0, 255).round().astype(np.uint8)


def _metric(name: str, engine, dataset: str):
    """A fresh metric object, told its backbones as a run's are (:func:`flash_bench.scoring.make_metric`)."""
    from flash_bench.metrics import METRICS
    from flash_bench.scoring import make_metric

    return make_metric(METRICS.get(name), engine, dataset)


class Validation:
    """Features of every item's variants (computed once, cached like a run's), then the checks."""

    def __init__(self, dataset, engine, metrics: list[str], progress: Callable[[str], None] = lambda s: None):
        self.dataset, self.engine, self.metrics = dataset, engine, metrics
        self.names = sorted({f for m in metrics for f in _metric(m, engine, dataset.name).features})
        self.items: list[tuple[Action, TestItem]] = [(a, it) for a in dataset.actions() for it in a.test
                                                     if it.ground_truth is not None]
        if len({a.id for a, _ in self.items}) < 2 or len(self.items) < 4:
            raise InputError(f"validate-metrics needs ground-truth test videos of ≥ 2 actions (≥ 4 items); dataset "
                             f"{dataset.name!r} has {len(self.items)}")
        rng = np.random.default_rng(SEED)
        self.feats: list[dict[str, dict[str, np.ndarray]]] = []
        for i, (action, item) in enumerate(self.items):
            progress(f"featurising {action.id}/{item.id} ({i + 1}/{len(self.items)})")
            gt = item.ground_truth.load()
            self.feats.append({k: engine.featurise(v, self.names)
                               for k, v in variants(gt, item.reference(), rng).items()})

    # -- helpers ---------------------------------------------------------------------------------
    def sample(self, i: int, variant: str, *, prompt_of: int | None = None, reference_of: int | None = None) -> Sample:
        """Item ``i``'s ``variant`` as a generated video, judged against its ground truth and item ``*_of``'s
        prompt / reference (default: its own)."""
        action, _ = self.items[i]
        pa, pi = self.items[i if prompt_of is None else prompt_of]
        ra, ri = self.items[i if reference_of is None else reference_of]
        truth = self.feats[i]["gt"]
        clip = "clip" in self.names
        return Sample(f"{variant}/{action.id}/{self.items[i][1].id}", self.feats[i][variant], truth,
                      self.engine.text(pa.prompt) if clip else None, self.engine.image(ri.reference()) if clip else None)

    def values(self, metric: str, variant: str, **of) -> list[float]:
        m = _metric(metric, self.engine, self.dataset.name)
        return [m.update(self.sample(i, variant, **of)) for i in range(len(self.items))]

    def _score(self, metric: str, sample: Sample) -> float | None:
        return _metric(metric, self.engine, self.dataset.name).update(sample)

    # -- the checks ------------------------------------------------------------------------------
    def text_alignment(self) -> list[Check]:
        prompts = {a.id: j for j, (a, _) in enumerate(self.items)}          # one item index per action's prompt
        hits = []
        for i, (action, _) in enumerate(self.items):
            scores = {a: self._score("text_alignment", self.sample(i, "gt", prompt_of=j)) for a, j in prompts.items()}
            hits.append(max(scores, key=scores.get) == action.id)
        top1, chance = float(np.mean(hits)), 1 / len(prompts)
        return [Check("text_alignment", f"{len(prompts)}-way prompt retrieval, ground truth (top-1)", 100 * top1,
                      "≥ 50%", top1 >= 0.5, f"chance {100 * chance:.1f}%")]

    def image_alignment(self) -> list[Check]:
        firsts = []
        for i in range(len(self.items)):
            own = self._score("image_alignment", self.sample(i, "gt"))
            others = [self._score("image_alignment", self.sample(i, "gt", reference_of=j))
                      for j in range(len(self.items)) if j != i]
            firsts.append(all(own > o for o in others))
        share = float(np.mean(firsts))
        return [Check("image_alignment", "ground truth closest to its own reference among all items' references",
                      100 * share, "≥ 90% of items", share >= 0.9, f"chance {100 / len(self.items):.1f}%")]

    def temporal_consistency(self) -> list[Check]:
        gt, shuffled, noise = (float(np.mean(self.values("temporal_consistency", v)))
                               for v in ("gt", "shuffled", "noise"))
        return [Check("temporal_consistency", "ground truth > frame-shuffled > noise (means)", gt - shuffled,
                      "gt > shuffled > noise", gt > shuffled > noise,
                      f"gt {gt:.2f}, shuffled {shuffled:.2f}, noise {noise:.2f}")]

    def cd_fvd(self) -> list[Check]:
        half_a, half_b = list(range(0, len(self.items), 2)), list(range(1, len(self.items), 2))

        def fd(variant: str) -> float | None:
            m = _metric("cd_fvd", self.engine, self.dataset.name)
            for i in half_b:
                m.update(self.sample(i, variant))
            for i in half_a:
                m.update_real(self.feats[i]["gt"])
            return m.compute().value

        real = fd("gt")
        bad = {v: fd(v) for v in ("static", "shuffled", "noise")}
        feature = _metric("cd_fvd", self.engine, self.dataset.name).feature   # the profile's (metrics.cd_fvd)
        if real is None or any(b is None for b in bad.values()):
            return [Check("cd_fvd", "Fréchet distances computable", None, "≥ 2 videos per half", False,
                          "too few items")]
        # FD(gt) = 0 (identical halves): passes only if every bad set is at a positive distance
        ratio = min(b / real if real > 0 else float("inf") if b > 0 else 0.0 for b in bad.values())
        return [Check("cd_fvd", "FD(ground-truth half B, half A) ≤ ½ FD(static | shuffled | noise half B, half A)",
                      ratio, "min ratio ≥ 2", ratio >= 2,
                      f"gt {real:.4g}; " + ", ".join(f"{k} {v:.4g}" for k, v in bad.items())
                      + f" ({feature} features)")]

    def _cosine_checks(self, metric: str, feature: str) -> list[Check]:
        same, other = [], []
        for i, (a, _) in enumerate(self.items):
            for j, (b, _) in enumerate(self.items):
                if j > i:
                    value = cosine(self.feats[i]["gt"][feature], self.feats[j]["gt"][feature])
                    (same if a.id == b.id else other).append(value)
        separation = auc(same, other)
        checks = [Check(metric, "same-action ground-truth pairs above different-action pairs (AUC)", separation,
                        "AUC ≥ 0.8", separation >= 0.8, f"{len(same)} same, {len(other)} different pairs")]
        gt = float(np.mean(self.values(metric, "gt")))
        for variant in ("reversed", "shuffled"):
            value = float(np.mean(self.values(metric, variant)))
            checks.append(Check(metric, f"{variant} ground truth below the ground truth (means)", gt - value,
                                "gt − variant > 1e-6", gt - value > 1e-6, f"gt {gt:.6f}, {variant} {value:.6f}"))
        return checks

    def cosine_rgb(self) -> list[Check]:
        return self._cosine_checks("cosine_rgb", "i3d_rgb")

    def cosine_flow(self) -> list[Check]:
        return self._cosine_checks("cosine_flow", "i3d_flow")

    def action_accuracy(self) -> list[Check]:
        values = self.values("action_accuracy", "gt")
        if all(v is None for v in values):
            return [Check("action_accuracy", "defined on this dataset", None, "-", True, "not defined here (skipped)")]
        acc = float(np.mean(values))
        return [Check("action_accuracy", "ground truth recognised", acc, "≥ 90%", acc >= 90)]

    def action_confidence(self) -> list[Check]:
        gt = self.values("action_confidence", "gt")
        if all(v is None for v in gt):
            return [Check("action_confidence", "defined on this dataset", None, "-", True, "not defined here")]
        bad = [v for variant in ("static", "shuffled", "noise") for v in self.values("action_confidence", variant)]
        value = auc(gt, bad)
        return [Check("action_confidence", "ground truth above static, shuffled and noise (AUC)", value,
                      "AUC ≥ 0.9", value >= 0.9)]

    def action_refusal(self) -> list[Check]:
        gt = [v for v in self.values("action_refusal", "gt") if v is not None]
        if not gt:
            return [Check("action_refusal", "defined on this dataset", None, "-", True, "not defined here (skipped)")]
        out = [Check("action_refusal", "ground truth answered 'no action'", float(np.mean(gt)), "≤ 10%",
                     float(np.mean(gt)) <= 10)]
        for variant in ("static", "noise"):                  # issue 17's gate G3: what is not an action is refused
            value = float(np.mean([v for v in self.values("action_refusal", variant) if v is not None]))
            out.append(Check("action_refusal", f"{variant} answered 'no action'", value, "≥ 90%", value >= 90))
        return out

    def figure_presence(self) -> list[Check]:
        """Ground truth and the still reference show the figure in (nearly) every frame; noise and the scene's
        texture without the figure in (nearly) none."""
        rng = np.random.default_rng(SEED)
        kinds: dict[str, list] = {"gt": [], "static": [], "noise": [], "figureless": []}
        for action, item in self.items:
            reference = item.reference()
            videos = variants(item.ground_truth.load(), reference, rng)
            videos["figureless"] = figureless(reference, len(videos["gt"]), rng)
            for kind, values in kinds.items():
                values.append(self._score("figure_presence", Sample(f"{kind}/{action.id}/{item.id}", {},
                                                                    frames=videos[kind], reference_image=reference)))
        shown = {k: [v for v in values if v is not None] for k, values in kinds.items()}
        if not shown["gt"]:
            return [Check("figure_presence", "defined on this dataset", None, "-", True, "not defined here (skipped)")]
        out = []
        for kind, high in (("gt", True), ("static", True), ("noise", False), ("figureless", False)):
            value = float(np.mean(shown[kind]))
            out.append(Check("figure_presence", f"{kind} frames showing the reference's figure", value,
                             "≥ 90%" if high else "≤ 10%", value >= 90 if high else value <= 10,
                             f"{len(shown[kind])} videos"))
        return out

    def run(self) -> list[Check]:
        out = []
        for m in self.metrics:
            out += getattr(self, m)()
        return out


def validate_metrics(dataset, metrics: list[str] | None = None, *, profile: Profile | str = Profile.TINY,
                     device: str = "cpu", cache_dir="results/cache", weights_dir=None,
                     progress=lambda s: None) -> list[Check]:
    """Every check of every chosen metric (default: all registered) on ``dataset``'s test items."""
    from flash_bench.metrics import METRICS
    from flash_bench.scoring import Engine

    chosen = list(metrics or METRICS.names())
    unknown = [m for m in chosen if not hasattr(Validation, m)]
    if unknown:
        raise InputError(f"no validity check for metric(s) {unknown}; known: {sorted(METRICS.names())}")
    engine = Engine(profile, device, cache_dir, weights_dir, geometry=(dataset.num_frames, dataset.size))
    return Validation(dataset, engine, chosen, progress).run()


def format_checks(checks: list[Check]) -> str:
    rows = [("metric", "check", "value", "needs", "result", "detail")]
    for c in checks:
        value = "-" if c.statistic is None else f"{c.statistic:.4g}"
        rows.append((c.metric, c.question, value, c.threshold, "PASS" if c.passed else "FAIL", c.detail))
    widths = [max(len(r[k]) for r in rows) for k in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in rows)
