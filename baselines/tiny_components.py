"""Plumbing shared by the PIA, SparseCtrl and DynamiCrafter baselines: the tiny profile's frozen base, the
shipped conditioning weights (``baselines/weights/<name>.safetensors``), paper-profile weights and pixel I/O.

Tiny profile: the base (VAE, CLIP text encoder, tokenizer, UNetMotionModel with cross-frame attention) is the
tiny world's base (:mod:`flash_bench.tiny_world`, the one FLASH fine-tunes; seeded-random stand-in when none is
shipped). Each method adds only its conditioning modules, pretrained briefly on the synthetic ``pretrain`` pool
by :mod:`baselines.pretrain_conditioning` and shipped as fp16 safetensors whose metadata names the base they were
trained against. When the file is absent the modules keep their seeded initialisation and the method's
``describe()`` says so.
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import torch

WEIGHTS_DIR = Path(__file__).parent / "weights"
UNTRAINED = "untrained(seeded init; run `python -m baselines.pretrain_conditioning`)"


# ----------------------------------------------------------------------------------------- tiny base
def tiny_base(device: str = "cpu"):
    """The tiny world's base (flash_bench.tiny_world.BaseModel), frozen, fp32, with the cross-frame attention it was
    pretrained with, and its tag (the shipped base's sha256 prefix or the seeded-random marker)."""
    from flash_bench import tiny_world as tw

    return tw.tiny_video_base(device), tw.base_tag()


def tiny_image_unet(base):
    """The spatial UNet2DConditionModel inside the tiny base's UNetMotionModel (shared weights copied)."""
    import copy

    from baselines.tiny_base import image_unet_from, tiny_unet2d_config

    # deep copy: diffusers' SparseControlNetModel.from_unet edits its unet's down_block_types list in place,
    # which would otherwise be flash_bench.tiny_world.COMPONENTS' own list
    return image_unet_from(base.unet, copy.deepcopy(tiny_unet2d_config()))


def motion_state(unet) -> dict:
    """The motion-module tensors of a UNetMotionModel, keyed as in a MotionAdapter (``…motion_modules…``)."""
    return {k: v for k, v in unet.state_dict().items() if ".motion_modules." in k}


# ----------------------------------------------------------------------------------------- shipped weights
def weights_path(name: str) -> Path:
    return WEIGHTS_DIR / f"{name}.safetensors"


def save_conditioning(name: str, module: torch.nn.Module, meta: dict) -> Path:
    """Write ``module``'s state as fp16 safetensors (atomic) with JSON metadata (base tag, steps, minutes…)."""
    from safetensors.torch import save_file

    from flash_bench.store import atomic_path

    path = weights_path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to(torch.float16).contiguous() for k, v in module.state_dict().items()}
    with atomic_path(path) as tmp:
        save_file(state, str(tmp), metadata={"meta": json.dumps(meta, sort_keys=True)})
    return path


def load_conditioning(name: str, module: torch.nn.Module, base_tag: str) -> str:
    """Load shipped conditioning weights into ``module`` (fp16 -> fp32); returns a tag for ``describe()``.

    Missing file -> the module keeps its seeded initialisation (tag says ``untrained``). A file trained against
    another tiny base still loads (same shapes) but the tag and a warning say so.
    """
    from safetensors import safe_open
    from safetensors.torch import load_file

    path = weights_path(name)
    if not path.exists():
        warnings.warn(f"{path} not found: {name} runs with untrained conditioning modules", stacklevel=2)
        return UNTRAINED
    with safe_open(str(path), "pt") as f:
        meta = json.loads((f.metadata() or {}).get("meta", "{}"))
    state = {k: v.float() for k, v in load_file(str(path)).items()}
    module.load_state_dict(state)
    trained_on = meta.get("base_tag", "?")
    if trained_on != base_tag:
        warnings.warn(f"{path} was pretrained against {trained_on}, the tiny base in use is {base_tag}; "
                      "rerun `python -m baselines.pretrain_conditioning` for matching weights", stacklevel=2)
    return f"{name}@{meta.get('steps', '?')} steps on {trained_on}"


# ----------------------------------------------------------------------------------------- paper weights
def paper_snapshot(name: str, options: dict) -> str:
    """Local folder of a whole-repository row of :data:`flash_bench.weights.WEIGHTS` (WeightsMissing when absent)."""
    from flash_bench.weights import resolve

    return str(resolve(name, options.get("weights_dir")))


# ----------------------------------------------------------------------------------------- pixels
def to_pil(reference: np.ndarray, size: int | tuple[int, int]):
    """uint8 (H, W, 3) -> PIL image of ``size``² or (height, width) ``size`` (bicubic when resizing)."""
    from PIL import Image

    from flash_bench.types import InputError

    if reference.dtype != np.uint8 or reference.ndim != 3 or reference.shape[-1] != 3:
        raise InputError(f"reference image must be uint8 (H, W, 3), got {reference.dtype} {reference.shape}")
    height, width = (size, size) if isinstance(size, int) else size
    img = Image.fromarray(np.ascontiguousarray(reference))
    return img if img.size == (width, height) else img.resize((width, height), Image.BICUBIC)


def frames_to_uint8(frames: np.ndarray, size: int) -> np.ndarray:
    """Pipeline output float (F, H, W, 3) in [0, 1] -> uint8 (F, size, size, 3)."""
    from flash_bench.tiny_world import to_uint8

    return to_uint8(torch.from_numpy(np.asarray(frames, dtype=np.float32)).permute(0, 3, 1, 2), size, low=0.0)


def tiny_motion_adapter_config() -> dict:
    """The tiny base's MotionAdapter config (from the shipped base's config.json when present)."""
    from flash_bench.tiny_world import shipped_components

    return dict(shipped_components()["motion_adapter"])


def seeded(seed: int, device: str = "cpu") -> torch.Generator:
    return torch.Generator(device="cpu" if device.startswith("mps") else device).manual_seed(int(seed))


class PipelineMethod:
    """Mixin for a training-free baseline around one diffusers pipeline (PIA, SparseCtrl), built lazily.

    Subclasses set ``config_class`` and ``profiles`` and implement ``build_pipeline() -> (pipe, tags)``.
    """

    config_class: type = None
    profiles: dict = {}

    def __init__(self, ctx):
        super().__init__(ctx)
        from dataclasses import asdict

        from baselines.tiny_base import config_for

        self.cfg = config_for(self.config_class, self.profiles, ctx.profile, ctx.options, self.name)
        self._cfg_dict = asdict(self.cfg)
        self._pipe, self._tags = None, {}

    def build_pipeline(self):
        raise NotImplementedError

    @property
    def pipe(self):
        if self._pipe is None:
            # building draws from (and may reseed) the global RNG; the first video must not depend on it,
            # since ``animate`` is often called inside a seeded block that the pipeline then samples from
            with torch.random.fork_rng(devices=[]):
                self._pipe, self._tags = self.build_pipeline()
        return self._pipe

    def describe(self) -> dict:
        _ = self.pipe
        return {"name": self.name, "profile": self.ctx.profile, **self._tags, **self._cfg_dict}

    def frame_size(self) -> tuple[int, int]:
        """(height, width) of the frames the pipeline generates."""
        return self.cfg.native_size, self.cfg.native_size

    def initial_latents(self, num_frames: int, seed: int):
        """The base's prior noise (flash_bench.tiny_world.video_noise) as the pipeline's ``latents``; None (the pipeline draws
        i.i.d. noise itself) when the base shares none across frames."""
        from flash_bench.tiny_world import video_noise

        pipe = self.pipe
        shared = self._tags.get("noise_shared", 0.0)
        if not shared:
            return None
        height, width = (side // pipe.vae_scale_factor for side in self.frame_size())
        shape = (1, pipe.vae.config.latent_channels, num_frames, height, width)
        return video_noise(shape, torch.Generator().manual_seed(int(seed)), shared)   # CPU draw, as FLASH's
