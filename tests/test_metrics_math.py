"""Metric math against independent references: closed forms, cd-fvd's own code, numpy; registry facts."""
import subprocess
import sys

import numpy as np
import pytest

from flash_bench.metrics import METRICS
from flash_bench.metrics.base import Sample, cosine
from flash_bench.metrics.cd_fvd import CDFVD, GaussianStats, frechet_distance, fvd_from_features
from flash_bench.metrics.image_alignment import image_alignment
from flash_bench.metrics.temporal_consistency import TemporalConsistency, temporal_consistency
from flash_bench.metrics.text_alignment import TextAlignment, text_alignment


def _rotation(d, seed):
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(d, d)))
    return q


def test_frechet_distance_of_gaussians_matches_closed_form():
    # Σ1 = Q diag(a) Qᵀ, Σ2 = Q diag(b) Qᵀ commute, so tr (Σ1Σ2)^½ = Σ √(a_i b_i) exactly.
    d = 6
    q = _rotation(d, 0)
    a, b = np.arange(1.0, d + 1), np.linspace(0.5, 4.0, d)
    mu1, mu2 = np.zeros(d), np.arange(d, dtype=float)
    s1, s2 = q @ np.diag(a) @ q.T, q @ np.diag(b) @ q.T
    closed = np.sum(mu2 ** 2) + np.sum(a + b - 2 * np.sqrt(a * b))
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(closed, rel=1e-10)
    # 1-D: (μ1−μ2)² + (σ1−σ2)²
    assert frechet_distance([1.0], [[4.0]], [3.0], [[9.0]]) == pytest.approx(4.0 + 1.0)


def test_frechet_distance_of_identical_singular_sets_is_zero():
    x = np.random.default_rng(1).normal(size=(10, 40))  # N < D: singular covariance
    assert fvd_from_features(x, x) == pytest.approx(0.0, abs=1e-8 * np.trace(np.cov(x.T)))


def test_fvd_equals_cd_fvd_on_identical_features():
    from cdfvd.fvd import cdfvd
    from cdfvd.utils.metric_utils import FeatureStats

    rng = np.random.default_rng(2)
    real = rng.normal(size=(300, 24)) @ rng.normal(size=(24, 24))
    fake = rng.normal(loc=0.3, size=(250, 24)) @ rng.normal(size=(24, 24))
    ref_real, ref_fake = FeatureStats(capture_mean_cov=True), FeatureStats(capture_mean_cov=True)
    ref_real.append(real)
    ref_fake.append(fake)
    ref = cdfvd.compute_fvd_from_stats(None, ref_fake, ref_real)  # the library's own formula (sqrtm)
    # cd-fvd casts features to float32 before its float64 sums; feed the same values
    ours = fvd_from_features(real.astype(np.float32), fake.astype(np.float32))
    assert ours == pytest.approx(float(ref), rel=1e-6)


def test_streaming_stats_equal_one_batch():
    x = np.random.default_rng(3).normal(size=(50, 5))
    one, many = GaussianStats(), GaussianStats()
    one.add(x)
    for chunk in np.array_split(x, 7):
        many.add(chunk)
    for a, b in zip(one.mean_cov(), many.mean_cov()):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    np.testing.assert_allclose(one.mean_cov()[1], np.cov(x.T, bias=True), rtol=1e-10)  # ÷N as cd-fvd


def test_cdfvd_metric_class_equals_functional():
    rng = np.random.default_rng(4)
    real, fake = rng.normal(size=(8, 3)), rng.normal(1.0, size=(9, 3))
    m = CDFVD()
    for i, f in enumerate(fake):
        m.update(Sample(f"k{i}", {"videomae": f}))
    for r in real:
        m.update_real({"videomae": r})
    assert m.compute().value == pytest.approx(fvd_from_features(real, fake), rel=1e-12)
    m.reset()
    assert m.fake == [] and m.real == []


def test_clip_scores_against_numpy_definitions():
    rng = np.random.default_rng(5)
    frames, text, ref = rng.normal(size=(7, 16)), rng.normal(size=16), rng.normal(size=16)
    cos = lambda u, v: u @ v / np.linalg.norm(u) / np.linalg.norm(v)  # noqa: E731
    assert text_alignment(frames, text) == pytest.approx(100 * np.mean([cos(f, text) for f in frames]))
    assert image_alignment(frames, ref) == pytest.approx(100 * np.mean([cos(f, ref) for f in frames]))
    assert temporal_consistency(frames) == pytest.approx(100 * np.mean([cos(frames[i], frames[i + 1])
                                                                       for i in range(6)]))


def test_temporal_consistency_of_a_constant_video_is_100_and_one_frame_is_missing():
    frame = np.random.default_rng(6).normal(size=32)
    assert temporal_consistency(np.tile(frame, (16, 1))) == pytest.approx(100.0)
    assert temporal_consistency(frame[None]) is None


def test_video_metric_keeps_per_video_values_and_missing_ground_truth_is_none():
    m = TemporalConsistency()
    rng = np.random.default_rng(7)
    values = [m.update(Sample(f"v{i}", {"clip": rng.normal(size=(4, 8))})) for i in range(3)]
    result = m.compute()
    assert result.per_video == {"v0": values[0], "v1": values[1], "v2": values[2]}
    assert result.value == pytest.approx(np.mean(values)) and result.n == 3
    rgb = METRICS.get("cosine_rgb")()
    assert rgb.update(Sample("x", {"i3d_rgb": np.ones(4)}, ground_truth=None)) is None
    assert rgb.compute().value is None and rgb.compute().n == 0
    assert TextAlignment().update(Sample("y", {"clip": np.ones((2, 3))}, prompt=np.ones(3))) == pytest.approx(100)


def test_cosine_of_a_vector_with_itself_and_its_opposite():
    v = np.random.default_rng(8).normal(size=1024)
    assert cosine(v, v) == pytest.approx(1.0) and cosine(v, -v) == pytest.approx(-1.0)


@pytest.mark.parametrize("name", METRICS.names())
def test_registry_name_module_and_facts_agree(name):
    cls = METRICS.get(name)
    assert cls.name == name and cls.__module__ == f"flash_bench.metrics.{name}"
    assert cls.label and cls.scale and isinstance(cls.higher_is_better, bool) and isinstance(cls.decimals, int)
    assert cls.level in ("video", "set") and cls.version and (cls.features or cls.pixels)   # it reads something


def test_metric_registry_and_info_import_no_model_library():
    code = ("import sys; import flash_bench.metrics as m; m.METRICS.names(); "
            "bad = [x for x in ('torch', 'open_clip', 'cdfvd', 'torchvision') if x in sys.modules]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
