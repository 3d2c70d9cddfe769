"""Base models shared by the TI2V-Zero, DreamVideo and LAMP baselines, in both profiles, and their common plumbing.

``paper``: ModelScope T2V (diffusers ``UNet3DConditionModel`` + VAE + OpenCLIP-H text encoder, repository
``damo-vilab/text-to-video-ms-1.7b``) for TI2V-Zero and DreamVideo; Stable Diffusion v1.4
(``CompVis/stable-diffusion-v1-4``) for LAMP. Both are found through :mod:`flash_bench.weights` (a weights folder
or the Hugging Face hub cache, never the network); a miss is one error naming the repository.

``tiny``: the tiny world's base (:mod:`flash_bench.tiny_world`, the one FLASH fine-tunes): its ``UNetMotionModel``
is the text-to-video UNet (with the cross-frame attention it was pretrained with) and the 2-D UNet inside it is
the image UNet LAMP inflates. Without a shipped base the same components are built seeded-random, and
:func:`flash_bench.tiny_world.base_tag` says so (it is part of every cache key and of ``describe()``).
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from flash_bench import tiny_world as tw
from flash_bench.types import Profile


# ----------------------------------------------------------------------------------------- tiny profile
def tiny_unet2d_config() -> dict:
    return dict(tw.shipped_components()["unet"])


def image_unet_from(motion_unet, config: dict):
    """The spatial 2-D UNet inside a ``UNetMotionModel``: same keys minus ``motion_modules``; every key must match."""
    from diffusers import UNet2DConditionModel

    unet2d = UNet2DConditionModel(**config)
    state = {k: v for k, v in motion_unet.state_dict().items() if ".motion_modules." not in k}
    missing, unexpected = unet2d.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ValueError(f"tiny base UNet does not map onto UNet2DConditionModel: missing {missing[:3]}, "
                         f"unexpected {unexpected[:3]}")
    return unet2d.eval().requires_grad_(False).to(motion_unet.device)


# ----------------------------------------------------------------------------------------- paper profile
def snapshot(name: str, weights_dir: str | None = None) -> Path:
    """Local folder of a whole-repository row of :data:`flash_bench.weights.WEIGHTS` (raises WeightsMissing)."""
    from flash_bench.weights import resolve

    return resolve(name, weights_dir)


def _frozen(*modules):
    for m in modules:
        m.eval().requires_grad_(False)


def _load_snapshot(weights_name: str, unet_class: str, device: str, weights_dir: str | None):
    """A diffusers-layout checkpoint (unet/vae/text_encoder/tokenizer/scheduler) as a frozen BaseModel, offline."""
    import diffusers
    from diffusers import AutoencoderKL, DDIMScheduler
    from transformers import CLIPTextModel, CLIPTokenizer

    from flash_bench.tiny_world import BaseModel, to_device

    root = str(snapshot(weights_name, weights_dir))
    kw = dict(local_files_only=True)
    unet = getattr(diffusers, unet_class).from_pretrained(root, subfolder="unet", **kw)
    vae = AutoencoderKL.from_pretrained(root, subfolder="vae", **kw)
    text = CLIPTextModel.from_pretrained(root, subfolder="text_encoder", **kw)
    tok = CLIPTokenizer.from_pretrained(root, subfolder="tokenizer", **kw)
    sched = DDIMScheduler.from_pretrained(root, subfolder="scheduler", **kw)
    _frozen(unet, vae, text)
    return to_device(BaseModel(vae, text, tok, unet, sched, Profile.PAPER, sched.config.prediction_type), device)


def load_modelscope(device: str = "cpu", weights_dir: str | None = None):
    """ModelScope T2V 1.7B as a BaseModel (unet = diffusers UNet3DConditionModel), from local files only."""
    return _load_snapshot("modelscope-t2v", "UNet3DConditionModel", device, weights_dir)


def load_sd14(device: str = "cpu", weights_dir: str | None = None):
    """Stable Diffusion v1.4 as a BaseModel (unet = UNet2DConditionModel), from local files only."""
    return _load_snapshot("sd-v1-4", "UNet2DConditionModel", device, weights_dir)


# ----------------------------------------------------------------------------------------- UNet calls
def video_unet(unet, latents: torch.Tensor, t, emb: torch.Tensor) -> torch.Tensor:
    """One UNet prediction for latent videos (B, C, F, h, w) with prompt embeddings (B, 77, D).

    ``UNet3DConditionModel`` repeats the prompt per frame itself; ``UNetMotionModel`` expects (B*F, 77, D).
    """
    from diffusers import UNet3DConditionModel

    if not isinstance(unet, UNet3DConditionModel):
        emb = emb.repeat_interleave(latents.shape[2], 0)                  # (B*F, 77, D)
    return unet(latents, t, encoder_hidden_states=emb).sample


def guided(unet, latents: torch.Tensor, t, emb: torch.Tensor, guidance: float, call=video_unet) -> torch.Tensor:
    """Classifier-free guidance; ``emb`` is [uncond; cond] (2, 77, D), or (1, 77, D) for no guidance."""
    if emb.shape[0] == 1:
        return call(unet, latents, t, emb)
    out = call(unet, torch.cat([latents, latents]), t, emb)
    uncond, cond = out.chunk(2)
    return uncond + guidance * (cond - uncond)


def alpha_bar(sched, t: int) -> torch.Tensor:
    """ᾱ_t of a DDIM scheduler; t < 0 means "after the last step" (the scheduler's final ᾱ)."""
    return sched.alphas_cumprod[int(t)] if t >= 0 else sched.final_alpha_cumprod


def previous_timestep(sched, t: int) -> int:
    """The timestep DDIMScheduler.step lands on from ``t`` (its own formula)."""
    return int(t) - sched.config.num_train_timesteps // sched.num_inference_steps


# ----------------------------------------------------------------------------------------- clips
def sample_clip(video: np.ndarray, num_frames: int) -> np.ndarray:
    """``num_frames`` frames spread evenly over a video (T, H, W, 3) (repeats frames of shorter videos)."""
    idx = np.linspace(0, len(video) - 1, num_frames).round().astype(int)
    return video[idx]


@torch.no_grad()
def encode_videos(base, videos: Sequence[np.ndarray], num_frames: int, size: int) -> torch.Tensor:
    """Training videos -> latent clips (N, C, F, h, w) (VAE posterior means, scaled)."""
    out = []
    for video in videos:
        x = tw.to_unit(sample_clip(video, num_frames), size).to(base.unet.device)   # (F, 3, S, S)
        out.append(base.encode_frames(x).permute(1, 0, 2, 3))                   # (C, F, h, w)
    return torch.stack(out)


# ----------------------------------------------------------------------------------------- fit cache
def fit_key(videos: Sequence[np.ndarray], prompt: str, config: dict) -> str:
    """sha256 of the training videos' content, the prompt and the method's configuration."""
    h = hashlib.sha256()
    for v in videos:
        h.update(str((v.shape, str(v.dtype))).encode())
        h.update(np.ascontiguousarray(v).tobytes())
    h.update(prompt.encode())
    h.update(json.dumps(config, sort_keys=True, default=str).encode())
    return h.hexdigest()[:24]


def save_params(path: Path, module: torch.nn.Module, names: Sequence[str]) -> None:
    """Write only the named (trained) parameters of ``module`` as safetensors, atomically."""
    from safetensors.torch import save_file

    from flash_bench.store import atomic_path

    params = dict(module.named_parameters())
    state = {n: params[n].detach().float().cpu().contiguous() for n in names}
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        save_file(state, str(tmp))


def load_params(path: Path, module: torch.nn.Module, names: Sequence[str]) -> None:
    """Load trained parameters written by :func:`save_params`; the names must be exactly ``names``."""
    from safetensors.torch import load_file

    state = load_file(str(path))
    if set(state) != set(names):
        from flash_bench.types import InputError

        raise InputError(f"{path}: trained parameters {sorted(set(state) ^ set(names))[:4]} do not match this "
                         "model; delete the file to refit")
    params = dict(module.named_parameters())
    with torch.no_grad():
        for n, v in state.items():
            params[n].copy_(v.to(params[n].device))


# ----------------------------------------------------------------------------------------- few-shot training
def train(params: dict[str, torch.nn.Parameter], loss_fn, steps: int, lr: float, seed: int, label: str) -> list[float]:
    """AdamW (weight decay 1e-2, as diffusers' fine-tuning scripts) over exactly ``params``; returns the losses.

    ``loss_fn(gen)`` draws its randomness (clip, timestep, noise) from the seeded generator ``gen``.
    """
    from tqdm.auto import tqdm

    opt = torch.optim.AdamW(list(params.values()), lr=lr, weight_decay=1e-2)
    gen = torch.Generator().manual_seed(seed)
    losses = []
    for _ in tqdm(range(steps), desc=label, leave=False, mininterval=2.0):
        loss = loss_fn(gen)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    return losses


def random_timesteps(n: int, num_train_timesteps: int, gen: torch.Generator) -> torch.Tensor:
    return torch.randint(0, num_train_timesteps, (n,), generator=gen)


# ----------------------------------------------------------------------------------------- configs
NON_CONFIG_OPTIONS = ("weights_dir",)   # where weights live is not part of a method's identity


def config_for(cls, profiles: dict, profile: Profile, options: dict | None, method: str):
    """``profiles[profile]`` with ``options`` overriding fields; unknown keys are one clear error."""
    from dataclasses import asdict, fields

    from flash_bench.types import InputError

    opts = {k: v for k, v in (options or {}).items() if k not in NON_CONFIG_OPTIONS}
    known = {f.name for f in fields(cls)}
    bad = set(opts) - known
    if bad:
        raise InputError(f"unknown {method} option(s) {sorted(bad)}; known: {sorted(known)}")
    return cls(**{**asdict(profiles[profile]), **opts})
