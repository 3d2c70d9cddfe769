"""The metric base: explicit state, ``update`` per video, ``compute`` per set. Scores only — no model code.

Metrics work on features that :mod:`flash_bench.scoring` computed once per video with the backbones in
:mod:`flash_bench.features` (rule 4: featurisers are separate from scores). A :class:`Sample` carries one
generated video's features, its ground truth's (or None) and the CLIP embeddings of its prompt and
reference image. A video-level metric turns one sample into one number (kept in ``values``); a set-level
metric (CD-FVD) accumulates and computes once. ``backbone`` says which featurisers and weights produced it.
A metric with ``pixels = True`` reads no feature but the video's frames and the reference image themselves
(cheap numpy diagnostics: figure presence); scoring hands them over only to such metrics.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Sample:
    key: str                                      # "method/action/item"
    features: dict[str, np.ndarray]               # featuriser id → feature of the generated video
    ground_truth: dict[str, np.ndarray] | None = None   # same featurisers on the ground-truth video
    prompt: np.ndarray | None = None              # (D,) CLIP text embedding of the action's prompt
    reference: np.ndarray | None = None           # (D,) CLIP image embedding of the reference image
    frames: np.ndarray | None = None              # uint8 (T, H, W, 3) generated video: for ``pixels`` metrics only
    reference_image: np.ndarray | None = None     # uint8 (H, W, 3) the request's reference: for ``pixels`` metrics only


@dataclass
class MetricResult:
    name: str
    value: float | None                  # set-level value, or the mean of the per-video values present
    per_video: dict[str, float | None]   # key → value (None: missing, e.g. no ground truth)
    n: int                               # videos that contributed
    backbone: dict = field(default_factory=dict)


class Metric:
    name: str = ""
    label: str = ""
    higher_is_better: bool = True
    scale: str = ""
    decimals: int = 2
    version: str = "1"
    level: str = "video"                 # "video" | "set"
    needs_ground_truth: bool = False
    features: tuple[str, ...] = ()       # featurisers this metric reads: clip, videomae, i3d_rgb, i3d_flow
    pixels: bool = False                 # reads Sample.frames and Sample.reference_image instead of features
    note: str = ""                       # what a report table showing this metric must say about it
    datasets: tuple[str, ...] | None = None   # the datasets it is defined on (None: every one)
    unavailable: str | None = None       # why every value is missing here (set by metrics with ``datasets``)

    def __init__(self, backbone: dict | None = None):
        self.backbone = backbone or {}
        self._defaults: dict[str, list] = {}
        self.add_state("keys", [])
        self.add_state("values", [])

    @classmethod
    def features_for(cls, profile) -> tuple[str, ...]:
        """The featurisers it reads under ``profile`` (``features`` in every profile, unless a metric chooses
        per profile: then its constructor takes ``profile`` too, as CD-FVD's)."""
        return cls.features

    def add_state(self, name: str, default: list) -> None:
        self._defaults[name] = list(default)
        setattr(self, name, list(default))

    def reset(self) -> None:
        for name, default in self._defaults.items():
            setattr(self, name, list(default))

    def update(self, sample: Sample) -> float | None:
        """Score one video (None when it lacks what the metric needs) and keep the value."""
        if self.needs_ground_truth and sample.ground_truth is None:
            value = None
        else:
            value = self._value(sample)
        self.keys.append(sample.key)
        self.values.append(value)
        return value

    def _value(self, sample: Sample) -> float | None:
        raise NotImplementedError

    def compute(self) -> MetricResult:
        present = [v for v in self.values if v is not None]
        mean = float(np.mean(present)) if present else None
        backbone = {**self.backbone, "unavailable": self.unavailable} if self.unavailable else self.backbone
        return MetricResult(self.name, mean, dict(zip(self.keys, self.values)), len(present), backbone)

    def facts(self) -> dict:
        return {"name": self.name, "label": self.label, "higher_is_better": self.higher_is_better, "scale": self.scale,
                "decimals": self.decimals, "version": self.version, "level": self.level,
                "needs_ground_truth": self.needs_ground_truth, "features": list(self.features),
                **({"pixels": True} if self.pixels else {}), **({"note": self.note} if self.note else {}),
                **({"datasets": list(self.datasets)} if self.datasets is not None else {})}


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two vectors, in float64."""
    a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    denom = np.linalg.norm(a) * np.linalg.norm(b)
    if denom == 0 or not math.isfinite(denom):
        return float("nan")
    return float(a @ b / denom)


def unit_rows(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm, float64 (embeddings are re-normalised before every cosine)."""
    x = np.asarray(x, np.float64)
    return x / np.linalg.norm(x, axis=-1, keepdims=True)
