"""flash_bench.stats against scipy (reference) and closed forms."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from flash_bench.stats import bootstrap_ci, wilcoxon_paired


def cases():
    rng = np.random.default_rng(1)
    for n in (3, 6, 10, 13, 14, 25, 50, 51, 80):
        a = rng.normal(size=n)
        yield f"n{n}-continuous", a + rng.normal(0.3, 1, size=n), a
        b = np.round(a + rng.normal(0.2, 1, size=n), 1)  # ties and zeros
        yield f"n{n}-ties", np.round(a, 1), b


@pytest.mark.parametrize("name,a,b", list(cases()), ids=[c[0] for c in cases()])
def test_wilcoxon_matches_scipy(name, a, b):
    ours = wilcoxon_paired(a, b)
    d = a - b
    if np.all(d == 0):
        assert ours.p_value == 1.0
        return
    ref = sps.wilcoxon(d)
    assert ours.p_value == pytest.approx(ref.pvalue, rel=1e-9, abs=1e-12)
    assert ours.statistic == pytest.approx(ref.statistic)
    assert ours.n == len(a) and ours.mean_diff == pytest.approx(d.mean())


def test_wilcoxon_closed_forms():
    # all n differences positive, distinct: exact two-sided p = 2 / 2**n
    t = wilcoxon_paired(np.arange(1, 9) * 0.1, np.zeros(8))
    assert t.p_value == pytest.approx(2 / 2 ** 8) and t.statistic == 0
    assert wilcoxon_paired([1, 2], [1, 2]).p_value == 1.0          # no differences at all
    assert math.isnan(wilcoxon_paired([1.0], [0.0]).p_value)       # too few pairs
    assert wilcoxon_paired([1, np.nan, 3], [0, 5, 1]).n == 2       # NaN pairs dropped
    with pytest.raises(ValueError, match="shape"):
        wilcoxon_paired([1, 2], [1])


def test_bootstrap_ci_is_deterministic_and_covers_the_mean():
    x = np.random.default_rng(0).normal(10, 2, size=200)
    lo, hi = bootstrap_ci(x, seed=3)
    assert (lo, hi) == bootstrap_ci(x, seed=3)
    assert lo < x.mean() < hi
    se = x.std(ddof=1) / math.sqrt(x.size)  # the percentile interval ≈ mean ± 1.96 se for a normal sample
    assert (hi - lo) == pytest.approx(2 * 1.96 * se, rel=0.15)
    assert all(math.isnan(v) for v in bootstrap_ci([1.0]))
    assert bootstrap_ci([2.0, 2.0, 2.0]) == (2.0, 2.0)
