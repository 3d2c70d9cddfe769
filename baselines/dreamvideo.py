"""DreamVideo (Wei et al., CVPR 2024), motion learning only: per-action motion adapters on a text-to-video model.

As FLASH's paper ran it (A3.4), DreamVideo customises *motion* for each action on the same training videos as
FLASH; the reference image enters only through appearance guidance, so its first frame is not preserved.

Motion adapter (re-implemented from the paper's description): in every temporal transformer block of the base
UNet, each sub-layer — temporal self-attention ``attn1``, the second attention ``attn2`` and the feed-forward
``ff`` — is followed by a bottleneck adapter with appearance guidance,

    h ← h + W_up · GELU(W_down · (h + W_cond · e)),      W_up zero-initialised (identity at the start),

where e is the CLIP image embedding of one frame drawn at random from the training clip (training) or of the
reference image (sampling). Only the adapters train (``motion_adapters.*``); the base stays frozen. The loss is
plain noise-prediction MSE on all frames, timesteps uniform.

Frame count: DreamVideo's official configuration trains on 32-frame clips; ModelScope T2V natively generates 16,
the benchmark's length, so training clips are 16 frames spread evenly over each video and sampling makes the
requested ``num_frames`` (16) directly — no temporal resampling of the output.

``paper``: ModelScope T2V (``UNet3DConditionModel``; its temporal transformers are ``transformer_in`` and
``temp_attentions``), appearance from OpenCLIP ViT-H/14 (``laion/CLIP-ViT-H-14-laion2B-s32B-b79K``), lr 1e-5,
1000 steps, 256², DDIM 50 steps, guidance 9. ``tiny``: the tiny base's ``UNetMotionModel`` (motion modules are
its temporal transformers) and a seeded-random tiny CLIP vision tower (a frozen, input-dependent feature; the
trained W_cond learns what to read from it); 25 steps at lr 1e-3, the tiny world's canvas and frame count, ``flash_bench.tiny_world.DDIM_STEPS`` DDIM steps.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import partial

import torch
import torch.nn as nn
import torch.nn.functional as F

from baselines import tiny_base as tb
from flash_bench import tiny_world as tw
from flash_bench.method import TINY_BASE_WEIGHTS, Method
from flash_bench.types import InputError, Profile

SUBLAYERS = ("attn1", "attn2", "ff")
TEMPORAL_MARKERS = (".motion_modules.", ".temp_attentions.", "transformer_in.")
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
TINY_IMAGE_ENCODER = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                          image_size=32, patch_size=8, projection_dim=32)


@dataclass(frozen=True)
class DreamVideoConfig:
    train_steps: int = 1000
    lr: float = 1e-5
    num_frames: int = 16        # training clip length (official 32, matched to the benchmark's 16; see above)
    native_size: int = 256
    adapter_ratio: float = 0.25  # bottleneck width / channels
    sample_steps: int = 50
    guidance: float = 9.0
    seed: int = 0


PROFILES = {Profile.PAPER: DreamVideoConfig(),
            Profile.TINY: DreamVideoConfig(train_steps=25, lr=1e-3, native_size=tw.SIZE, num_frames=tw.NUM_FRAMES,
                                     sample_steps=tw.DDIM_STEPS)}


# ----------------------------------------------------------------------------------------- adapters
@dataclass
class AppearanceState:
    """The appearance embedding (B, D) the adapters read during the current UNet call."""

    embedding: torch.Tensor | None = None


class MotionAdapter(nn.Module):
    """h + W_up·GELU(W_down·(h + W_cond·e)) on token sequences (N, L, dim); N = B × tokens per video."""

    def __init__(self, dim: int, cond_dim: int, ratio: float):
        super().__init__()
        hidden = max(1, int(round(dim * ratio)))
        self.cond = nn.Linear(cond_dim, dim)
        self.down = nn.Linear(dim, hidden)
        self.up = nn.Linear(hidden, dim)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)

    def forward(self, h: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
        g = self.cond(e)                                                       # (B, dim)
        g = g.repeat_interleave(h.shape[0] // g.shape[0], 0)[:, None]         # (N, 1, dim), batch-major rows
        return h + self.up(F.gelu(self.down(h + g)))


def temporal_blocks(unet) -> list[tuple[str, nn.Module]]:
    """The transformer blocks of the UNet's temporal transformers (ModelScope or AnimateDiff layout)."""
    from diffusers.models.attention import BasicTransformerBlock

    return [(n, m) for n, m in unet.named_modules()
            if isinstance(m, BasicTransformerBlock) and any(k in f".{n}" for k in TEMPORAL_MARKERS)]


def _adapter_hook(adapter: MotionAdapter, state: AppearanceState, module, args, output):
    if state.embedding is None:
        raise RuntimeError("dreamvideo: no appearance embedding set for this UNet call")
    return adapter(output, state.embedding.to(output))


def apply_motion_adapters(unet, cond_dim: int, ratio: float) -> AppearanceState:
    """Attach a :class:`MotionAdapter` after attn1, attn2 and ff of every temporal block (forward hooks)."""
    state = AppearanceState()
    blocks = temporal_blocks(unet)
    if not blocks:
        raise ValueError("dreamvideo: the UNet has no temporal transformer blocks to adapt")
    for _, block in blocks:
        dim = block.norm1.normalized_shape[0]
        adapters = nn.ModuleDict({s: MotionAdapter(dim, cond_dim, ratio) for s in SUBLAYERS
                                  if getattr(block, s, None) is not None})
        block.add_module("motion_adapters", adapters.to(unet.device))
        for s, adapter in adapters.items():
            getattr(block, s).register_forward_hook(partial(_adapter_hook, adapter, state))
    return state


def adapter_names(unet) -> list[str]:
    return [n for n, _ in unet.named_parameters() if ".motion_adapters." in n]


# ----------------------------------------------------------------------------------------- appearance
def build_image_encoder(profile: Profile, device: str, weights_dir: str | None = None):
    """CLIPVisionModelWithProjection: OpenCLIP ViT-H/14 (paper) or a seeded-random tiny tower (tiny); frozen."""
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    if profile is Profile.PAPER:
        root = tb.snapshot("openclip-vit-h-14", weights_dir)
        model = CLIPVisionModelWithProjection.from_pretrained(str(root), local_files_only=True)
    else:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(1234)
            model = CLIPVisionModelWithProjection(CLIPVisionConfig(**TINY_IMAGE_ENCODER))
    return model.eval().requires_grad_(False).to(device)


@torch.no_grad()
def image_embeddings(encoder, frames: torch.Tensor) -> torch.Tensor:
    """Frames in [-1, 1] (N, 3, H, W) -> CLIP image embeddings (N, D) (CLIP resize + normalisation)."""
    size = encoder.config.image_size
    x = (frames.float() + 1) / 2
    x = F.interpolate(x, size=(size, size), mode="bicubic", antialias=True, align_corners=False).clamp(0, 1)
    mean = torch.tensor(CLIP_MEAN, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(CLIP_STD, device=x.device).view(1, 3, 1, 1)
    return encoder(pixel_values=(x - mean) / std).image_embeds


# ----------------------------------------------------------------------------------------- method
class DreamVideoMethod(Method):
    """Registered as ``dreamvideo``: ``fit`` trains the motion adapters of one action (cached)."""

    name = "dreamvideo"
    weights = {Profile.TINY: TINY_BASE_WEIGHTS, Profile.PAPER: ("modelscope-t2v", "openclip-vit-h-14")}

    def __init__(self, ctx):
        super().__init__(ctx)
        self.cfg = tb.config_for(DreamVideoConfig, PROFILES, ctx.profile, ctx.options, self.name)
        self._parts = None
        self.fitted_prompt: str | None = None
        self.last_losses: list[float] = []
        self.last_fit_cached = False

    def _build(self):
        wdir = self.ctx.options.get("weights_dir")
        if self.ctx.profile is Profile.PAPER:
            base = tb.load_modelscope(self.ctx.device, wdir)
        else:
            base = tw.tiny_video_base(self.ctx.device)
        encoder = build_image_encoder(self.ctx.profile, self.ctx.device, wdir)
        dim = encoder.config.projection_dim
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.cfg.seed)
            state = apply_motion_adapters(base.unet, dim, self.cfg.adapter_ratio)
        init = {n: p.detach().clone() for n, p in base.unet.named_parameters() if ".motion_adapters." in n}
        return base, encoder, state, init

    @property
    def parts(self):
        if self._parts is None:
            self._parts = self._build()
        return self._parts

    def trainable(self) -> dict[str, nn.Parameter]:
        """Exactly the motion-adapter parameters; everything else in the UNet is frozen."""
        base = self.parts[0]
        params = dict(base.unet.named_parameters())
        for n, p in params.items():
            p.requires_grad_(".motion_adapters." in n)
        return {n: params[n] for n in adapter_names(base.unet)}

    def describe(self) -> dict:
        base = "damo-vilab/text-to-video-ms-1.7b" if self.ctx.profile is Profile.PAPER else tw.base_tag()
        return {"name": self.name, "profile": self.ctx.profile, "base": base, **asdict(self.cfg)}

    def _reset(self) -> None:
        base, _, _, init = self.parts
        params = dict(base.unet.named_parameters())
        with torch.no_grad():
            for n, v in init.items():
                params[n].copy_(v)

    def fit(self, action, videos, prompt) -> None:
        if not videos:
            raise InputError(f"dreamvideo: action {getattr(action, 'id', '?')!r} has no training videos")
        self._reset()
        names = adapter_names(self.parts[0].unet)
        path = self.ctx.cache_dir / self.name / f"{tb.fit_key(videos, prompt, self.describe())}.safetensors"
        self.last_fit_cached = path.exists()
        if self.last_fit_cached:
            tb.load_params(path, self.parts[0].unet, names)
        else:
            self.last_losses = self._train(videos, prompt)
            tb.save_params(path, self.parts[0].unet, names)
        self.fitted_prompt = prompt

    def _train(self, videos, prompt) -> list[float]:
        from flash_bench.tiny_world import diffusion_target

        base, encoder, state, _ = self.parts
        cfg, sched = self.cfg, base.scheduler
        latents = tb.encode_videos(base, videos, cfg.num_frames, cfg.native_size)       # (N, C, F, h, w)
        looks = torch.stack([image_embeddings(encoder, tw.to_unit(tb.sample_clip(v, cfg.num_frames),
                                                                     cfg.native_size).to(latents.device))
                             for v in videos])                                          # (N, F, D)
        text = base.encode_prompts([prompt])                                            # (1, 77, D)

        def loss_fn(gen):
            i = int(torch.randint(len(videos), (1,), generator=gen))
            j = int(torch.randint(cfg.num_frames, (1,), generator=gen))
            state.embedding = looks[i, j:j + 1]                                         # a random frame
            z0 = latents[i:i + 1]
            noise = torch.randn(z0.shape, generator=gen).to(z0)
            t = tb.random_timesteps(1, sched.config.num_train_timesteps, gen).to(z0.device)
            pred = tb.video_unet(base.unet, sched.add_noise(z0, noise, t), t, text)
            return F.mse_loss(pred.float(), diffusion_target(sched, z0, noise, t).float())

        params = self.trainable()
        self.trained_names = sorted(params)
        with torch.enable_grad():
            return tb.train(params, loss_fn, cfg.train_steps, cfg.lr, cfg.seed, f"dreamvideo fit {prompt[:30]}")

    @torch.no_grad()
    def animate(self, reference, prompt, num_frames, seed, item=None):
        from diffusers import DDIMScheduler

        if self.fitted_prompt is not None and prompt != self.fitted_prompt:
            raise InputError(f"dreamvideo: animate({prompt!r}) but the adapters were fitted for "
                             f"{self.fitted_prompt!r}; call fit() for this action first")
        base, encoder, state, _ = self.parts
        cfg = self.cfg
        x = tw.to_unit(reference[None], cfg.native_size).to(base.unet.device)         # (1, 3, S, S)
        state.embedding = image_embeddings(encoder, x)                                 # appearance guidance
        sched = DDIMScheduler.from_config(base.scheduler.config)
        sched.set_timesteps(cfg.sample_steps)
        gen = torch.Generator().manual_seed(int(seed))
        down = 2 ** (len(base.vae.config.block_out_channels) - 1)                       # VAE spatial factor
        c, h, w = base.unet.config.in_channels, x.shape[-2] // down, x.shape[-1] // down
        z = (base.noise((1, c, num_frames, h, w), gen) * sched.init_noise_sigma).to(x)
        emb = base.encode_prompts([prompt] if cfg.guidance == 1.0 else ["", prompt])
        for t in sched.timesteps:
            pred = tb.guided(base.unet, sched.scale_model_input(z, t), t, emb, cfg.guidance)
            z = sched.step(pred, t, z, generator=gen).prev_sample
        frames = base.decode_latents(z[0].permute(1, 0, 2, 3))                        # (F, 3, S, S)
        return tw.to_uint8(frames, reference.shape[:2])
