"""LAMP (Wu et al., 2023, "Learn A Motion Pattern for few-shot-based video generation"), re-implemented from the
paper's description and its published settings (the code's licence is non-commercial; none of it is used).

Inflation of a text-to-image UNet (run on frames stacked in the batch, (B·F, C, h, w)), done with forward hooks,
child modules and an attention processor — the diffusers model code is untouched:

* every 2-D convolution is followed by a gated causal temporal convolution,
  y ← y + σ(conv_gate(y)) ⊙ conv1d(y)  with conv1d a kernel-3 Conv1d over frames padded on the past side only
  (frame f sees f−2…f) and zero-initialised, conv_gate a zero-initialised 3×3 conv to one gate channel;
* every spatial transformer block gains a temporal self-attention over frames, ``attn_temp`` (pre-norm
  ``norm_temp``, zero-initialised output projection, residual), after its feed-forward;
* spatial self-attention (``attn1``) takes its keys and values from the **first frame** (first-frame attention).

Training (``fit``): exactly LAMP's layer set trains — ``conv1d``, ``conv_gate``, ``attn1.to_q``, ``attn_temp`` —
on the action's videos; the first frame's latent stays clean and is excluded from the loss.

Sampling (``animate``): frame 1 is the reference latent and is never updated; noise is shared across frames,
n_f ← 0.2·n_1 + 0.8·n_f; during denoising every frame f ≥ 3 is AdaIN-matched (per-channel latent mean/std) to
frame 2, and in the last 40 % of the steps frame 2 to frame 1; after sampling every latent frame is AdaIN-matched to
frame 1; after decoding every frame's pixels are histogram-matched (per channel) to frame 1.

``paper``: Stable Diffusion v1.4, LAMP's published config (16 frames, lr 3e-5, 30 000 steps, batch 1, DDIM 50,
guidance 12.5); frames are square at 512² (the benchmark's frame shape; LAMP's own videos were 512×320).
``tiny``: the 2-D UNet inside the tiny base (its spatial weights), VAE and text encoder; 20 steps at lr 1e-3, the tiny world's canvas and frame count,
``flash_bench.tiny_world.DDIM_STEPS`` DDIM steps.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from baselines import tiny_base as tb
from flash_bench import tiny_world as tw
from flash_bench.method import TINY_BASE_WEIGHTS, Method
from flash_bench.types import InputError, Profile

TRAINABLE = ("conv1d", "conv_gate", "attn1.to_q", "attn_temp")   # LAMP's trainable_modules


@dataclass(frozen=True)
class LAMPConfig:
    train_steps: int = 30000
    lr: float = 3e-5
    num_frames: int = 16
    native_size: int = 512
    sample_steps: int = 50
    guidance: float = 12.5
    noise_base_ratio: float = 0.2       # shared noise: n_f ← r·n_1 + (1 − r)·n_f
    adain_late_fraction: float = 0.6    # frame 2 → frame 1 AdaIN once step index > fraction × steps (30 of 50)
    histogram_match: bool = True
    seed: int = 33


PROFILES = {Profile.PAPER: LAMPConfig(),
            Profile.TINY: LAMPConfig(train_steps=20, lr=1e-3, native_size=tw.SIZE, num_frames=tw.NUM_FRAMES,
                               sample_steps=tw.DDIM_STEPS)}


@dataclass
class FrameCount:
    """Frames per video in the current UNet call (the 2-D UNet sees (B·F, C, h, w))."""

    num_frames: int = 1


# ----------------------------------------------------------------------------------------- inflation
class GatedTemporalConv(nn.Module):
    """y + σ(conv_gate(y)) ⊙ causal_conv1d(y) on frames stacked in the batch."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv1d = nn.Conv1d(channels, channels, kernel_size=3)
        self.conv_gate = nn.Conv2d(channels, 1, kernel_size=3, padding=1)
        for p in (*self.conv1d.parameters(), *self.conv_gate.parameters()):
            nn.init.zeros_(p)

    def forward(self, y: torch.Tensor, num_frames: int) -> torch.Tensor:
        bf, c, h, w = y.shape
        b = bf // num_frames
        seq = y.view(b, num_frames, c, h, w).permute(0, 3, 4, 2, 1).reshape(b * h * w, c, num_frames)
        seq = self.conv1d(F.pad(seq, (2, 0)))                                    # (B·h·w, C, F), causal
        temporal = seq.view(b, h, w, c, num_frames).permute(0, 4, 3, 1, 2).reshape(bf, c, h, w)
        return y + torch.sigmoid(self.conv_gate(y)) * temporal                   # gate (B·F, 1, h, w)


class FirstFrameAttnProcessor:
    """Spatial self-attention whose keys and values come from the first frame of each video."""

    def __init__(self, frames: FrameCount):
        self.frames = frames

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, temb=None, **kw):
        nf = self.frames.num_frames
        bf, n, c = hidden_states.shape
        first = hidden_states.view(bf // nf, nf, n, c)[:, :1]                    # (B, 1, N, C)
        k = attn.to_k(first).expand(-1, nf, -1, -1).reshape(bf, n, -1)          # (B·F, N, C')
        v = attn.to_v(first).expand(-1, nf, -1, -1).reshape(bf, n, -1)
        q = attn.to_q(hidden_states)
        q, k, v = (t.view(bf, n, attn.heads, -1).transpose(1, 2) for t in (q, k, v))   # (B·F, heads, N, d)
        out = F.scaled_dot_product_attention(q, k, v, scale=attn.scale).transpose(1, 2).flatten(2)
        out = attn.to_out[1](attn.to_out[0](out))
        if attn.residual_connection:
            out = out + hidden_states
        return out / attn.rescale_output_factor


def _temporal_attention_hook(frames: FrameCount, block, args, output):
    nf = frames.num_frames
    bf, n, c = output.shape
    x = output.view(bf // nf, nf, n, c).transpose(1, 2).reshape(-1, nf, c)       # (B·N, F, C)
    x = x + block.attn_temp(block.norm_temp(x))
    return x.view(bf // nf, n, nf, c).transpose(1, 2).reshape(bf, n, c)         # (B·F, N, C)


def _conv_hook(frames: FrameCount, conv, args, output):
    return conv.temporal(output, frames.num_frames)


def inflate(unet) -> FrameCount:
    """Inflate a UNet2DConditionModel in place as LAMP does; returns the shared frame count."""
    from diffusers.models.attention import BasicTransformerBlock
    from diffusers.models.attention_processor import Attention

    frames = FrameCount()
    convs = [m for m in unet.modules() if isinstance(m, nn.Conv2d)]
    blocks = [m for m in unet.modules() if isinstance(m, BasicTransformerBlock)]
    procs = dict(unet.attn_processors)
    for name in procs:
        if name.endswith("attn1.processor"):
            procs[name] = FirstFrameAttnProcessor(frames)
    unet.set_attn_processor(procs)
    for conv in convs:
        conv.add_module("temporal", GatedTemporalConv(conv.out_channels).to(conv.weight))
        conv.register_forward_hook(lambda m, a, o: _conv_hook(frames, m, a, o))
    for block in blocks:
        dim, heads = block.norm1.normalized_shape[0], block.attn1.heads
        block.add_module("norm_temp", nn.LayerNorm(dim).to(unet.device))
        block.add_module("attn_temp", Attention(query_dim=dim, heads=heads, dim_head=dim // heads).to(unet.device))
        nn.init.zeros_(block.attn_temp.to_out[0].weight)
        nn.init.zeros_(block.attn_temp.to_out[0].bias)
        block.register_forward_hook(lambda m, a, o: _temporal_attention_hook(frames, m, a, o))
    return frames


def lamp_parameter_names(unet) -> list[str]:
    return [n for n, _ in unet.named_parameters() if any(k in n for k in TRAINABLE)]


def make_video_call(frames: FrameCount):
    """A ``tiny_base.video_unet``-like call for the inflated 2-D UNet: latents (B, C, F, h, w)."""

    def call(unet, latents: torch.Tensor, t, emb: torch.Tensor) -> torch.Tensor:
        b, c, nf, h, w = latents.shape
        frames.num_frames = nf
        x = latents.permute(0, 2, 1, 3, 4).reshape(b * nf, c, h, w)              # (B·F, C, h, w)
        if torch.is_tensor(t) and t.ndim == 1:
            t = t.repeat_interleave(nf)
        out = unet(x, t, encoder_hidden_states=emb.repeat_interleave(nf, 0)).sample
        return out.view(b, nf, c, h, w).permute(0, 2, 1, 3, 4)                  # (B, C, F, h, w)

    return call


# ----------------------------------------------------------------------------------------- post-processing
def adain(x: torch.Tensor, ref: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Latent frames x (B, C, F, h, w) with each frame's per-channel mean/std set to ref's (B, C, 1, h, w)."""
    mu, sd = x.mean((3, 4), keepdim=True), x.std((3, 4), keepdim=True) + eps
    return (x - mu) / sd * ref.std((3, 4), keepdim=True) + ref.mean((3, 4), keepdim=True)


def match_histogram(source: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Per-channel histogram matching of ``source`` (H, W, C) to ``reference`` (H', W', C): each source value is
    mapped to the reference value at the same quantile (empirical CDFs, linear interpolation). Returns float."""
    out = np.empty(source.shape, np.float64)
    for ch in range(source.shape[-1]):
        s_vals, s_idx, s_counts = np.unique(source[..., ch].ravel(), return_inverse=True, return_counts=True)
        r_vals, r_counts = np.unique(reference[..., ch].ravel(), return_counts=True)
        s_q = np.cumsum(s_counts) / s_counts.sum()
        r_q = np.cumsum(r_counts) / r_counts.sum()
        out[..., ch] = np.interp(s_q, r_q, r_vals)[s_idx].reshape(source.shape[:-1])
    return out


def match_video_to_first(video: np.ndarray) -> np.ndarray:
    """uint8 (F, H, W, 3): frames 2..F histogram-matched to frame 1."""
    out = video.copy()
    for f in range(1, len(video)):
        out[f] = np.clip(np.round(match_histogram(video[f], video[0])), 0, 255).astype(np.uint8)
    return out


# ----------------------------------------------------------------------------------------- sampling
def shared_noise(shape, ratio: float, gen: torch.Generator) -> torch.Tensor:
    """(1, C, F, h, w) noise with n_f ← r·n_1 + (1 − r)·n_f for f ≥ 2."""
    noise = torch.randn(shape, generator=gen)
    noise[:, :, 1:] = ratio * noise[:, :, :1] + (1 - ratio) * noise[:, :, 1:]
    return noise


@torch.no_grad()
def sample(call, unet, sched, reference: torch.Tensor, emb: torch.Tensor, num_frames: int, cfg: LAMPConfig,
           gen: torch.Generator, on_step=None) -> torch.Tensor:
    """Reference latent (1, C, h, w) -> latent video (1, C, F, h, w) with frame 1 = reference throughout."""
    c, h, w = reference.shape[1:]
    z = shared_noise((1, c, num_frames, h, w), cfg.noise_base_ratio, gen).to(reference) * sched.init_noise_sigma
    z[:, :, 0] = reference
    late = int(cfg.adain_late_fraction * len(sched.timesteps))
    for i, t in enumerate(sched.timesteps):
        pred = tb.guided(unet, sched.scale_model_input(z, t), t, emb, cfg.guidance, call)
        z[:, :, 1:] = sched.step(pred[:, :, 1:], t, z[:, :, 1:], generator=gen).prev_sample   # frame 1 fixed
        if i > late and num_frames > 1:
            z[:, :, 1:2] = adain(z[:, :, 1:2], z[:, :, :1])
        if num_frames > 2:
            z[:, :, 2:] = adain(z[:, :, 2:], z[:, :, 1:2])
        if on_step:
            on_step(i, int(t), z)
    z[:, :, 1:] = adain(z[:, :, 1:], z[:, :, :1])
    return z


# ----------------------------------------------------------------------------------------- method
class LAMPMethod(Method):
    """Registered as ``lamp``: ``fit`` trains LAMP's layer set for one action (cached)."""

    name = "lamp"
    weights = {Profile.TINY: TINY_BASE_WEIGHTS, Profile.PAPER: ("sd-v1-4",)}

    def __init__(self, ctx):
        super().__init__(ctx)
        self.cfg = tb.config_for(LAMPConfig, PROFILES, ctx.profile, ctx.options, self.name)
        self._parts = None
        self.fitted_prompt: str | None = None
        self.last_losses: list[float] = []
        self.last_fit_cached = False
        self.on_step = None      # instrumentation (tests): on_step(i, t, latents)

    def _build(self):
        if self.ctx.profile is Profile.PAPER:
            base = tb.load_sd14(self.ctx.device, self.ctx.options.get("weights_dir"))
        else:
            base = tw.tiny_video_base(self.ctx.device, cross_frame=False)
            base.unet = tb.image_unet_from(base.unet, tb.tiny_unet2d_config())   # the base's image UNet
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.cfg.seed)
            frames = inflate(base.unet)
        base.unet.requires_grad_(False)
        init = {n: p.detach().clone() for n, p in base.unet.named_parameters() if n in lamp_parameter_names(base.unet)}
        return base, make_video_call(frames), init

    @property
    def parts(self):
        if self._parts is None:
            self._parts = self._build()
        return self._parts

    def trainable(self) -> dict[str, nn.Parameter]:
        """Exactly LAMP's layer set (``conv1d``, ``conv_gate``, ``attn1.to_q``, ``attn_temp``); the rest frozen."""
        unet = self.parts[0].unet
        names = set(lamp_parameter_names(unet))
        params = dict(unet.named_parameters())
        for n, p in params.items():
            p.requires_grad_(n in names)
        return {n: params[n] for n in sorted(names)}

    def describe(self) -> dict:
        base = "CompVis/stable-diffusion-v1-4" if self.ctx.profile is Profile.PAPER else tw.base_tag() + " (2-D UNet)"
        return {"name": self.name, "profile": self.ctx.profile, "base": base, **asdict(self.cfg)}

    def _reset(self) -> None:
        params = dict(self.parts[0].unet.named_parameters())
        with torch.no_grad():
            for n, v in self.parts[2].items():
                params[n].copy_(v)

    def fit(self, action, videos, prompt) -> None:
        if not videos:
            raise InputError(f"lamp: action {getattr(action, 'id', '?')!r} has no training videos")
        self._reset()
        unet = self.parts[0].unet
        names = lamp_parameter_names(unet)
        path = self.ctx.cache_dir / self.name / f"{tb.fit_key(videos, prompt, self.describe())}.safetensors"
        self.last_fit_cached = path.exists()
        if self.last_fit_cached:
            tb.load_params(path, unet, names)
        else:
            self.last_losses = self._train(videos, prompt)
            tb.save_params(path, unet, names)
        self.fitted_prompt = prompt

    def _train(self, videos, prompt) -> list[float]:
        from flash_bench.tiny_world import denoising_loss, diffusion_target, noisy_input

        base, call, _ = self.parts
        cfg, sched = self.cfg, base.scheduler
        latents = tb.encode_videos(base, videos, cfg.num_frames, cfg.native_size)       # (N, C, F, h, w)
        text = base.encode_prompts([prompt])                                            # (1, 77, D)

        def loss_fn(gen):
            i = int(torch.randint(len(videos), (1,), generator=gen))
            z0 = latents[i:i + 1]
            noise = torch.randn(z0.shape, generator=gen).to(z0)
            t = tb.random_timesteps(1, sched.config.num_train_timesteps, gen).to(z0.device)
            pred = call(base.unet, noisy_input(sched, z0, noise, t), t, text)          # frame 1 clean
            return denoising_loss(pred, diffusion_target(sched, z0, noise, t))          # frames 2..F only

        params = self.trainable()
        self.trained_names = sorted(params)
        with torch.enable_grad():
            return tb.train(params, loss_fn, cfg.train_steps, cfg.lr, cfg.seed, f"lamp fit {prompt[:30]}")

    @torch.no_grad()
    def animate(self, reference, prompt, num_frames, seed, item=None):
        from diffusers import DDIMScheduler

        if self.fitted_prompt is not None and prompt != self.fitted_prompt:
            raise InputError(f"lamp: animate({prompt!r}) but the model was fitted for {self.fitted_prompt!r}; "
                             "call fit() for this action first")
        base, call, _ = self.parts
        cfg = self.cfg
        x = tw.to_unit(reference[None], cfg.native_size).to(base.unet.device)         # (1, 3, S, S)
        sched = DDIMScheduler.from_config(base.scheduler.config)
        sched.set_timesteps(cfg.sample_steps)
        gen = torch.Generator().manual_seed(int(seed))
        emb = base.encode_prompts([prompt] if cfg.guidance == 1.0 else ["", prompt])
        z = sample(call, base.unet, sched, base.encode_frames(x), emb, num_frames, cfg, gen, self.on_step)
        frames = base.decode_latents(z[0].permute(1, 0, 2, 3))                        # (F, 3, S, S)
        video = tw.to_uint8(frames, reference.shape[:2])
        return match_video_to_first(video) if cfg.histogram_match else video
