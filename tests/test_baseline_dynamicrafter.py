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
    return DynamiCrafterMethod(MethodContext(profile="tiny", size=48, options={"steps": 2}))


def reference(seed=0, size=48):
    return np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)


def unit(ref):
    from baselines.tiny_components import to_unit_image

    return to_unit_image(ref, 64)


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
    z = torch.randn(1, 4, 16, 8, 8, generator=torch.Generator().manual_seed(0))
    base = model(z, first, 500, ctx)
    other = model(z, first, 500, model.context([PROMPT], unit(reference(1))))
    assert not torch.allclose(base, other)                        # the image enters through cross-attention


@torch.no_grad()
def test_first_frame_latent_concatenated_to_every_frame(method):
    model, ref = method.model, reference(0)
    x = capture(method, ref)["x"]                                  # (2*F, 8, h, w): UNetMotionModel flattens frames
    assert x.shape == (2 * 16, 8, 8, 8)
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
    paper = DynamiCrafterMethod(MethodContext(profile="paper", size=64, options={"weights_dir": str(tmp_path)}))
    with pytest.raises(weights.WeightsMissing, match="dynamicrafter-256"):
        paper.animate(reference(size=64), "a person is waving.", 16, seed=0)
