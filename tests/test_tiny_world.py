"""The tiny world (flash_bench/tiny_world.py): one pixel conversion checked against its closed form, the shipped
base agrees with the world's geometry, and every tiny default reads the one set of constants."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from flash_bench import tiny_world as tw
from flash_bench.types import Profile


def test_to_unit_is_v_over_127_5_minus_1_and_to_uint8_inverts_it_on_every_value():
    values = np.arange(256, dtype=np.uint8)
    image = np.stack([values.reshape(16, 16)] * 3, -1)                      # (16, 16, 3): every uint8 value
    x = tw.to_unit(image)
    assert x.shape == (1, 3, 16, 16) and x.dtype == torch.float32
    assert torch.equal(x[0, 0].flatten(), torch.from_numpy(values.astype(np.float32)) / 127.5 - 1.0)
    assert np.array_equal(tw.to_uint8(x)[0], image)


def test_to_uint8_rounds_half_up_and_clamps():
    # exact ties in float32: (x + 1) * 127.5 = 76.5 at x = -0.4 and 127.5 at x = 0 (half up: 77, 128; torch.round,
    # half to even, would give 76); 0.3 * 255 = 76.5 in [0, 1]; out-of-range values clamp to 0 and 255
    x = torch.tensor([-0.4, 0.0, -2.0, 2.0, 1.0, -1.0]).view(1, 1, 1, 6).expand(1, 3, 1, 6)
    assert float((x[0, 0, 0, 0] + 1) * 127.5) == 76.5
    assert tw.to_uint8(x)[0, 0, :, 0].tolist() == [77, 128, 0, 255, 255, 0]
    y = torch.tensor([0.3, 0.5]).view(1, 1, 1, 2).expand(1, 3, 1, 2)
    assert float(y[0, 0, 0, 0] * 255) == 76.5
    assert tw.to_uint8(y, low=0.0)[0, 0, :, 0].tolist() == [77, 128]


def test_to_unit_in_0_1_is_v_over_255_and_to_uint8_inverts_it_on_every_value():
    values = np.arange(256, dtype=np.uint8)
    image = np.stack([values.reshape(16, 16)] * 3, -1)
    x = tw.to_unit(image, low=0.0)
    assert torch.equal(x[0, 0].flatten(), torch.from_numpy(values.astype(np.float32)) / 255)   # bit for bit
    assert np.array_equal(tw.to_uint8(x, low=0.0)[0], image)


def test_the_yardstick_rounds_pixels_half_up_as_the_tiny_world_does(monkeypatch):
    """The yardstick's flicker junk is v / 255 + flicker, back to uint8: with a flicker of half a level many values
    are float32 ties k + 0.5, which the tiny world's helper rounds up to k + 1 (the yardstick's own copy rounded
    half to even: k for every even k)."""
    from flash_bench import yardstick

    values = np.arange(255, dtype=np.uint8)
    video = np.stack([np.stack([values.reshape(15, 17)] * 3, -1)] * 2)        # (2, 15, 17, 3)
    half = lambda shape, amplitude, rng: torch.full(shape, 0.5 / 255)       # noqa: E731
    monkeypatch.setattr(yardstick, "flicker", half)
    scaled = ((torch.from_numpy(values.astype(np.float32)) / 255 + 0.5 / 255) * 255).numpy()
    ties = values[scaled == values + 0.5]                                   # exact float32 ties k + 0.5
    assert len(ties[ties % 2 == 0]) > 50                                    # many with k even
    out = yardstick._with_flicker(video, 0.1, np.random.default_rng(0))[0, ..., 0].flatten()
    assert np.array_equal(out[ties], ties + 1)
    assert np.abs(out.astype(float) - scaled).max() <= 0.5                  # the nearest level elsewhere


def test_resizing_and_bad_input():
    image = np.full((8, 8, 3), 200, np.uint8)
    x = tw.to_unit(image, 4)
    assert x.shape == (1, 3, 4, 4) and torch.allclose(x, torch.full_like(x, 200 / 127.5 - 1))
    assert tw.to_uint8(x, (6, 10)).shape == (1, 6, 10, 3) and (tw.to_uint8(x, 12) == 200).all()
    with pytest.raises(tw.InputError, match="uint8"):
        tw.to_unit(image.astype(np.float32))


def test_the_shipped_base_has_the_tiny_worlds_geometry():
    """A base retrained with another geometry must change the constants too (or fail here, not at run time)."""
    cfg = json.loads((tw.BASE_DIR / "config.json").read_text())
    vae, unet = cfg["components"]["vae"], cfg["components"]["unet"]
    assert vae["sample_size"] == tw.SIZE
    assert unet["sample_size"] == tw.SIZE // 2 ** (len(vae["block_out_channels"]) - 1)
    assert cfg["pretrain"]["num_frames"] == tw.NUM_FRAMES and cfg["pretrain"]["size"] == tw.SIZE
    base = tw.load_tiny_base()
    with torch.no_grad():
        z = base.encode_frames(torch.zeros(1, 3, tw.SIZE, tw.SIZE))
    assert tuple(z.shape[-2:]) == (unet["sample_size"],) * 2
    assert base.noise_shared == tw.NOISE_SHARED and base.profile is Profile.TINY
    assert tw.base_tag().startswith("tiny-base:") and tw.base_tag() != tw.RANDOM_TAG


def test_every_tiny_default_is_the_tiny_worlds():
    from baselines import dreamvideo, dynamicrafter, lamp, pia, sparsectrl, ti2v_zero
    from flash.config import TINY, profile_config
    from flash.train_decoder import PROFILE_DEFAULTS
    from flash_bench.config import RunConfig, profile_geometry
    from flash_bench.datasets.synthetic import SyntheticDataset

    assert profile_geometry("tiny") == (tw.SIZE, tw.NUM_FRAMES) and profile_geometry("paper") == (512, 16)
    run = RunConfig()
    assert (run.size, run.num_frames, run.profile, run.dataset) == (tw.SIZE, tw.NUM_FRAMES, "tiny", "synthetic")
    ds = SyntheticDataset()
    assert (ds.size, ds.num_frames) == (tw.SIZE, tw.NUM_FRAMES)
    assert profile_config("tiny") is TINY and TINY.native_size == tw.SIZE and TINY.sample_steps == tw.DDIM_STEPS
    assert (PROFILE_DEFAULTS["tiny"]["size"], PROFILE_DEFAULTS["tiny"]["frames"]) == (tw.SIZE, tw.NUM_FRAMES)
    for module in (dreamvideo, dynamicrafter, lamp, pia, ti2v_zero):
        assert module.PROFILES["tiny"].native_size == tw.SIZE, module.__name__
    assert (sparsectrl.PROFILES["tiny"].height, sparsectrl.PROFILES["tiny"].width) == (tw.SIZE, tw.SIZE)
    assert dreamvideo.PROFILES["tiny"].num_frames == lamp.PROFILES["tiny"].num_frames == tw.NUM_FRAMES
    steps = {"dreamvideo": dreamvideo.PROFILES["tiny"].sample_steps, "lamp": lamp.PROFILES["tiny"].sample_steps,
             "pia": pia.PROFILES["tiny"].steps, "sparsectrl": sparsectrl.PROFILES["tiny"].steps,
             "dynamicrafter": dynamicrafter.PROFILES["tiny"].steps}
    assert set(steps.values()) == {tw.DDIM_STEPS}, steps


def test_the_tiny_unets_attention_heads_are_16_or_more_channels_wide():
    """diffusers' ``attention_head_dim`` is the number of heads in UNet2DConditionModel (SD 1.5's 8 = 8 heads of
    40-160 channels). Read as a head width, 8 split the tiny UNet's 32 / 64 channels into heads of 4 / 8, and the
    spatial attention cost 3.6x the step time of 2 heads (benchmarks/tiny_unet_heads.py). Checked on the built
    modules, the attention's own head count and width."""
    from diffusers.models.attention_processor import Attention

    base = tw.build_tiny_components(0, tw.COMPONENTS)
    spatial = [m for n, m in base.unet.named_modules() if isinstance(m, Attention) and ".attentions." in n]
    assert spatial
    for m in spatial:
        assert m.inner_dim // m.heads >= 16, (m.inner_dim, m.heads)
