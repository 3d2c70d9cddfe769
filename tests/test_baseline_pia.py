"""PIA (tiny profile): the UNet input carries PIA's mask + masked-image channels; 16 uint8 frames, seeded."""
from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest
import torch

from flash_bench import tiny_world as tw
from flash_bench.types import MethodContext

warnings.filterwarnings("ignore", message=".*(deprecated|untrained|pretrained against|float32).*")

# PIA's official inter-frame affinity tables (its RANGE_LIST), by distance from the condition frame.
SMALL_MOTION = [1.0, 0.9, 0.85, 0.85, 0.85, 0.8]
LARGE_MOTION = [1.0, 0.8, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.6, 0.5, 0.5]


def expected_coefficients(table, num_frames):
    return table + [table[-1]] * (num_frames - len(table))


@pytest.fixture(scope="module")
def method():
    from baselines.pia import PIAMethod

    torch.set_num_threads(1)
    return PIAMethod(MethodContext(profile="tiny", size=48, num_frames=16, options={"steps": 2}))


def reference(seed=0, size=48):
    return np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)


def capture(method, ref, motion_scale=0):
    """Run one animation; return the UNet inputs (first step) and the VAE posterior of the reference."""
    pipe, seen = method.pipe, {}

    def keep(key, value):                                              # hooks must return None
        seen.setdefault(key, value.clone())

    h1 = pipe.unet.register_forward_pre_hook(lambda m, args: keep("x", args[0]))
    h2 = pipe.vae.quant_conv.register_forward_hook(lambda m, a, out: keep("moments", out))
    try:
        method.cfg = dataclasses.replace(method.cfg, motion_scale=motion_scale)
        method.animate(ref, "a person is waving.", 16, seed=3)
    finally:
        h1.remove(), h2.remove()
        method.cfg = dataclasses.replace(method.cfg, motion_scale=0)
    return seen["x"], seen["moments"]


@pytest.mark.parametrize("motion_scale,table", [(0, SMALL_MOTION), (2, LARGE_MOTION)])
def test_unet_input_is_latent_mask_and_reference_latent(method, motion_scale, table):
    x, moments = capture(method, reference(), motion_scale)
    side = tw.shipped_components()["unet"]["sample_size"]
    assert x.shape == (2, 9, 16, side, side)                          # CFG halves, 4 + 1 + 4 channels, frames, h, w
    mask = x[:, 4]                                                     # (2, F, h, w)
    coef = torch.tensor(expected_coefficients(table, 16))
    assert torch.allclose(mask, coef.view(1, 16, 1, 1).expand_as(mask))
    # masked image: the reference's latent (a posterior sample, scaled) at every frame, both CFG halves
    image = x[:, 5:]                                                   # (2, 4, F, h, w)
    assert torch.equal(image, image[:1, :, :1].expand_as(image))
    scale = method.pipe.vae.config.scaling_factor
    mean, logvar = moments[:1].chunk(2, dim=1)
    std = torch.exp(0.5 * logvar.clamp(-30, 20))
    assert ((image[0, :, 0] / scale - mean[0]).abs() <= 6 * std[0] + 1e-5).all()


def test_reference_latent_follows_the_reference(method):
    a, _ = capture(method, reference(0))
    b, _ = capture(method, reference(1))
    assert not torch.allclose(a[:, 5:], b[:, 5:])
    assert torch.equal(a[:, 4], b[:, 4])                               # the mask does not depend on the image


def test_returns_16_uint8_frames_of_requested_size_deterministically(method):
    ref = reference(2)
    v1 = method.animate(ref, "a person is waving.", 16, seed=0)
    v2 = method.animate(ref, "a person is waving.", 16, seed=0)
    v3 = method.animate(ref, "a person is waving.", 16, seed=1)
    assert v1.shape == (16, 48, 48, 3) and v1.dtype == np.uint8
    assert np.array_equal(v1, v2)
    assert not np.array_equal(v1, v3)
    assert "tiny" in method.describe()["profile"]


def test_paper_profile_without_weights_is_one_clear_error(tmp_path):
    from baselines.pia import PIAMethod
    from flash_bench import weights

    try:
        weights.resolve("sd-v1-5", tmp_path)
        pytest.skip("paper weights are present on this machine")
    except weights.WeightsMissing:
        pass
    paper = PIAMethod(MethodContext(profile="paper", size=64, num_frames=16, options={"weights_dir": str(tmp_path)}))
    with pytest.raises(weights.WeightsMissing, match="sd-v1-5"):
        paper.animate(reference(size=64), "a person is waving.", 16, seed=0)


# ----------------------------------------------------------------------------------------- paper loading code
@pytest.fixture(scope="module")
def paper(tmp_path_factory):
    """The paper profile on a stand-in weights folder: ``sd-v1-5/`` (vae, text_encoder, tokenizer, unet) and
    ``pia-condition-adapter/`` (a 9-channel MotionAdapter), all tiny seeded-random models, nothing downloaded."""
    from diffusers import MotionAdapter

    from baselines.pia import PIAMethod
    from flash_bench.tiny_world import COMPONENTS as TINY_COMPONENTS
    from tests.conftest import write_sd15_snapshot

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("weights")
    sd = write_sd15_snapshot(root / "sd-v1-5")
    torch.manual_seed(8)
    adapter = MotionAdapter(**TINY_COMPONENTS["motion_adapter"], conv_in_channels=9)
    adapter.save_pretrained(str(root / "pia-condition-adapter"))
    opts = {"weights_dir": str(root), "native_size": 64, "steps": 2}
    return PIAMethod(MethodContext(profile="paper", size=48, num_frames=16, options=opts)), sd, adapter


def test_paper_profile_runs_on_a_weights_folder(paper):
    from tests.conftest import animate_checks

    method = paper[0]
    animate_checks(method, lambda k: reference(k, size=64), size=48)   # first call included; reference acts via conv_in
    tags = method.describe()
    assert tags["profile"] == "paper" and tags["conditioning"] == "openmmlab/PIA-condition-adapter"


def test_paper_profile_parts_come_from_the_weights_folder(paper):
    from diffusers import DDIMScheduler

    method, sd, adapter = paper
    pipe = method.pipe
    assert isinstance(pipe.scheduler, DDIMScheduler)                   # AnimateDiff's linear betas, epsilon
    assert pipe.scheduler.config.beta_schedule == "linear" and pipe.scheduler.config.prediction_type == "epsilon"
    for name in ("vae", "text_encoder"):
        got, want = getattr(pipe, name).state_dict(), sd[name].state_dict()
        assert got.keys() == want.keys() and all(torch.equal(got[k], want[k]) for k in want), name
    assert pipe.tokenizer("a person is waving.").input_ids[0] == 49406    # the CLIP BPE from tokenizer/
    unet, base, motion = pipe.unet.state_dict(), sd["unet"].state_dict(), adapter.state_dict()
    # UNetMotionModel = SD1.5's spatial UNet + the adapter's motion modules ...
    spatial = [k for k in base if not k.startswith("conv_in.")]
    assert all(torch.equal(unet[k], base[k]) for k in spatial)
    motion_keys = [k for k in motion if ".motion_modules." in k]
    assert motion_keys and all(torch.equal(unet[k], motion[k]) for k in motion_keys)
    # ... and PIA's 9-channel conv_in: SD1.5's 4 latent channels + the adapter's 5 condition channels
    assert pipe.unet.config.in_channels == 9 and unet["conv_in.weight"].shape[1] == 9
    assert torch.equal(unet["conv_in.weight"][:, :4], base["conv_in.weight"])
    assert torch.equal(unet["conv_in.weight"][:, 4:], motion["conv_in.weight"][:, 4:])
    assert torch.equal(unet["conv_in.bias"], base["conv_in.bias"])
