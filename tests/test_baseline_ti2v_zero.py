"""TI2V-Zero (tiny): conditioning frames pinned at every UNet call, the queue sliding, determinism, shapes."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from baselines.ti2v_zero import TI2VZeroConfig, TI2VZeroMethod, repeat_and_slide
from flash_bench import tiny_world as tw
from flash_bench.types import MethodContext

torch.set_num_threads(1)

OPTS = dict(steps=5, resample=1, window=4)   # K = 3 conditioning frames; 5 DDIM steps reach t = 0


def reference_image(h=tw.SIZE, w=tw.SIZE) -> np.ndarray:
    rng = np.random.default_rng(0)
    img = np.full((h, w, 3), 40, np.uint8)
    img[h // 4: h // 2, w // 3: 2 * w // 3] = rng.integers(80, 255, 3)
    return img


@pytest.fixture(scope="module")
def method():
    return TI2VZeroMethod(MethodContext(profile="tiny", size=tw.SIZE, num_frames=16, options=OPTS))  # no resize


def test_conditioning_pinned_at_every_call_and_queue_slides(method):
    base, cfg = method.base, method.cfg
    k, calls, pushed = cfg.window - 1, [], []
    hook = base.unet.register_forward_pre_hook(
        lambda m, args, kw: calls.append((args[0].detach().clone(), int(args[1]))), with_kwargs=True)
    method.on_frame = lambda j, latent: pushed.append(latent.clone())
    try:
        video = method.animate(reference_image(), "a person waves", 6, seed=3)
    finally:
        hook.remove()
        method.on_frame = None
    per_frame = cfg.steps * (cfg.resample + 1)
    assert len(calls) == 5 * per_frame                        # 5 new frames, each steps × (1 + U) UNet calls
    from diffusers import DDIMScheduler
    sched = DDIMScheduler.from_config(base.scheduler.config)
    sched.set_timesteps(cfg.steps)
    last = int(sched.timesteps[-1])                                                # 1 with AnimateDiff's spacing
    ref = base.encode_frames(tw.to_unit(reference_image()[None], tw.SIZE))               # (1, C, h, w)
    for j in range(5):
        queue = ([ref] * k + pushed[:j])[-k:]                                  # independent queue model
        cond = torch.stack(queue, dim=2)                                       # (1, C, K, h, w)
        for sample, t in calls[j * per_frame:(j + 1) * per_frame]:
            assert torch.equal(sample[0], sample[1])                           # both guidance halves
            ab = sched.alphas_cumprod[t]
            resid = (sample[:1, :, :k] - ab.sqrt() * cond) / (1 - ab).sqrt()   # must be pure N(0, 1) noise
            assert abs(resid.std().item() - 1) < 0.25 and abs(resid.mean().item()) < 0.25, (j, t)
        assert calls[(j + 1) * per_frame - 1][1] == last <= 1                 # last step at t <= 1: pinning is tight
    for j, latent in enumerate(pushed):                                        # what slid in is the output frame
        again = base.encode_frames(tw.to_unit(video[j + 1][None], tw.SIZE))
        assert (again - latent).abs().max() < 0.05


def test_sixteen_frames_shape_and_determinism():
    m = TI2VZeroMethod(MethodContext(profile="tiny", size=64, num_frames=16,
                                     options=dict(steps=1, resample=0, window=4)))
    img = reference_image(48, 40)
    a = m.animate(img, "a person jumps", 16, seed=0)
    b = m.animate(img, "a person jumps", 16, seed=0)
    c = m.animate(img, "a person jumps", 16, seed=1)
    assert a.shape == (16, 48, 40, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert np.array_equal(a[0], img)                                           # the video starts with the image


def test_runs_on_unet3d_condition_model():
    """The paper profile's UNet class (ModelScope's UNet3DConditionModel) at a tiny size."""
    from diffusers import UNet3DConditionModel

    from flash_bench.tiny_world import build_tiny_components

    base = build_tiny_components(0)
    torch.manual_seed(0)
    base.unet = UNet3DConditionModel(block_out_channels=(32, 64), norm_num_groups=8, cross_attention_dim=32,
                                     attention_head_dim=8, layers_per_block=1, sample_size=8,
                                     down_block_types=("CrossAttnDownBlock3D", "DownBlock3D"),
                                     up_block_types=("UpBlock3D", "CrossAttnUpBlock3D")).eval()
    cfg = TI2VZeroConfig(steps=2, resample=1, window=4, native_size=64)
    ref = base.encode_frames(tw.to_unit(reference_image()[None], 64))
    emb = base.encode_prompts(["", "a person waves"])
    out = repeat_and_slide(base, ref, emb, 2, cfg, torch.Generator().manual_seed(0))
    assert out.shape == (2, 3, 64, 64) and torch.isfinite(out).all()


def test_paper_profile_missing_weights_is_one_clear_error(tmp_path, monkeypatch):
    from flash_bench.weights import WeightsMissing

    monkeypatch.setenv("FLASH_BENCH_WEIGHTS", str(tmp_path))
    m = TI2VZeroMethod(MethodContext(profile="paper", size=64, num_frames=16))
    with pytest.raises(WeightsMissing, match="damo-vilab/text-to-video-ms-1.7b"):
        m.animate(reference_image(), "a person waves", 16, seed=0)


def tiny_unet3d():
    from diffusers import UNet3DConditionModel

    torch.manual_seed(0)
    return UNet3DConditionModel(block_out_channels=(32, 64), norm_num_groups=8, cross_attention_dim=32,
                                attention_head_dim=8, layers_per_block=1, sample_size=8,
                                down_block_types=("CrossAttnDownBlock3D", "DownBlock3D"),
                                up_block_types=("UpBlock3D", "CrossAttnUpBlock3D"))


def write_repo_layout(folder, unet):
    """A diffusers repository layout (unet/ vae/ text_encoder/ tokenizer/ scheduler/) with tiny components:
    exercises the paper profile's offline loaders without the real multi-GB weights."""
    from flash_bench.tiny_world import build_tiny_components

    b = build_tiny_components(0)
    for name, part in (("unet", unet), ("vae", b.vae), ("text_encoder", b.text_encoder),
                       ("tokenizer", b.tokenizer), ("scheduler", b.scheduler)):
        part.save_pretrained(str(folder / name))
    return folder


def test_paper_profile_loads_a_modelscope_layout_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("FLASH_BENCH_WEIGHTS", str(tmp_path))
    write_repo_layout(tmp_path / "modelscope-t2v", tiny_unet3d())
    m = TI2VZeroMethod(MethodContext(profile="paper", size=64, num_frames=16,
                                     options=dict(native_size=64, steps=1, resample=1, window=4)))
    video = m.animate(reference_image(64, 64), "a person waves", 3, seed=0)
    assert type(m.base.unet).__name__ == "UNet3DConditionModel"
    assert video.shape == (3, 64, 64, 3) and video.dtype == np.uint8
