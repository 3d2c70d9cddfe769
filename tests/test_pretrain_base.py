"""Pretraining of the tiny base: checkpoints are loadable tiny bases, and a warm start continues one."""
from dataclasses import replace

import json

import numpy as np

import pytest
import torch

from flash_bench.tiny_world import load_tiny_base
from flash.pretrain_base import PretrainConfig, pretrain_base


def _states(folder):
    base = load_tiny_base(folder)
    return {name: getattr(base, name).state_dict() for name in ("vae", "unet")}


def test_pretraining_writes_a_tiny_base_and_a_warm_start_continues_it(tmp_path):
    cfg = PretrainConfig(out_dir=str(tmp_path / "a"), resume_dir=str(tmp_path / "ra"), source="blobs",
                         vae_minutes=0.005, vae_batch=2, unet_max_steps=3, unet_batch=1, decoder_every=0, threads=1)
    pretrain_base(cfg)
    first = json.loads((tmp_path / "a" / "config.json").read_text())
    assert first["pretrain"]["unet_steps"] == 3

    # no steps left to take: the warm-started base is the source base, weight for weight
    same = replace(cfg, out_dir=str(tmp_path / "b"), resume_dir=str(tmp_path / "rb"), warm_start=str(tmp_path / "a"))
    pretrain_base(same)
    a, b = _states(tmp_path / "a"), _states(tmp_path / "b")
    for name in a:
        assert all(torch.equal(a[name][k], b[name][k]) for k in a[name]), name

    # two more steps: the step count continues and the UNet moves on; the VAE encoder stays frozen
    more = replace(same, out_dir=str(tmp_path / "c"), resume_dir=str(tmp_path / "rc"), unet_max_steps=5)
    pretrain_base(more)
    assert json.loads((tmp_path / "c" / "config.json").read_text())["pretrain"]["unet_steps"] == 5
    c = _states(tmp_path / "c")
    assert not all(torch.equal(a["unet"][k], c["unet"][k]) for k in a["unet"])
    enc = [k for k in a["vae"] if k.startswith("encoder.")]
    assert enc and all(torch.equal(a["vae"][k], c["vae"][k]) for k in enc)


def test_pretraining_builds_the_tiny_worlds_geometry(tmp_path):
    """The default pool (the 10 pretraining actions plus random choreographies) at the default canvas gives the
    latents the tiny world's UNet is built for: SIZE -> x2 VAE -> (SIZE/2)^2 x 4."""
    from flash_bench.datasets.synthetic import RANDOM_PROMPT
    from flash_bench.tiny_world import COMPONENTS, NUM_FRAMES, SIZE

    cfg = PretrainConfig(out_dir=str(tmp_path / "out"), resume_dir=str(tmp_path / "r"), videos_per_action=1,
                         random_videos=2, vae_minutes=0.003, vae_batch=2, unet_max_steps=2, unet_batch=1,
                         decoder_every=0, threads=1)
    pretrain_base(cfg)
    saved = json.loads((tmp_path / "out" / "config.json").read_text())
    assert saved["pretrain"]["unet_steps"] == 2 and saved["pretrain"]["source"] == "synthetic"
    assert (saved["pretrain"]["size"], saved["pretrain"]["num_frames"]) == (SIZE, NUM_FRAMES)
    base = load_tiny_base(tmp_path / "out")
    with torch.no_grad():
        z = base.encode_frames(torch.zeros(1, 3, SIZE, SIZE))
    assert tuple(z.shape) == (1, 4, SIZE // 2, SIZE // 2) and z.shape[-1] == COMPONENTS["unet"]["sample_size"]
    log = [json.loads(line) for line in (tmp_path / "out" / "train_log.jsonl").read_text().splitlines()]
    data = next(r for r in log if r["stage"] == "data")
    assert data["videos"] == 10 + 2 and RANDOM_PROMPT in data["prompts"]


def test_pretraining_refuses_a_canvas_size_the_vae_is_not_built_for(tmp_path):
    from flash_bench.tiny_world import SIZE
    from flash_bench.types import InputError

    with pytest.raises(InputError, match=f"size={2 * SIZE}"):
        pretrain_base(PretrainConfig(out_dir=str(tmp_path / "o"), resume_dir=str(tmp_path / "r"), size=2 * SIZE))


def test_an_unknown_pretraining_source_is_refused(tmp_path):
    from flash_bench.types import InputError

    with pytest.raises(InputError, match="synthetic-v2"):
        pretrain_base(PretrainConfig(out_dir=str(tmp_path / "o"), resume_dir=str(tmp_path / "r"), source="synthetic-v2"))


def test_the_latent_cache_is_reused_only_for_the_pool_it_was_made_from(tmp_path):
    from flash.pretrain_base import cache_latents, pool_identity
    from flash_bench.tiny_world import build_tiny_components

    base = build_tiny_components(0)
    cfg = PretrainConfig(videos_per_action=1)
    frames = np.zeros((2, 32, 32, 3), np.uint8)
    cache = tmp_path / "latents.safetensors"
    first, _ = cache_latents(base, [(frames, "a")], cache, pool_identity(cfg))
    again, _ = cache_latents(base, [(frames + 200, "a")], cache, pool_identity(cfg))
    assert torch.equal(first, again)                                   # same pool: read back, not re-encoded
    other, _ = cache_latents(base, [(frames + 200, "a")], cache, pool_identity(replace(cfg, random_variants=3)))
    assert not torch.equal(first, other)                               # another pool: encoded afresh


def test_the_figure_weighted_loss_weighs_figure_pixels_as_documented():
    """Against the closed form: one figure pixel of four, error a there and b elsewhere, weight 1 + k on it."""
    from flash.pretrain_base import figure_weighted_loss

    k = PretrainConfig().figure_weight
    a, b = 0.5, 0.2
    x = torch.zeros(1, 3, 2, 2)
    rec = torch.full((1, 3, 2, 2), b)
    rec[..., 0, 1] = a
    mask = torch.zeros(1, 2, 2, dtype=torch.bool)
    mask[0, 0, 1] = True
    expected = ((1 + k) * (a + a * a) + 3 * (b + b * b)) / ((1 + k) + 3)
    assert figure_weighted_loss(rec, x, mask, k).item() == pytest.approx(expected, rel=1e-6)
    # no figure: the plain L1 + MSE mean
    assert figure_weighted_loss(rec, x, torch.zeros_like(mask), k).item() == pytest.approx(
        ((rec - x).abs() + (rec - x) ** 2).mean().item(), rel=1e-6)


def test_decoder_tuning_leaves_the_encoder_and_the_unet_and_resumes(tmp_path):
    """``vae_decoder_minutes`` from a warm start with no UNet steps: the decoder moves, the encoder and the UNet
    keep the source's weights, the steps are recorded and a larger budget continues from them."""
    src = PretrainConfig(out_dir=str(tmp_path / "a"), resume_dir=str(tmp_path / "ra"), source="blobs",
                         vae_minutes=0.005, vae_batch=2, unet_max_steps=2, unet_batch=1, decoder_every=0, threads=1)
    pretrain_base(src)
    tune = replace(src, out_dir=str(tmp_path / "b"), resume_dir=str(tmp_path / "rb"), warm_start=str(tmp_path / "a"),
                   unet_minutes=0.0, vae_decoder_minutes=0.01, vae_decoder_batch=2)
    pretrain_base(tune)
    a, b = _states(tmp_path / "a"), _states(tmp_path / "b")
    enc = [k for k in a["vae"] if not k.startswith(("decoder.", "post_quant_conv."))]
    dec = [k for k in a["vae"] if k.startswith("decoder.")]
    assert enc and all(torch.equal(a["vae"][k], b["vae"][k]) for k in enc)
    assert not all(torch.equal(a["vae"][k], b["vae"][k]) for k in dec)
    assert all(torch.equal(a["unet"][k], b["unet"][k]) for k in a["unet"])
    saved = json.loads((tmp_path / "b" / "config.json").read_text())
    first = saved["pretrain"]
    assert first["unet_steps"] == 2 and first["vae_decoder_steps"] > 0
    assert saved["warm_start_pretrain"] == json.loads((tmp_path / "a" / "config.json").read_text())["pretrain"]

    pretrain_base(replace(tune, vae_decoder_minutes=0.02))          # same resume_dir: continues
    second = json.loads((tmp_path / "b" / "config.json").read_text())["pretrain"]
    assert second["vae_decoder_steps"] > first["vae_decoder_steps"]
    log = [json.loads(line) for line in (tmp_path / "b" / "train_log.jsonl").read_text().splitlines()]
    starts = [r for r in log if r["stage"] == "vae_decoder_start"]
    assert [r["steps"] for r in starts] == [0, first["vae_decoder_steps"]]


def test_pool_videos_with_masks_renders_the_same_videos_and_the_renderers_masks():
    from flash.pretrain_base import PretrainConfig, pool_videos
    from flash_bench.datasets import synthetic

    cfg = PretrainConfig(videos_per_action=1, random_videos=1, random_variants=0)
    plain, none = pool_videos(cfg)
    videos, masks = pool_videos(cfg, with_masks=True)
    assert none is None and len(videos) == len(plain) == len(masks)
    for (a, pa), (b, pb) in zip(plain, videos):
        assert pa == pb and np.array_equal(a, b)
    action_id, _prompt, clip = synthetic.pretrain_pool(num_videos=1, num_random=1, num_frames=cfg.num_frames,
                                                       size=cfg.size, seed=cfg.seed)[-1]
    expected = synthetic.render(action_id, int(clip.id), num_frames=cfg.num_frames, size=cfg.size, seed=cfg.seed)[1]
    assert masks[-1].dtype == bool and np.array_equal(masks[-1], expected) and 0 < masks[-1].mean() < 1
