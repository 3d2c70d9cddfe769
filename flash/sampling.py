"""Sampling (A3.2 "Inference"): DDIM (25 steps), classifier-free guidance (7.5), the encoded reference image as
frame 1 at every step (noise-free first frame, A2.1), latent AdaIN to frame 1's statistics, seeded, uint8 out.

A plain loop over diffusers components (UNetMotionModel, DDIMScheduler, VAE) — the same calls
``AnimateDiffPipeline`` makes, plus the first-frame replacement after each scheduler step.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from flash.first_frame import set_reference_frame
from flash.latent_adain import latent_adain
from flash_bench import tiny_world as tw
from flash_bench.tiny_world import BaseModel, to_uint8, to_unit


@dataclass(frozen=True)
class SamplingConfig:
    steps: int = 25
    guidance: float = 7.5
    adain: bool = True
    eta: float = 0.0


def _guided(base: BaseModel, latents: torch.Tensor, t, emb: torch.Tensor, guidance: float) -> torch.Tensor:
    """UNet prediction with classifier-free guidance; emb is [uncond; cond] (2, 77, D) or cond (1, 77, D)."""
    nf = latents.shape[2]
    if emb.shape[0] == 1:
        return base.unet(latents, t, emb.repeat_interleave(nf, 0)).sample
    out = base.unet(torch.cat([latents, latents]), t, emb.repeat_interleave(nf, 0)).sample
    uncond, cond = out.chunk(2)
    return uncond + guidance * (cond - uncond)


@torch.inference_mode()   # not no_grad: less per-op overhead per call of the tiny UNet
def sample_latents(base: BaseModel, reference: torch.Tensor, prompt: str, num_frames: int, seed: int,
                   cfg: SamplingConfig = SamplingConfig()) -> torch.Tensor:
    """reference latent (1, C, h, w) -> latent video (1, C, F, h, w); frame 1 is the reference."""
    from diffusers import DDIMScheduler

    sched = DDIMScheduler.from_config(base.scheduler.config)
    sched.set_timesteps(cfg.steps)
    gen = torch.Generator().manual_seed(seed)
    c, h, w = reference.shape[1:]
    latents = base.noise((1, c, num_frames, h, w), gen) * sched.init_noise_sigma
    latents = set_reference_frame(latents.to(reference.device), reference)
    prompts = [prompt] if cfg.guidance == 1.0 else ["", prompt]
    emb = base.encode_prompts(prompts)
    for t in sched.timesteps:
        pred = _guided(base, sched.scale_model_input(latents, t), t, emb, cfg.guidance)
        latents = sched.step(pred, t, latents, eta=cfg.eta, generator=gen).prev_sample
        latents = set_reference_frame(latents, reference)
    return latent_adain(latents) if cfg.adain else latents


@torch.inference_mode()
def animate(base: BaseModel, image: np.ndarray, prompt: str, num_frames: int = tw.NUM_FRAMES, seed: int = 0,
            cfg: SamplingConfig = SamplingConfig(), native_size: int = tw.SIZE, out_size: int | None = None,
            decoder=None) -> np.ndarray:
    """uint8 reference (H, W, 3) -> uint8 video (num_frames, out_size, out_size, 3)."""
    x = to_unit(image, native_size).to(base.unet.device)
    reference = base.encode_frames(x)                                  # (1, C, h, w)
    latents = sample_latents(base, reference, prompt, num_frames, seed, cfg)
    frame_latents = latents[0].permute(1, 0, 2, 3)                     # (F, C, h, w)
    if decoder is not None:
        # Variant #6: the Detail Enhancement Decoder (flash/detail_decoder.py) decodes with the reference
        # image's encoder features; it takes latents already divided by the VAE scale, like vae.decode.
        frames = decoder.decode(frame_latents / base.vae_scale, x).clamp(-1, 1)   # (F, 3, H, W)
    else:
        frames = base.decode_latents(frame_latents)                    # (F, 3, H, W)
    return to_uint8(frames, out_size or image.shape[0])
