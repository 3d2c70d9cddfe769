"""Statistics on per-video tables: bootstrap confidence intervals and paired tests (pure functions).

Per-video scores are primary; every interval and test here is derived from them in the report.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


def bootstrap_ci(values, level: float = 0.95, n_boot: int = 2000, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``values`` (1-D), resampling videos with replacement.

    Deterministic for a given seed. Fewer than 2 finite values -> (nan, nan).
    """
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    if x.size < 2:
        return (math.nan, math.nan)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, x.size, size=(n_boot, x.size))  # (n_boot, n)
    means = x[idx].mean(axis=1)  # (n_boot,)
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(means, [alpha, 1.0 - alpha])
    return (float(lo), float(hi))


@dataclass(frozen=True)
class PairedTest:
    """Wilcoxon signed-rank test of a - b over paired videos."""

    n: int                # pairs with both values finite
    mean_diff: float      # mean of a - b
    median_diff: float    # median of a - b
    statistic: float
    p_value: float        # two-sided; 1.0 when every difference is zero; nan when n < 2


def _average_ranks(x: np.ndarray) -> np.ndarray:
    """Ranks 1..n of ``x`` with ties given their average rank."""
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(x.size)
    ranks[order] = np.arange(1, x.size + 1)
    _, inverse = np.unique(x, return_inverse=True)
    return (np.bincount(inverse, weights=ranks) / np.bincount(inverse))[inverse]


def _exact_no_ties(r_plus: float, n: int) -> float:
    """Two-sided p from the exact null distribution of W+ (ranks 1..n, no ties): subset-sum counts."""
    counts = np.zeros(n * (n + 1) // 2 + 1)
    counts[0] = 1.0
    for k in range(1, n + 1):
        counts[k:] = counts[k:] + counts[:-k].copy()  # add rank k to every subset
    probs = counts / counts.sum()
    cdf = probs[: math.ceil(r_plus) + 1].sum()
    sf = probs[math.floor(r_plus):].sum()
    return float(min(1.0, 2 * min(cdf, sf)))


def _exact_sign_flips(ranks: np.ndarray, r_plus: float) -> float:
    """Two-sided p over all 2**n sign assignments (exact with ties; used for n <= 13)."""
    n = ranks.size
    signs = (np.arange(2 ** n)[:, None] >> np.arange(n)) & 1  # (2**n, n)
    stats = signs @ ranks  # (2**n,)
    tol = 1e-14 * max(1.0, abs(r_plus))
    p_le, p_ge = np.mean(stats <= r_plus + tol), np.mean(stats >= r_plus - tol)
    return float(min(1.0, 2 * min(p_le, p_ge)))


def _asymptotic(ranks: np.ndarray, r_plus: float) -> float:
    """Normal approximation with tie correction, no continuity correction (scipy's default), two-sided."""
    n = ranks.size
    _, ties = np.unique(ranks, return_counts=True)
    mean = n * (n + 1) / 4
    se = math.sqrt((n * (n + 1) * (2 * n + 1) - np.sum(ties ** 3 - ties) / 2) / 24)
    z = (r_plus - mean) / se
    return float(math.erfc(abs(z) / math.sqrt(2)))


def wilcoxon_paired(a, b) -> PairedTest:
    """Two-sided Wilcoxon signed-rank test on paired samples (NaN pairs dropped, zero differences dropped).

    Same p-values as ``scipy.stats.wilcoxon(a - b)`` with its defaults (checked in the tests): exact null
    distribution when there are no ties/zeros and n <= 50; every sign flip when there are and n <= 13;
    otherwise the normal approximation with tie correction. Written here because
    importing ``scipy.stats`` costs ~1-3 s, more than the whole report may take.
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"paired samples differ in shape: {a.shape} vs {b.shape}")
    keep = np.isfinite(a) & np.isfinite(b)
    d = a[keep] - b[keep]
    if d.size < 2:
        m = float(d.mean()) if d.size else math.nan
        return PairedTest(int(d.size), m, m, math.nan, math.nan)
    nonzero = d[d != 0]
    if nonzero.size == 0:
        return PairedTest(int(d.size), 0.0, 0.0, 0.0, 1.0)
    ranks = _average_ranks(np.abs(nonzero))
    r_plus, r_minus = float(ranks[nonzero > 0].sum()), float(ranks[nonzero < 0].sum())
    ties = np.unique(ranks).size < ranks.size or nonzero.size < d.size
    if d.size <= 50 and not ties:
        p = _exact_no_ties(r_plus, nonzero.size)
    elif d.size <= 13:
        p = _exact_sign_flips(ranks, r_plus)
    else:
        p = _asymptotic(ranks, r_plus)
    return PairedTest(int(d.size), float(d.mean()), float(np.median(d)), min(r_plus, r_minus), p)
