"""The tiny world: what FLASH and every baseline share in the ``tiny`` profile, in one neutral place.

Everything here is part of the *world* the methods are compared in, not of any method: the geometry of the
``synthetic`` videos and of the tiny base (:data:`SIZE`, :data:`NUM_FRAMES`), the sampler budget every
tiny method gets (:data:`DDIM_STEPS`) and the initial noise it samples from (:data:`NOISE_SHARED`,
:func:`video_noise`), the tiny base itself (:func:`load_tiny_base`, pretrained by :mod:`flash.pretrain_base`
into :data:`BASE_DIR` with the objective :func:`noisy_input` / :func:`denoising_loss` and with cross-frame
attention, :mod:`flash_bench.cross_frame_attention`), and the one [-1, 1] <-> uint8 pixel conversion
(:func:`to_unit`, :func:`to_uint8`). FLASH (``flash/``) and the baselines (``baselines/``) import it; it
imports neither (tests/test_architecture.py).

Geometry (issue 17, docs/tiny_world_v2.md): 32x32 RGB canvas -> x2 VAE -> 16x16x4 latents, 8 frames. The
shipped base's ``config.json`` must agree with these numbers (checked by tests/test_tiny_world.py), so a
retrained base with another geometry fails the tests instead of running at the wrong size.

torch and diffusers are imported inside the functions: the constants load without them.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from flash_bench.types import InputError, Profile

SIZE = 32               # canvas (pixels, square): synthetic videos, the tiny base's VAE input, every tiny method
NUM_FRAMES = 8          # frames per video in the tiny profile (the paper profile keeps 16)
# DDIM steps of every method in the tiny profile (FLASH and the five DDIM baselines; the paper: 25), one number
# so the comparison stays fair; few, so the main job stays within 15 minutes on two cores.
DDIM_STEPS = 8
# Initial noise of every method that samples the tiny base: this fraction of its variance is shared by all frames
# (:func:`video_noise`). 0: i.i.d., as the base is pretrained and fine-tuned and as the paper profile samples. The
# v1 world's base flickered from i.i.d. noise and sampled from 0.8; on the v2 base (2 heads, step 5,851) 0.8 makes
# frames 2-8 one hallucinated still that drifts from the reference, and i.i.d. noise is recognised more often
# (docs/tiny_profile.md, "Sampling noise prior"; benchmarks/tiny_noise_prior.py measures it).
NOISE_SHARED = 0.0
BASE_DIR = Path(__file__).resolve().parents[1] / "flash" / "weights" / "tiny_v2"   # the shipped tiny base

# AnimateDiff's inference scheduler, as its scripts/animate.py builds it: DDIMScheduler(**noise_scheduler_kwargs of
# configs/inference/inference-v2.yaml) — *linear* betas 0.00085 -> 0.012, steps_offset 1, no clipping — with
# diffusers' defaults for the rest: "leading" spacing and set_alpha_to_one=True (25 steps: 961, 921, ..., 1).
# The tiny base uses it too (with v-prediction).
ANIMATEDIFF_SCHEDULER = dict(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012,
                             beta_schedule="linear", clip_sample=False, steps_offset=1,
                             timestep_spacing="leading", set_alpha_to_one=True)

# The tiny base's component configs (for a seeded-random build; a shipped base carries its own in config.json):
# SIZE x SIZE RGB -> x2 VAE (32, 64) -> (SIZE/2)^2 x 4 latents; 2-level UNet (32, 64) with cross-attention (hence
# cross-frame attention) at both levels; one motion module per block; a 32-wide CLIP text encoder.
COMPONENTS: dict[str, dict[str, Any]] = {
    "vae": dict(in_channels=3, out_channels=3, latent_channels=4, layers_per_block=1,
                down_block_types=["DownEncoderBlock2D"] * 2, up_block_types=["UpDecoderBlock2D"] * 2,
                block_out_channels=[32, 64], norm_num_groups=8, sample_size=SIZE),
    "text_encoder": dict(vocab_size=49408, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, max_position_embeddings=77, bos_token_id=49406,
                         eos_token_id=49407, pad_token_id=49407, projection_dim=32),
    "unet": dict(sample_size=SIZE // 2, in_channels=4, out_channels=4, layers_per_block=1,
                 block_out_channels=[32, 64], norm_num_groups=8, cross_attention_dim=32,
                 attention_head_dim=2,    # diffusers' name for the number of heads: 2 heads of 16 / 32 channels
                 down_block_types=["CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
                 up_block_types=["CrossAttnUpBlock2D", "CrossAttnUpBlock2D"]),
    "motion_adapter": dict(block_out_channels=[32, 64], motion_layers_per_block=1,
                           motion_num_attention_heads=4, motion_norm_num_groups=8,
                           motion_max_seq_length=32, use_motion_mid_block=True),
}
RANDOM_TAG = "tiny-base:seeded-random(seed 0; shipped tiny base not found)"


# ----------------------------------------------------------------------------------------- pixels
def to_unit(frames: np.ndarray, size: int | None = None, low: float = -1.0):
    """uint8 (N, H, W, 3) or (H, W, 3) -> float (N, 3, size, size) in [low, 1] (``low`` -1: x / 127.5 - 1, the
    VAEs' range; 0: x / 255, the backbones'; antialiased bilinear resize when ``size`` differs; an image gives
    N = 1)."""
    import torch
    import torch.nn.functional as F

    frames = np.asarray(frames)
    if frames.ndim == 3:
        frames = frames[None]
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
        raise InputError(f"expected uint8 frames (N, H, W, 3) or an image (H, W, 3), got {frames.dtype} "
                         f"{frames.shape}")
    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float() / (255.0 / (1.0 - low)) + low
    if size is not None and x.shape[-2:] != (size, size):
        x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return x


def to_uint8(frames, size: int | tuple[int, int] | None = None, low: float = -1.0) -> np.ndarray:
    """float (N, 3, H, W) in [low, 1] (``low`` -1: [-1, 1]; 0: [0, 1]) -> uint8 (N, height, width, 3).

    Clamped, then rounded half up: v = floor(255 (x - low) / (1 - low) + 1/2) — the inverse of :func:`to_unit`
    on every uint8 value. Antialiased bilinear resize first when ``size`` (side or (height, width)) differs.
    """
    import torch
    import torch.nn.functional as F

    x = torch.as_tensor(frames).detach().float().cpu()
    if size is not None:
        hw = (size, size) if isinstance(size, int) else tuple(size)
        if x.shape[-2:] != hw:
            x = F.interpolate(x, size=hw, mode="bilinear", antialias=True, align_corners=False)
    scaled = (x.clamp(low, 1.0) - low) * (255.0 / (1.0 - low))
    return torch.floor(scaled + 0.5).clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()


# ----------------------------------------------------------------------------------------- noise
def video_noise(shape, generator, shared: float):
    """Noise of ``shape`` (B, C, F, h, w) with fraction ``shared`` of each element's variance common to all frames:

        ε_f = √s · ε_shared + √(1 − s) · ε'_f        (every frame f; each ε standard normal, so ε_f is too)

    ``s = 0`` is the i.i.d. noise of AnimateDiff and of the ``paper`` profile, and draws the same numbers as a plain
    ``torch.randn``. ``s > 0`` is the correlated "mixed" noise of Ge et al., *Preserve Your Own Correlation* (ICCV
    2023), used at sampling time only, as FreeInit (Wu et al., 2023) reshapes the initial noise of a model trained
    on i.i.d. noise. Every method that samples the tiny base starts from ``s = NOISE_SHARED`` (the base's
    ``noise_shared``; now 0, chosen by ``benchmarks/tiny_noise_prior.py``, which sweeps ``s``).
    """
    import torch

    if not 0.0 <= shared < 1.0:
        raise ValueError(f"shared noise fraction must be in [0, 1), got {shared}")
    noise = torch.randn(shape, generator=generator)
    if shared == 0.0:
        return noise
    common = torch.randn((shape[0], shape[1], 1, *shape[3:]), generator=generator)
    return shared ** 0.5 * common + (1.0 - shared) ** 0.5 * noise


# ----------------------------------------------------------------------------------------- the base
@dataclass
class BaseModel:
    """The components a method trains and samples with (either profile); all fp32 on ``device``."""

    vae: Any
    text_encoder: Any
    tokenizer: Any
    unet: Any            # diffusers UNetMotionModel (or UNet3DConditionModel / UNet2DConditionModel)
    scheduler: Any       # diffusers DDIMScheduler (config only; sampling makes its own copy)
    profile: Profile
    prediction_type: str = "epsilon"
    noise_shared: float = 0.0   # sampling noise prior: paper 0 (i.i.d.), tiny NOISE_SHARED

    def __post_init__(self):
        self.profile = Profile.parse(self.profile)

    def noise(self, shape, generator) -> Any:
        """The initial noise (B, C, F, h, w) every method samples this base from (on the CPU, as seeded draws are)."""
        return video_noise(shape, generator, self.noise_shared)

    @property
    def vae_scale(self) -> float:
        return float(self.vae.config.scaling_factor)

    def encode_prompts(self, prompts: list[str]):
        """Prompts -> CLIP last hidden states (B, 77, D)."""
        import torch

        ids = self.tokenizer(prompts, padding="max_length", max_length=self.tokenizer.model_max_length,
                             truncation=True, return_tensors="pt").input_ids
        with torch.no_grad():
            return self.text_encoder(ids.to(self.unet.device))[0]

    def encode_frames(self, frames, sample: bool = False):
        """Frames in [-1, 1] (N, 3, H, W) -> scaled latents (N, 4, h, w)."""
        dist = self.vae.encode(frames).latent_dist
        return (dist.sample() if sample else dist.mean) * self.vae_scale

    def decode_latents(self, latents):
        """Scaled latents (N, 4, h, w) -> frames in [-1, 1] (N, 3, H, W)."""
        return self.vae.decode(latents / self.vae_scale).sample.clamp(-1, 1)


def build_tiny_components(seed: int = 0, components: dict | None = None) -> BaseModel:
    """Randomly initialised tiny base (seeded) — tests and the start of pretraining."""
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, MotionAdapter, UNet2DConditionModel, UNetMotionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    from flash_bench.tokenizer import offline_clip_tokenizer

    comp = components or COMPONENTS
    torch.manual_seed(seed)
    vae = AutoencoderKL(**comp["vae"])
    text_encoder = CLIPTextModel(CLIPTextConfig(**comp["text_encoder"]))
    unet2d = UNet2DConditionModel(**comp["unet"])
    adapter = MotionAdapter(**comp["motion_adapter"])
    unet = UNetMotionModel.from_unet2d(unet2d, adapter)
    scheduler = DDIMScheduler(**ANIMATEDIFF_SCHEDULER, prediction_type=comp.get("prediction_type", "v_prediction"))
    for m in (vae, text_encoder, unet):
        m.eval().requires_grad_(False)
    return BaseModel(vae, text_encoder, offline_clip_tokenizer(), unet, scheduler, Profile.TINY,
                     scheduler.config.prediction_type, NOISE_SHARED)


def save_tiny_base(base: BaseModel, folder: Path, components: dict, extra: dict | None = None) -> None:
    """Write the tiny base as fp16 safetensors + ``config.json`` (its ``components`` configs), atomically."""
    import torch
    from safetensors.torch import save_file

    from flash_bench.store import atomic_path, atomic_write_json

    folder.mkdir(parents=True, exist_ok=True)
    for name in ("vae", "text_encoder", "unet"):
        state = {k: v.detach().to(torch.float16).contiguous() for k, v in getattr(base, name).state_dict().items()}
        with atomic_path(folder / f"{name}.safetensors") as tmp:
            save_file(state, str(tmp))
            tmp.chmod(0o644)                 # shipped package data: world-readable
    comp = {**components, "vae": {**components["vae"], "scaling_factor": base.vae_scale},
            "prediction_type": base.prediction_type}
    atomic_write_json(folder / "config.json", {"components": comp, **(extra or {})})


def base_config(folder: Path | str | None = None) -> dict:
    """The ``config.json`` of a tiny base folder (default: the shipped one); one clear error when absent."""
    folder = Path(folder) if folder is not None else BASE_DIR
    path = folder / "config.json"
    if not path.exists():
        raise InputError(f"no tiny base at {folder} (missing config.json); run "
                         "`flash-bench pretrain-base --profile tiny` or pass another folder")
    return json.loads(path.read_text())


def load_tiny_base(folder: Path | str | None = None, device: str = "cpu") -> BaseModel:
    """The shipped tiny base (or one at ``folder``); fp16 files are cast to fp32."""
    from safetensors.torch import load_file

    folder = Path(folder) if folder is not None else BASE_DIR
    base = build_tiny_components(0, base_config(folder)["components"])
    for name in ("vae", "text_encoder", "unet"):
        path = folder / f"{name}.safetensors"
        if not path.exists():
            raise InputError(f"tiny base file missing: {path}")
        getattr(base, name).load_state_dict({k: v.float() for k, v in load_file(str(path)).items()})
    return to_device(base, device)


def to_device(base: BaseModel, device: str) -> BaseModel:
    import torch

    for m in (base.vae, base.text_encoder, base.unet):
        if next(m.parameters()).device != torch.device(device):
            m.to(device)
    return base


def base_tag() -> str:
    """Which tiny base is in use: the shipped one (by its UNet file's sha256) or the seeded-random stand-in."""
    unet_file = BASE_DIR / "unet.safetensors"
    if (BASE_DIR / "config.json").exists() and unet_file.exists():
        from flash_bench.weights import sha256_of

        return f"tiny-base:{sha256_of(unet_file)[:16]}"
    return RANDOM_TAG


def shipped_components() -> dict:
    """The component configs of the base in use: the shipped base's ``config.json``, else :data:`COMPONENTS`."""
    if base_tag() == RANDOM_TAG:
        return json.loads(json.dumps(COMPONENTS))
    return base_config()["components"]


def tiny_video_base(device: str = "cpu", cross_frame: bool = True) -> BaseModel:
    """The tiny text-to-video base as the methods sample it: frozen, fp32, with the cross-frame attention it was
    pretrained with (``cross_frame=False``: without, for a method that uses only its 2-D UNet; seeded-random
    components when no base is shipped, :func:`base_tag` says which)."""
    base = to_device(build_tiny_components(0), device) if base_tag() == RANDOM_TAG else load_tiny_base(device=device)
    if cross_frame:
        from flash_bench.cross_frame_attention import apply_cross_frame_attention

        apply_cross_frame_attention(base.unet)
    return base


# ----------------------------------------------------------------------------------------- the base's objective
def diffusion_target(scheduler, clean, noise, t):
    """The scheduler's training target: ε (``epsilon``, the paper profile), v = √ᾱ·ε − √(1−ᾱ)·z₀
    (``v_prediction``, the tiny base) or z₀ (``sample``)."""
    kind = scheduler.config.prediction_type
    if kind == "epsilon":
        return noise
    if kind == "v_prediction":
        return scheduler.get_velocity(clean, noise, t)
    if kind == "sample":
        return clean
    raise ValueError(f"unsupported prediction_type {kind!r}")


def keep_first_frame_clean(noisy, clean):
    """Ž_t (A2.1): ``noisy`` with frame 1 replaced by ``clean``'s frame 1; both (B, C, F, h, w)."""
    out = noisy.clone()
    out[:, :, 0] = clean[:, :, 0]
    return out


def noised_frames_mask(latents):
    """1 on the noised frames 2..N, 0 on frame 1; broadcastable to (B, C, F, h, w)."""
    import torch

    mask = torch.ones(1, 1, latents.shape[2], 1, 1, dtype=latents.dtype, device=latents.device)
    mask[:, :, 0] = 0
    return mask


def noisy_input(scheduler, clean, noise, t):
    """Ž_t: clean (B, C, F, h, w) noised to per-video timesteps t (B,), frame 1 left clean (noise-free first frame,
    the conditioning the tiny base is pretrained with and FLASH and LAMP fine-tune with)."""
    return keep_first_frame_clean(scheduler.add_noise(clean, noise, t), clean)


def denoising_loss(pred, target):
    """eq. 1/2: squared error on the noised frames 2..N, averaged over all videos of the batch."""
    mask = noised_frames_mask(pred)
    err = (pred.float() - target.float()).pow(2) * mask
    return err.sum() / (mask.sum() * pred.shape[0] * pred.shape[1] * pred.shape[3] * pred.shape[4])
