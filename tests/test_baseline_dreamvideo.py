"""DreamVideo (tiny): exactly the temporal motion adapters train, the fit is cached, shapes and determinism."""
from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from baselines import tiny_base as tb
from baselines.dreamvideo import DreamVideoMethod
from flash_bench import tiny_world as tw
from flash_bench.types import MethodContext
from tests.conftest import moving_square

torch.set_num_threads(1)

OPTS = dict(train_steps=3, sample_steps=3)
PROMPT = "a square slides to the right"


def videos():
    return [moving_square(i, frames=16, size=64) for i in range(2)]


def expected_adapter_names(unet) -> set[str]:
    """Built from the base's structure alone: every block of a motion module × {attn1, attn2, ff} × 3 linears."""
    blocks = {n for n, _ in unet.named_modules()
              if ".motion_modules." in n and re.fullmatch(r".*\.transformer_blocks\.\d+", n)}
    return {f"{b}.motion_adapters.{s}.{lin}.{p}" for b in blocks for s in ("attn1", "attn2", "ff")
            for lin in ("cond", "down", "up") for p in ("weight", "bias")}


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    captured = []
    real_adamw = torch.optim.AdamW

    def spy(params, *a, **kw):
        params = list(params)
        captured.extend(params)
        return real_adamw(params, *a, **kw)

    m = DreamVideoMethod(MethodContext(profile="tiny", size=64, num_frames=16,
                                       cache_dir=tmp_path_factory.mktemp("cache"), options=OPTS))
    before = {n: p.detach().clone() for n, p in m.parts[0].unet.named_parameters()}
    torch.optim.AdamW = spy
    try:
        m.fit(None, videos(), PROMPT)
    finally:
        torch.optim.AdamW = real_adamw
    return m, captured, before


def test_trains_exactly_the_temporal_adapters(fitted):
    m, captured, before = fitted
    unet = m.parts[0].unet
    names = {id(p): n for n, p in unet.named_parameters()}
    expected = expected_adapter_names(unet)
    assert len(expected) == 7 * 3 * 6                                  # 7 motion-module blocks in the tiny base
    assert {names[id(p)] for p in captured} == expected                # the optimiser holds exactly these
    assert {n for n, p in unet.named_parameters() if p.requires_grad} == expected
    after = dict(unet.named_parameters())
    for n, v in before.items():                                        # the base really stayed frozen
        if n not in expected:
            assert torch.equal(after[n], v), n
    changed = [n for n in expected if not torch.equal(after[n], before[n])]
    assert any(".up." in n for n in changed)                           # the zero-initialised W_up moved
    for mod in (m.parts[0].vae, m.parts[0].text_encoder, m.parts[1]):
        assert not any(p.requires_grad for p in mod.parameters())


def test_adapters_are_identity_before_training():
    m = DreamVideoMethod(MethodContext(profile="tiny", size=64, num_frames=16, options=OPTS))
    base, encoder, state, _ = m.parts
    plain = tw.tiny_video_base()
    z = torch.randn(1, 4, 8, 8, 8, generator=torch.Generator().manual_seed(0))
    emb = base.encode_prompts(["a person"])
    state.embedding = torch.randn(1, encoder.config.projection_dim)
    with torch.no_grad():
        assert torch.allclose(tb.video_unet(base.unet, z, 500, emb), tb.video_unet(plain.unet, z, 500, emb),
                              atol=1e-5)


def test_fit_is_cached_and_reused(fitted):
    m, _, _ = fitted
    img = videos()[0][0]
    first = m.animate(img, PROMPT, 16, seed=0)
    files = list((m.ctx.cache_dir / "dreamvideo").glob("*.safetensors"))
    assert len(files) == 1
    from safetensors.torch import load_file
    assert set(load_file(str(files[0]))) == expected_adapter_names(m.parts[0].unet)   # only trained params
    again = DreamVideoMethod(MethodContext(profile="tiny", size=64, num_frames=16, cache_dir=m.ctx.cache_dir,
                                           options=OPTS))
    again.fit(None, videos(), PROMPT)
    assert again.last_fit_cached
    assert np.array_equal(again.animate(img, PROMPT, 16, seed=0), first)


def test_sixteen_frames_shape_determinism_and_appearance(fitted):
    m, _, _ = fitted
    img = videos()[1][0]
    a = m.animate(img, PROMPT, 16, seed=5)
    assert a.shape == (16, 64, 64, 3) and a.dtype == np.uint8
    assert np.array_equal(a, m.animate(img, PROMPT, 16, seed=5))
    assert not np.array_equal(a, m.animate(img, PROMPT, 16, seed=6))
    small = m.animate(img[:48, :40], PROMPT, 16, seed=5)
    assert small.shape == (16, 48, 40, 3)


def test_appearance_embedding_reaches_the_trained_unet(fitted):
    m, _, _ = fitted
    base, encoder, state, _ = m.parts
    z = torch.randn(1, 4, 8, 8, 8, generator=torch.Generator().manual_seed(0))
    emb = base.encode_prompts([PROMPT])
    outs = []
    for look in (torch.zeros(1, encoder.config.projection_dim), torch.ones(1, encoder.config.projection_dim)):
        state.embedding = look
        with torch.no_grad():
            outs.append(tb.video_unet(base.unet, z, 500, emb))
    assert (outs[0] - outs[1]).abs().max() > 1e-6


def test_paper_profile_missing_weights_is_one_clear_error(tmp_path, monkeypatch):
    from flash_bench.weights import WeightsMissing

    monkeypatch.setenv("FLASH_BENCH_WEIGHTS", str(tmp_path))
    m = DreamVideoMethod(MethodContext(profile="paper", size=64, num_frames=16, cache_dir=tmp_path))
    with pytest.raises(WeightsMissing, match="damo-vilab/text-to-video-ms-1.7b"):
        m.fit(None, videos(), PROMPT)


def test_adapters_attach_to_modelscope_unet3d_temporal_transformers():
    """The paper profile's UNet class at a tiny size: adapters on transformer_in and every temp_attentions block."""
    from diffusers import UNet3DConditionModel

    from baselines.dreamvideo import adapter_names, apply_motion_adapters

    torch.manual_seed(0)
    unet = UNet3DConditionModel(block_out_channels=(32, 64), norm_num_groups=8, cross_attention_dim=32,
                                attention_head_dim=8, layers_per_block=1, sample_size=8,
                                down_block_types=("CrossAttnDownBlock3D", "DownBlock3D"),
                                up_block_types=("UpBlock3D", "CrossAttnUpBlock3D")).eval()
    temporal = {n for n, _ in unet.named_modules()
                if re.fullmatch(r"(transformer_in|.*\.temp_attentions\.\d+)\.transformer_blocks\.\d+", n)}
    z, emb = torch.randn(1, 4, 5, 8, 8), torch.randn(1, 77, 32)
    with torch.no_grad():
        plain = unet(z, 10, encoder_hidden_states=emb).sample
    state = apply_motion_adapters(unet, cond_dim=16, ratio=0.25)
    assert {n.split(".motion_adapters.")[0] for n in adapter_names(unet)} == temporal and len(temporal) >= 4
    state.embedding = torch.randn(1, 16)
    with torch.no_grad():
        assert torch.allclose(unet(z, 10, encoder_hidden_states=emb).sample, plain, atol=1e-5)
        for n, p in unet.named_parameters():
            if ".motion_adapters." in n and ".up." in n:
                p.normal_()
        assert not torch.allclose(unet(z, 10, encoder_hidden_states=emb).sample, plain, atol=1e-3)


def test_paper_profile_loads_modelscope_and_openclip_layouts_offline(tmp_path, monkeypatch):
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    from baselines.dreamvideo import TINY_IMAGE_ENCODER
    from tests.test_baseline_ti2v_zero import tiny_unet3d, write_repo_layout

    monkeypatch.setenv("FLASH_BENCH_WEIGHTS", str(tmp_path / "weights"))
    write_repo_layout(tmp_path / "weights" / "modelscope-t2v", tiny_unet3d())
    CLIPVisionModelWithProjection(CLIPVisionConfig(**TINY_IMAGE_ENCODER)).save_pretrained(
        str(tmp_path / "weights" / "openclip-vit-h-14"))
    m = DreamVideoMethod(MethodContext(profile="paper", size=64, num_frames=16, cache_dir=tmp_path / "cache",
                                       options=dict(native_size=64, train_steps=2, sample_steps=2)))
    m.fit(None, videos(), PROMPT)
    assert m.trained_names and all(".motion_adapters." in n for n in m.trained_names)
    video = m.animate(videos()[0][0], PROMPT, 16, seed=0)
    assert video.shape == (16, 64, 64, 3) and video.dtype == np.uint8
