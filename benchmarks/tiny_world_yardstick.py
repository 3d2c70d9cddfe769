"""Gate G3 of issue 17 (and G1's recognition part): the action yardstick on the `synthetic` (v2) world, with a
"no action" answer.

Either measures yardstick weights (``--weights``, e.g. the shipped ``flash_bench/trained/yardstick``) or
trains a recipe variant first (``--variant``, one of :data:`VARIANTS`; ``--arch x3d`` swaps the hand-written
3-D CNN for pytorchvideo's ``create_x3d``, if installed) on v2's training videos 000-015 plus ``--extra``
videos per action at indices 1000+, at v2's geometry (8 frames, 32x32). Printed, on the 48 test videos
(016-019) and junk videos made from them:

* ground-truth accuracy (a "no action" answer counts as wrong) and the share refused;
* the share of static, flickering, figureless-texture, noise, drifting-figure and melting-figure videos
  answered "no action" (gate >= 90%), and of videos whose scene moves while the figure does not (its region
  frozen to frame 0, or filled with the scene behind it);
* accuracy on the ground truth with its scene moving around the acting figure;
* with ``--base-dir`` (a v2 tiny base), accuracy on the VAE round trip of the test videos (G1's second half).

"No action" is the yardstick's answer: its 13th class when it has one (argmax), else (and, for comparison,
also with the class) a threshold on the top probability chosen on a validation split (ground truth at
indices 5000-5003 and junk of its own draw, balanced accuracy), never on the test videos.

The junk here is drawn by other code than the training junk of ``yardstick._batch``: texture = sinusoid
gratings drifting over the scene colour (training: smooth random fields); drifting figure = the renderer's
figure mask cut out of frame 0 and moved over the scene (training: a whole frame moved); melting = that
sprite blurring and fading into the scene (training: the whole frame blurring into texture); the scene moving
= those gratings plus a 7 px patch of the figure sliding 4-10 px, outside the figure region (the renderer's mask
over the clip, plus every pixel that changes, dilated 2 px; training: smooth fields, wobble, flicker, debris
discs, outside the figure-presence foreground over the clip).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/tiny_world_yardstick.py \
        --weights flash_bench/trained/yardstick.safetensors --base-dir flash/weights/tiny_v2
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/tiny_world_yardstick.py --variant v1-recipe
"""
from __future__ import annotations

import argparse
import time
from dataclasses import replace

import numpy as np
import torch
from scipy import ndimage

VALIDATION = range(5000, 5004)
# recipe variants: changes to yardstick.recipe() (1,200 steps, 6 flickering and 4 texture clips per batch, 4
# still-figure clips, a calibrated 13th class), compared in docs/tiny_world_v2.md (G3); "calibrate": shift the
# "no action" logit. The variants from before the still figure (session 11) keep their recipe (BEFORE_STILL).
BEFORE_STILL = dict(still_per_batch=0, scene_prob=0.0, texture_per_batch=3)
VARIANTS = {
    "shipped": {},
    "no-still": BEFORE_STILL,
    "texture-3": dict(texture_per_batch=3),
    "scene-0.05": dict(scene_prob=0.05),                 # action clips whose scene moves too (label kept)
    "texture-3-scene-0.1": dict(texture_per_batch=3, scene_prob=0.1),
    "texture-3-scene-0.2": dict(texture_per_batch=3, scene_prob=0.2),
    "v1-recipe": dict(steps=600, flicker_per_batch=4, reject=False, **{**BEFORE_STILL, "texture_per_batch": 0},
                      blob_per_batch=0, melt_per_batch=0),
    "junk-uniform": dict(steps=600, flicker_per_batch=4, reject=False, **BEFORE_STILL),
    "class-600": dict(steps=600, flicker_per_batch=4, calibrate=False, **BEFORE_STILL),
    "class-600-flicker6": dict(steps=600, calibrate=False, **BEFORE_STILL),
    "class-flicker6": dict(calibrate=False, **BEFORE_STILL),
    "class-600-calibrated": dict(steps=600, flicker_per_batch=4, **BEFORE_STILL),
}


def variant_config(name: str, seed: int, steps: int | None, extra: int):
    """(TrainConfig, calibrate?) of a variant; ``steps`` overrides the variant's."""
    from flash_bench import yardstick

    change = dict(VARIANTS[name])
    calibrate = change.pop("calibrate", True)
    if steps:
        change["steps"] = steps
    cfg = yardstick.recipe(seed=seed, extra_per_action=extra)
    model = replace(cfg.model, reject=change.pop("reject", cfg.model.reject))
    return replace(cfg, model=model, **change), calibrate and model.reject


def render_set(indices, size: int = 32, frames: int = 8):
    """uint8 (N, T, H, W, 3) v2 videos of every action at ``indices``, their bool (N, T, H, W) figure masks
    and labels."""
    from flash_bench import yardstick
    from flash_bench.datasets import synthetic as v2

    jobs = [(a, i) for a in yardstick.CLASSES for i in indices]
    pairs = [v2.render(a, i, num_frames=frames, size=size) for a, i in jobs]
    return (np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs]),
            np.array([yardstick.CLASSES.index(a) for a, _ in jobs]))


def scene_behind(frame: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The scene without the figure: figure pixels replaced by their row's median scene colour (v2's scene is
    constant along rows)."""
    out = frame.astype(np.float64).copy()
    overall = np.median(frame[~mask], axis=0) if (~mask).any() else np.median(frame.reshape(-1, 3), axis=0)
    for y in range(frame.shape[0]):
        out[y, mask[y]] = np.median(frame[y, ~mask[y]], axis=0) if (~mask[y]).any() else overall
    return out


def junk(videos: np.ndarray, masks: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Six kinds of non-action video, one per given video (see the module docstring)."""
    from flash_bench import yardstick

    n, t = videos.shape[:2]
    static = np.repeat(videos[:, :1], t, axis=1)
    flick = []
    for v in static:
        x = yardstick.clip_to_unit(v)                                                  # (3, T, H, W)
        x = yardstick.wobble(x, 1, rng) + yardstick.flicker(x.shape, rng.uniform(0.03, 0.3), rng)
        flick.append(yardstick.clip_to_uint8(x))
    # texture with no figure: the scene's colour under drifting, evolving sinusoid gratings
    scene = np.median(videos[:, 0].reshape(n, -1, 3), axis=1)[:, None, None, None, :]   # (N, 1, 1, 1, 3)
    tex = gratings(videos.shape, rng)
    texture = np.clip(scene + tex, 0, 255).round().astype(np.uint8)
    noise = rng.integers(0, 256, videos.shape, dtype=np.uint8)
    drift, melt = [], []
    s = np.linspace(0, 1, t)
    for v, m in zip(videos, masks):
        near = ndimage.binary_dilation(m[0])                               # the mask + its anti-aliased edge
        bg, sprite, alpha = scene_behind(v[0], near), v[0].astype(np.float64), near.astype(np.float64)
        end = rng.uniform(-1, 1, 2) * rng.uniform(3, 8)                   # the figure slides 3-8 px, rigid
        frames = []
        for dy, dx in end[None] * s[:, None]:
            a = ndimage.shift(alpha, (dy, dx), order=1, mode="constant")[..., None]
            frames.append(bg * (1 - a) + ndimage.shift(sprite, (dy, dx, 0), order=1, mode="nearest") * a)
        drift.append(frames)
        figure = (sprite - bg) * alpha[..., None]                           # the figure blurs and fades away
        melt.append([bg + (1 - si) * ndimage.gaussian_filter(figure, (sg, sg, 0))
                     for si, sg in zip(s, rng.uniform(1.5, 4.0) * s)])
    as_video = lambda x: np.clip(np.asarray(x), 0, 255).round().astype(np.uint8)  # noqa: E731
    moving = scene_moving(videos, masks, tex, rng)
    return {"static": static, "flickering": np.stack(flick), "texture": texture, "noise": noise,
            "drifting figure": as_video(drift), "melting figure": as_video(melt),
            "frozen figure, scene moving": moving["frozen"], "no figure, scene moving": moving["absent"]}


def gratings(shape: tuple[int, ...], rng) -> np.ndarray:
    """float (N, T, H, W, 3) colour offsets (0-255 scale) for videos of ``shape``: three drifting sinusoid
    gratings per video, 10-40 levels each per channel."""
    n, t, h, w, _ = shape
    yy, xx = np.mgrid[:h, :w] / h
    tex = np.zeros((n, t, h, w, 3))
    for _ in range(3):
        fx, fy, vx, ph = (rng.uniform(1, 6, (n, 1, 1, 1)), rng.uniform(1, 6, (n, 1, 1, 1)),
                          rng.uniform(-0.3, 0.3, (n, 1, 1, 1)), rng.uniform(0, 2 * np.pi, (n, 1, 1, 1)))
        tt = np.arange(t)[None, :, None, None]
        wave = np.sin(2 * np.pi * (fx * (xx + vx * tt / t) + fy * yy) + ph)                # (N, T, H, W)
        tex += wave[..., None] * rng.uniform(10, 40, (n, 1, 1, 1, 3))
    return tex


def scene_moving(videos: np.ndarray, masks: np.ndarray, offsets: np.ndarray, rng) -> dict[str, np.ndarray]:
    """The scene moving outside each video's figure region (module docstring): float (N, T, H, W, 3) colour
    ``offsets`` (the gratings) and a sliding patch of the figure over its first frame. Inside the region: frame 0
    ("frozen"), the scene behind it ("absent") or the video itself ("acting": the action goes on)."""
    out = {"frozen": [], "absent": [], "acting": []}
    s = np.linspace(0, 1, videos.shape[1])[:, None]
    for v, m, offset in zip(videos, masks, offsets):
        changes = np.abs(v.astype(np.int64) - v[:1]).max(axis=(0, 3)) > 8
        region = ndimage.binary_dilation(m.any(0) | changes, iterations=2)
        first = v[0].astype(np.float64)
        ys, xs = np.nonzero(m[0])
        k = rng.integers(len(ys))
        patch = np.zeros(m[0].shape)
        patch[max(ys[k] - 3, 0):ys[k] + 4, max(xs[k] - 3, 0):xs[k] + 4] = 1.0
        patch *= m[0]
        end = rng.uniform(-1, 1, 2) * rng.uniform(4, 10)
        scene = []
        for t, (dy, dx) in enumerate(end[None] * s):
            a = ndimage.shift(patch, (dy, dx), order=1, mode="constant")[..., None]
            scene.append((first + offset[t]) * (1 - a) + ndimage.shift(first, (dy, dx, 0), order=1, mode="nearest") * a)
        inside = {"frozen": first[None], "absent": scene_behind(v[0], region)[None], "acting": v}
        for kind, video in inside.items():
            out[kind].append(np.where(region[None, ..., None], video, np.asarray(scene)))
    return {k: np.clip(np.asarray(x), 0, 255).round().astype(np.uint8) for k, x in out.items()}


def answers(model, videos, threshold: float | None = None) -> np.ndarray:
    from flash_bench import yardstick

    return yardstick.answers(yardstick.log_probs(model, list(videos)), threshold)


def choose_threshold(model, val_videos, val_masks, val_labels, rng) -> float:
    """The top-probability threshold that best separates validation ground truth (recognised and kept) from
    validation junk (refused), by balanced accuracy."""
    from flash_bench import yardstick

    gt = yardstick.log_probs(model, list(val_videos))
    bad = np.concatenate([yardstick.log_probs(model, list(v)) for v in junk(val_videos, val_masks, rng).values()])
    no = len(yardstick.CLASSES)
    grid = np.linspace(1 / 13, 1.0, 200)
    score = [(yardstick.answers(gt, th) == val_labels).mean() + (yardstick.answers(bad, th) == no).mean()
             for th in grid]
    return float(grid[int(np.argmax(score))])


def round_trip(base_dir: str, videos: np.ndarray) -> np.ndarray:
    from flash_bench import yardstick

    return np.stack(yardstick.vae_round_trip(list(videos), base_dir))


def x3d(cfg):
    """pytorchvideo's X3D at the yardstick's input (differences: 3 x (frames-1) x size^2), ~0.3 M parameters."""
    try:
        from pytorchvideo.models.x3d import create_x3d
    except ImportError as e:
        raise SystemExit(f"--arch x3d needs pytorchvideo (pip install pytorchvideo fvcore iopath): {e}")
    from flash_bench import yardstick

    model = create_x3d(input_channel=3, input_clip_length=cfg.frames - 1, input_crop_size=cfg.size,
                       model_num_class=len(yardstick.CLASSES) + cfg.reject, width_factor=1.0, depth_factor=1.0,
                       stem_dim_in=12, head_dim_out=128, head_activation=None)
    model.cfg = cfg
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--weights", default=None, help="measure these yardstick weights (no training)")
    parser.add_argument("--variant", default="shipped", choices=list(VARIANTS), help="recipe to train")
    parser.add_argument("--arch", default="cnn", choices=["cnn", "x3d"])
    parser.add_argument("--steps", type=int, default=None, help="default: the variant's")
    parser.add_argument("--extra", type=int, default=60, help="extra training videos per action (indices 1000+)")
    parser.add_argument("--base-dir", default=None, help="a v2 tiny base: also judge its VAE round trip")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    from flash_bench import yardstick

    if args.weights:
        model, info = yardstick.load(args.weights)
        print(f"yardstick {args.weights} (sha256 {info['sha256'][:12]}): {info['training']['command']}")
    else:
        cfg, calibrate = variant_config(args.variant, args.seed, args.steps, args.extra)
        start = time.time()
        videos, labels, regions = yardstick.render_training_set(cfg.seed, cfg.extra_per_action, cfg.model)
        torch.manual_seed(args.seed)
        model = yardstick.train(cfg, videos, labels, regions, model=x3d(cfg.model) if args.arch == "x3d" else None)
        bias = yardstick.calibrate_no_action(model, args.seed) if calibrate and args.arch == "cnn" else None
        print(f"variant {args.variant} ({args.arch}, {sum(p.numel() for p in model.parameters())} parameters): "
              f"trained on {len(videos)} v2 videos, {cfg.steps} steps, {time.time() - start:.0f} s; "
              f"'no action' logit bias {bias}")
    no = len(yardstick.CLASSES)
    rng = np.random.default_rng(args.seed + 1)
    th = choose_threshold(model, *render_set(VALIDATION), rng)
    test_videos, test_masks, test_labels = render_set(range(16, 20))
    print(f"'no action' = {'the 13th class, or ' if model.cfg.reject else ''}top probability below {th:.3f} "
          "(threshold from validation); figures: argmax answer / with the threshold")

    def line(what, videos, rule):
        a, b = answers(model, videos), answers(model, videos, th)
        print(f"G3 {what:18s}: {rule(a):.3f} / {rule(b):.3f}")

    line("ground truth", test_videos, lambda a: (a == test_labels).mean())
    line("  (refused)", test_videos, lambda a: (a == no).mean())
    for kind, videos in junk(test_videos, test_masks, np.random.default_rng(args.seed + 2)).items():
        line(f"{kind} refused", videos, lambda a: (a == no).mean())
    rng = np.random.default_rng(args.seed + 3)
    acting = scene_moving(test_videos, test_masks, gratings(test_videos.shape, rng), rng)["acting"]
    line("gt, scene moving", acting, lambda a: (a == test_labels).mean())
    flickered = [yardstick._with_flicker(v, 0.12, np.random.default_rng(n)) for n, v in enumerate(test_videos)]
    line("gt + flicker", flickered, lambda a: (a == test_labels).mean())
    if args.base_dir:
        line("G1 VAE round trip", round_trip(args.base_dir, test_videos), lambda a: (a == test_labels).mean())


if __name__ == "__main__":
    main()
