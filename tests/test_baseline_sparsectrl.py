"""SparseCtrl (tiny profile): the control net's condition mask is 1 on frame 0 only, and the condition there is the
reference's latent; the control net steers the UNet; 16 uint8 frames, seeded."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from flash_bench import tiny_world as tw
from flash_bench.types import MethodContext

warnings.filterwarnings("ignore", message=".*(deprecated|untrained|pretrained against|float32).*")


@pytest.fixture(scope="module")
def method():
    from baselines.sparsectrl import SparseCtrlMethod

    torch.set_num_threads(1)
    return SparseCtrlMethod(MethodContext(profile="tiny", size=48, num_frames=16, options={"steps": 2}))


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
    side = tw.shipped_components()["unet"]["sample_size"]
    assert mask.shape[1:] == (1, 16, side, side) and cond.shape[1:] == (4, 16, side, side)
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
    paper = SparseCtrlMethod(MethodContext(profile="paper", size=64, num_frames=16,
                                           options={"weights_dir": str(tmp_path)}))
    with pytest.raises(weights.WeightsMissing, match="sd-v1-5"):
        paper.animate(reference(size=64), "a person is waving.", 16, seed=0)


# ----------------------------------------------------------------------------------------- paper loading code
LORA_TARGET = "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q"   # a spatial layer, as in the v3 adapter


@pytest.fixture(scope="module")
def paper(tmp_path_factory):
    """The paper profile on a stand-in weights folder: ``sd-v1-5/``, ``animatediff-motion-adapter-v1-5-3/``,
    ``animatediff-sparsectrl-rgb/`` and ``animatediff-v3-domain-adapter/`` (a rank-2 LoRA in diffusers' format),
    all tiny seeded-random models, nothing downloaded. The LoRA needs ``peft`` (the ``paper`` extra)."""
    pytest.importorskip("peft", reason="the paper profile's domain-adapter LoRA needs peft (pip install peft)")
    from diffusers import MotionAdapter, SparseControlNetModel, StableDiffusionPipeline

    from baselines.sparsectrl import SparseCtrlMethod
    from flash_bench.tiny_world import COMPONENTS as TINY_COMPONENTS
    from tests.conftest import write_sd15_snapshot

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("weights")
    sd = write_sd15_snapshot(root / "sd-v1-5")
    torch.manual_seed(8)
    adapter = MotionAdapter(**TINY_COMPONENTS["motion_adapter"])
    adapter.save_pretrained(str(root / "animatediff-motion-adapter-v1-5-3"))
    unet, motion = TINY_COMPONENTS["unet"], TINY_COMPONENTS["motion_adapter"]
    net = SparseControlNetModel(            # RGB SparseCtrl: VAE-latent condition + mask, simplified embedding
        block_out_channels=unet["block_out_channels"], layers_per_block=1, norm_num_groups=8, cross_attention_dim=32,
        attention_head_dim=8, down_block_types=("CrossAttnDownBlockMotion", "CrossAttnDownBlockMotion"),
        conditioning_channels=4, concat_conditioning_mask=True, use_simplified_condition_embedding=True,
        motion_num_attention_heads=motion["motion_num_attention_heads"],
        motion_max_seq_length=motion["motion_max_seq_length"])
    with torch.no_grad():                   # non-zero zero-initialised convs: the reference must reach the UNet
        for n, p in net.named_parameters():
            if n.startswith(("controlnet_cond_embedding", "controlnet_down_blocks", "controlnet_mid_block")):
                p.copy_(torch.randn_like(p) * 0.5)
    net.save_pretrained(str(root / "animatediff-sparsectrl-rgb"))
    g = torch.Generator().manual_seed(9)
    lora = {f"{LORA_TARGET}.lora_A.weight": torch.randn(2, 32, generator=g) * 0.1,
            f"{LORA_TARGET}.lora_B.weight": torch.randn(32, 2, generator=g) * 0.1}
    StableDiffusionPipeline.save_lora_weights(str(root / "animatediff-v3-domain-adapter"), unet_lora_layers=lora)
    opts = {"weights_dir": str(root), "height": 64, "width": 64, "steps": 2}
    method = SparseCtrlMethod(MethodContext(profile="paper", size=48, num_frames=16, options=opts))
    return method, sd, adapter, net, lora


def test_paper_profile_runs_on_a_weights_folder(paper):
    from tests.conftest import animate_checks

    method = paper[0]
    animate_checks(method, lambda k: reference(k, size=64), size=48)   # first call included; reference acts via the control net
    tags = method.describe()
    assert tags["profile"] == "paper" and tags["conditioning"] == "guoyww/animatediff-sparsectrl-rgb"


def test_paper_profile_parts_come_from_the_weights_folder(paper):
    from diffusers import DDIMScheduler

    method, sd, adapter, net, lora = paper
    pipe = method.pipe
    assert isinstance(pipe.scheduler, DDIMScheduler)
    assert pipe.scheduler.config.beta_schedule == "linear" and pipe.scheduler.config.prediction_type == "epsilon"
    for name in ("vae", "text_encoder"):
        got, want = getattr(pipe, name).state_dict(), sd[name].state_dict()
        assert got.keys() == want.keys() and all(torch.equal(got[k], want[k]) for k in want), name
    assert pipe.tokenizer("a person is waving.").input_ids[0] == 49406    # the CLIP BPE from tokenizer/
    got, want = pipe.controlnet.state_dict(), net.state_dict()
    assert got.keys() == want.keys() and all(torch.equal(got[k], want[k]) for k in want)
    motion = {k: v for k, v in adapter.state_dict().items() if ".motion_modules." in k}
    unet = pipe.unet.state_dict()
    assert motion and all(torch.equal(unet[k], v) for k, v in motion.items())
    # spatial layers are SD1.5's; the LoRA target is SD1.5's weight + B @ A (fused at scale 1, alpha = rank)
    base = sd["unet"].state_dict()
    target = pipe.unet.get_submodule(LORA_TARGET)
    assert getattr(target, "merged", False)                            # a peft layer, fused
    fused = base[f"{LORA_TARGET}.weight"] + lora[f"{LORA_TARGET}.lora_B.weight"] @ lora[f"{LORA_TARGET}.lora_A.weight"]
    assert torch.allclose(target.get_base_layer().weight, fused, atol=1e-6)
    assert not torch.allclose(fused, base[f"{LORA_TARGET}.weight"], atol=1e-3)
    others = [k for k in base if k in unet and not k.startswith(LORA_TARGET)]
    assert len(others) > 100 and all(torch.equal(unet[k], base[k]) for k in others)


@pytest.mark.parametrize("profile", ["tiny", "paper"])
def test_first_call_matches_later_calls(profile, request):
    """A (reference, seed) pair gives the same video whether or not it is the first one a method instance makes
    (the lazily built pipeline used to draw from the seeded global RNG the sampler then used)."""
    from baselines.sparsectrl import SparseCtrlMethod

    opts = dict(request.getfixturevalue("paper")[0].ctx.options) if profile == "paper" else {"steps": 2}
    fresh = SparseCtrlMethod(MethodContext(num_frames=16, profile=profile, size=48, options=opts))
    ref = reference(4, size=fresh.cfg.height)
    first = fresh.animate(ref, "a person is waving.", 16, seed=0)
    assert np.array_equal(first, fresh.animate(ref, "a person is waving.", 16, seed=0))


def test_paper_defaults_are_the_official_rgb_settings():
    """guoyww/AnimateDiff configs/prompts/3_sparsectrl/3_1_sparsectrl_i2v.yaml: H 256, W 384, steps 25, CFG 8.5."""
    from baselines.sparsectrl import PROFILES

    cfg = PROFILES["paper"]
    assert (cfg.height, cfg.width, cfg.steps, cfg.guidance) == (256, 384, 25, 8.5)


@pytest.mark.parametrize("shape", [(90, 90), (60, 140), (140, 60)])
def test_condition_image_is_animatediffs_transform(shape):
    """Same pixels as the official script's torchvision RandomResizedCrop (its centre-crop fallback)."""
    from PIL import Image
    from torchvision import transforms

    from baselines.sparsectrl import condition_image

    image = np.random.default_rng(1).integers(0, 256, (*shape, 3), dtype=np.uint8)
    official = transforms.RandomResizedCrop((32, 48), (1.0, 1.0), ratio=(48 / 32, 48 / 32))(Image.fromarray(image))
    np.testing.assert_array_equal(np.asarray(condition_image(image, 32, 48)), np.asarray(official))


def test_paper_profile_generates_at_its_own_height_and_width(paper):
    """The pipeline runs at the configured H×W (not a square); the scored video is its central square."""
    from baselines.sparsectrl import SparseCtrlMethod

    method = SparseCtrlMethod(MethodContext(profile="paper", num_frames=16, size=40,
                                            options={**paper[0].ctx.options, "height": 32, "width": 48}))
    seen = {}
    pipe = method.pipe
    original = pipe.__class__.__call__

    def spy(self, *args, **kwargs):
        seen.update(height=kwargs["height"], width=kwargs["width"], cond=kwargs["conditioning_frames"][0].size)
        out = original(self, *args, **kwargs)
        seen["frames"] = out.frames[0].shape
        return out

    import unittest.mock as mock

    with mock.patch.object(pipe.__class__, "__call__", spy):
        video = method.animate(reference(0, size=64), "a person is waving.", 4, seed=0)
    assert (seen["height"], seen["width"], seen["cond"]) == (32, 48, (48, 32))
    assert seen["frames"][1:3] == (32, 48) and video.shape == (4, 40, 40, 3)
