"""The action yardstick: a small video classifier that tells which of the 12 synthetic actions a video performs
(or that it performs none).

With tiny random backbones the CLIP / CD-FVD / I3D numbers say nothing about quality; the ``synthetic``
dataset knows which action every video shows, so a classifier trained on its ground truth can judge a
generated video the way a person would: does the figure perform the named action? (``action_accuracy``,
``action_confidence`` in :mod:`flash_bench.metrics`.) It is a suite-trained yardstick, not a paper model.

It judges motion, not looks, by construction and by training:
  * Input = the 15 temporal differences of 16 consecutive frames (3 colour channels each), never a frame
    itself: a video without motion (``static``) is an all-zero input and gets the same near-uniform output
    whatever it shows (trained to: static clips in every batch carry a uniform target).
  * Flicker is not an action: every batch also holds static clips whose frames *wobble* (each shifted by a
    pixel or two) and *flicker* (independent, spatially smooth per-frame noise) — a weak video model's
    frame-to-frame jitter — with a uniform target, and some
    action clips get the same flicker on top of their motion, keeping their label. (Without this, the first
    yardstick classed every generated video as ``sprint_run``: jitter was the most "motion" it had seen.)
  * Appearance augmentation, one draw per video for all its frames: channel shuffle, hue rotation, random
    grayscale, brightness/contrast, colour inversion, Gaussian blur, horizontal flip (an action seen in a
    mirror is the same action), small translations, and per-frame pixel noise (codec / VAE jitter).
Architecture: 4 strided 3-D convolutions (BatchNorm, ReLU) → global average pool → linear (12 logits);
0.18 M parameters (740 kB), shipped as ``flash_bench/trained/yardstick.safetensors`` with its config, training record
and measured quality in ``yardstick.json`` beside it. Videos of any size / length are resampled to the
classifier's input first: 8 frames spread evenly over the video (both ends kept, as
:func:`flash_bench.video_io.sample_frames`), then each frame resized to 32×32 (bilinear, antialiased; no
crop — the synthetic renderer frames the action in a square).

Training data: the default ``synthetic`` dataset's training videos 000-015 of all 12 actions (render seed 0)
plus ``extra_per_action`` extra videos per action rendered at indices 1000+ with the training seed; never the
test items 016-019, on which the quality report is measured.

One yardstick, of the ``synthetic`` world (:func:`recipe`: 8 frames, 32 px). It has a 13th output, **"no action"**
(:data:`NO_ACTION`): its batches also hold figureless moving texture, a frame drifting rigidly, a frame
melting into texture and a still figure in a moving scene (:func:`still_figure`: the figure region — figure and
props over the clip, from the renderer's mask — frozen or emptied while the rest of the frame moves), all
labelled "no action" with the static and flickering clips, and after training the "no action" logit's bias is
calibrated on videos 6000-6003 (:func:`calibrate_no_action`). "No action" is an
answer (:func:`answer`, :func:`answers`): accuracy counts it as wrong, ``scores()["refused"]`` counts it. Videos of
another geometry (e.g. the paper profile's 16 frames at 512 px) are resampled to its input (:func:`to_input`).
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from flash_bench.tiny_world import to_uint8, to_unit
from flash_bench.types import InputError

VERSION = "1"   # architecture / input definition; keys the feature cache
WEIGHTS_DIR = Path(__file__).parent / "trained"  # suite-trained weights shipped in the package
WEIGHTS_PATH = WEIGHTS_DIR / "yardstick.safetensors"   # the yardstick of the synthetic world
TRAIN_COMMAND = "flash-bench train yardstick"
CLASSES: tuple[str, ...] = (  # == tuple(flash_bench.datasets.synthetic.ACTIONS) (checked by a test)
    "push_up", "arm_wave", "shoot_dance", "running_in_place", "sprint_run", "soccer_shoot",
    "drinking_from_cup", "balance_beam_jump", "canoeing_sprint", "chopping_wood", "ice_bucket_challenge",
    "hugging_human")
TEST_INDICES = range(16, 20)
EXTRA_START = 1000
HELD_OUT = range(5000, 5020)  # a larger held-out check (render seed 0): never trained on with the shipped seed 0
CALIBRATION = range(6000, 6004)  # videos (render seed 0) on which the "no action" class is calibrated


NO_ACTION = "no_action"   # the yardstick's answer for a video that shows none of the 12 actions


@dataclass(frozen=True)
class YardstickConfig:
    frames: int = 8                       # input frames (7 differences)
    size: int = 32                        # input height = width
    channels: tuple[int, ...] = (16, 32, 48, 96)
    dataset: str = "synthetic"            # the rendered world it was trained on (and is measured on)
    reject: bool = False                  # a 13th output, "no action" (else: a uniform output means it)

    @classmethod
    def from_dict(cls, d: dict) -> "YardstickConfig":
        unknown = set(d) - set(cls.__dataclass_fields__)
        if unknown:
            raise InputError(f"unknown yardstick config keys {sorted(unknown)}")
        return cls(**{**d, "channels": tuple(d.get("channels", cls.channels))})


@dataclass(frozen=True)
class TrainConfig:
    seed: int = 0
    steps: int = 600
    batch: int = 24
    static_per_batch: int = 2             # all-static clips with a uniform target
    flicker_per_batch: int = 4            # static clips + per-frame wobble and flicker, uniform target
    flicker_prob: float = 0.3             # action clips that get flicker too (label kept)
    flicker_amplitude: tuple[float, float] = (0.03, 0.3)
    wobble_px: int = 2                    # no-action clips: each frame shifted by up to this many pixels
    lr: float = 3e-3
    weight_decay: float = 1e-4
    label_smoothing: float = 0.05
    extra_per_action: int = 60
    texture_per_batch: int = 0            # figureless moving texture (scene colours under a drifting field)
    blob_per_batch: int = 0               # a (blurred) frame drifting rigidly: a figure that moves but never acts
    melt_per_batch: int = 0               # a frame blurring and dissolving into texture over the clip
    still_per_batch: int = 0              # the scene moves, the figure region is frozen or empty (still_figure)
    scene_prob: float = 0.0               # action clips whose scene moves too (label kept)
    model: YardstickConfig = field(default_factory=YardstickConfig)


def recipe(**changes) -> TrainConfig:
    """The shipped yardstick's recipe (``changes``: TrainConfig fields, e.g. seed, steps): the ``synthetic`` world's
    8 frames at 32 px, 1,200 steps, and a 13th class "no action" taught by static, flickering, figureless texture,
    drifting-blob, melting and still-figure clips (the scene moves, the figure does not); no action clip in a
    moving scene (``scene_prob`` 0: chosen by ``benchmarks/tiny_world_yardstick.py``; figures in
    docs/tiny_world_v2.md, G3)."""
    model = YardstickConfig(frames=8, size=32, dataset="synthetic", reject=True)
    return replace(TrainConfig(steps=1200, flicker_per_batch=6, texture_per_batch=4, blob_per_batch=2,
                               melt_per_batch=2, still_per_batch=4, model=model), **changes)


# ----------------------------------------------------------------------------- the network

def build_model(cfg: YardstickConfig = YardstickConfig()):
    import torch.nn as nn

    layers, c_in = [], 3
    kernels = [((3, 5, 5), (1, 2, 2), (1, 2, 2)), ((3, 3, 3), (1, 2, 2), (1, 1, 1)),
               ((3, 3, 3), (2, 2, 2), (1, 1, 1)), ((3, 3, 3), (2, 2, 2), (1, 1, 1))]
    for c_out, (k, s, p) in zip(cfg.channels, kernels):
        layers += [nn.Conv3d(c_in, c_out, k, s, p, bias=False), nn.BatchNorm3d(c_out), nn.ReLU(inplace=True)]
        c_in = c_out
    layers += [nn.AdaptiveAvgPool3d(1), nn.Flatten(), nn.Dropout(0.2), nn.Linear(c_in, len(CLASSES) + cfg.reject)]
    model = nn.Sequential(*layers)
    model.cfg = cfg  # the input definition travels with the network
    return model


def differences(x):
    """(B, 3, T, H, W) float frames in [0, 1] → (B, 3, T-1, H, W) consecutive differences, ×4 for scale."""
    return 4.0 * (x[:, :, 1:] - x[:, :, :-1])


def to_input(frames: np.ndarray, cfg: YardstickConfig = YardstickConfig()):
    """uint8 (T, H, W, 3) → float (3, cfg.frames, cfg.size, cfg.size) in [0, 1], resampled (module docstring)."""
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or len(frames) < 2:
        raise InputError(f"yardstick: expected uint8 (T>=2, H, W, 3) frames, got {frames.dtype} {frames.shape}")
    idx = np.floor(np.linspace(0, len(frames) - 1, cfg.frames) + 0.5).astype(int)
    return to_unit(frames[idx], cfg.size, low=0.0).permute(1, 0, 2, 3).contiguous()  # (3, T, H, W)


def clip_to_unit(video: np.ndarray):
    """uint8 (T, H, W, 3) → float (3, T, H, W) in [0, 1] (the tiny world's :func:`to_unit`, channels first)."""
    return to_unit(video, low=0.0).permute(1, 0, 2, 3)


def clip_to_uint8(x) -> np.ndarray:
    """float (3, T, H, W) in [0, 1] → uint8 (T, H, W, 3), clamped and rounded half up (the tiny world's
    :func:`to_uint8`): the inverse of :func:`clip_to_unit`."""
    return to_uint8(x.permute(1, 0, 2, 3), low=0.0)


# ----------------------------------------------------------------------------- loading and scoring

def load(path: Path | str | None = None):
    """The shipped (or another) yardstick: (model in eval mode, info dict from the JSON beside it)."""
    from safetensors.torch import load_file

    path = Path(path) if path is not None else WEIGHTS_PATH
    meta_path = path.with_suffix(".json")
    if not path.exists() or not meta_path.exists():
        raise InputError(f"yardstick weights missing: {path} (+ {meta_path.name}); run `{TRAIN_COMMAND}` to make them")
    info = json.loads(meta_path.read_text())
    if tuple(info["classes"]) != CLASSES:
        raise InputError(f"{meta_path}: its classes {info['classes']} differ from this version's {list(CLASSES)}")
    model = build_model(YardstickConfig.from_dict(info["config"]))
    model.load_state_dict({k: v.float() for k, v in load_file(str(path)).items()})
    return model.eval(), info


def weights_path(weights_dir: Path | str | None = None) -> Path:
    """``<weights_dir>/yardstick.safetensors`` when that exists, else the shipped file."""
    custom = Path(weights_dir) / WEIGHTS_PATH.name if weights_dir else None
    return custom if custom is not None and custom.exists() else WEIGHTS_PATH


def weights_sha256(weights_dir: Path | str | None = None) -> str:
    """sha256 of the weights' sha256 as recorded in the JSON beside them (no torch import): keys cached features
    (hashed once more, as when there was a list of them, so the feature-cache keys stay)."""
    import hashlib

    meta = weights_path(weights_dir).with_suffix(".json")
    if not meta.exists():
        raise InputError(f"yardstick record missing: {meta}; run `{TRAIN_COMMAND}` to make it")
    return hashlib.sha256(json.loads(meta.read_text())["sha256"].encode()).hexdigest()


def build(profile: str = "tiny", weights_dir: Path | str | None = None, seed: int = 0):
    """Featuriser entry point (scoring engine): the same suite-trained weights in both profiles → (model, info).
    ``weights_dir`` holding ``yardstick.safetensors`` (+ ``.json``) overrides the shipped one; ``seed`` is unused.
    """
    path = weights_path(weights_dir)
    model, info = load(path)
    q = info.get("quality", {})
    return model, {"backbone": "yardstick-3dcnn", "version": VERSION, "classes": list(CLASSES),
                   "no_action": NO_ACTION, "weights": f"suite-trained ({path.name}, seed {info['training']['seed']})",
                   "frames": model.cfg.frames, "size": model.cfg.size, "no_action_class": model.cfg.reject,
                   "quality": {k: v.get("accuracy") for k, v in q.items() if isinstance(v, dict)},
                   "sha256": weights_sha256(weights_dir)}


def log_probs(model, videos: list[np.ndarray], batch: int = 16) -> np.ndarray:
    """uint8 videos (each (T, H, W, 3), any size / length) → (N, K) float32 log-probabilities (K = 12, or 13
    with "no action" last)."""
    import torch

    cfg = _model_config(model)
    model.eval()
    out = []
    with torch.inference_mode():
        for start in range(0, len(videos), batch):
            x = torch.stack([to_input(v, cfg) for v in videos[start:start + batch]])  # (B, 3, T, H, W)
            out.append(torch.log_softmax(model(differences(x)), dim=-1))
    k = len(CLASSES) + cfg.reject
    return torch.cat(out).numpy().astype(np.float32) if out else np.zeros((0, k), np.float32)


def video_features(model, frames: np.ndarray) -> np.ndarray:
    """One video → (12,) log-probabilities over :data:`CLASSES`, or (13,) with "no action" last for a
    yardstick that has that class (the cached feature of the yardstick metrics)."""
    return log_probs(model, [frames])[0]


def _model_config(model) -> YardstickConfig:
    return getattr(model, "cfg", YardstickConfig())


def answers(logp: np.ndarray, threshold: float | None = None) -> np.ndarray:
    """(N, K) log-probabilities → (N,) answers: a class index, or ``len(CLASSES)`` for "no action" — the
    13th output when the yardstick has one (argmax), or a top probability below ``threshold``."""
    logp = np.asarray(logp)
    out = logp.argmax(axis=1)
    if threshold is not None:
        out = np.where(np.exp(logp.max(axis=1)) < threshold, len(CLASSES), out)
    return out


def answer(logp: np.ndarray) -> str:
    """One video's (K,) log-probabilities → its answer: an action id or :data:`NO_ACTION`."""
    k = int(answers(np.asarray(logp)[None])[0])
    return CLASSES[k] if k < len(CLASSES) else NO_ACTION


def scores(logp: np.ndarray, action_ids: list[str]) -> dict[str, np.ndarray]:
    """Per video: accuracy (1.0 if the answer is the intended action, 0.0 otherwise — "no action" included),
    confidence (the intended action's probability) and refused (1.0 if the answer is "no action")."""
    target = np.array([CLASSES.index(a) for a in action_ids])
    given = answers(logp)
    conf = np.exp(logp[np.arange(len(target)), target].astype(np.float64))
    return {"accuracy": (given == target).astype(np.float64), "confidence": conf,
            "refused": (given == len(CLASSES)).astype(np.float64)}


# ----------------------------------------------------------------------------- training data

def render_training_set(seed: int = 0, extra_per_action: int = 60, cfg: YardstickConfig = YardstickConfig(),
                        progress=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """uint8 (N, T, H, W, 3) synthetic videos + int64 (N,) labels + bool (N, H, W) figure regions
    (:func:`figure_region`): train videos 000-015 (render seed 0) + extras ≥1000."""
    from flash_bench.datasets.synthetic import NUM_TRAIN

    jobs = [(a, i, 0) for a in CLASSES for i in range(NUM_TRAIN)]
    jobs += [(a, EXTRA_START + i, seed) for a in CLASSES for i in range(extra_per_action)]
    videos = np.empty((len(jobs), cfg.frames, cfg.size, cfg.size, 3), np.uint8)
    regions = np.empty((len(jobs), cfg.size, cfg.size), bool)
    for n, (a, i, s) in enumerate(jobs):
        videos[n], regions[n] = render_with_region(cfg, a, i, seed=s)
        if progress:
            progress(n + 1, len(jobs))
    return videos, np.array([CLASSES.index(a) for a, _, _ in jobs], np.int64), regions


def ground_truth_test_set(cfg: YardstickConfig = YardstickConfig(),
                          dataset_seed: int = 0) -> tuple[list[np.ndarray], list[str]]:
    """The held-out ground truth: test items 016-019 of every action (48 videos) and their action ids."""
    pairs = [(a, i) for a in CLASSES for i in TEST_INDICES]
    return [render_video_for(cfg, a, i, seed=dataset_seed) for a, i in pairs], [a for a, _ in pairs]


def render_video_for(cfg: YardstickConfig, action: str, index: int, seed: int = 0) -> np.ndarray:
    """One synthetic video at the yardstick's input geometry."""
    from flash_bench.datasets.synthetic import render_video

    return render_video(action, index, num_frames=cfg.frames, size=cfg.size, seed=seed)


def render_with_region(cfg: YardstickConfig, action: str, index: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """One synthetic video at the yardstick's input geometry and its figure region (:func:`figure_region`)."""
    from flash_bench.datasets.synthetic import render

    video, mask = render(action, index, num_frames=cfg.frames, size=cfg.size, seed=seed)
    return video, figure_region(video, mask)


# ----------------------------------------------------------------------------- appearance augmentation

def _hue_matrix(theta: float) -> np.ndarray:
    """3×3 rotation of RGB about the gray axis by ``theta`` (a hue shift that keeps grays gray)."""
    c, s, k = np.cos(theta), np.sin(theta), 1 / 3
    r = np.sqrt(k)
    return (c * np.eye(3) + (1 - c) * k * np.ones((3, 3))
            + s * r * np.array([[0, -1, 1], [1, 0, -1], [-1, 1, 0]]))


def _colour_matrix(rng: np.random.Generator) -> tuple[np.ndarray, bool, float, float]:
    """One video's colour transform: channel shuffle, hue rotation, maybe grayscale; invert?, contrast, brightness."""
    m = _hue_matrix(rng.uniform(-np.pi, np.pi)) @ np.eye(3)[rng.permutation(3)]
    if rng.random() < 0.2:
        m = np.full((3, 3), 1 / 3) @ m
    return m, bool(rng.random() < 0.1), rng.uniform(0.6, 1.4), rng.uniform(-0.2, 0.2)


def augment(x, rng: np.random.Generator):
    """(B, 3, T, H, W) float in [0, 1] → augmented copy; every draw is per video, shared by its frames."""
    import torch
    import torch.nn.functional as F

    B, _, T, H, W = x.shape
    out = torch.empty_like(x)
    for b in range(B):
        m, invert, contrast, brightness = _colour_matrix(rng)
        v = torch.einsum("ij,jthw->ithw", torch.from_numpy(m).float(), x[b])  # (3, T, H, W)
        v = (0.5 - v if invert else v - 0.5) * contrast + 0.5 + brightness
        if rng.random() < 0.5:
            v = v.flip(-1)
        if rng.random() < 0.4:
            v = _blur(v, rng.uniform(0.4, 1.2))
        dy, dx = rng.integers(-6, 7, size=2)
        v = F.pad(v, (6, 6, 6, 6), mode="replicate")[..., 6 + dy:6 + dy + H, 6 + dx:6 + dx + W]
        out[b] = v
    noise = torch.from_numpy(rng.uniform(0, 0.08, size=(B, 1, 1, 1, 1))).float()  # per-frame pixel noise σ
    gen = torch.Generator().manual_seed(int(rng.integers(2**31)))
    return (out + noise * torch.randn(out.shape, generator=gen)).clamp(0, 1)


def _blur(v, sigma: float, radius: int = 2):
    """Separable Gaussian blur of (3, T, H, W) frames (kernel radius ``radius`` pixels)."""
    import torch
    import torch.nn.functional as F

    r = radius
    k = torch.exp(-torch.arange(-r, r + 1, dtype=torch.float32) ** 2 / (2 * sigma ** 2))
    k = (k / k.sum()).view(1, 1, 1, -1)
    f = v.permute(1, 0, 2, 3).reshape(-1, 1, *v.shape[-2:])  # (T*3, 1, H, W)
    f = F.conv2d(F.pad(f, (r, r, 0, 0), mode="replicate"), k)
    f = F.conv2d(F.pad(f, (0, 0, r, r), mode="replicate"), k.transpose(-1, -2))
    return f.reshape(v.shape[1], 3, *v.shape[-2:]).permute(1, 0, 2, 3)


# ----------------------------------------------------------------------------- training

def flicker(shape: tuple[int, ...], amplitude: float, rng: np.random.Generator):
    """Per-frame noise for (3, T, H, W) frames: independent across frames, smooth in space (drawn on a 4², 8² or
    16² grid and upsampled bilinearly — the scale of a x8/x4 latent), std ``amplitude``."""
    import torch
    import torch.nn.functional as F

    c, t, h, w = shape
    g = int(rng.choice([4, 8, 16]))
    coarse = torch.from_numpy(rng.standard_normal((t, c, g, g))).float()
    return amplitude * F.interpolate(coarse, size=(h, w), mode="bilinear", align_corners=False).permute(1, 0, 2, 3)


def wobble(frames, pixels: int, rng: np.random.Generator):
    """(3, T, H, W) frames, each shifted by its own random (dy, dx) in [-pixels, pixels] (edges replicated):
    large frame differences without an action, like a weak generator's frame-to-frame wobble."""
    import torch.nn.functional as F

    p = pixels
    padded = F.pad(frames.permute(1, 0, 2, 3), (p, p, p, p), mode="replicate")       # (T, 3, H+2p, W+2p)
    h, w = frames.shape[-2:]
    out = frames.clone()
    for t, (dy, dx) in enumerate(rng.integers(-p, p + 1, size=(frames.shape[1], 2))):
        out[:, t] = padded[t, :, p + dy:p + dy + h, p + dx:p + dx + w]
    return out


def _path(frames: int, max_px: float, rng: np.random.Generator) -> np.ndarray:
    """(T, 2) sub-pixel (dy, dx) offsets along a smooth bent path from (0, 0), up to ``max_px`` long."""
    s = np.linspace(0, 1, frames)[:, None]
    end, bend = rng.uniform(-1, 1, 2) * max_px, rng.uniform(-1, 1, 2) * max_px
    return end * s + bend * s * (1 - s)


def _translate(frames, shifts: np.ndarray, scale: float = 1.0, padding: str = "border"):
    """(C, T, H, W) frames: frame t sampled from a window ``scale`` times the frame's size, moved by shifts[t]
    pixels (bilinear, edges replicated, or zeros with ``padding="zeros"``); ``scale`` < 1 on a field twice the
    frame's size crops its middle."""
    import torch
    import torch.nn.functional as F

    c, t, h, w = frames.shape
    theta = torch.zeros(t, 2, 3)
    theta[:, 0, 0] = theta[:, 1, 1] = scale
    theta[:, 0, 2] = torch.from_numpy(-2 * shifts[:, 1] / w * scale).float()
    theta[:, 1, 2] = torch.from_numpy(-2 * shifts[:, 0] / h * scale).float()
    size = (t, c, round(h * scale), round(w * scale))
    grid = F.affine_grid(theta, size, align_corners=False)
    return F.grid_sample(frames.permute(1, 0, 2, 3), grid, mode="bilinear", padding_mode=padding,
                         align_corners=False).permute(1, 0, 2, 3)


def _drifting_field(frames: int, size: int, rng: np.random.Generator):
    """(T, size, size) smooth random field, std ≈ 1, drifting along a path and slowly evolving over the clip."""
    import torch
    import torch.nn.functional as F

    g = int(rng.choice([2, 3, 4, 6, 8]))
    coarse = torch.from_numpy(rng.standard_normal((2, 1, 2 * g, 2 * g))).float()
    big = F.interpolate(coarse, size=(2 * size, 2 * size), mode="bicubic", align_corners=False)
    big = big / big.std().clamp_min(1e-6)
    phase = torch.from_numpy(rng.uniform(0, 0.6) * np.arange(frames) + rng.uniform(0, 2 * np.pi)).float()
    evolving = (phase.cos()[:, None, None] * big[0, 0] + phase.sin()[:, None, None] * big[1, 0])   # (T, 2s, 2s)
    window = _translate(evolving[None], _path(frames, rng.uniform(0.1, 0.6) * size, rng), scale=0.5)
    return window[0] if window.shape[-1] == size else F.interpolate(window, size=(size, size))[0]


def texture(like, rng: np.random.Generator):
    """A figureless clip shaped like ``like`` (3, T, H, W): the colours of its first frame's scene (median of
    its top and bottom thirds, split at a random row) under 1-3 drifting, evolving smooth fields."""
    import torch

    c, t, h, w = like.shape
    top, bottom = (like[:, 0, rows].reshape(c, -1).median(dim=1).values for rows in
                   (slice(0, h // 3), slice(h - h // 3, h)))
    split = (torch.arange(h) >= int(rng.uniform(0.4, 0.85) * h)).float()[:, None]                    # (H, 1)
    base = top[:, None, None] * (1 - split) + bottom[:, None, None] * split                          # (3, H, W)
    return base[:, None] + _fields(like.shape, (0.03, 0.25), rng)


def _fields(shape: tuple[int, ...], amplitude: tuple[float, float], rng: np.random.Generator):
    """(3, T, H, W) colour offsets: 1-3 drifting, evolving smooth fields mixed into the channels, std ≈ a value
    drawn from the ``amplitude`` range."""
    import torch

    c, t, h, _ = shape
    k = int(rng.integers(1, 4))
    fields = torch.stack([_drifting_field(t, h, rng) for _ in range(k)])                             # (k, T, H, W)
    mix = torch.from_numpy(rng.normal(0, 1, (c, k)) * rng.uniform(*amplitude) / np.sqrt(k)).float()
    return torch.einsum("ck,kthw->cthw", mix, fields)


def drifting_blob(clip, rng: np.random.Generator):
    """One (maybe blurred) frame of ``clip`` (3, T, H, W) moved rigidly along a smooth path: a figure that
    travels but performs nothing."""
    c, t, h, w = clip.shape
    frame = clip[:, int(rng.integers(t))]
    if rng.random() < 0.5:
        frame = _blur(frame[:, None], rng.uniform(0.5, 2.0))[:, 0]
    return _translate(frame[:, None].expand(c, t, h, w), _path(t, rng.uniform(1.0, 0.3 * h), rng))


def melting(clip, rng: np.random.Generator):
    """The first frame of ``clip`` blurring more and more and dissolving into texture over the clip."""
    import torch

    c, t, h, w = clip.shape
    s = np.linspace(0, 1, t)
    sigma, alpha = rng.uniform(1.0, 4.0) * s, rng.uniform(0.3, 1.0) * s ** rng.uniform(0.5, 2.0)
    frames = torch.stack([clip[:, 0] if sg < 0.3 else _blur(clip[:, :1], sg, radius=int(np.ceil(2.5 * sg)))[:, 0]
                          for sg in sigma], dim=1)
    a = torch.from_numpy(alpha).float()[None, :, None, None]
    return (1 - a) * frames + a * texture(clip, rng)


def figure_region(video: np.ndarray, mask: np.ndarray, dilate: int = 2) -> np.ndarray:
    """bool (H, W): every pixel that the figure or a prop covers in any frame of a rendered uint8 (T, H, W, 3)
    video — its renderer's figure mask (bool (T, H, W)) or what differs from the first frame's scene by the
    figure-presence rule (:func:`flash_bench.metrics.figure_presence.foreground`: the figure, a cup, a canoe) —
    dilated by ``dilate`` px for the anti-aliased edges. Outside it the rendered scene never changes."""
    from scipy.ndimage import binary_dilation

    from flash_bench.metrics import figure_presence as fp

    covered = (np.asarray(mask, bool) | fp.foreground(video, fp.background(video[0]))).any(0)
    return binary_dilation(covered, iterations=dilate)


def scene_behind(frame, region: np.ndarray):
    """(3, H, W) frame with the ``region`` pixels replaced by their row's median colour outside it (the rendered
    scene is constant along rows), or by the frame's median outside it where a row lies wholly inside."""
    import torch

    r = torch.from_numpy(np.asarray(region, bool))
    out = frame.clone()
    overall = frame[:, ~r].median(dim=1).values if (~r).any() else frame.reshape(3, -1).median(dim=1).values
    for y in torch.nonzero(r.any(1)).flatten().tolist():
        row = frame[:, y, ~r[y]].median(dim=1).values if (~r[y]).any() else overall
        out[:, y, r[y]] = row[:, None]
    return out


def _fragments(frame, region: np.ndarray, frames: int, rng: np.random.Generator):
    """(3, T, H, W) premultiplied colour and (1, T, H, W) opacity of 1-6 discs (radius 1.5-5 px) cut from the
    ``region`` of ``frame`` (3, H, W), each there for a random stretch of the clip (from one frame to all; fading
    in and out over a frame), first seen centred on a random pixel outside the region, drifting along its own
    path with a per-frame jitter (std 0-2 px): debris of the figure popping up around it, not a figure."""
    import torch

    c, h, w = frame.shape
    ys, xs = np.nonzero(region)
    out_y, out_x = np.nonzero(~region)
    yy, xx = np.mgrid[:h, :w]
    rgb, alpha = torch.zeros(c, frames, h, w), torch.zeros(1, frames, h, w)
    t = np.arange(frames)
    for _ in range(int(rng.integers(1, 7))):
        k, radius = int(rng.integers(len(ys))), rng.uniform(1.5, 5.0)
        disc = torch.from_numpy(((yy - ys[k]) ** 2 + (xx - xs[k]) ** 2 <= radius ** 2) & region).float()
        sprite = torch.cat([frame * disc, disc[None]])[:, None].expand(c + 1, frames, h, w)   # (4, T, H, W)
        on = rng.uniform(-frames / 2, frames - 1)
        off = on + rng.uniform(0, 1.5 * frames)
        path, first = _path(frames, rng.uniform(2.0, 0.4 * h), rng), int(np.ceil(max(on, 0)))
        d = int(rng.integers(len(out_y)))
        shifts = ((out_y[d] - ys[k], out_x[d] - xs[k]) + path - path[first]           # (T, 2): at `first`, on d
                  + rng.normal(0, rng.uniform(0, 2), (frames, 2)))
        moved = _translate(sprite, shifts, padding="zeros")
        seen = torch.from_numpy(np.clip(1 + np.minimum(t - on, off - t), 0, 1)).float()[None, :, None, None]
        a = moved[c:] * seen
        rgb = rgb * (1 - a) + moved[:c] * seen
        alpha = alpha * (1 - a) + a
    return rgb, alpha


def moving_scene(frame, region: np.ndarray, frames: int, rng: np.random.Generator):
    """(3, T, H, W): ``frame`` (3, H, W) moving the way a weak generator's scene moves while no figure acts —
    each of these with probability 1/2: the whole frame wobbling by up to 2 px per frame, and (at least one of)
    drifting smooth colour fields over it (std 0.02-0.15), debris of its ``region`` popping up around it
    (:func:`_fragments`), per-frame flicker (std 0.02-0.15)."""
    c, h, w = frame.shape
    kinds = rng.random(4) < 0.5
    kinds[1 + rng.integers(3)] |= not kinds[1:].any()
    x = frame[:, None].expand(c, frames, h, w).contiguous()
    if kinds[0]:
        x = wobble(x, 2, rng)
    if kinds[1]:
        x = x + _fields(tuple(x.shape), (0.02, 0.15), rng)
    if kinds[2]:
        rgb, alpha = _fragments(frame, region, frames, rng)
        x = x * (1 - alpha) + rgb
    if kinds[3]:
        x = x + flicker(tuple(x.shape), rng.uniform(0.02, 0.15), rng)
    return x


def with_moving_scene(clip, region: np.ndarray, rng: np.random.Generator, inside=None):
    """(3, T, H, W): ``inside`` (default: ``clip`` itself) within the figure ``region`` (:func:`figure_region`),
    and outside it the first frame of ``clip`` moving (:func:`moving_scene`). With the clip itself inside, the
    figure still performs its action while the scene moves (label kept)."""
    import torch

    inside = clip if inside is None else inside
    scene = moving_scene(clip[:, 0], region, clip.shape[1], rng)
    return torch.where(torch.from_numpy(np.asarray(region, bool)), inside, scene)


STILL_FIGURE = ("frozen", "absent")


def still_figure(clip, region: np.ndarray, rng: np.random.Generator, how: str | None = None, exact: bool = False):
    """Not an action: the scene moves (:func:`with_moving_scene`) and the figure does not — its ``region`` held at
    the first frame (``how="frozen"``: the reference frozen) or filled with the scene behind it (``"absent"``:
    :func:`scene_behind`); ``how`` drawn from :data:`STILL_FIGURE` when None. Unless ``exact``, with probability
    1/2 the region jitters as a weak generator's still figure does: wobbled by up to 1 px per frame, plus
    flicker (std 0.02-0.1)."""
    how = how or STILL_FIGURE[int(rng.integers(len(STILL_FIGURE)))]
    if how not in STILL_FIGURE:
        raise InputError(f"still_figure: how must be one of {STILL_FIGURE}, got {how!r}")
    first = clip[:, 0] if how == "frozen" else scene_behind(clip[:, 0], region)
    inside = first[:, None].expand_as(clip).contiguous()
    if not exact and rng.random() < 0.5:
        inside = wobble(inside, 1, rng) + flicker(tuple(inside.shape), rng.uniform(0.02, 0.1), rng)
    return with_moving_scene(clip, region, rng, inside=inside)


def _batch(videos: np.ndarray, labels: np.ndarray, regions: np.ndarray, cfg: TrainConfig, rng: np.random.Generator):
    """One augmented batch: (B + S, 3, T-1, H, W) differences and (B + S, K) soft targets. S no-action clips
    (static, flickering, texture, drifting blob, melting, still figure; see TrainConfig) get a uniform target, or
    the "no action" class when the model has one; some of the B action clips get flicker, some a moving scene
    around their figure ``regions`` (bool (N, H, W), :func:`figure_region`)."""
    import torch

    still = cfg.static_per_batch + cfg.flicker_per_batch
    made = ((texture, cfg.texture_per_batch), (drifting_blob, cfg.blob_per_batch), (melting, cfg.melt_per_batch))
    start = cfg.batch + still + sum(n for _, n in made)                   # the still-figure clips come last
    idx = rng.choice(len(videos), start + cfg.still_per_batch, replace=False)
    clips = videos[idx]                                                    # (B+S, T, H, W, 3) uint8
    for j in range(cfg.batch, cfg.batch + still):                          # static: one random frame repeated
        clips[j] = clips[j, rng.integers(clips.shape[1])]
    x = torch.stack([clip_to_unit(c) for c in clips])                      # (B+S, 3, T, H, W)
    flickered = [j for j in range(cfg.batch) if rng.random() < cfg.flicker_prob]
    flickered += list(range(cfg.batch + cfg.static_per_batch, cfg.batch + still))
    for j in range(cfg.batch + cfg.static_per_batch, cfg.batch + still):    # the figure wobbles in place
        x[j] = wobble(x[j], cfg.wobble_px, rng)
    for j in flickered:
        x[j] = (x[j] + flicker(x[j].shape, rng.uniform(*cfg.flicker_amplitude), rng)).clamp(0, 1)
    for j, make in enumerate((make for make, n in made for _ in range(n)), start=cfg.batch + still):
        x[j] = make(x[j], rng).clamp(0, 1)
    for j in range(start, start + cfg.still_per_batch):
        x[j] = still_figure(x[j], regions[idx[j]], rng).clamp(0, 1)
    for j in (j for j in range(cfg.batch) if rng.random() < cfg.scene_prob):
        x[j] = with_moving_scene(x[j], regions[idx[j]], rng).clamp(0, 1)
    k, eps = len(CLASSES) + cfg.model.reject, cfg.label_smoothing
    target = torch.full((len(idx), k), eps / k)
    target[torch.arange(cfg.batch), torch.from_numpy(labels[idx[:cfg.batch]])] += 1 - eps
    if cfg.model.reject:
        target[cfg.batch:, -1] += 1 - eps                                  # no action: the 13th class
    else:
        target[cfg.batch:] = 1.0 / k                                       # no action: uniform
    return differences(augment(x, rng)), target


def train(cfg: TrainConfig, videos: np.ndarray, labels: np.ndarray, regions: np.ndarray, on_step=None, model=None):
    """Train a yardstick from seed ``cfg.seed`` (deterministic on the CPU with one thread) → model (eval mode).
    ``videos``, ``labels``, ``regions``: as :func:`render_training_set` returns them.

    ``model``: another network for the same input and outputs (default :func:`build_model`; benchmarks compare)."""
    import torch

    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    model = (model if model is not None else build_model(cfg.model)).train()
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=cfg.steps, pct_start=0.15)
    for step in range(cfg.steps):
        x, target = _batch(videos, labels, regions, cfg, rng)
        loss = -(target * torch.log_softmax(model(x), dim=-1)).sum(-1).mean()  # soft cross-entropy
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if on_step:
            on_step(step, float(loss.detach()))
    return model.eval()


def calibrate_no_action(model, seed: int = 0) -> float:
    """Shift the "no action" logit of a yardstick with that class (in place) by the bias that best separates
    ground truth (answered right) from no-action clips (answered "no action"), by balanced accuracy, on
    :data:`CALIBRATION` videos of its world and one clip of each training kind (static, flickering, texture,
    drifting blob, melting, each still figure) per video — never the test videos nor the benchmark's junk.
    Returns the bias."""
    import torch

    cfg = model.cfg
    rendered = [(*render_with_region(cfg, a, i), a) for a in CLASSES for i in CALIBRATION]
    videos, ids = [v for v, _, _ in rendered], [a for _, _, a in rendered]
    rng = np.random.default_rng(seed)
    junk = []
    for v, region, _ in rendered:
        x = clip_to_unit(v)                                                               # (3, T, H, W)
        still = x[:, :1].expand_as(x)
        made = [still, wobble(still, 2, rng) + flicker(tuple(x.shape), rng.uniform(0.03, 0.3), rng),
                texture(x, rng), drifting_blob(x, rng), melting(x, rng),
                *(still_figure(x, region, rng, how) for how in STILL_FIGURE)]
        junk += [clip_to_uint8(m) for m in made]
    gt, bad = log_probs(model, videos), log_probs(model, junk)
    target = np.array([CLASSES.index(a) for a in ids])
    grid = np.round(np.linspace(-4, 8, 121), 2)
    shift = np.eye(gt.shape[1])[-1]
    score = np.array([(answers(gt + b * shift) == target).mean() + (answers(bad + b * shift) == len(CLASSES)).mean()
                      for b in grid])
    best = grid[score == score.max()]
    bias = float(best[len(best) // 2])                                    # the middle of the best plateau
    with torch.no_grad():
        model[-1].bias[-1] += bias
    return bias


# ----------------------------------------------------------------------------- its own quality

def _summary(logp: np.ndarray, action_ids: list[str], note: str) -> dict:
    s = scores(logp, action_ids)
    per_class = {a: float(np.mean([x for x, b in zip(s["accuracy"], action_ids) if b == a]))
                 for a in CLASSES if a in action_ids}
    return {"accuracy": float(s["accuracy"].mean()), "confidence": float(s["confidence"].mean()),
            "refused": float(s["refused"].mean()), "n": len(action_ids), "per_action_accuracy": per_class,
            "what": note}


def mp4_round_trip(videos: list[np.ndarray]) -> list[np.ndarray]:
    """Each video written as H.264 mp4 (the suite's writer, crf 12) and decoded back."""
    import tempfile

    from flash_bench.video_io import read_video, write_video

    out = []
    with tempfile.TemporaryDirectory() as d:
        for n, v in enumerate(videos):
            write_video(Path(d) / f"{n}.mp4", v)
            out.append(read_video(Path(d) / f"{n}.mp4"))
    return out


def _tiny_vae(source: Path | str | None):
    """FLASH's tiny VAE: the shipped tiny base (default), another tiny-base folder, or a bare VAE ``.safetensors``."""
    from flash_bench.tiny_world import COMPONENTS as TINY_COMPONENTS, load_tiny_base

    if source is not None and str(source).endswith(".safetensors"):
        from diffusers import AutoencoderKL
        from safetensors.torch import load_file

        if not Path(source).exists():
            raise InputError(f"tiny VAE weights not found: {source}")
        vae = AutoencoderKL(**TINY_COMPONENTS["vae"])
        vae.load_state_dict({k: v.float() for k, v in load_file(str(source)).items()})
        return vae.eval()
    return load_tiny_base(source).vae.eval()


def vae_round_trip(videos: list[np.ndarray], source: Path | str | None = None) -> list[np.ndarray]:
    """Each video encoded and decoded frame by frame by FLASH's tiny VAE (latent mean, no sampling)."""
    import torch

    vae = _tiny_vae(source)
    out = []
    with torch.inference_mode():
        for v in videos:
            x = to_unit(v)                                                            # (T, 3, H, W) in [-1, 1]
            out.append(to_uint8(vae.decode(vae.encode(x).latent_dist.mean).sample))
    return out


def evaluate(model, vae_folder: Path | str | None = None) -> dict:
    """Accuracy / confidence on held-out ground truth (test items 016-019), static, mp4 and tiny-VAE round trips.

    ``vae_folder``: see :func:`vae_round_trip` (default: the tiny base of the yardstick's world, v1's shipped one
    or ``flash/weights/tiny_v2``; skipped when it does not exist). "refused": the share answered "no action".
    """
    if vae_folder is None:
        from flash_bench.tiny_world import BASE_DIR

        vae_folder = BASE_DIR
    videos, ids = ground_truth_test_set(model.cfg)
    q = {"ground_truth": _summary(log_probs(model, videos), ids, "test items 016-019 of all 12 actions"),
         "static": _summary(log_probs(model, [np.repeat(v[:1], len(v), 0) for v in videos]), ids,
                            "the reference (frame 1) repeated: chance is 1/12"),
         "mp4": _summary(log_probs(model, mp4_round_trip(videos)), ids, "ground truth after an mp4 round trip")}
    q["chance"] = 1 / len(CLASSES)
    rng = np.random.default_rng(1)
    flickering = [_with_flicker(np.repeat(v[:1], len(v), 0), 0.12, rng, wobble_px=1) for v in videos]
    flicker_logp = log_probs(model, flickering)
    q["flicker"] = _summary(flicker_logp, ids, "the reference repeated, each frame shifted by up "
                            "to 1 px + per-frame flicker (smooth noise, std 0.12): no action, so chance is 1/12 "
                            "and no action class should take all")
    q["flicker"]["largest_class_share"] = _largest_share(flicker_logp)
    q["ground_truth_flicker"] = _summary(log_probs(model, [_with_flicker(v, 0.12, rng) for v in videos]), ids,
                                         "ground truth + the same flicker: the action must still show")
    extra = [(a, i) for a in CLASSES for i in HELD_OUT]
    q["held_out_extra"] = _summary(log_probs(model, [render_video_for(model.cfg, a, i) for a, i in extra]),
                                   [a for a, _ in extra], f"extra videos {HELD_OUT.start}-{HELD_OUT.stop - 1} "
                                   "(render seed 0) of all 12 actions, never trained on")
    q.update(_degraded(model, videos, ids))
    q.update(_scene_moving(model, videos, ids))
    shuffled = [v[np.random.default_rng(n).permutation(len(v))] for n, v in enumerate(videos)]
    q["frames_shuffled"] = _summary(log_probs(model, shuffled), ids, "ground truth with its frames in a random "
                                    "order (same poses, no coherent motion): how much temporal order matters")
    try:
        q["tiny_vae"] = _vae_summary(model, videos, ids, vae_folder)
    except (InputError, ImportError) as e:
        q["tiny_vae"] = {"skipped": f"no tiny VAE: {e}"}
    return q


def _with_flicker(video: np.ndarray, amplitude: float, rng: np.random.Generator, wobble_px: int = 0) -> np.ndarray:
    x = clip_to_unit(video)                                                           # (3, T, H, W)
    if wobble_px:
        x = wobble(x, wobble_px, rng)
    return clip_to_uint8(x + flicker(tuple(x.shape), amplitude, rng))


def _largest_share(logp: np.ndarray) -> float:
    """Fraction of videos assigned to the most frequent predicted action (1.0 = a sink; "no action" is none)."""
    given = answers(logp)
    counts = np.bincount(given[given < len(CLASSES)], minlength=len(CLASSES))
    return float(counts.max() / max(len(logp), 1))


def _degraded(model, videos: list[np.ndarray], ids: list[str]) -> dict:
    """Robustness to what generated videos suffer: blur (σ = 1.5 px) and independent per-frame noise (σ = 20/255)."""
    import torch

    blurred = [clip_to_uint8(_blur(clip_to_unit(v), 1.5)) for v in videos]
    noisy = [clip_to_uint8(clip_to_unit(v) + torch.from_numpy(np.random.default_rng(n).normal(0, 20 / 255, v.shape))
                           .float().permute(3, 0, 1, 2)) for n, v in enumerate(videos)]
    return {"blurred": _summary(log_probs(model, blurred), ids, "ground truth blurred (Gaussian, sigma 1.5 px)"),
            "noisy": _summary(log_probs(model, noisy), ids, "ground truth + independent per-frame pixel noise "
                                                            "(sigma 20/255)")}


def _scene_moving(model, videos: list[np.ndarray], ids: list[str]) -> dict:
    """The scene around the figure moving (:func:`moving_scene`, the training kind): the figure region frozen or
    emptied (no action) and the ground truth acting in it (the action must still show)."""
    rng = np.random.default_rng(2)
    regions = [render_with_region(model.cfg, a, i)[1] for a in CLASSES for i in TEST_INDICES]
    clips = [clip_to_unit(v) for v in videos]
    made = {how: [clip_to_uint8(still_figure(x, r, rng, how)) for x, r in zip(clips, regions)] for how in STILL_FIGURE}
    acting = [clip_to_uint8(with_moving_scene(x, r, rng)) for x, r in zip(clips, regions)]
    where = "the figure region (figure and props over the clip, dilated 2 px)"
    return {"figure_frozen": _summary(log_probs(model, made["frozen"]), ids, f"{where} frozen to frame 1 while "
                                      "the scene around it moves: no action"),
            "figure_absent": _summary(log_probs(model, made["absent"]), ids, f"{where} filled with the scene "
                                      "behind while the scene around it moves: no action"),
            "ground_truth_scene_moving": _summary(log_probs(model, acting), ids, "ground truth with the scene "
                                                  f"outside {where} moving: the action must still show")}


def _vae_summary(model, videos: list[np.ndarray], ids: list[str], source: Path | str | None) -> dict:
    """Yardstick quality after the tiny VAE round trip, with the round trip's own PSNR and the VAE's identity."""
    import hashlib

    from flash.base_model import TINY_BASE_DIR

    decoded = vae_round_trip(videos, source)
    mse = np.mean([np.mean((a.astype(np.float64) - b) ** 2) for a, b in zip(videos, decoded)])
    path = Path(source) if source is not None else TINY_BASE_DIR / "vae.safetensors"
    weights = path if path.is_file() else path / "vae.safetensors"
    return {**_summary(log_probs(model, decoded), ids, "ground truth after the FLASH tiny VAE round trip"),
            "vae": str(path), "vae_sha256": hashlib.sha256(weights.read_bytes()).hexdigest(),
            "round_trip_psnr_db": round(float(10 * np.log10(255 ** 2 / mse)), 2)}


# ----------------------------------------------------------------------------- the whole recipe

def save(model, out: Path | str, record: dict) -> dict:
    """Weights (fp32 safetensors) + ``<out>.json`` (config, classes, training record, quality, sha256)."""
    import hashlib

    from safetensors.torch import save_file

    from flash_bench.store import atomic_path, atomic_write_json

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()}, str(tmp))
    info = {"version": VERSION, "classes": list(CLASSES), "config": asdict(model.cfg),
            "parameters": sum(p.numel() for p in model.parameters()),
            "sha256": hashlib.sha256(out.read_bytes()).hexdigest(), **record}
    atomic_write_json(out.with_suffix(".json"), info)
    return info


def train_yardstick(cfg: TrainConfig, out: Path | str = WEIGHTS_PATH, command: str = "", on_render=None,
                    on_step=None, vae_folder: Path | str | None = None) -> dict:
    """Render the training set, train, measure quality, save weights + JSON; returns the JSON record."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        start = time.time()
        videos, labels, regions = render_training_set(cfg.seed, cfg.extra_per_action, cfg.model, on_render)
        rendered = time.time()
        losses = []

        def step(s: int, loss: float) -> None:
            losses.append(loss)
            if on_step:
                on_step(s, loss)

        model = train(cfg, videos, labels, regions, step)
        bias = calibrate_no_action(model, cfg.seed) if cfg.model.reject else None
        trained = time.time()
        quality = evaluate(model, vae_folder)
    finally:
        torch.set_num_threads(threads)
    cfg_dict = {k: v for k, v in asdict(cfg).items() if k != "model"}
    training = {**cfg_dict, "videos": len(videos), "command": command, "torch": torch.__version__, "threads": 1,
                "render_seconds": round(rendered - start, 1), "train_seconds": round(trained - rendered, 1),
                "eval_seconds": round(time.time() - trained, 1),
                "no_action_bias": bias,
                "loss_every_50_steps": [round(float(np.mean(losses[i:i + 50])), 4) for i in range(0, len(losses), 50)],
                "data": f"{cfg.model.dataset} train videos 000-015 (render seed 0) + extra_per_action videos per "
                        f"action at indices {EXTRA_START}+ (render seed = training seed); never the test items "
                        "016-019"}
    return save(model, out, {"training": training, "quality": quality})


def reevaluate(path: Path | str = WEIGHTS_PATH, vae_folder: Path | str | None = None) -> dict:
    """Re-measure the quality of saved weights (e.g. once the tiny VAE exists) and update their JSON."""
    from flash_bench.store import atomic_write_json

    model, info = load(path)
    info["quality"] = evaluate(model, vae_folder)
    atomic_write_json(Path(path).with_suffix(".json"), info)
    return info


# ----------------------------------------------------------------------------- where the yardstick applies

DATASETS = ("synthetic",)


def unavailable(dataset: str | None) -> str | None:
    """None when the yardstick can judge videos of ``dataset``; otherwise why its metrics are missing."""
    if dataset in DATASETS:
        return None
    return (f"action_accuracy / action_confidence are unavailable on dataset {dataset!r}: the yardstick classifier "
            f"only knows the 12 actions rendered by {', '.join(DATASETS)} (values are missing, not zero)")


def intended_action(key: str) -> str:
    """The action id of a sample key ``"method/action/item"``."""
    parts = key.split("/")
    if len(parts) < 3:
        raise InputError(f"sample key {key!r} is not 'method/action/item'")
    return parts[-2]
