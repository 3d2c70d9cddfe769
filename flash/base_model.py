"""The base video diffusion model: AnimateDiff on diffusers (Sec. 3.1, A2.1).

``paper``: ``UNetMotionModel.from_unet2d(SD1.5 UNet, MotionAdapter guoyww/animatediff-motion-adapter-v1-5-2)``,
SD1.5 VAE / CLIP text encoder / tokenizer, DDIM with AnimateDiff's linear betas. Weights are read from the
Hugging Face hub cache or a local folder only (never downloaded); a miss raises one error naming them.

``tiny``: the same classes with reduced configs (:data:`TINY_COMPONENTS`), an offline CLIP tokenizer, and
weights pretrained on the synthetic pretrain pool by :mod:`flash.pretrain_base` and shipped in
``flash/weights/tiny_base/`` (fp16 storage, fp32 compute).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from flash_bench.types import InputError

TINY_BASE_DIR = Path(__file__).parent / "weights" / "tiny_base"
SD15_REPO = "stable-diffusion-v1-5/stable-diffusion-v1-5"
MOTION_ADAPTER_REPO = "guoyww/animatediff-motion-adapter-v1-5-2"

# AnimateDiff's inference scheduler, as its scripts/animate.py builds it: DDIMScheduler(**noise_scheduler_kwargs of
# configs/inference/inference-v2.yaml) — *linear* betas 0.00085 -> 0.012, steps_offset 1, no clipping — with
# diffusers' defaults for the rest: "leading" spacing and set_alpha_to_one=True (25 steps: 961, 921, ..., 1).
ANIMATEDIFF_SCHEDULER = dict(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012,
                             beta_schedule="linear", clip_sample=False, steps_offset=1,
                             timestep_spacing="leading", set_alpha_to_one=True)

# Tiny profile: 64x64 RGB -> x8 VAE -> 8x8x4 latents; 2-level UNet (32, 64) with cross-attention
# (hence cross-frame attention) at both levels; one motion module per block.
TINY_COMPONENTS: dict[str, dict[str, Any]] = {
    "vae": dict(in_channels=3, out_channels=3, latent_channels=4, layers_per_block=1,
                down_block_types=["DownEncoderBlock2D"] * 4, up_block_types=["UpDecoderBlock2D"] * 4,
                block_out_channels=[16, 32, 48, 64], norm_num_groups=8, sample_size=64),
    "text_encoder": dict(vocab_size=49408, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, max_position_embeddings=77, bos_token_id=49406,
                         eos_token_id=49407, pad_token_id=49407, projection_dim=32),
    "unet": dict(sample_size=8, in_channels=4, out_channels=4, layers_per_block=1,
                 block_out_channels=[32, 64], norm_num_groups=8, cross_attention_dim=32,
                 attention_head_dim=8,
                 down_block_types=["CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
                 up_block_types=["CrossAttnUpBlock2D", "CrossAttnUpBlock2D"]),
    "motion_adapter": dict(block_out_channels=[32, 64], motion_layers_per_block=1,
                           motion_num_attention_heads=4, motion_norm_num_groups=8,
                           motion_max_seq_length=32, use_motion_mid_block=True),
}


@dataclass
class BaseModel:
    """The components FLASH trains and samples with; all fp32 on ``device``."""

    vae: Any
    text_encoder: Any
    tokenizer: Any
    unet: Any            # diffusers UNetMotionModel
    scheduler: Any       # diffusers DDIMScheduler (config only; sampling makes its own copy)
    profile: str
    prediction_type: str = "epsilon"
    noise_shared: float = 0.0   # sampling noise prior (flash/noise_prior.py): paper 0 (i.i.d.), tiny TINY_NOISE_SHARED

    def noise(self, shape, generator: torch.Generator | None) -> torch.Tensor:
        """The initial noise (B, C, F, h, w) every method samples this base from (on the CPU, as seeded draws are)."""
        from flash.noise_prior import video_noise

        return video_noise(shape, generator, self.noise_shared)

    @property
    def vae_scale(self) -> float:
        return float(self.vae.config.scaling_factor)

    @torch.no_grad()
    def encode_prompts(self, prompts: list[str]) -> torch.Tensor:
        """Prompts -> CLIP last hidden states (B, 77, D)."""
        ids = self.tokenizer(prompts, padding="max_length", max_length=self.tokenizer.model_max_length,
                             truncation=True, return_tensors="pt").input_ids
        return self.text_encoder(ids.to(self.unet.device))[0]

    def encode_frames(self, frames: torch.Tensor, sample: bool = False) -> torch.Tensor:
        """Frames in [-1, 1] (N, 3, H, W) -> scaled latents (N, 4, h, w)."""
        dist = self.vae.encode(frames).latent_dist
        return (dist.sample() if sample else dist.mean) * self.vae_scale

    def decode_latents(self, latents: torch.Tensor) -> torch.Tensor:
        """Scaled latents (N, 4, h, w) -> frames in [-1, 1] (N, 3, H, W)."""
        return self.vae.decode(latents / self.vae_scale).sample.clamp(-1, 1)


def build_tiny_components(seed: int = 0, components: dict | None = None) -> BaseModel:
    """Randomly initialised tiny base (seeded) — tests and the start of pretraining."""
    from diffusers import AutoencoderKL, DDIMScheduler, MotionAdapter, UNet2DConditionModel, UNetMotionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    from flash.tokenizer import offline_clip_tokenizer

    comp = components or TINY_COMPONENTS
    torch.manual_seed(seed)
    vae = AutoencoderKL(**comp["vae"])
    text_encoder = CLIPTextModel(CLIPTextConfig(**comp["text_encoder"]))
    unet2d = UNet2DConditionModel(**comp["unet"])
    adapter = MotionAdapter(**comp["motion_adapter"])
    unet = UNetMotionModel.from_unet2d(unet2d, adapter)
    scheduler = DDIMScheduler(**ANIMATEDIFF_SCHEDULER, prediction_type=comp.get("prediction_type", "v_prediction"))
    for m in (vae, text_encoder, unet):
        m.eval().requires_grad_(False)
    from flash.config import TINY_NOISE_SHARED

    return BaseModel(vae, text_encoder, offline_clip_tokenizer(), unet, scheduler, "tiny",
                     scheduler.config.prediction_type, TINY_NOISE_SHARED)


def save_tiny_base(base: BaseModel, folder: Path, extra: dict | None = None) -> None:
    """Write the tiny base as fp16 safetensors + ``config.json`` (component configs), atomically."""
    from safetensors.torch import save_file

    from flash_bench.store import atomic_path, atomic_write_json

    folder.mkdir(parents=True, exist_ok=True)
    for name in ("vae", "text_encoder", "unet"):
        state = {k: v.detach().to(torch.float16).contiguous() for k, v in getattr(base, name).state_dict().items()}
        with atomic_path(folder / f"{name}.safetensors") as tmp:
            save_file(state, str(tmp))
            tmp.chmod(0o644)                 # shipped package data: world-readable
    vae_cfg = {**TINY_COMPONENTS["vae"], "scaling_factor": float(base.vae.config.scaling_factor)}
    comp = {**TINY_COMPONENTS, "vae": vae_cfg, "prediction_type": base.prediction_type}
    cfg = {"components": comp, **(extra or {})}
    atomic_write_json(folder / "config.json", cfg)


def load_tiny_base(folder: Path | str | None = None, device: str = "cpu") -> BaseModel:
    """The shipped tiny base (or one at ``folder``); fp16 files are cast to fp32."""
    from safetensors.torch import load_file

    folder = Path(folder) if folder is not None else TINY_BASE_DIR
    cfg_path = folder / "config.json"
    if not cfg_path.exists():
        raise InputError(f"no tiny base at {folder} (missing config.json); run "
                         "`flash-bench pretrain-base --profile tiny` or pass another folder")
    comp = json.loads(cfg_path.read_text())["components"]
    base = build_tiny_components(0, comp)
    for name in ("vae", "text_encoder", "unet"):
        path = folder / f"{name}.safetensors"
        if not path.exists():
            raise InputError(f"tiny base file missing: {path}")
        state = {k: v.float() for k, v in load_file(str(path)).items()}
        getattr(base, name).load_state_dict(state)
    return to_device(base, device)


def to_device(base: BaseModel, device: str) -> BaseModel:
    for m in (base.vae, base.text_encoder, base.unet):
        if next(m.parameters()).device != torch.device(device):
            m.to(device)
    return base


def _offline(fn, what: str, **kw):
    try:
        return fn(**kw)
    except (OSError, ValueError) as err:
        raise InputError(f"paper-profile weights not found offline: {what} ({err.__class__.__name__}: "
                         f"{str(err).splitlines()[0]}). Put them in the Hugging Face hub cache "
                         "(HF_HOME) or pass a local folder; nothing is downloaded.") from err


MOTION_ADAPTER_ROW = "animatediff-motion-adapter-v1-5-2"


def paper_folder(path: str, row: str) -> str:
    """A folder from flash_bench.weights when ``path`` is the default hub id and that table has the row
    (weights dir, then hub cache; a miss raises WeightsMissing naming the file); else ``path`` unchanged."""
    if path not in (SD15_REPO, MOTION_ADAPTER_REPO):
        return path
    from flash_bench import weights

    if row not in weights.WEIGHTS:
        return path
    return str(weights.resolve(row))


def load_paper_base(sd_path: str = SD15_REPO, adapter_path: str = MOTION_ADAPTER_REPO,
                    device: str = "cpu") -> BaseModel:
    """SD1.5 + AnimateDiff motion adapter v1-5-2, from the local hub cache or folders (offline only)."""
    from diffusers import AutoencoderKL, DDIMScheduler, MotionAdapter, UNet2DConditionModel, UNetMotionModel
    from transformers import CLIPTextModel, CLIPTokenizer

    sd_path, adapter_path = paper_folder(sd_path, "sd-v1-5"), paper_folder(adapter_path, MOTION_ADAPTER_ROW)
    common = dict(local_files_only=True)
    vae = _offline(AutoencoderKL.from_pretrained, f"{sd_path}/vae", pretrained_model_name_or_path=sd_path,
                   subfolder="vae", **common)
    text_encoder = _offline(CLIPTextModel.from_pretrained, f"{sd_path}/text_encoder",
                            pretrained_model_name_or_path=sd_path, subfolder="text_encoder", **common)
    tokenizer = _offline(CLIPTokenizer.from_pretrained, f"{sd_path}/tokenizer",
                         pretrained_model_name_or_path=sd_path, subfolder="tokenizer", **common)
    unet2d = _offline(UNet2DConditionModel.from_pretrained, f"{sd_path}/unet",
                      pretrained_model_name_or_path=sd_path, subfolder="unet", **common)
    adapter = _offline(MotionAdapter.from_pretrained, adapter_path,
                       pretrained_model_name_or_path=adapter_path, **common)
    unet = UNetMotionModel.from_unet2d(unet2d, adapter)
    scheduler = DDIMScheduler(**ANIMATEDIFF_SCHEDULER, prediction_type="epsilon")
    for m in (vae, text_encoder, unet):
        m.eval().requires_grad_(False)
    return to_device(BaseModel(vae, text_encoder, tokenizer, unet, scheduler, "paper", "epsilon"), device)


def load_base(profile: str, device: str = "cpu", base_dir: str | None = None, **paper_kw) -> BaseModel:
    if profile == "tiny":
        return load_tiny_base(base_dir, device)
    if profile == "paper":
        return load_paper_base(device=device, **paper_kw)
    raise InputError(f"unknown profile {profile!r}: expected 'tiny' or 'paper'")
