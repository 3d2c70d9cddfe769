"""Training of the Detail Enhancement Decoder (A2.3): reconstruct clean videos from distorted ones.

Each step takes one training video (uint8 (T, H, W, 3)), distorts it (:mod:`flash.distortions`), encodes
the distorted frames with the frozen VAE encoder (posterior mean), decodes them with the enhancement
conditioned on the *clean* first frame's encoder features, and takes the MSE to the clean frames (in the
VAE's [-1, 1] pixel space). Only the new branches train (Adam, lr 1e-4 as in A3.2); the VAE stays frozen.

Every random choice of step ``s`` comes from a generator seeded by (seed, s), so a resumed run follows the
same path as an uninterrupted one. A run writes ``CKPT`` (safetensors, new layers only, config in the
metadata), ``CKPT.json`` (config + training log) and ``CKPT.resume.pt`` (optimizer state,
``torch.load(weights_only=True)``), the last two beside the checkpoint.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from flash.detail_decoder import (DetailDecoder, DetailDecoderConfig, apply_detail_decoder, load_decoder,
                                  save_decoder)
from flash.distortions import DistortionConfig, distort_video
from flash_bench import tiny_world as tw
from flash_bench.config import profile_geometry
from flash_bench.types import InputError, Profile


@dataclass(frozen=True)
class DecoderTrainConfig:
    steps: int = 10_000                      # A3.2; the tiny profile uses a few hundred
    lr: float = 1e-4                         # A3.2
    frames_per_step: int | None = None       # random subset of frames per step (None: the whole video)
    clean_first: bool = False                # frame 1 left undistorted, as inference's frame 1 is the clean E(reference) (A2.1)
    seed: int = 0
    save_every: int = 500
    decoder: DetailDecoderConfig = field(default_factory=DetailDecoderConfig)
    distortion: DistortionConfig = field(default_factory=DistortionConfig)

    def to_dict(self) -> dict:
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d["decoder"], d["distortion"] = self.decoder.to_dict(), asdict(self.distortion)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "DecoderTrainConfig":
        unknown = sorted(set(d) - {f.name for f in fields(cls)})
        if unknown:
            raise InputError(f"unknown decoder training config keys {unknown}")
        d = dict(d)
        d["decoder"] = DetailDecoderConfig.from_dict(d.get("decoder", {}))
        d["distortion"] = DistortionConfig.from_dict(d.get("distortion", {}))
        return cls(**d)


def to_unit(video: np.ndarray) -> torch.Tensor:
    """uint8 (T, H, W, 3) -> float (T, 3, H, W) in [0, 1]."""
    if not isinstance(video, np.ndarray) or video.dtype != np.uint8 or video.ndim != 4 or video.shape[-1] != 3:
        got = getattr(video, "shape", type(video))
        raise InputError(f"training video must be uint8 (T, H, W, 3), got {got}")
    return tw.to_unit(video, low=0.0)  # (T, 3, H, W)


def make_pair(video: np.ndarray, gen: torch.Generator, cfg: DecoderTrainConfig):
    """(reference (1, 3, H, W), clean (n, 3, H, W), distorted (n, 3, H, W)), all in [-1, 1]."""
    clean = to_unit(video)
    dist, _ = distort_video(clean, gen, cfg.distortion)
    if cfg.clean_first:
        dist[0] = clean[0]
    n = clean.shape[0]
    if cfg.frames_per_step and cfg.frames_per_step < n:
        idx = torch.randperm(n, generator=gen)[: cfg.frames_per_step]
        clean_sel, dist = clean[idx], dist[idx]
    else:
        clean_sel = clean
    return clean[:1] * 2 - 1, clean_sel * 2 - 1, dist * 2 - 1


@torch.no_grad()
def encode_mean(vae, frames: torch.Tensor) -> torch.Tensor:
    """Frames in [-1, 1] -> unscaled latents (posterior mean), what ``vae.decode`` takes."""
    p = next(vae.parameters())
    return vae.encode(frames.to(device=p.device, dtype=p.dtype)).latent_dist.mode()


def step_generator(seed: int, step: int) -> torch.Generator:
    return torch.Generator().manual_seed(int(seed) * 1_000_003 + int(step))


def train_step(decoder: DetailDecoder, opt: torch.optim.Optimizer, video: np.ndarray,
               gen: torch.Generator, cfg: DecoderTrainConfig) -> float:
    reference, clean, distorted = make_pair(video, gen, cfg)
    latents = encode_mean(decoder.vae, distorted)
    out = decoder.decode(latents, reference)                          # (n, 3, H, W)
    loss = F.mse_loss(out, clean.to(out))
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return float(loss.detach())


def _resume_path(out: Path) -> Path:
    return out.with_name(out.name + ".resume.pt")


def _start(vae, cfg: DecoderTrainConfig, out: Path | None, resume: bool):
    """(decoder, optimizer, first step, log) — fresh, or from ``out`` when resuming."""
    import json

    if resume and out is not None and out.is_file() and _resume_path(out).is_file():
        decoder = load_decoder(out, vae)
        if decoder.config != cfg.decoder:
            raise InputError(f"{out}: trained with decoder config {decoder.config}, asked to resume with {cfg.decoder}")
        opt = torch.optim.Adam(decoder.parameters(), lr=cfg.lr)
        state = torch.load(_resume_path(out), weights_only=True)
        opt.load_state_dict(state["optimizer"])
        log = json.loads(out.with_suffix(".json").read_text()).get("train", {}).get("log", [])
        return decoder, opt, int(state["step"]), log
    decoder = apply_detail_decoder(vae, cfg.decoder)
    return decoder, torch.optim.Adam(decoder.parameters(), lr=cfg.lr), 0, []


def _save(decoder: DetailDecoder, opt, out: Path, step: int, cfg: DecoderTrainConfig, log: list,
          extra: dict | None) -> None:
    from flash_bench.store import atomic_path

    with atomic_path(_resume_path(out)) as tmp:
        torch.save({"step": step, "optimizer": opt.state_dict()}, tmp)
    save_decoder(decoder, out, extra={**(extra or {}), "train": {"config": cfg.to_dict(), "step": step, "log": log}})


def train_decoder(vae, videos: Sequence[np.ndarray], cfg: DecoderTrainConfig = DecoderTrainConfig(), *,
                  out: Path | None = None, resume: bool = True, extra: dict | None = None,
                  on_step: Callable[[int, float], None] | None = None) -> tuple[DetailDecoder, list]:
    """Train the new branches on ``videos`` for ``cfg.steps`` steps; returns (decoder, log of (step, loss)).

    ``vae`` is frozen in place. With ``out`` the run is checkpointed every ``save_every`` steps and at the end,
    and (``resume=True``) continues from an existing checkpoint there; ``extra`` (JSON) goes into its metadata.
    """
    if not videos:
        raise InputError("train_decoder needs at least one training video")
    vae.eval().requires_grad_(False)
    out = Path(out) if out is not None else None
    decoder, opt, start, log = _start(vae, cfg, out, resume)
    decoder.train()
    for step in range(start, cfg.steps):
        gen = step_generator(cfg.seed, step)
        video = videos[int(torch.randint(len(videos), (), generator=gen))]
        loss = train_step(decoder, opt, video, gen, cfg)
        log.append([step, loss])
        if on_step is not None:
            on_step(step, loss)
        if out is not None and ((step + 1) % cfg.save_every == 0 or step + 1 == cfg.steps):
            _save(decoder, opt, out, step + 1, cfg, log, extra)
    decoder.eval()
    return decoder, log


@torch.no_grad()
def evaluate_reconstruction(decoder: DetailDecoder, videos: Sequence[np.ndarray], seed: int = 12345,
                            distortion: DistortionConfig = DistortionConfig()) -> dict:
    """MSE to the clean frames ([-1, 1] scale, outputs clamped) of the plain and the enhanced decoder, on
    ``videos`` distorted with fixed seeds (video i uses ``seed + i``); every frame, reference = clean frame 1."""
    plain_err, enh_err, count = 0.0, 0.0, 0
    cfg = DecoderTrainConfig(frames_per_step=None, distortion=distortion)
    for i, video in enumerate(videos):
        reference, clean, distorted = make_pair(video, torch.Generator().manual_seed(seed + i), cfg)
        latents = encode_mean(decoder.vae, distorted)
        clean = clean.to(latents)
        plain = decoder.vae.decode(latents).sample.clamp(-1, 1)
        enhanced = decoder.decode(latents, reference).clamp(-1, 1)
        plain_err += float(F.mse_loss(plain, clean, reduction="sum"))
        enh_err += float(F.mse_loss(enhanced, clean, reduction="sum"))
        count += clean.numel()
    return {"plain_mse": plain_err / count, "enhanced_mse": enh_err / count, "videos": len(videos)}


# --------------------------------------------------------------------------------------- dataset entry point
PROFILE_DEFAULTS = {profile: {"steps": steps, "frames_per_step": per_step, "size": profile_geometry(profile)[0],
                              "frames": profile_geometry(profile)[1]}
                    for profile, steps, per_step in ((Profile.TINY, 300, 8), (Profile.PAPER, 10_000, None))}


def load_vae(profile: Profile | str, device: str = "cpu"):
    """The base model's VAE: the shipped tiny base (``tiny``) or SD1.5's VAE from the local hub cache (``paper``)."""
    if Profile.parse(profile) is Profile.TINY:
        return tw.load_tiny_base(device=device).vae
    from diffusers import AutoencoderKL

    from flash.base_model import SD15_REPO, paper_folder

    folder = paper_folder(SD15_REPO, "sd-v1-5")   # the weights folder, else the hub cache; WeightsMissing names it
    try:
        vae = AutoencoderKL.from_pretrained(folder, subfolder="vae", local_files_only=True)
    except (OSError, ValueError) as err:
        raise InputError(f"paper-profile VAE not found offline: {folder}/vae ({err.__class__.__name__}); "
                         "put SD1.5 in the weights folder or the Hugging Face hub cache; nothing is downloaded") from err
    return vae.to(device).eval()


def dataset_videos(dataset: str, root: Path | None, size: int, num_frames: int,
                   max_held_out: int = 8) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(training videos of every action, up to ``max_held_out`` ground-truth test videos) as uint8 arrays."""
    from flash_bench.registry import DATASETS

    ds = DATASETS.get(dataset)(root=root, num_frames=num_frames, size=size)
    actions = ds.actions()
    train = [clip.load() for action in actions for clip in action.train]
    held = [item.ground_truth for action in actions for item in action.test if item.ground_truth is not None]
    return train, [clip.load() for clip in held[:max_held_out]]


def train_on_dataset(dataset: str, root: Path | None, profile: Profile | str, cfg: DecoderTrainConfig, out: Path,
                     device: str = "cpu", on_step: Callable[[int, float], None] | None = None) -> dict:
    """Train on every training video of ``dataset``; checkpoint to ``out``; held-out MSE before/after."""
    profile = Profile.parse(profile)
    vae = load_vae(profile, device)
    train, held = dataset_videos(dataset, root, PROFILE_DEFAULTS[profile]["size"], PROFILE_DEFAULTS[profile]["frames"])
    if not train:
        raise InputError(f"dataset {dataset!r} has no readable training videos")
    extra = {"profile": profile, "dataset": dataset, "root": str(root) if root else None}
    decoder, log = train_decoder(vae, train, cfg, out=out, extra=extra, on_step=on_step)
    summary = {**extra, "checkpoint": str(out), "steps": cfg.steps, "train_videos": len(train),
               "final_loss": log[-1][1] if log else None}
    if held:
        summary["held_out"] = evaluate_reconstruction(decoder, held, distortion=cfg.distortion)
    return summary
