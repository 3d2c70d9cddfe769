"""FLASH training (Sec. 3.2, A3.2): a short loop over pairs [original; strongly augmented] of training videos.

Trainable set (A3.2): the temporal attention layers (motion modules) and the key/value projections of the
other attention layers (spatial self-/cross-frame attention and text cross-attention); everything else is
frozen. AdamW; importance-sampled timesteps; noise-free first frame; loss eq. 2 on both videos of the pair;
motion feature alignment (forward hooks) and correspondence alignment (attention processors) per config;
gradient checkpointing (paper profile) of every ResNet, spatial transformer and motion module, as AnimateDiff's
code does (:class:`BlockCheckpointing`). Checkpoints (safetensors) hold only the trainable weights, with the
config and step in the metadata; an optimizer file beside it lets training resume.
"""
from __future__ import annotations

import contextlib
import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from flash.augmentation import AugmentationRanges, make_pair
from flash.base_model import BaseModel
from flash.config import FlashConfig
from flash.correspondence_alignment import CorrespondenceAlignment
from flash_bench.cross_frame_attention import apply_cross_frame_attention
from flash.losses import denoising_loss, diffusion_target, noisy_input
from flash.motion_alignment import apply_motion_alignment
from flash.timestep_sampling import sample_timesteps
from flash_bench.tiny_world import to_unit
from flash_bench.types import InputError, Profile


class BlockCheckpointing:
    """Gradient checkpointing of a UNetMotionModel at AnimateDiff's granularity.

    diffusers' ``enable_gradient_checkpointing()`` (0.42) recomputes the ResNets and the inner blocks of each
    spatial transformer, but keeps every activation of the motion modules (but the mid block's) and of the
    transformers' norm/projections; AnimateDiff's own blocks (``animatediff/models/unet_blocks.py``) checkpoint
    each ResNet, spatial transformer and motion module whole. Here diffusers' switch is turned on with
    :meth:`checkpoint` as its checkpointing function, and every spatial transformer and motion module is wrapped
    so that its call — its forward hooks included (motion feature alignment) — runs under
    ``torch.utils.checkpoint`` too. Inside a checkpointed region nothing is checkpointed again (diffusers'
    nested calls run directly), so each module is recomputed once in backward.
    """

    def __init__(self):
        self.depth = 0            # > 0 while a checkpointed region runs (its forward or its recomputation)

    def checkpoint(self, module, *args, **kwargs):
        if self.depth or not torch.is_grad_enabled():
            return module(*args, **kwargs)
        return torch.utils.checkpoint.checkpoint(self._region, module, *args, use_reentrant=False, **kwargs)

    def _region(self, module, *args, **kwargs):
        self.depth += 1
        try:
            return module(*args, **kwargs)
        finally:
            self.depth -= 1


def checkpointed_modules(unet) -> list[torch.nn.Module]:
    """What FLASH checkpoints whole beside diffusers' ResNets: every spatial transformer and motion module."""
    from diffusers.models.transformers.transformer_2d import Transformer2DModel
    from diffusers.models.unets.unet_motion_model import AnimateDiffTransformer3D

    return [m for m in unet.modules() if isinstance(m, (Transformer2DModel, AnimateDiffTransformer3D))]


_CHECKPOINTED_TYPES: dict[type, type] = {}


def _checkpointed_type(cls: type) -> type:
    """``cls`` whose call goes through the owning :class:`BlockCheckpointing` (a subclass: names, state dict and
    ``isinstance`` stay those of ``cls``); ``cls`` itself if it is one already."""
    if cls in _CHECKPOINTED_TYPES.values():
        return cls
    if cls not in _CHECKPOINTED_TYPES:
        def __call__(self, *args, **kwargs):
            return self._flash_checkpointing.checkpoint(super(sub, self).__call__, *args, **kwargs)

        sub = type(cls.__name__, (cls,), {"__call__": __call__, "__module__": cls.__module__})
        _CHECKPOINTED_TYPES[cls] = sub
    return _CHECKPOINTED_TYPES[cls]


def set_gradient_checkpointing(unet, enabled: bool) -> None:
    """Switch :class:`BlockCheckpointing` on or off for ``unet`` (idempotent: one fit after another reuses a UNet)."""
    if enabled:
        ckpt = getattr(unet, "_flash_checkpointing", None) or BlockCheckpointing()
        unet._flash_checkpointing = ckpt
        unet.enable_gradient_checkpointing(ckpt.checkpoint)
        for m in checkpointed_modules(unet):
            m._flash_checkpointing = ckpt
            m.__class__ = _checkpointed_type(type(m))
        return
    if unet.is_gradient_checkpointing:
        unet.disable_gradient_checkpointing()
    unet._flash_checkpointing = None
    for m in checkpointed_modules(unet):
        if type(m) in _CHECKPOINTED_TYPES.values():
            m.__class__ = type(m).__base__


def is_trainable(name: str) -> bool:
    """Motion modules, plus to_k / to_v of every other attention layer (A3.2)."""
    if ".motion_modules." in name:
        return True
    return ".attentions." in name and (".to_k." in name or ".to_v." in name)


def trainable_parameters(unet) -> dict[str, torch.nn.Parameter]:
    return {n: p for n, p in unet.named_parameters() if is_trainable(n)}


def set_trainable(unet) -> list[str]:
    names = []
    for n, p in unet.named_parameters():
        p.requires_grad_(is_trainable(n))
        if p.requires_grad:
            names.append(n)
    return names


@dataclass
class TrainingVideo:
    frames: np.ndarray      # uint8 (F, H, W, 3)
    prompt: str


def video_to_unit(frames: np.ndarray, size: int) -> torch.Tensor:
    """uint8 (F, H, W, 3) -> float (F, 3, size, size) in [0, 1] (the tiny world's one pixel helper)."""
    return to_unit(frames, size, low=0.0)


def cpu_hours_estimate(cfg: FlashConfig, num_frames: int) -> float:
    """Rough CPU time of paper-profile training: ~2.4 TFLOP per 512² frame for SD1.5+motion forward+backward,
    at the ~60 GFLOP/s these CPUs reach in fp32 (NOTES.md)."""
    frames = num_frames * cfg.batch * (2 if cfg.strong_aug else 1)
    return cfg.steps * frames * 2.4e12 / 60e9 / 3600


class FlashTrainer:
    """Holds the base model with FLASH's processors/hooks installed, the optimizer and the step count."""

    def __init__(self, base: BaseModel, cfg: FlashConfig):
        self.base, self.cfg, self.step_count = base, cfg, 0
        self.gen = torch.Generator().manual_seed(cfg.seed)
        unet = base.unet
        self.state = apply_cross_frame_attention(unet)
        self.motion = apply_motion_alignment(unet, self.state, cfg.tau) if cfg.motion_align else None
        self.corr = CorrespondenceAlignment(unet, cfg.p, self.gen) if cfg.corr_align else None
        self.trainable = set_trainable(unet)
        set_gradient_checkpointing(unet, cfg.grad_checkpointing)
        params = [p for p in unet.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(params, lr=cfg.lr)
        self.ranges = AugmentationRanges(crop_scale=cfg.crop_scale)
        self._prompt_cache: dict[str, torch.Tensor] = {}

    def _embed(self, prompts: list[str]) -> torch.Tensor:
        missing = [p for p in dict.fromkeys(prompts) if p not in self._prompt_cache]
        if missing:
            for p, e in zip(missing, self.base.encode_prompts(missing)):
                self._prompt_cache[p] = e
        return torch.stack([self._prompt_cache[p] for p in prompts])        # (B, 77, D)

    @torch.no_grad()
    def _latent_pairs(self, batch: Sequence[TrainingVideo]) -> torch.Tensor:
        """Videos -> latents (V*B, C, F, h, w), V = 2 views [all originals; all augmented] or 1."""
        views = torch.stack([make_pair(video_to_unit(v.frames, self.cfg.native_size), self.gen, self.ranges,
                                       self.cfg.strong_aug) for v in batch], dim=1)   # (V, B, F, 3, H, W)
        v, b, f = views.shape[:3]
        device = self.base.unet.device
        z = self.base.encode_frames(views.flatten(0, 2).to(device) * 2 - 1)          # (V*B*F, C, h, w)
        return z.view(v * b, f, *z.shape[1:]).permute(0, 2, 1, 3, 4)              # (V*B, C, F, h, w)

    @contextlib.contextmanager
    def alignment(self):
        """The alignment switches of one step: motion hooks on (the correspondence layers are drawn in
        :meth:`_pair_loss`, after the pair's own draws); all off on exit.

        They must stay on through ``backward``: with gradient checkpointing (the paper profile) backward recomputes
        each checkpointed block, and a block recomputed without the switches saves other tensors (a
        ``CheckpointError``) or silently gives other gradients.
        """
        if self.motion is not None:
            self.motion.enabled = True
        try:
            yield
        finally:
            if self.corr is not None:
                self.corr.clear()
            if self.motion is not None:
                self.motion.enabled = False

    def _pair_loss(self, batch: Sequence[TrainingVideo]) -> torch.Tensor:
        """eq. 2 on one batch of pairs; call it inside :meth:`alignment`."""
        z0 = self._latent_pairs(batch)
        views, sched = z0.shape[0] // len(batch), self.base.scheduler
        t = sample_timesteps(len(batch), sched.config.num_train_timesteps, self.cfg.alpha,
                             self.cfg.uniform_timesteps, self.gen).repeat(views).to(z0.device)
        noise = torch.randn(z0.shape, generator=self.gen).to(z0.device)
        emb = self._embed([v.prompt for v in batch] * views).repeat_interleave(z0.shape[2], 0)
        if self.corr is not None:
            self.corr.select()
        # mixed precision on CUDA only (never bf16/fp16 compute on CPU)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=z0.is_cuda):
            pred = self.base.unet(noisy_input(sched, z0, noise, t), t, emb).sample
        return denoising_loss(pred, diffusion_target(sched, z0, noise, t))

    def loss(self, batch: Sequence[TrainingVideo]) -> torch.Tensor:
        """eq. 2 on one batch of pairs with a fresh draw of the alignment switches (evaluation; no backward)."""
        with self.alignment():
            return self._pair_loss(batch)

    def backward(self, batch: Sequence[TrainingVideo]) -> torch.Tensor:
        """eq. 2 on one batch and its gradients, the alignment switches on through forward *and* backward."""
        with self.alignment():
            loss = self._pair_loss(batch)
            loss.backward()
        return loss.detach()

    def step(self, videos: Sequence[TrainingVideo]) -> float:
        idx = torch.randint(0, len(videos), (self.cfg.batch,), generator=self.gen).tolist()
        self.base.unet.train()
        self.optimizer.zero_grad(set_to_none=True)
        loss = self.backward([videos[i] for i in idx])
        torch.nn.utils.clip_grad_norm_([p for p in self.base.unet.parameters() if p.requires_grad], 1.0)
        self.optimizer.step()
        self.step_count += 1
        self.base.unet.eval()
        return loss.item()

    # -- checkpoints --------------------------------------------------------------------------
    def save(self, path: Path, extra: dict | None = None) -> None:
        save_checkpoint(path, self.base.unet, self.cfg, self.step_count, extra)
        from flash_bench.store import atomic_path

        with atomic_path(optimizer_path(path)) as tmp:
            torch.save({"optimizer": self.optimizer.state_dict(), "generator": self.gen.get_state()}, tmp)

    def resume(self, path: Path) -> None:
        meta = load_checkpoint(path, self.base.unet)
        self.step_count = int(meta["step"])
        opt = optimizer_path(path)
        if opt.exists():
            try:   # never unpickle: a tensors-only load, and one error naming the file
                state = torch.load(opt, map_location="cpu", weights_only=True)
            except Exception as err:
                raise InputError(f"{opt}: not a FLASH optimizer state (a tensors-only torch.load failed: "
                                 f"{type(err).__name__}); delete it to restart this fit from its checkpoint") from None
            self.optimizer.load_state_dict(state["optimizer"])
            self.gen.set_state(state["generator"])


def optimizer_path(path: Path) -> Path:
    return Path(path).with_suffix(".optim.pt")


def save_checkpoint(path: Path, unet, cfg: FlashConfig, step: int, extra: dict | None = None) -> None:
    """Trainable weights only (fp32 safetensors); config, step and ``extra`` as JSON metadata."""
    from safetensors.torch import save_file

    from flash_bench.store import atomic_path

    state = {n: p.detach().cpu().contiguous() for n, p in trainable_parameters(unet).items()}
    meta = {"flash_config": json.dumps(cfg.to_dict()), "step": str(step), "extra": json.dumps(extra or {})}
    with atomic_path(Path(path)) as tmp:
        save_file(state, str(tmp), metadata=meta)


def read_checkpoint_meta(path: Path) -> dict:
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise InputError(f"FLASH checkpoint not found: {path}")
    try:
        with safe_open(str(path), "pt") as f:
            meta = f.metadata() or {}
    except Exception as err:   # safetensors raises several types for a bad header
        raise InputError(f"{path}: not a safetensors FLASH checkpoint ({err})") from None
    if "flash_config" not in meta:
        raise InputError(f"{path}: safetensors file without FLASH metadata (flash_config)")
    return {"config": FlashConfig.from_dict(json.loads(meta["flash_config"])), "step": int(meta["step"]),
            "extra": json.loads(meta.get("extra", "{}"))}


def load_checkpoint(path: Path, unet) -> dict:
    """Load trainable weights into ``unet`` (strict on the trainable names); returns the metadata."""
    from safetensors.torch import load_file

    meta = read_checkpoint_meta(path)
    state = load_file(str(path))
    expected = set(trainable_parameters(unet))
    if set(state) != expected:
        raise InputError(f"{path}: weights do not match this base model's trainable set "
                         f"({len(set(state) ^ expected)} names differ)")
    unet.load_state_dict(state, strict=False)
    return meta


def train_flash(base: BaseModel, videos: Sequence[TrainingVideo], cfg: FlashConfig, out: Path | None = None,
                progress: bool = True, extra: dict | None = None) -> tuple["FlashTrainer", list[float]]:
    """Train (or resume from ``out``) for ``cfg.steps`` steps; returns the trainer and the loss per step."""
    if not videos:
        raise InputError("FLASH training needs at least one video")
    trainer = FlashTrainer(base, cfg)
    if out is not None and Path(out).exists():
        trainer.resume(Path(out))
    if cfg.profile is Profile.PAPER and base.unet.device.type == "cpu":
        warnings.warn(f"training the paper profile on a CPU: ~{cpu_hours_estimate(cfg, len(videos[0].frames)):,.0f}"
                      " CPU-hours estimated (the paper used one RTX 3090 for ~36 h per action)")
    losses = []
    from tqdm.auto import trange

    for _ in trange(trainer.step_count, cfg.steps, disable=not progress, desc="FLASH training"):
        losses.append(trainer.step(videos))
        if out is not None and (trainer.step_count % 500 == 0):
            trainer.save(Path(out), extra)
    if out is not None:
        trainer.save(Path(out), extra)
    return trainer, losses
