"""``flash``: FLASH as a benchmark method (registry entry ``"flash": "flash.method:FlashMethod"``).

``fit`` trains FLASH on one action's training videos (each with its own prompt) starting from the base
model, and caches the trainable weights under ``ctx.cache_dir/flash/<key>/flash.safetensors`` where the key
hashes the videos' content, the prompts, the config and the base weights: a second run (or another
experiment with the same cell) reuses them. ``fit_many`` trains one model jointly on several actions
(Table A1). ``animate`` samples (DDIM, CFG, first frame = reference, latent AdaIN) and returns the size and
frame count the runner asks for.

Options (``ctx.options``): ``variant`` (1–6, Table 2) and any :class:`~flash.config.FlashConfig` field, e.g.
``strong_aug``, ``motion_align``, ``corr_align``, ``tau``, ``p``, ``steps``, ``decoder``.
"""
from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from flash.config import FlashConfig, profile_config, variant
from flash_bench.config import profile_geometry
from flash_bench.method import Method
from flash_bench.types import Action, InputError, MethodContext, Profile
from flash_bench.variants import VARIANT_SWITCHES

CACHE_VERSION = "1"   # bump when training changes in a way the config does not capture


TINY_DECODER_DIR = Path(__file__).parent / "weights" / "tiny_decoder"
_PROJECT = Path(__file__).resolve().parent.parent


def _portable(path: str | None) -> str | None:
    """A path inside the project -> relative to the project root (``flash/weights/...``); any other unchanged."""
    if path is None:
        return None
    try:
        return Path(path).resolve().relative_to(_PROJECT).as_posix()
    except ValueError:
        return path


def decoder_checkpoint(profile: Profile, decoder, branches: str = "both") -> str | None:
    """``decoder`` as experiments declare it (True/False) or as a user gives it (a path) → a checkpoint path.

    True means the shipped Detail Enhancement Decoder for ``branches`` (tiny: ``flash/weights/tiny_decoder/``;
    paper: the ``flash-detail-decoder-sd15`` weights entry, which the user trains once).
    """
    from flash.detail_decoder import BRANCHES

    if branches != "both" and branches not in BRANCHES:
        raise InputError(f"decoder_branches={branches!r}: expected 'both' or one of {list(BRANCHES)}")
    if decoder in (None, False):
        return None
    if isinstance(decoder, str):
        return decoder
    if Profile.parse(profile) is Profile.PAPER:
        from flash_bench.weights import resolve

        if branches != "both":
            raise InputError(f"paper profile: decoder_branches={branches!r} needs decoder=PATH to its checkpoint")
        return str(resolve("flash-detail-decoder-sd15"))
    path = TINY_DECODER_DIR / f"{branches}.safetensors"
    if not path.exists():
        raise InputError(f"{path}: no tiny Detail Enhancement Decoder for branches={branches!r}; train it with "
                         f"`flash-bench train decoder --branches {_BRANCH_FLAGS.get(branches, branches)} --out {path}`")
    return str(path)


_BRANCH_FLAGS = {"both": "warp,attn", "warp": "warp", "attn": "attn"}


def config_from_options(profile: Profile | str, options: dict) -> FlashConfig:
    """Options → FlashConfig. The full model (#6, with the decoder) is the default in both profiles, as in the
    paper's Table 1, so a label means one configuration (in the paper profile the decoder is the user-trained
    ``flash-detail-decoder-sd15`` weights entry; a missing one is an error that says how to train it)."""
    opts = dict(options)
    number = opts.pop("variant", None)
    default = VARIANT_SWITCHES.get(int(number), {}).get("decoder") if number is not None else True
    opts["decoder"] = decoder_checkpoint(profile, opts.get("decoder", default), opts.pop("decoder_branches", "both"))
    if number is not None:
        return variant(int(number), profile, **opts)
    return profile_config(profile).replace(**opts)


def content_key(videos: Sequence[np.ndarray], prompts: Sequence[str], cfg: FlashConfig, base_id: str) -> str:
    """sha256 over every video's bytes and shape, its prompt, the config, the base model and CACHE_VERSION."""
    h = hashlib.sha256()
    for v, p in zip(videos, prompts):
        h.update(repr((v.shape, str(v.dtype), p)).encode())
        h.update(np.ascontiguousarray(v).tobytes())
    h.update(json.dumps({"config": cfg.to_dict(), "base": base_id, "version": CACHE_VERSION},
                        sort_keys=True).encode())
    return h.hexdigest()[:24]


def base_identity(cfg: FlashConfig) -> str:
    """What the fitted weights depend on besides the data: the tiny base's bytes, or the paper weight ids."""
    if cfg.profile is Profile.PAPER:
        return f"{cfg.sd_path}|{cfg.adapter_path}"
    from flash_bench.tiny_world import BASE_DIR

    folder = Path(cfg.base_dir) if cfg.base_dir else BASE_DIR
    h = hashlib.sha256()
    for name in ("config.json", "unet.safetensors", "vae.safetensors", "text_encoder.safetensors"):
        path = folder / name
        if path.exists():
            h.update(path.read_bytes())
    return h.hexdigest()[:16]


def load_config_base(cfg: FlashConfig, device: str):
    """The base model ``cfg`` fine-tunes: the tiny base (``cfg.base_dir``, else the shipped one) or SD1.5 + motion
    adapter from ``cfg.sd_path`` / ``cfg.adapter_path``."""
    from flash.base_model import load_base

    paper_kw = {"sd_path": cfg.sd_path, "adapter_path": cfg.adapter_path} if cfg.profile is Profile.PAPER else {}
    return load_base(cfg.profile, device, cfg.base_dir, **paper_kw)


class FlashMethod(Method):
    name = "flash"

    def __init__(self, ctx: MethodContext):
        super().__init__(ctx)
        self.cfg = config_from_options(ctx.profile, ctx.options)
        self.base = None
        self._pristine = None      # the base's trainable weights, restored before every fit
        self.decoder = None
        self.last_fit: dict = {}

    def describe(self) -> dict:
        """The resolved config, with a shipped decoder named by its path inside the project (the item key holds
        its sha256 too), so that two checkouts at different paths give the same items the same keys."""
        cfg = self.cfg.replace(decoder=_portable(self.cfg.decoder))
        return {"name": self.name, "profile": self.ctx.profile, "config": cfg.to_dict(),
                "config_sha256": cfg.sha256(), "tiny": self.ctx.profile is Profile.TINY}

    def weight_files(self) -> dict[str, Path]:
        """The base's files (tiny: the base folder's config and safetensors; paper: the SD1.5 and motion-adapter
        folders) and the Detail Enhancement Decoder checkpoint when the config has one."""
        if self.cfg.profile is Profile.PAPER:
            from flash.base_model import MOTION_ADAPTER_ROW, paper_folder

            out = {"sd": Path(paper_folder(self.cfg.sd_path, "sd-v1-5")),
                   "motion_adapter": Path(paper_folder(self.cfg.adapter_path, MOTION_ADAPTER_ROW))}
        else:
            from flash.base_model import TINY_BASE_DIR

            folder = Path(self.cfg.base_dir) if self.cfg.base_dir else TINY_BASE_DIR
            out = {f"base/{p.name}": p for p in [folder / "config.json", *sorted(folder.glob("*.safetensors"))]}
        if self.cfg.decoder:
            out["decoder"] = Path(self.cfg.decoder)
        return {k: p for k, p in out.items() if p.exists()}

    # -- model -------------------------------------------------------------------------------
    def _load_base(self):
        if self.base is None:
            from flash_bench.cross_frame_attention import apply_cross_frame_attention
            from flash.train import trainable_parameters

            self.base = load_config_base(self.cfg, self.ctx.device)
            apply_cross_frame_attention(self.base.unet)
            self._pristine = {n: p.detach().clone() for n, p in trainable_parameters(self.base.unet).items()}
        return self.base

    def _restore_base(self) -> None:
        import torch

        with torch.no_grad():
            for n, p in self.base.unet.named_parameters():
                if n in self._pristine:
                    p.copy_(self._pristine[n])

    # -- fit ---------------------------------------------------------------------------------
    def fit(self, action: Action, videos, prompt: str) -> None:
        self.fit_many([(list(videos), prompt)])

    def fit_joint(self, actions: Sequence[Action]) -> None:
        """Table A1's joint training: one model on every action's training videos, each with its own prompt."""
        self.fit_many([([c.load() for c in a.train], a.prompt) for a in actions])

    def fit_many(self, groups: Sequence[tuple[Sequence[np.ndarray], str]]) -> None:
        """Train one model on every (videos, prompt) group jointly (several actions = Table A1 joint)."""
        from flash.train import TrainingVideo, load_checkpoint, train_flash

        videos = [TrainingVideo(v, p) for vs, p in groups for v in vs]
        if not videos:
            raise InputError("FLASH fit got no training videos")
        # the decoder only acts at sampling (#6 = #5 + decoder), so it is not part of the fit key
        key = content_key([v.frames for v in videos], [v.prompt for v in videos], self.cfg.replace(decoder=None),
                          base_identity(self.cfg))
        path = Path(self.ctx.cache_dir) / "flash" / key / "flash.safetensors"
        base = self._load_base()
        self._restore_base()
        start = time.perf_counter()
        if path.exists() and not path.with_suffix(".optim.pt").exists():
            load_checkpoint(path, base.unet)            # a finished fit (the optimizer file is removed)
            self.last_fit = {"cached": True, "path": str(path), "seconds": time.perf_counter() - start}
            return
        train_flash(base, videos, self.cfg, out=path, progress=False)
        path.with_suffix(".optim.pt").unlink(missing_ok=True)
        self.last_fit = {"cached": False, "path": str(path), "seconds": time.perf_counter() - start}

    # -- animate -----------------------------------------------------------------------------
    def animate(self, reference, prompt, num_frames, seed, item=None):
        from flash.sampling import SamplingConfig, animate

        base = self._load_base()
        if self.cfg.decoder and self.decoder is None:
            self.decoder = load_detail_decoder(self.cfg.decoder, base)
        cfg = SamplingConfig(steps=self.cfg.sample_steps, guidance=self.cfg.guidance, adain=self.cfg.adain)
        return animate(base, reference, prompt, num_frames, seed, cfg, native_size=self.cfg.native_size,
                       out_size=self.ctx.size, decoder=self.decoder)


def load_detail_decoder(path: str, base):
    """Variant #6: the Detail Enhancement Decoder of ``flash/detail_decoder.py`` on this base's VAE; sampling calls
    ``decoder.decode(latents / scale, reference)``."""
    try:
        from flash.detail_decoder import load_decoder
    except ImportError as err:
        raise InputError(f"decoder={path!r} needs flash.detail_decoder.load_decoder ({err})") from err
    return load_decoder(path, base.vae)


# -------------------------------------------------------------------------------------------- CLI helpers
def load_videos(dataset: str, root, action_ids: Sequence[str], shots, size: int, frames: int, seed: int):
    """(video, prompt) pairs of the named actions' training clips (for ``train flash``)."""
    from flash_bench.registry import DATASETS

    cls = DATASETS.get(dataset)
    ds = cls(root, num_frames=frames, size=size, shots=shots, seed=seed) if root is not None else \
        cls(num_frames=frames, size=size, shots=shots, seed=seed)
    actions = {a.id: a for a in ds.actions()}
    missing = [a for a in action_ids if a not in actions]
    if missing:
        raise InputError(f"unknown action(s) {missing} in dataset {dataset!r}; known: {sorted(actions)}")
    return [(clip.load(), actions[a].prompt) for a in action_ids for clip in actions[a].train]


def train_on_actions(cfg: FlashConfig, videos, out: Path, device: str = "cpu") -> float:
    """Train one FLASH model on (video, prompt) pairs and write the checkpoint ``out``; returns seconds."""
    from flash.train import TrainingVideo, train_flash

    start = time.perf_counter()
    base = load_config_base(cfg, device)
    train_flash(base, [TrainingVideo(v, p) for v, p in videos], cfg, out=Path(out),
                extra={"base": base_identity(cfg)})
    return time.perf_counter() - start


def animate_file(checkpoint: Path, image: Path, prompt: str, out: Path, *, seed: int = 0, steps=None,
                 guidance=None, num_frames: int | None = None, size=None, decoder=None, fps: int = 8) -> str:
    """Animate an image file with a FLASH checkpoint into ``out`` (.mp4 or .gif); returns a summary."""
    from flash_bench.cross_frame_attention import apply_cross_frame_attention
    from flash.sampling import SamplingConfig, animate
    from flash.train import load_checkpoint, read_checkpoint_meta
    from flash_bench.video_io import read_image, resize_center_crop, write_gif, write_video

    cfg: FlashConfig = read_checkpoint_meta(checkpoint)["config"]
    reference = read_image(image)
    reference = resize_center_crop(reference, min(reference.shape[:2]))          # square, as the model expects
    base = load_config_base(cfg, "cpu")
    apply_cross_frame_attention(base.unet)
    load_checkpoint(checkpoint, base.unet)
    dec = load_detail_decoder(str(decoder), base) if decoder else None
    scfg = SamplingConfig(steps=steps or cfg.sample_steps, guidance=cfg.guidance if guidance is None else guidance,
                          adain=cfg.adain)
    start = time.perf_counter()
    num_frames = num_frames or profile_geometry(cfg.profile)[1]
    video = animate(base, reference, prompt, num_frames, seed, scfg, native_size=cfg.native_size,
                    out_size=size or reference.shape[0], decoder=dec)
    writer = write_gif if Path(out).suffix.lower() == ".gif" else write_video
    writer(out, video, fps=fps)
    tag = " [tiny profile]" if cfg.profile is Profile.TINY else ""
    return f"{video.shape[0]} frames {video.shape[1]}x{video.shape[2]}, {time.perf_counter() - start:.1f} s{tag}"
