"""Mixed noise prior (flash/noise_prior.py): closed-form statistics, i.i.d. at s = 0, and carried by the base."""
import pytest
import torch

from flash.base_model import build_tiny_components, load_tiny_base, save_tiny_base, TINY_COMPONENTS
from flash.noise_prior import video_noise


def test_no_shared_noise_is_plain_randn():
    a = video_noise((2, 4, 5, 3, 3), torch.Generator().manual_seed(3), 0.0)
    b = torch.randn((2, 4, 5, 3, 3), generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)


@pytest.mark.parametrize("shared", [0.0, 0.5, 0.8])
def test_frames_correlate_by_the_shared_fraction_and_stay_standard_normal(shared):
    n = video_noise((4000, 1, 3, 4, 4), torch.Generator().manual_seed(0), shared)   # (B, C, F, h, w)
    x = n.permute(2, 0, 1, 3, 4).reshape(3, -1)                                    # (F, samples)
    assert x.mean().abs() < 0.01
    assert torch.allclose(x.var(dim=1), torch.ones(3), atol=0.02)
    corr = torch.corrcoef(x)
    off = corr[~torch.eye(3, dtype=torch.bool)]
    assert torch.allclose(off, torch.full_like(off, shared), atol=0.02)


def test_shared_fraction_out_of_range_is_refused():
    with pytest.raises(ValueError, match="shared noise fraction"):
        video_noise((1, 1, 2, 1, 1), None, 1.0)


def test_the_base_keeps_its_prior_through_save_and_load(tmp_path):
    base = build_tiny_components(0, {**TINY_COMPONENTS, "noise_shared": 0.6})
    assert base.noise_shared == 0.6
    save_tiny_base(base, tmp_path)
    loaded = load_tiny_base(tmp_path)
    assert loaded.noise_shared == 0.6
    g1, g2 = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    assert torch.equal(loaded.noise((1, 4, 6, 2, 2), g1), video_noise((1, 4, 6, 2, 2), g2, 0.6))
    assert build_tiny_components(0).noise_shared == 0.0      # the default (and the paper profile): i.i.d.

