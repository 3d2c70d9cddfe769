"""Detail Enhancement Decoder (Sec. 3.3, A2.3): exactness at init, warping, patch attention, distortions, training."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from diffusers import AutoencoderKL
from torchvision.transforms.v2 import functional as TF

from flash.detail_decoder import (DetailDecoderConfig, PatchAttention, WarpBranch, apply_detail_decoder,
                                  load_decoder, patchify, save_decoder, unpatchify, warp)
from flash.distortions import DistortionConfig, distort_video, jitter_maps, random_elastic, random_regional_jitter
from flash_bench.types import InputError


def tiny_vae(channels=(8, 16), seed=0) -> AutoencoderKL:
    torch.manual_seed(seed)
    n = len(channels)
    return AutoencoderKL(block_out_channels=channels, down_block_types=["DownEncoderBlock2D"] * n,
                         up_block_types=["UpDecoderBlock2D"] * n, norm_num_groups=4, layers_per_block=1,
                         latent_channels=4).eval()


# ------------------------------------------------------------------------------------------ zero init
@pytest.mark.parametrize("channels", [(8, 16), (8, 16, 16)])
@pytest.mark.parametrize("branches", [("warp",), ("attn",), ("warp", "attn")])
def test_zero_init_reproduces_plain_decoder_bit_for_bit(channels, branches):
    vae = tiny_vae(channels)
    frames = torch.rand(3, 3, 32, 32) * 2 - 1
    latents = vae.encode(frames).latent_dist.mode()
    with torch.no_grad():
        plain = vae.decode(latents).sample
        decoder = apply_detail_decoder(vae, DetailDecoderConfig(branches=branches))
        enhanced = decoder.decode(latents, frames[:1])
        assert torch.equal(enhanced, plain)
        # the hooks are live: a non-zero fusion weight changes the output ...
        for enhancer in decoder.enhancers.values():
            torch.nn.init.constant_(enhancer.fuse[-1].bias, 0.1)
        assert not torch.allclose(decoder.decode(latents, frames[:1]), plain)
        # ... and are gone after remove()
        decoder.remove()
        assert torch.equal(vae.decode(latents).sample, plain)


def test_hooks_sit_at_every_level_with_matching_sizes():
    vae = tiny_vae((8, 16, 16))
    decoder = apply_detail_decoder(vae)
    feats = decoder.reference_features(torch.zeros(1, 3, 32, 32))
    assert [tuple(f.shape) for f in feats] == [(1, 8, 32, 32), (1, 16, 16, 16), (1, 16, 8, 8)]
    seen = {}
    for lv in decoder.levels:
        block = vae.decoder.up_blocks[decoder.num_levels - 1 - lv].resnets[-1]
        block.register_forward_hook(lambda m, a, o, lv=lv: seen.__setitem__(lv, tuple(o.shape)))
    decoder.decode(torch.zeros(2, 4, 8, 8), torch.zeros(1, 3, 32, 32))
    assert seen == {0: (2, 8, 32, 32), 1: (2, 16, 16, 16), 2: (2, 16, 8, 8)}


# ---------------------------------------------------------------------------------------------- warping
def test_warp_moves_a_known_pattern_by_a_known_displacement():
    torch.manual_seed(0)
    pattern = torch.rand(2, 3, 12, 10)
    flow = torch.zeros(2, 2, 12, 10)
    flow[:, 0], flow[:, 1] = 3.0, -2.0                        # sample 3 columns right, 2 rows up
    out = warp(pattern, flow)
    # out[y, x] = pattern[y - 2, x + 3] where that is inside the image (torch.roll as the reference)
    expected = torch.roll(pattern, shifts=(2, -3), dims=(2, 3))
    torch.testing.assert_close(out[:, :, 2:, :-3], expected[:, :, 2:, :-3], atol=1e-5, rtol=0)
    # half a pixel to the right = mean of two neighbours (bilinear)
    flow = torch.zeros(2, 2, 12, 10)
    flow[:, 0] = 0.5
    half = warp(pattern, flow)
    torch.testing.assert_close(half[..., :-1], (pattern[..., :-1] + pattern[..., 1:]) / 2, atol=1e-5, rtol=0)
    # zero flow = identity
    torch.testing.assert_close(warp(pattern, torch.zeros_like(flow)), pattern, atol=1e-6, rtol=0)


def test_warp_branch_applies_its_predicted_displacement():
    branch = WarpBranch(channels=4, hidden=8)
    with torch.no_grad():
        branch.convs[-1].bias.copy_(torch.tensor([-1.0, 2.0]))  # constant field dx = -1, dy = +2
    h, g = torch.rand(1, 4, 9, 9), torch.rand(1, 4, 9, 9)
    flow = branch.flow(h, g)
    assert flow.shape == (1, 2, 9, 9) and torch.all(flow[:, 0] == -1) and torch.all(flow[:, 1] == 2)
    out = branch(h, g)
    torch.testing.assert_close(out[:, :, :-2, 1:], g[:, :, 2:, :-1], atol=1e-5, rtol=0)


# ----------------------------------------------------------------------------------------- patch attention
@pytest.mark.parametrize("size", [(8, 8), (7, 9), (5, 4), (1, 1), (6, 3)])
def test_patch_attention_shapes_odd_and_even(size):
    h_, w_ = size
    x = torch.rand(3, 5, h_, w_)
    tokens, grid = patchify(x, 2)
    assert grid == (math.ceil(h_ / 2), math.ceil(w_ / 2))
    assert tokens.shape == (3, grid[0] * grid[1], 5 * 4)
    assert torch.equal(unpatchify(tokens, grid, 2, (h_, w_)), x)  # exact round trip, padding cropped
    # tokens are the 2x2 patches: token 0 holds the top-left 2x2 block (channel-major)
    if h_ >= 2 and w_ >= 2:
        assert torch.equal(tokens[:, 0], x[:, :, :2, :2].reshape(3, -1))
    attn = PatchAttention(channels=5, patch_size=2, dim=16, heads=2)
    out = attn(x, torch.rand(1, 5, h_ + 1, w_))                  # key/value of another size also works
    assert out.shape == x.shape


def test_patch_attention_is_a_weighted_combination_of_reference_patches():
    attn = PatchAttention(channels=3, patch_size=2, dim=12, heads=3).eval()
    patch = torch.rand(1, 3, 2, 2)
    g = patch.repeat(1, 1, 3, 4)                                 # every reference patch is the same
    with torch.no_grad():
        a, b = attn(torch.rand(2, 3, 6, 8), g), attn(torch.rand(2, 3, 6, 8), g)
    # softmax weights sum to 1, so the output is the same patch everywhere, whatever the query
    torch.testing.assert_close(a, b, atol=1e-5, rtol=0)
    torch.testing.assert_close(a, a[:, :, :2, :2].repeat(1, 1, 3, 4), atol=1e-5, rtol=0)


# ------------------------------------------------------------------------------------------------ distortions
def test_distortions_are_seeded():
    video = torch.rand(4, 3, 32, 32)
    a, pa = distort_video(video, 7)
    b, pb = distort_video(video, 7)
    c, _ = distort_video(video, 8)
    assert torch.equal(a, b) and pa["blur"] == pb["blur"]
    assert not torch.equal(a, c)
    assert a.shape == video.shape and a.dtype == video.dtype and 0 <= a.min() and a.max() <= 1


def test_clean_first_leaves_frame_1_as_the_reference_and_distorts_the_rest_as_before():
    from flash.train_decoder import DecoderTrainConfig, make_pair

    video = (np.random.default_rng(0).random((4, 32, 32, 3)) * 255).astype(np.uint8)
    pairs = [make_pair(video, torch.Generator().manual_seed(3), DecoderTrainConfig(clean_first=c)) for c in (False, True)]
    (_, clean, plain), (reference, _, kept) = pairs
    assert torch.equal(kept[0], reference[0]) and not torch.equal(plain[0], clean[0])
    assert torch.equal(kept[1:], plain[1:])


def test_distortions_at_zero_strength_are_the_identity():
    """Kernel 1, elastic strength 0 and no jittered region leave a video unchanged (so `--distortion` ranges may
    start at "none")."""
    video = torch.rand(3, 3, 32, 32)
    out, params = distort_video(video, 0, DistortionConfig(blur_kernel=(1, 1), elastic_alpha=(0.0, 0.0),
                                                           region_fraction=0.0))
    assert params["blur"]["kernel_size"] == 1 and torch.equal(out, video)


def test_distortion_parameters_stay_in_range():
    cfg = DistortionConfig()
    video = torch.rand(6, 3, 32, 32)
    kernels = set()
    for seed in range(20):
        _, p = distort_video(video, seed, cfg)
        kernels.add(p["blur"]["kernel_size"])
        mask, factors = p["jitter"]["mask"], p["jitter"]["factors"]
        assert torch.all(mask.sum(1) == round(0.8 * 16))         # 80% of the 16 regions, every frame
        picked = factors[mask]                                    # (n, 4): brightness, contrast, saturation, hue
        assert picked[:, :3].min() >= 0.7 and picked[:, :3].max() <= 1.3
        assert picked[:, 3].min() >= -0.2 and picked[:, 3].max() <= 0.2
        alpha = p["elastic"]["alpha"]
        assert alpha.min() >= 1 and alpha.max() <= 20
        assert torch.all(p["elastic"]["max_displacement_px"] <= alpha / 2 + 1e-5)
    assert kernels <= {3, 5, 7, 9} and len(kernels) >= 3


def test_regional_jitter_matches_torchvision_and_leaves_other_regions_alone():
    torch.manual_seed(0)
    x = torch.rand(2, 3, 16, 16)
    b, c, s, hue = 1.2, 0.8, 1.25, 0.15
    factors = torch.tensor([b, c, s, hue]).expand(2, 1, 4)
    ours = jitter_maps(x, factors, torch.zeros(16, 16, dtype=torch.long))   # one region = the whole frame
    ref = TF.adjust_hue(TF.adjust_saturation(TF.adjust_contrast(TF.adjust_brightness(x, b), c), s), hue)
    torch.testing.assert_close(ours, ref, atol=1e-5, rtol=0)
    out, p = random_regional_jitter(x, DistortionConfig(), torch.Generator().manual_seed(1))
    untouched = ~p["mask"][:, p["cell_id"]]                  # (T, H, W) pixels of unpicked regions
    assert torch.equal(out.permute(0, 2, 3, 1)[untouched], x.permute(0, 2, 3, 1)[untouched])
    assert not torch.equal(out, x)


def test_elastic_strength_zero_is_identity_and_strength_moves_pixels():
    x = torch.rand(2, 3, 32, 32)
    same, _ = random_elastic(x, DistortionConfig(elastic_alpha=(0.0, 0.0)), torch.Generator().manual_seed(0))
    torch.testing.assert_close(same, x, atol=1e-5, rtol=0)
    moved, p = random_elastic(x, DistortionConfig(elastic_alpha=(20.0, 20.0), elastic_sigma=1.0),
                              torch.Generator().manual_seed(0))
    assert (moved - x).abs().mean() > 0.01 and torch.all(p["max_displacement_px"] <= 10 + 1e-5)


# ------------------------------------------------------------------------------------------------ checkpoints
def test_checkpoint_round_trip_holds_only_new_layers(tmp_path):
    vae = tiny_vae()
    decoder = apply_detail_decoder(vae, DetailDecoderConfig(branches=("warp",)))
    with torch.no_grad():
        for p in decoder.parameters():
            p.add_(0.01 * torch.randn_like(p))
    path = tmp_path / "dec.safetensors"
    save_decoder(decoder, path)
    from safetensors.torch import load_file
    keys = load_file(str(path)).keys()
    assert keys and all(k.startswith("enhancers.") for k in keys) and not any(".attn." in k for k in keys)
    latents, ref = torch.randn(2, 4, 16, 16), torch.rand(1, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        expected = decoder.decode(latents, ref)
        decoder.remove()
        loaded = load_decoder(path, vae)
        assert loaded.config.branches == ("warp",)
        assert torch.equal(loaded.decode(latents, ref), expected)
    with pytest.raises(InputError, match="dec.safetensors"):
        load_decoder(path, tiny_vae((8, 16, 16)))
    with pytest.raises(InputError, match="missing.safetensors"):
        load_decoder(tmp_path / "missing.safetensors", vae)
    with pytest.raises(InputError, match="branches"):
        DetailDecoderConfig.parse_branches("warp,flow")


# --------------------------------------------------------------------------------------------------- training
def _train_small_vae(videos, steps: int, seed: int = 0) -> AutoencoderKL:
    """A 2-level AutoencoderKL fitted briefly to synthetic frames: blurry, like the tiny base's VAE."""
    frames = torch.from_numpy(np.concatenate(videos)).permute(0, 3, 1, 2).float() / 127.5 - 1  # (N, 3, H, W)
    vae = tiny_vae((16, 32), seed)
    opt = torch.optim.Adam(vae.parameters(), lr=3e-3)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        x = frames[torch.randint(len(frames), (8,), generator=gen)]
        loss = torch.nn.functional.mse_loss(vae.decode(vae.encode(x).latent_dist.mode()).sample, x)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return vae.eval()


def test_short_training_lowers_mse_of_distorted_held_out_videos_below_plain_decoder():
    from flash.train_decoder import DecoderTrainConfig, evaluate_reconstruction, train_decoder
    from flash_bench.datasets.synthetic import ACTIONS, PRETRAIN_ACTIONS, render_video

    # train on pretrain-pool actions, evaluate on test videos (index 16+) of the 12 few-shot actions
    train = [render_video(a, i, num_frames=8, size=32) for a in list(PRETRAIN_ACTIONS)[:4] for i in range(4)]
    held = [render_video(a, 16 + i, num_frames=8, size=32) for i, a in enumerate(list(ACTIONS)[:4])]
    vae = _train_small_vae(train, steps=30)
    decoder, log = train_decoder(vae, train, DecoderTrainConfig(steps=30, frames_per_step=4, lr=1e-3, seed=0))
    result = evaluate_reconstruction(decoder, held)
    print(f"held-out distorted-video MSE: plain decoder {result['plain_mse']:.4f}, "
          f"detail decoder {result['enhanced_mse']:.4f}")
    assert result["plain_mse"] < 0.2                              # the VAE reconstructs something
    assert result["enhanced_mse"] < result["plain_mse"]           # zero-init would give equality


def test_training_resumes_on_the_same_path(tmp_path):
    from flash.train_decoder import DecoderTrainConfig, train_decoder

    videos = [(np.random.default_rng(i).random((3, 16, 16, 3)) * 255).astype(np.uint8) for i in range(2)]
    cfg = DecoderTrainConfig(steps=4, frames_per_step=2, lr=1e-3, save_every=2,
                             distortion=DistortionConfig(elastic_sigma=1.0))
    straight, _ = train_decoder(tiny_vae(), videos, cfg)
    out = tmp_path / "dec.safetensors"
    train_decoder(tiny_vae(), videos, DecoderTrainConfig(**{**cfg.__dict__, "steps": 2}), out=out)
    resumed, log = train_decoder(tiny_vae(), videos, cfg, out=out)
    assert [s for s, _ in log] == [0, 1, 2, 3]
    for k, v in straight.state_dict().items():
        torch.testing.assert_close(resumed.state_dict()[k], v, atol=1e-6, rtol=0)
    assert out.with_suffix(".json").is_file()


def test_cli_trains_and_reports(tmp_path, monkeypatch):
    import json

    import typer
    from typer.testing import CliRunner

    import flash.train_decoder as td
    from flash_bench.cli.decoder import train_decoder as command

    videos = [(np.random.default_rng(i).random((3, 16, 16, 3)) * 255).astype(np.uint8) for i in range(3)]
    monkeypatch.setattr(td, "load_vae", lambda profile, device="cpu": tiny_vae())
    monkeypatch.setattr(td, "dataset_videos", lambda *a, **k: (videos[:2], videos[2:]))
    app = typer.Typer()
    app.command()(command)
    app.command("other")(lambda: None)                            # keep typer in multi-command mode
    out = tmp_path / "cli.safetensors"
    res = CliRunner().invoke(app, ["train-decoder", "--steps", "2", "--branches", "attn", "--out", str(out)])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.output[res.output.index("{"):])
    assert summary["steps"] == 2 and set(summary["held_out"]) >= {"plain_mse", "enhanced_mse"}
    assert "tiny profile" in res.output
    bad = CliRunner().invoke(app, ["train-decoder", "--profile", "huge", "--out", str(out)])
    assert bad.exit_code == 2 and "huge" in bad.output
    mild = tmp_path / "mild.safetensors"
    res = CliRunner().invoke(app, ["train-decoder", "--steps", "1", "--branches", "attn", "--out", str(mild),
                                   "--clean-first", "--distortion", '{"blur_kernel": [1, 5]}'])
    assert res.exit_code == 0, res.output
    config = json.loads(mild.with_suffix(".json").read_text())["train"]["config"]
    assert config["clean_first"] and config["distortion"]["blur_kernel"] == [1, 5]
    for text, named in (('{"blurr": 1}', "blurr"), ("{bad", "not JSON"), ("[1]", "JSON object")):
        bad = CliRunner().invoke(app, ["train-decoder", "--out", str(out), "--distortion", text])
        assert bad.exit_code == 2 and named in bad.output, bad.output


def test_paper_vae_comes_from_the_weights_folder(tmp_path, monkeypatch):
    """`train decoder --profile paper` finds SD1.5's VAE where every other paper loader looks: the weights folder
    (it once looked in the hub cache only); a folder without it is one error naming the row."""
    import torch

    from flash.train_decoder import load_vae
    from flash_bench import weights
    from tests.conftest import write_sd15_snapshot

    sd = write_sd15_snapshot(tmp_path / "sd-v1-5")
    monkeypatch.setenv("FLASH_BENCH_WEIGHTS", str(tmp_path))
    monkeypatch.setattr(weights, "check_sha256", lambda *a, **k: None)     # seeded stand-in, not the real file
    vae = load_vae("paper")
    want = sd["vae"].state_dict()
    assert all(torch.equal(vae.state_dict()[k], want[k]) for k in want)
    monkeypatch.setenv("FLASH_BENCH_WEIGHTS", str(tmp_path / "empty"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(weights.WeightsMissing, match="sd-v1-5"):
        load_vae("paper")
