"""CD-FVD (A3.3): Fréchet distance between VideoMAE-v2 features of the generated set and the real set.

Its featuriser is chosen per profile in one place, :data:`FEATURISER`: the paper profile uses cd-fvd's VideoMAE-v2
ViT-g (the paper's); the tiny profile, as a stated deviation, the suite-trained I3D-flow stream's pooled feature —
no tiny VideoMAE learned to see motion, and the tiny I3D-RGB feature is blind to frame order, the content bias
CD-FVD exists to remove (docs/tiny_backbones.md, "CD-FVD in the tiny profile"). The metric's record
(``scoring.json``: its ``features``, ``scale`` and ``note``) names the featuriser that made the number.

Per method, the generated set is all its scored videos; the real set is the ground-truth test videos of the
same actions (optionally with their training videos, see :func:`flash_bench.scoring.score_run`).
Statistics follow cd-fvd exactly — float64 running sums, mean and covariance divided by N (not N−1) — but
the distance is computed here, in float64, without ``scipy.linalg.sqrtm``:

    FD = ‖μ_r − μ_g‖² + tr(Σ_r + Σ_g − 2 (Σ_r Σ_g)^{1/2})

with tr (Σ_r Σ_g)^{1/2} = Σ_i √λ_i, λ the eigenvalues of the symmetric PSD matrix Σ_r^{1/2} Σ_g Σ_r^{1/2}
(same spectrum as Σ_r Σ_g); this stays stable when N < D makes the covariances singular.
"""
from __future__ import annotations

import numpy as np

from flash_bench.metrics.base import Metric, MetricResult, Sample
from flash_bench.types import Profile

FEATURISER = {Profile.PAPER: "videomae", Profile.TINY: "i3d_flow"}   # CD-FVD's featuriser per profile
SCALES = {"videomae": "Frechet distance of VideoMAE-v2 features", "i3d_flow": "Frechet distance of I3D-flow features"}
TINY_NOTE = ("CD-FVD in the tiny profile is the Fréchet distance of the suite-trained I3D-flow features, not of "
             "VideoMAE-v2 features as in the paper (no tiny VideoMAE sees motion; docs/tiny_backbones.md).")


class GaussianStats:
    """Streaming float64 mean/covariance of feature rows (k ``add`` calls == one with all rows)."""

    def __init__(self):
        self.n, self.sum, self.outer = 0, None, None

    def add(self, x: np.ndarray) -> None:
        x = np.atleast_2d(np.asarray(x, np.float64))  # (N, D)
        if self.sum is None:
            self.sum, self.outer = np.zeros(x.shape[1]), np.zeros((x.shape[1], x.shape[1]))
        self.n += len(x)
        self.sum += x.sum(axis=0)
        self.outer += x.T @ x

    def mean_cov(self) -> tuple[np.ndarray, np.ndarray]:
        mean = self.sum / self.n
        return mean, self.outer / self.n - np.outer(mean, mean)


def _psd_sqrt(a: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh((a + a.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def trace_sqrt_product(s1: np.ndarray, s2: np.ndarray) -> float:
    """tr (s1 s2)^{1/2} for symmetric PSD s1, s2."""
    r = _psd_sqrt(s1)
    lam = np.linalg.eigvalsh((r @ s2 @ r + (r @ s2 @ r).T) / 2)
    return float(np.sqrt(np.clip(lam, 0, None)).sum())


def frechet_distance(mu1: np.ndarray, s1: np.ndarray, mu2: np.ndarray, s2: np.ndarray) -> float:
    """Fréchet distance between N(mu1, s1) and N(mu2, s2), float64."""
    mu1, mu2, s1, s2 = (np.asarray(a, np.float64) for a in (mu1, mu2, s1, s2))
    d = float(np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2.0 * trace_sqrt_product(s1, s2))
    return max(d, 0.0)  # rounding can leave -1e-12 for identical sets


def fvd_from_features(real: np.ndarray, fake: np.ndarray) -> float:
    """Fréchet distance between two feature sets (N, D), with cd-fvd's statistics."""
    a, b = GaussianStats(), GaussianStats()
    a.add(real)
    b.add(fake)
    return frechet_distance(*a.mean_cov(), *b.mean_cov())


class CDFVD(Metric):
    name = "cd_fvd"
    label = "CD-FVD"
    higher_is_better = False
    scale = SCALES[FEATURISER[Profile.PAPER]]
    level = "set"
    features = (FEATURISER[Profile.PAPER],)

    def __init__(self, backbone: dict | None = None, profile: Profile | str = Profile.PAPER):
        super().__init__(backbone)
        self.features = self.features_for(profile)
        self.feature = self.features[0]
        self.scale = SCALES[self.feature]
        if self.feature != FEATURISER[Profile.PAPER]:
            self.note = TINY_NOTE
        self.add_state("real", [])
        self.add_state("fake", [])

    @classmethod
    def features_for(cls, profile: Profile | str) -> tuple[str, ...]:
        return (FEATURISER[Profile.parse(profile)],)

    def update(self, sample: Sample) -> None:
        """Add one generated video to the fake set."""
        self.fake.append(np.asarray(sample.features[self.feature], np.float64).ravel())
        self.keys.append(sample.key)

    def update_real(self, features: dict[str, np.ndarray]) -> None:
        """Add one real video (its features: featuriser id → feature) to the reference set."""
        self.real.append(np.asarray(features[self.feature], np.float64).ravel())

    def compute(self) -> MetricResult:
        value = fvd_from_features(np.stack(self.real), np.stack(self.fake)) \
            if len(self.real) >= 2 and len(self.fake) >= 2 else None
        return MetricResult(self.name, value, {}, len(self.fake), self.backbone)
