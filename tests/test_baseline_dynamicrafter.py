"""DynamiCrafter (tiny profile): the reference's resampled CLIP tokens reach every spatial cross-attention (per
frame) and its first-frame latent is concatenated to every frame's input; 16 uint8 frames, seeded. Plus the
official-checkpoint key map covers every tensor of the diffusers-side UNet."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from flash_bench.types import MethodContext

warnings.filterwarnings("ignore", message=".*(deprecated|untrained|pretrained against|float32).*")
PROMPT = "a person is waving."


@pytest.fixture(scope="module")
def method():
    from baselines.dynamicrafter import DynamiCrafterMethod

    torch.set_num_threads(1)
    return DynamiCrafterMethod(MethodContext(profile="tiny", size=48, num_frames=16, options={"steps": 2}))


def reference(seed=0, size=48):
    return np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)


def unit(ref):
    from flash_bench.tiny_world import SIZE, to_unit

    return to_unit(ref, SIZE)


def test_frame_tokens_gives_each_frame_its_own_queries():
    from baselines.dynamicrafter import frame_tokens

    frames, q = 4, 3
    video = torch.arange(frames * q, dtype=torch.float32).view(1, frames * q, 1).repeat(2 * frames, 1, 5)
    out = frame_tokens(video, q)                                   # rows: 2 videos x 4 frames
    for row in range(2 * frames):
        f = row % frames
        assert torch.equal(out[row, :, 0], torch.arange(f * q, (f + 1) * q, dtype=torch.float32))
    assert frame_tokens(video[:, :q + 1], q).shape == (2 * frames, q + 1, 5)   # other lengths: all tokens


def capture(method, ref):
    from baselines.dynamicrafter import cross_attention_names

    model, seen = method.model, {"ctx": {}}
    modules = dict(model.unet.named_modules())

    def on_attn(name):
        def hook(module, args, kwargs):
            seen["ctx"].setdefault(name, kwargs["encoder_hidden_states"].clone())
        return hook

    def on_conv_in(module, args):
        seen.setdefault("x", args[0].clone())

    hooks = [modules[n].register_forward_pre_hook(on_attn(n), with_kwargs=True)
             for n in cross_attention_names(model.unet)]
    hooks.append(model.unet.conv_in.register_forward_pre_hook(on_conv_in))
    try:
        method.animate(ref, PROMPT, 16, seed=4)
    finally:
        for h in hooks:
            h.remove()
    return seen


@torch.no_grad()
def expected_image_tokens(model, image):
    from baselines.dynamicrafter import image_tokens

    return model.resampler(image_tokens(model.visual, image, model.arch.clip_size))[0]   # (F*q, D)


@torch.no_grad()
def test_image_tokens_reach_every_cross_attention(method):
    model, ref = method.model, reference(0)
    seen = capture(method, ref)
    q, nf = model.arch.queries, 16
    assert len(seen["ctx"]) >= 4                                   # every spatial cross-attention saw them
    want_cond = expected_image_tokens(model, unit(ref))
    want_uncond = expected_image_tokens(model, torch.zeros_like(unit(ref)))
    text = model.text_fn([PROMPT])[0]
    for ctx in seen["ctx"].values():
        assert ctx.shape == (2 * nf, 77 + nf * q, model.arch.context_dim)
        assert torch.allclose(ctx[nf:, 77:], want_cond.expand(nf, -1, -1), atol=1e-5)   # CFG cond half
        assert torch.allclose(ctx[:nf, 77:], want_uncond.expand(nf, -1, -1), atol=1e-5)  # black image
        assert torch.allclose(ctx[nf:, :77], text.expand(nf, -1, -1), atol=1e-5)
    other = capture(method, reference(1))["ctx"]
    name = next(iter(other))
    assert not torch.allclose(other[name][nf:, 77:], seen["ctx"][name][nf:, 77:])


@torch.no_grad()
def test_image_key_values_change_the_prediction(method):
    model = method.model
    image = unit(reference(0))
    first = model.encode(image)
    ctx = model.context([PROMPT], image)
    z = torch.randn(1, 4, 16, *first.shape[-2:], generator=torch.Generator().manual_seed(0))
    base = model(z, first, 500, ctx)
    other = model(z, first, 500, model.context([PROMPT], unit(reference(1))))
    assert not torch.allclose(base, other)                        # the image enters through cross-attention


@torch.no_grad()
def test_first_frame_latent_concatenated_to_every_frame(method):
    model, ref = method.model, reference(0)
    x = capture(method, ref)["x"]                                  # (2*F, 8, h, w): UNetMotionModel flattens frames
    side = model.encode(unit(ref)).shape[-1]                       # the latent grid of the tiny world's canvas
    assert x.shape == (2 * 16, 8, side, side)
    latent = model.vae.encode(unit(ref)).latent_dist.mean * model.vae.config.scaling_factor   # (1, 4, h, w)
    assert torch.allclose(x[:, 4:], latent.expand(2 * 16, -1, -1, -1), atol=1e-5)


def test_returns_16_uint8_frames_of_requested_size_deterministically(method):
    ref = reference(2)
    v1 = method.animate(ref, PROMPT, 16, seed=0)
    v2 = method.animate(ref, PROMPT, 16, seed=0)
    v3 = method.animate(ref, PROMPT, 16, seed=1)
    assert v1.shape == (16, 48, 48, 3) and v1.dtype == np.uint8
    assert np.array_equal(v1, v2)
    assert not np.array_equal(v1, v3)


def test_official_key_map_reaches_every_diffusers_tensor():
    """Small official layout (3 levels, attention on two): every tensor of the diffusers-side UNet is the image of
    one official prefix, and no two official prefixes land on the same diffusers prefix."""
    from baselines.dynamicrafter import Arch, UNetLayout, build_unet3d, unet_prefix_table

    layout = UNetLayout(channels=(32, 64, 64), attention_levels=(0, 1), num_res_blocks=2, head_dim=16, context_dim=32)
    table = unet_prefix_table(layout)
    assert len(set(table.values())) == len(table)
    unet = build_unet3d(layout, Arch(context_dim=32, queries=16, video_length=4))
    targets = sorted(table.values(), key=len, reverse=True)
    for key in unet.state_dict():
        assert any(key.startswith(t + ".") for t in targets), key


def test_paper_profile_without_weights_is_one_clear_error(tmp_path):
    from baselines.dynamicrafter import DynamiCrafterMethod
    from flash_bench import weights

    try:
        weights.resolve("dynamicrafter-256", tmp_path)
        pytest.skip("paper weights are present on this machine")
    except weights.WeightsMissing:
        pass
    paper = DynamiCrafterMethod(MethodContext(profile="paper", size=64, num_frames=16,
                                              options={"weights_dir": str(tmp_path)}))
    with pytest.raises(weights.WeightsMissing, match="dynamicrafter-256"):
        paper.animate(reference(size=64), "a person is waving.", 16, seed=0)


def test_released_256_checkpoint_frame_stride_key_loads():
    """The released 256 ``model.ckpt`` names the fs embedding ``framestride_embed`` (the official loader renames it to
    ``fps_embedding``): the key map takes it and the UNet loads strictly, with those very tensors."""
    from baselines.dynamicrafter import Arch, UNetLayout, build_unet3d, map_unet_state, unet_prefix_table

    layout = UNetLayout(channels=(32, 64, 64), attention_levels=(0, 1), num_res_blocks=2, head_dim=16, context_dim=32)
    unet = build_unet3d(layout, Arch(context_dim=32, queries=16, video_length=4))
    to_official = sorted(((d, o) for o, d in unet_prefix_table(layout).items()), key=lambda p: -len(p[0]))
    released = {}
    for key, value in unet.state_dict().items():
        dst, src = next((d, o) for d, o in to_official if key.startswith(d + "."))
        name = (src + key[len(dst):]).replace("fps_embedding", "framestride_embed")
        if name.startswith("init_attn.0.proj_") and name.endswith(".weight"):
            value = value[..., None]                                         # the official Conv1d(k=1)
        released["model.diffusion_model." + name] = torch.randn_like(value)
    assert any(".framestride_embed." in k for k in released)
    mapped = map_unet_state(released, layout)
    unet.load_state_dict(mapped, strict=True)
    assert torch.equal(unet.fps_embedding[0].weight, released["model.diffusion_model.framestride_embed.0.weight"])


def test_paper_noise_schedule_is_ldm_linear_and_uniform_ddim():
    """LDM ``make_beta_schedule("linear")``: β_t = (linspace(√0.00085, √0.012, 1000)_t)² (float64); DDIM "uniform"
    timesteps range(0, 1000, 1000 // S) + 1 from the top; the last step lands on ᾱ_0 (closed forms of the official
    sampler, lvdm/models/utils_diffusion.py and samplers/ddim.py)."""
    from diffusers import DDIMScheduler

    from baselines.dynamicrafter import PAPER_SCHEDULER, PROFILES

    sched = DDIMScheduler.from_config(PAPER_SCHEDULER)
    betas = torch.linspace(0.00085 ** 0.5, 0.012 ** 0.5, 1000, dtype=torch.float64) ** 2
    alphas_cumprod = torch.cumprod(1 - betas, 0)
    assert torch.allclose(sched.alphas_cumprod.double(), alphas_cumprod, rtol=1e-5)
    steps = PROFILES["paper"].steps
    sched.set_timesteps(steps)
    assert sched.timesteps.tolist() == [t + 1 for t in range(0, 1000, 1000 // steps)][::-1]
    assert sched.final_alpha_cumprod == sched.alphas_cumprod[0]
    assert sched.config.prediction_type == "epsilon"


def test_clip_resize_256_to_224_is_plain_bicubic():
    """kornia's antialias for a downscale by f = 256/224 is a Gaussian of σ = (f − 1)/2 = 1/14: its 3-tap kernel is
    [e^-98, 1, e^-98] / Σ, the identity to float precision; what remains is plain bicubic (align_corners=True)."""
    import torch.nn.functional as F

    from baselines.dynamicrafter import clip_resize

    x = torch.rand(2, 3, 256, 256, generator=torch.Generator().manual_seed(0)) * 2 - 1
    want = F.interpolate(x, size=(224, 224), mode="bicubic", align_corners=True)
    assert torch.allclose(clip_resize(x, 224), want, atol=1e-6)


# --------------------------------------------------------------------------- against the official code (opt-in)
# DYNAMICRAFTER_REPO=<checkout of Doubiiu/DynamiCrafter>, in an environment with its packages (einops, kornia,
# omegaconf; open_clip_torch 2.22, its pin): these compare with the official modules themselves.
def official(module: str):
    import importlib
    import os
    import sys

    repo = os.environ.get("DYNAMICRAFTER_REPO")
    if not repo:
        pytest.skip("set DYNAMICRAFTER_REPO to a checkout of Doubiiu/DynamiCrafter to compare with the official code")
    sys.path.insert(0, repo)
    try:
        return importlib.import_module(module)
    except ImportError as e:
        pytest.skip(f"the official code needs {e.name}")


def test_official_schedule_and_ddim_timesteps():
    from diffusers import DDIMScheduler

    from baselines.dynamicrafter import PAPER_SCHEDULER, PROFILES

    ud = official("lvdm.models.utils_diffusion")
    betas = torch.tensor(ud.make_beta_schedule("linear", 1000, linear_start=0.00085, linear_end=0.012))
    sched = DDIMScheduler.from_config(PAPER_SCHEDULER)
    assert torch.allclose(sched.alphas_cumprod.double(), torch.cumprod(1 - betas, 0), rtol=1e-5)
    steps = PROFILES["paper"].steps
    sched.set_timesteps(steps)
    assert sched.timesteps.tolist() == ud.make_ddim_timesteps("uniform", steps, 1000, verbose=False)[::-1].tolist()


@pytest.mark.parametrize("size", [256, 64, 320])
def test_official_clip_preprocessing(size):
    from baselines.dynamicrafter import clip_pixels

    condition = official("lvdm.modules.encoders.condition")
    embedder = condition.FrozenOpenCLIPImageEmbedderV2.__new__(condition.FrozenOpenCLIPImageEmbedderV2)
    torch.nn.Module.__init__(embedder)                           # preprocess only: no ViT-H to build
    embedder.antialias = True
    embedder.register_buffer("mean", torch.tensor([0.48145466, 0.4578275, 0.40821073]))
    embedder.register_buffer("std", torch.tensor([0.26862954, 0.26130258, 0.27577711]))
    x = torch.rand(2, 3, size, size, generator=torch.Generator().manual_seed(size)) * 2 - 1
    assert torch.allclose(clip_pixels(x, 224), embedder.preprocess(x), atol=1e-5)


def test_official_unet_tree_loads_through_the_key_map():
    """A small UNet built by the official ``openaimodel3d.UNetModel`` (the 256 config's switches), saved with the
    released 256 name ``framestride_embed``, loads strictly through :func:`map_unet_state`."""
    from baselines.dynamicrafter import Arch, UNetLayout, build_unet3d, map_unet_state

    unet_mod = official("lvdm.modules.networks.openaimodel3d")
    torch.manual_seed(0)
    ref = unet_mod.UNetModel(in_channels=8, out_channels=4, model_channels=32, attention_resolutions=[1, 2],
                             num_res_blocks=2, channel_mult=[1, 2, 2], num_head_channels=16, transformer_depth=1,
                             context_dim=32, use_linear=True, temporal_conv=True, temporal_attention=True,
                             temporal_selfatt_only=True, use_relative_position=False, use_causal_attention=False,
                             temporal_length=4, addition_attention=True, image_cross_attention=True,
                             image_cross_attention_scale_learnable=True, default_fs=3, fs_condition=True)
    released = {"model.diffusion_model." + k.replace("fps_embedding", "framestride_embed"): v
                for k, v in ref.state_dict().items()}
    layout = UNetLayout(channels=(32, 64, 64), attention_levels=(0, 1), num_res_blocks=2, head_dim=16, context_dim=32)
    unet = build_unet3d(layout, Arch(context_dim=32, queries=16, video_length=4))
    unet.load_state_dict(map_unet_state(released, layout), strict=True)
