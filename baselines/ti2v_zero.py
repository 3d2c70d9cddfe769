"""TI2V-Zero (Ni et al., CVPR 2024): training-free image conditioning of a text-to-video diffusion model,
re-implemented from the paper's description ("repeat and slide"; the official code is AGPL and was not used).

The model generates videos of F frames. A queue holds the K = F − 1 latest conditioning frames, initially the
reference image repeated K times. Each new frame is made by one full DDIM run over an F-frame window:

1. every frame starts from the queue's last latent noised to the first timestep (DDPM-forward "inversion");
2. at every step t the first K frames are overwritten by the queue's latents noised to t ("pinned");
3. before each real step the window is resampled U times: DDIM step to t_prev, pin at t_prev, re-noise back to t
   with the DDPM forward transition q(z_t | z_t_prev);
4. the last frame of the result is decoded, pushed into the queue, and the oldest frame dropped.

The output video is the reference image followed by ``num_frames − 1`` generated frames.

``paper``: ModelScope T2V (``UNet3DConditionModel``), the official demo's 10 DDIM steps, U = 4, guidance 9, 256².
``tiny``: the same code on the tiny base's text-to-video ``UNetMotionModel`` (with the cross-frame attention it
was pretrained with), the tiny world's canvas, and cheaper settings — 2 DDIM steps, U = 1, 4-frame windows (K = 3) — because the cost
is 15 frames × steps × (1 + U) UNet passes over a window (≈75 ms each on one core, most of it per-call overhead
that a smaller window does not remove): official settings would take ≈25 s per video on 2 cores.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Callable

import numpy as np
import torch

from baselines import tiny_base as tb
from flash_bench import tiny_world as tw
from flash_bench.tiny_world import video_noise
from flash_bench.method import TINY_BASE_WEIGHTS, Method
from flash_bench.types import InputError, Profile


@dataclass(frozen=True)
class TI2VZeroConfig:
    steps: int = 10            # DDIM steps per generated frame
    resample: int = 4          # U: resampling iterations before each step
    guidance: float = 9.0
    window: int = 16           # F: frames the text-to-video model denoises at once; the queue holds F − 1
    native_size: int = 256     # the base model's pixel resolution
    eta: float = 0.0


# tiny: 2 steps, U = 1 and 4-frame windows (K = 3) kept one 16-frame 64² video near 5.5 s on one CPU core (3 steps:
# 8.4 s, the main job's largest share); the embedded benchmark animates 48 references per method.
PROFILES = {Profile.PAPER: TI2VZeroConfig(),
            Profile.TINY: TI2VZeroConfig(steps=2, resample=1, window=4, native_size=tw.SIZE)}

# on_step(frame_index, t, window (1, C, F, h, w) as given to the UNet, cond (1, C, K, h, w)); on_frame(j, latent)
StepHook = Callable[[int, int, torch.Tensor, torch.Tensor], None]


def noised(clean: torch.Tensor, ab: torch.Tensor, gen: torch.Generator, shared: float = 0.0) -> torch.Tensor:
    """q(z_t | z_0) = √ᾱ_t z_0 + √(1−ᾱ_t) ε, ε from the base's noise prior (``shared``: flash_bench.tiny_world.video_noise)."""
    eps = video_noise(clean.shape, gen, shared).to(clean)
    return ab.sqrt() * clean + (1 - ab).sqrt() * eps


def pin(window: torch.Tensor, cond: torch.Tensor, sched, t: int, gen: torch.Generator,
        shared: float = 0.0) -> torch.Tensor:
    """Overwrite the first K frames of ``window`` (1, C, F, h, w) by ``cond`` (1, C, K, h, w) noised to t."""
    window = window.clone()
    window[:, :, : cond.shape[2]] = noised(cond, tb.alpha_bar(sched, t).to(cond), gen, shared)
    return window


def renoise(z: torch.Tensor, sched, t_from: int, t_to: int, gen: torch.Generator,
            shared: float = 0.0) -> torch.Tensor:
    """DDPM forward from t_from to a noisier t_to: √(ᾱ_to/ᾱ_from) z + √(1 − ᾱ_to/ᾱ_from) ε."""
    ratio = (tb.alpha_bar(sched, t_to) / tb.alpha_bar(sched, t_from)).to(z)
    eps = video_noise(z.shape, gen, shared).to(z)
    return ratio.sqrt() * z + (1 - ratio).sqrt() * eps


def _ddim_step(unet, sched, z, t, emb, cfg: TI2VZeroConfig, gen):
    pred = tb.guided(unet, sched.scale_model_input(z, t), t, emb, cfg.guidance)
    return sched.step(pred, t, z, eta=cfg.eta, generator=gen).prev_sample


@torch.no_grad()
def next_frame(unet, sched, cond: torch.Tensor, emb: torch.Tensor, cfg: TI2VZeroConfig, gen: torch.Generator,
               frame_index: int = 0, on_step: StepHook | None = None, shared: float = 0.0) -> torch.Tensor:
    """One new latent frame (1, C, h, w) continuing the K conditioning latents ``cond`` (1, C, K, h, w);
    ``shared``: the base's noise prior (flash_bench.tiny_world.video_noise) for every noise this draws."""
    _, c, k, h, w = cond.shape
    t0 = int(sched.timesteps[0])
    last = cond[:, :, -1:].expand(-1, -1, cfg.window, -1, -1)                  # (1, C, F, h, w)
    z = noised(last, tb.alpha_bar(sched, t0).to(cond), gen, shared)            # step 1: DDPM inversion
    for t in (int(s) for s in sched.timesteps):
        t_prev = tb.previous_timestep(sched, t)
        for _ in range(cfg.resample):                                          # step 3: resampling
            z = pin(z, cond, sched, t, gen, shared)
            if on_step:
                on_step(frame_index, t, z, cond)
            z = pin(_ddim_step(unet, sched, z, t, emb, cfg, gen), cond, sched, t_prev, gen, shared)
            z = renoise(z, sched, t_prev, t, gen, shared)
        z = pin(z, cond, sched, t, gen, shared)                                # step 2: pin, then step
        if on_step:
            on_step(frame_index, t, z, cond)
        z = _ddim_step(unet, sched, z, t, emb, cfg, gen)
    return z[:, :, -1]


@torch.no_grad()
def repeat_and_slide(base, reference: torch.Tensor, emb: torch.Tensor, num_new: int, cfg: TI2VZeroConfig,
                     gen: torch.Generator, on_step: StepHook | None = None,
                     on_frame: Callable[[int, torch.Tensor], None] | None = None) -> torch.Tensor:
    """Reference latent (1, C, h, w) -> ``num_new`` generated frames in pixels (num_new, 3, H, W), [-1, 1]."""
    from diffusers import DDIMScheduler

    sched = DDIMScheduler.from_config(base.scheduler.config)
    sched.set_timesteps(cfg.steps)
    queue = [reference] * (cfg.window - 1)                                    # K copies of the image
    frames = []
    for j in range(num_new):
        cond = torch.stack(queue, dim=2)                                       # (1, C, K, h, w)
        latent = next_frame(base.unet, sched, cond, emb, cfg, gen, j, on_step, base.noise_shared)
        pixels = base.decode_latents(latent)                                   # (1, 3, H, W)
        frames.append(pixels)
        pushed = base.encode_frames(pixels)                                    # the queue holds images
        if on_frame:
            on_frame(j, pushed)
        queue = queue[1:] + [pushed]                                           # slide: drop the oldest
    return torch.cat(frames)


class TI2VZeroMethod(Method):
    """Registered as ``ti2v-zero``; training-free (``fit`` is a no-op)."""

    name = "ti2v-zero"
    weights = {Profile.TINY: TINY_BASE_WEIGHTS, Profile.PAPER: ("modelscope-t2v",)}

    def __init__(self, ctx):
        super().__init__(ctx)
        self.cfg = tb.config_for(TI2VZeroConfig, PROFILES, ctx.profile, ctx.options, self.name)
        self._base = None
        self.on_step: StepHook | None = None      # instrumentation (tests)
        self.on_frame = None

    @property
    def base(self):
        if self._base is None:
            if self.ctx.profile is Profile.PAPER:
                self._base = tb.load_modelscope(self.ctx.device, self.ctx.options.get("weights_dir"))
            else:
                self._base = tw.tiny_video_base(self.ctx.device)
        return self._base

    def describe(self) -> dict:
        base = "damo-vilab/text-to-video-ms-1.7b" if self.ctx.profile is Profile.PAPER else tw.base_tag()
        return {"name": self.name, "profile": self.ctx.profile, "base": base, **asdict(self.cfg)}

    def animate(self, reference, prompt, num_frames, seed, item=None):
        if num_frames < 1:
            raise InputError(f"ti2v-zero: num_frames must be ≥ 1, got {num_frames}")
        if num_frames == 1:
            return reference[None].copy()
        base, cfg = self.base, self.cfg
        x = tw.to_unit(reference[None], cfg.native_size).to(base.unet.device)   # (1, 3, S, S)
        emb = base.encode_prompts([prompt] if cfg.guidance == 1.0 else ["", prompt])
        gen = torch.Generator().manual_seed(int(seed))
        new = repeat_and_slide(base, base.encode_frames(x), emb, num_frames - 1, cfg, gen,
                               self.on_step, self.on_frame)
        return np.concatenate([reference[None], tw.to_uint8(new, reference.shape[:2])])   # frame 1: the image
