"""SparseCtrl (tiny profile): the control net's condition mask is 1 on frame 0 only, and the condition there is the
reference's latent; the control net steers the UNet; 16 uint8 frames, seeded."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from flash_bench.types import MethodContext

warnings.filterwarnings("ignore", message=".*(deprecated|untrained|pretrained against|float32).*")


@pytest.fixture(scope="module")
def method():
    from baselines.sparsectrl import SparseCtrlMethod

    torch.set_num_threads(1)
    return SparseCtrlMethod(MethodContext(profile="tiny", size=48, options={"steps": 2}))


def reference(seed=0, size=48):
    return np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)


def capture(method, ref):
    pipe, seen = method.pipe, {}

    def on_controlnet(module, args, kwargs):
        seen.setdefault("cond", kwargs["controlnet_cond"].clone())
        seen.setdefault("mask", kwargs["conditioning_mask"].clone())

    def on_moments(module, args, out):
        seen.setdefault("moments", out.clone())

    h1 = pipe.controlnet.register_forward_pre_hook(on_controlnet, with_kwargs=True)
    h2 = pipe.vae.quant_conv.register_forward_hook(on_moments)
    try:
        method.animate(ref, "a person is waving.", 16, seed=5)
    finally:
        h1.remove(), h2.remove()
    return seen


def test_condition_mask_only_on_frame_zero(method):
    seen = capture(method, reference())
    mask, cond = seen["mask"], seen["cond"]                    # (B, 1, F, h, w), (B, 4, F, h, w)
    assert mask.shape[1:] == (1, 16, 8, 8) and cond.shape[1:] == (4, 16, 8, 8)
    assert torch.all(mask[:, :, 0] == 1) and torch.all(mask[:, :, 1:] == 0)
    assert torch.all(cond[:, :, 1:] == 0) and cond[:, :, 0].abs().sum() > 0
    # frame 0's condition is the reference's VAE latent (a posterior sample, scaled)
    mean, logvar = seen["moments"][:1].chunk(2, dim=1)
    std = torch.exp(0.5 * logvar.clamp(-30, 20))
    latent = cond[0, :, 0] / method.pipe.vae.config.scaling_factor
    assert ((latent - mean[0]).abs() <= 6 * std[0] + 1e-5).all()


def test_control_net_residuals_reach_the_unet(method):
    """With non-zero output convs, a different reference changes the UNet's prediction only via the control net."""
    pipe, preds = method.pipe, []
    net = pipe.controlnet
    saved = {n: p.detach().clone() for n, p in net.named_parameters() if n.startswith("controlnet_")}
    hook = pipe.unet.register_forward_hook(lambda m, a, out: preds.append(out.sample.clone()))
    try:
        with torch.no_grad():
            for n, p in net.named_parameters():
                if n.startswith("controlnet_"):
                    p.copy_(torch.randn_like(p) * 0.05)
        for seed in (0, 1):
            method.animate(reference(seed), "a person is waving.", 16, seed=5)
    finally:
        hook.remove()
        with torch.no_grad():
            for n, p in net.named_parameters():
                if n in saved:
                    p.copy_(saved[n])
    first_step = len(preds) // 2
    assert not torch.allclose(preds[0], preds[first_step])


def test_returns_16_uint8_frames_of_requested_size_deterministically(method):
    ref = reference(2)
    v1 = method.animate(ref, "a person is waving.", 16, seed=0)
    v2 = method.animate(ref, "a person is waving.", 16, seed=0)
    v3 = method.animate(ref, "a person is waving.", 16, seed=1)
    assert v1.shape == (16, 48, 48, 3) and v1.dtype == np.uint8
    assert np.array_equal(v1, v2)
    assert not np.array_equal(v1, v3)


def test_paper_profile_without_weights_is_one_clear_error(tmp_path):
    from baselines.sparsectrl import SparseCtrlMethod
    from flash_bench import weights

    try:
        weights.resolve("sd-v1-5", tmp_path)
        pytest.skip("paper weights are present on this machine")
    except weights.WeightsMissing:
        pass
    paper = SparseCtrlMethod(MethodContext(profile="paper", size=64, options={"weights_dir": str(tmp_path)}))
    with pytest.raises(weights.WeightsMissing, match="sd-v1-5"):
        paper.animate(reference(size=64), "a person is waving.", 16, seed=0)
