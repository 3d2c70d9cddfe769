"""LAMP (tiny): exactly LAMP's layer set trains, inflation is causal/identity at init, frame 1 fixed in sampling,
shared noise, latent AdaIN, histogram matching, cache, shapes and determinism."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn as nn

from baselines import lamp
from baselines import tiny_base as tb
from baselines.lamp import LAMPMethod
from flash_bench import tiny_world as tw
from flash_bench.types import MethodContext
from tests.conftest import moving_square

torch.set_num_threads(1)

OPTS = dict(train_steps=3, sample_steps=4)
PROMPT = "a square slides to the right"


def videos():
    return [moving_square(i, frames=16, size=tw.SIZE) for i in range(2)]


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    captured, real_adamw = [], torch.optim.AdamW

    def spy(params, *a, **kw):
        params = list(params)
        captured.extend(params)
        return real_adamw(params, *a, **kw)

    m = LAMPMethod(MethodContext(profile="tiny", size=64, num_frames=16, cache_dir=tmp_path_factory.mktemp("cache"),
                                 options=OPTS))
    before = {n: p.detach().clone() for n, p in m.parts[0].unet.named_parameters()}
    torch.optim.AdamW = spy
    try:
        m.fit(None, videos(), PROMPT)
    finally:
        torch.optim.AdamW = real_adamw
    return m, captured, before


def plain_image_unet():
    base = tw.tiny_video_base(cross_frame=False)
    return tb.image_unet_from(base.unet, tb.tiny_unet2d_config())


def test_trains_exactly_lamps_layer_set(fitted):
    m, captured, before = fitted
    unet = m.parts[0].unet
    plain = plain_image_unet()
    convs = [n for n, mod in plain.named_modules() if isinstance(mod, nn.Conv2d)]
    q_proj = [n for n, _ in plain.named_parameters() if ".attn1.to_q." in n]
    blocks = [n for n, mod in plain.named_modules() if n.endswith(".transformer_blocks.0")]
    expected = ({f"{c}.temporal.{k}.{p}" for c in convs for k in ("conv1d", "conv_gate") for p in ("weight", "bias")}
                | set(q_proj)
                | {n for n, _ in unet.named_parameters() if any(f"{b}.attn_temp." in n for b in blocks)})
    assert len(q_proj) == len(blocks) > 0 and {"conv_in", "conv_out"} <= set(convs)
    names = {id(p): n for n, p in unet.named_parameters()}
    assert {names[id(p)] for p in captured} == expected
    assert {n for n, p in unet.named_parameters() if p.requires_grad} == expected
    after = dict(unet.named_parameters())
    assert all(torch.equal(after[n], v) for n, v in before.items() if n not in expected)   # e.g. attn1.to_k
    assert any(not torch.equal(after[n], before[n]) for n in expected if "conv1d" in n)


def test_inflation_is_causal_and_frame_one_matches_the_image_unet_at_init():
    m = LAMPMethod(MethodContext(profile="tiny", size=64, num_frames=16, options=OPTS))
    base, call, _ = m.parts
    plain = plain_image_unet()
    gen = torch.Generator().manual_seed(0)
    z = torch.randn(1, 4, 5, 8, 8, generator=gen)
    emb = base.encode_prompts([PROMPT])
    with torch.no_grad():
        video = call(base.unet, z, 400, emb)                                   # (1, C, F, h, w)
        image = plain(z[:, :, 0], 400, encoder_hidden_states=emb).sample      # frame 1 alone, 2-D UNet
        z2 = z.clone()
        z2[:, :, 3:] = torch.randn(1, 4, 2, 8, 8, generator=gen)
        video2 = call(base.unet, z2, 400, emb)
    assert torch.allclose(video[:, :, 0], image, atol=1e-5)
    assert torch.allclose(video[:, :, :3], video2[:, :, :3], atol=1e-5)       # future frames do not leak back
    with torch.no_grad():                                                      # a trained-looking temporal conv
        for n, p in base.unet.named_parameters():
            if "conv1d" in n or "conv_gate" in n:
                p.copy_(torch.randn(p.shape, generator=gen) * 0.1)
        out, out2 = call(base.unet, z, 400, emb), call(base.unet, z2, 400, emb)
    assert not torch.allclose(out[:, :, 1:3], video[:, :, 1:3], atol=1e-3)     # the conv now acts over time
    assert torch.allclose(out[:, :, :3], out2[:, :, :3], atol=1e-5)           # and stays causal


def test_first_frame_fixed_at_every_sampling_step(fitted):
    m, _, _ = fitted
    img = videos()[0][0]
    ref = m.parts[0].encode_frames(tw.to_unit(img[None], tw.SIZE))             # (1, C, h, w)
    seen = []
    m.on_step = lambda i, t, z: seen.append(z[:, :, 0].clone())
    try:
        m.animate(img, PROMPT, 16, seed=0)
    finally:
        m.on_step = None
    assert len(seen) == OPTS["sample_steps"]
    assert all(torch.equal(s, ref) for s in seen)


def test_shared_noise_formula():
    n = lamp.shared_noise((1, 4, 6, 8, 8), 0.2, torch.Generator().manual_seed(7))
    raw = torch.randn((1, 4, 6, 8, 8), generator=torch.Generator().manual_seed(7))
    assert torch.equal(n[:, :, 0], raw[:, :, 0])
    assert torch.allclose(n[:, :, 1:], 0.2 * raw[:, :, :1] + 0.8 * raw[:, :, 1:])


def test_latent_adain_matches_reference_statistics():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, 4, 5, 8, 8, generator=gen) * 3 + 1
    ref = torch.randn(2, 4, 1, 8, 8, generator=gen) * 0.5 - 2
    out = lamp.adain(x, ref)
    assert torch.allclose(out.mean((3, 4)), ref.mean((3, 4)).expand(-1, -1, 5), atol=1e-5)
    assert torch.allclose(out.std((3, 4)), ref.std((3, 4)).expand(-1, -1, 5), atol=1e-4)


def test_histogram_matching_reproduces_the_reference_distribution():
    rng = np.random.default_rng(0)
    src, ref = rng.normal(size=(16, 16, 3)), rng.gamma(2.0, size=(16, 16, 3)) * 50
    out = lamp.match_histogram(src, ref)
    for c in range(3):   # distinct values, equal counts: the output is exactly a permutation of the reference
        assert np.allclose(np.sort(out[..., c].ravel()), np.sort(ref[..., c].ravel()))
        order = np.argsort(src[..., c].ravel())                               # and keeps the source's ranks
        assert np.all(np.diff(out[..., c].ravel()[order]) >= 0)


def test_histogram_matching_against_skimage():
    from skimage import exposure   # a test dependency: the independent reference for histogram matching

    rng = np.random.default_rng(1)
    src, ref = rng.integers(0, 120, (20, 24, 3), dtype=np.uint8), rng.integers(60, 256, (20, 24, 3), dtype=np.uint8)
    ours = lamp.match_histogram(src, ref)
    theirs = exposure.match_histograms(src, ref, channel_axis=-1)   # skimage casts back to uint8 (truncates)
    assert theirs.dtype == np.uint8 and np.array_equal(ours.astype(np.uint8), theirs)


def test_video_is_histogram_matched_deterministic_and_cached(fitted):
    m, _, _ = fitted
    img = videos()[1][0]
    a = m.animate(img, PROMPT, 16, seed=2)
    assert a.shape == (16, tw.SIZE, tw.SIZE, 3) and a.dtype == np.uint8
    assert np.array_equal(a, m.animate(img, PROMPT, 16, seed=2))
    assert not np.array_equal(a, m.animate(img, PROMPT, 16, seed=3))
    for f in range(1, 16):      # each frame's per-channel p-quantile is frame 1's, exactly up to ties: pixels sharing
        for c in range(3):      # one value (a share w of the frame) map together, so within frame 1's p ± w quantiles
            w = np.unique(a[f, ..., c], return_counts=True)[1].max() / a[f, ..., c].size
            for p in (0.1, 0.5, 0.9):
                lo, hi = np.quantile(a[0, ..., c], [max(p - w, 0.0), min(p + w, 1.0)])
                assert lo - 1 <= np.quantile(a[f, ..., c], p) <= hi + 1, (f, c, p, w)
    files = list((m.ctx.cache_dir / "lamp").glob("*.safetensors"))
    from safetensors.torch import load_file
    assert len(files) == 1 and set(load_file(str(files[0]))) == set(lamp.lamp_parameter_names(m.parts[0].unet))
    again = LAMPMethod(MethodContext(profile="tiny", size=64, num_frames=16, cache_dir=m.ctx.cache_dir, options=OPTS))
    again.fit(None, videos(), PROMPT)
    assert again.last_fit_cached and np.array_equal(again.animate(img, PROMPT, 16, seed=2), a)


def test_paper_profile_missing_weights_is_one_clear_error(tmp_path, monkeypatch):
    from flash_bench.weights import WeightsMissing

    monkeypatch.setenv("FLASH_BENCH_WEIGHTS", str(tmp_path))
    m = LAMPMethod(MethodContext(profile="paper", size=64, num_frames=16, cache_dir=tmp_path))
    with pytest.raises(WeightsMissing, match="CompVis/stable-diffusion-v1-4"):
        m.fit(None, videos(), PROMPT)


def test_paper_profile_loads_an_sd_layout_offline(tmp_path, monkeypatch):
    from diffusers import UNet2DConditionModel

    from tests.test_baseline_ti2v_zero import write_repo_layout

    monkeypatch.setenv("FLASH_BENCH_WEIGHTS", str(tmp_path / "weights"))
    torch.manual_seed(0)
    write_repo_layout(tmp_path / "weights" / "sd-v1-4", UNet2DConditionModel(**tb.tiny_unet2d_config()))
    m = LAMPMethod(MethodContext(profile="paper", size=64, num_frames=16, cache_dir=tmp_path / "cache",
                                 options=dict(native_size=64, train_steps=2, sample_steps=2)))
    m.fit(None, videos(), PROMPT)
    assert set(m.trained_names) == set(lamp.lamp_parameter_names(m.parts[0].unet))
    reference = videos()[0][0]
    video = m.animate(reference, PROMPT, 16, seed=0)                      # sampled at 64², returned at the reference's size
    assert video.shape == (16, *reference.shape[:2], 3) and video.dtype == np.uint8
