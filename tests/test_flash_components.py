"""FLASH building blocks on a tiny *random* base (independent of the shipped pretrained weights)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from flash.augmentation import make_pair
from flash.config import FlashConfig, variant
from flash.correspondence_alignment import CorrespondenceAlignment
from flash_bench.cross_frame_attention import apply_cross_frame_attention, first_and_current
from flash.latent_adain import latent_adain
from flash.motion_alignment import MotionAlignment, align_motion_features, temporal_modules
from flash.timestep_sampling import timestep_probabilities
from flash_bench.types import InputError


@pytest.fixture(scope="module")
def base():
    from flash_bench.tiny_world import build_tiny_components

    b = build_tiny_components(seed=0)
    apply_cross_frame_attention(b.unet)
    return b


def _unet_inputs(base, videos: int, frames: int = 4, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(videos, 4, frames, 8, 8, generator=g)
    emb = base.encode_prompts(["a person is waving."] * videos).repeat_interleave(frames, 0)
    return z, torch.full((videos,), 500), emb


def _normalise(x: np.ndarray) -> np.ndarray:
    """(F, C, h, w) -> per channel/position temporal z-score (eq. 3), numpy reference."""
    return (x - x.mean(0)) / (x.std(0) + 1e-6)


# ----------------------------------------------------------------------------- trainable set
def test_building_the_base_prints_no_empty_fp32_warning():
    """diffusers' "should be kept in float32: []" (an empty list, on every from_unet2d) is filtered out; a
    warning that names modules still reaches the user. (Records are collected by a handler on the logger itself:
    diffusers' own handler holds whichever stderr existed when it was imported.)"""
    import logging

    from flash_bench.tiny_world import build_tiny_components

    class Collect(logging.Handler):
        def __init__(self):
            super().__init__()
            self.messages = []

        def emit(self, record):
            self.messages.append(record.getMessage())

    logger, collect = logging.getLogger("diffusers.models.modeling_utils"), Collect()
    logger.addHandler(collect)
    try:
        build_tiny_components(seed=1)
        logger.warning("should be kept in float32: ['norm']")
    finally:
        logger.removeHandler(collect)
    assert not any("float32: []" in m for m in collect.messages)
    assert any("float32: ['norm']" in m for m in collect.messages)


def test_trainable_set_is_motion_modules_plus_other_attention_kv(base):
    from diffusers.models.attention_processor import Attention

    from flash.train import set_trainable

    unet = base.unet
    expected = set()
    motion_prefixes = [n + "." for n, _ in temporal_modules(unet)]
    for prefix in motion_prefixes:
        expected |= {prefix + k for k, _ in unet.get_submodule(prefix[:-1]).named_parameters()}
    for name, module in unet.named_modules():
        if isinstance(module, Attention) and not any(name.startswith(p) for p in motion_prefixes):
            expected |= {f"{name}.to_k.{k}" for k, _ in module.to_k.named_parameters()}
            expected |= {f"{name}.to_v.{k}" for k, _ in module.to_v.named_parameters()}
    try:
        got = set(set_trainable(unet))
        assert got == {n for n, p in unet.named_parameters() if p.requires_grad}
        assert got == expected
        assert not any(".to_q." in n or ".to_out." in n for n in got if ".motion_modules." not in n)
    finally:
        unet.requires_grad_(False)


# ----------------------------------------------------------------------------- motion alignment
def test_motion_alignment_replaces_only_the_augmented_motion_channels():
    g = torch.Generator().manual_seed(1)
    b, f, c, h, w = 2, 6, 20, 3, 3
    feats = torch.randn(2 * b * f, c, h, w, generator=g)
    feats = feats * torch.rand(1, c, 1, 1, generator=g) * 3       # channels with different temporal spread
    out = align_motion_features(feats, f, tau=75).numpy().reshape(2, b, f, c, h, w)
    src = feats.numpy().reshape(2, b, f, c, h, w)
    np.testing.assert_array_equal(out[0], src[0])                  # original half untouched
    for i in range(b):
        s = src[0, i].std(0).mean(axis=(1, 2))                     # (C,) eq. 3 sigma, spatial mean
        motion = s > np.percentile(s, 75)
        assert 0 < motion.sum() < c
        np.testing.assert_allclose(_normalise(out[1, i])[:, motion], _normalise(src[0, i])[:, motion],
                                   atol=1e-4)
        np.testing.assert_array_equal(out[1, i][:, ~motion], src[1, i][:, ~motion])
        # the augmented video keeps its own temporal mean and std (restoration, eq. 4 text)
        np.testing.assert_allclose(out[1, i].mean(0), src[1, i].mean(0), atol=1e-4)


def test_motion_alignment_hook_runs_after_every_temporal_layer(base):
    unet, state = base.unet, base.unet._flash_frame_state
    align = MotionAlignment(unet, state, tau=90)
    seen = {}
    names = [n for n, _ in temporal_modules(unet)]
    grabs = [m.register_forward_hook(lambda mod, a, o, n=n: seen.__setitem__(n, (a[0], o)))
             for n, m in temporal_modules(unet)]
    try:
        z, t, emb = _unet_inputs(base, 2)
        align.enabled = True
        with torch.no_grad():
            unet(z, t, emb)
    finally:
        align.remove()
        for h in grabs:
            h.remove()
    assert set(seen) == set(names) and len(names) >= 5
    for name, (inp, out) in seen.items():
        o = out.numpy().reshape(2, 4, *out.shape[1:])               # (pair, F, C, h, w)
        ref = align_motion_features(out, 4, 90)                     # idempotent once aligned
        np.testing.assert_allclose(ref.numpy(), out.numpy(), atol=1e-4, err_msg=name)
        s = o[0].std(0).mean(axis=(1, 2))
        motion = s > np.percentile(s, 90)
        np.testing.assert_allclose(_normalise(o[1])[:, motion], _normalise(o[0])[:, motion], atol=1e-3)


# ----------------------------------------------------------------------------- correspondence alignment
def test_correspondence_alignment_shares_attention_maps_only_in_selected_layers(base):
    unet, state = base.unet, base.unet._flash_frame_state
    corr = CorrespondenceAlignment(unet, p=0.5, generator=torch.Generator().manual_seed(3))
    chosen = corr.select()
    all_names = [p.name for p in corr.processors]
    assert len(chosen) == round(0.5 * len(all_names)) and 0 < len(chosen) < len(all_names)
    z, t, emb = _unet_inputs(base, 2, seed=4)                       # two different videos = [ori; aug]
    state.record_probs, state.probs = True, {}
    try:
        with torch.no_grad():
            unet(z, t, emb)
    finally:
        corr.clear()
        state.record_probs = False
    for name in all_names:
        probs = state.probs[name]                                   # (2*F, heads, N, 2N)
        ori, aug = probs.chunk(2)
        if name in chosen:
            torch.testing.assert_close(aug, ori)
        else:
            assert (aug - ori).abs().max() > 1e-3, name


def test_cross_frame_keys_are_first_plus_current_frame():
    x = torch.arange(2 * 3 * 2 * 1, dtype=torch.float32).view(6, 2, 1)   # (B*F, N, C), B=2, F=3
    kv = first_and_current(x, 3)
    assert kv.shape == (6, 4, 1)
    for video in range(2):
        for frame in range(3):
            row = kv[video * 3 + frame]
            torch.testing.assert_close(row[:2], x[video * 3])           # first frame of the same video
            torch.testing.assert_close(row[2:], x[video * 3 + frame])   # then the current frame


# ----------------------------------------------------------------------------- AdaIN, timesteps, augmentation
def test_latent_adain_matches_first_frame_statistics():
    g = torch.Generator().manual_seed(5)
    z = torch.randn(2, 4, 6, 8, 8, generator=g) * torch.rand(2, 4, 6, 1, 1, generator=g) * 3 + 2
    out = latent_adain(z)
    torch.testing.assert_close(out.mean(dim=(3, 4)), z[:, :, :1].mean(dim=(3, 4)).expand(-1, -1, 6))
    torch.testing.assert_close(out.std(dim=(3, 4)), z[:, :, :1].std(dim=(3, 4)).expand(-1, -1, 6),
                               rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(out[:, :, 0], z[:, :, 0])


def test_timestep_distribution_is_the_importance_formula():
    p = timestep_probabilities(1000, alpha=0.5).numpy()
    t = np.arange(1000)
    ref = 1 - 0.5 * np.cos(np.pi * t / 1000)
    np.testing.assert_allclose(p, ref / ref.sum())
    assert p[-1] / p[0] == pytest.approx(1.5 / 0.5, rel=1e-2)        # noisy end 3x as likely as the clean end


def test_strong_augmentation_keeps_motion_and_changes_appearance():
    g = torch.Generator().manual_seed(6)
    video = torch.full((4, 3, 32, 32), 0.4)
    for t in range(4):                                              # a square moving right
        video[t, :, 10:18, 4 + 5 * t:12 + 5 * t] = torch.tensor([0.9, 0.3, 0.2])[:, None, None]
    pair = make_pair(video, g)
    assert pair.shape == (2, 4, 3, 32, 32)
    ori, aug = pair
    assert (ori - aug).abs().mean() > 0.02                          # appearance changed
    def centre(v):                                                  # column centroid of what moves, per frame
        weight = (v - v.mean(0)).abs().mean(dim=(1, 2))             # (F, W)
        return (weight * torch.arange(32.0)).sum(-1) / weight.sum(-1)

    torch.testing.assert_close(centre(ori), centre(aug), atol=1.5, rtol=0)
    assert abs(centre(ori)[-1] - centre(ori)[0]) > 3                # and it does move (flip: either way)


# ----------------------------------------------------------------------------- config
def test_config_rejects_unknown_keys_and_builds_variants():
    with pytest.raises(InputError, match="unknown FLASH config keys"):
        FlashConfig.from_dict({"tau": 90, "typo": 1})
    v1, v5 = variant(1), variant(5)
    assert not (v1.strong_aug or v1.motion_align or v1.corr_align)
    assert v5.strong_aug and v5.motion_align and v5.corr_align
    with pytest.raises(InputError, match="decoder"):
        variant(6)
    assert FlashConfig.from_dict(v5.to_dict()) == v5


def test_offline_tokenizer_matches_open_clip():
    import open_clip

    from flash_bench.tokenizer import offline_clip_tokenizer

    tok = offline_clip_tokenizer()
    for text in ["a person is shooting a soccer ball.", "Two People HUG, 2x!"]:
        ours = tok(text).input_ids
        ref = open_clip.tokenize([text])[0].tolist()
        assert ours == ref[:len(ours)] and ref[len(ours)] == 0
