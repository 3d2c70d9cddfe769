"""Gate G3 of issue 17 (and G1's recognition part): the action yardstick retrained on the v2 `synthetic` world,
with a "no action" answer.

Trains :func:`flash_bench.yardstick.train` (the shipped yardstick's recipe: temporal differences only, static
and flickering clips with a uniform target, appearance augmentation) on v2's training videos 000-015 plus
``--extra`` videos per action at indices 1000+, at v2's geometry (8 frames, 32x32). "No action" is a threshold
on the top probability, chosen on a validation split (ground truth at indices 5000+ and junk videos of its
own draw), never on the test videos. Printed, on the 48 test videos (016-019) and junk made from them:

* ground-truth accuracy (argmax) and the share both recognised and above the threshold;
* the share of static, flickering, figureless-texture and noise videos answered "no action" (gate >= 90%);
* with ``--base-dir`` (a v2 tiny base), accuracy on the VAE round trip of the test videos (G1's second half).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/tiny_world_yardstick.py --base-dir flash/weights/tiny_v2
"""
from __future__ import annotations

import argparse
import time
from dataclasses import replace

import numpy as np
import torch

VALIDATION = range(5000, 5004)


def render_set(indices, extra: int = 0, size: int = 32, frames: int = 8):
    """uint8 (N, T, H, W, 3) v2 videos of every action at ``indices`` (+ ``extra`` at 1000+) and their labels."""
    from flash_bench import yardstick
    from flash_bench.datasets import synthetic as v2

    jobs = [(a, i) for a in yardstick.CLASSES for i in [*indices, *range(1000, 1000 + extra)]]
    videos = np.stack([v2.render_video(a, i, num_frames=frames, size=size) for a, i in jobs])
    return videos, np.array([yardstick.CLASSES.index(a) for a, _ in jobs])


def junk(videos: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Four kinds of non-action video, one per given video: static, flickering, figureless texture, noise."""
    from flash_bench import yardstick

    n, t, h, w, _ = videos.shape
    static = np.repeat(videos[:, :1], t, axis=1)
    flick = []
    for v in static:
        x = torch.from_numpy(v).permute(3, 0, 1, 2).float() / 255                      # (3, T, H, W)
        x = yardstick.wobble(x, 1, rng) + yardstick.flicker(x.shape, rng.uniform(0.03, 0.3), rng)
        flick.append((x.clamp(0, 1) * 255).round().byte().permute(1, 2, 3, 0).numpy())
    # texture with no figure: the scene's colour under a drifting, evolving smooth pattern (a weak generator's
    # "texture" output), and i.i.d. noise frames
    scene = np.median(videos[:, 0].reshape(n, -1, 3), axis=1)[:, None, None, None, :]   # (N, 1, 1, 1, 3)
    yy, xx = np.mgrid[:h, :w] / h
    tex = np.zeros((n, t, h, w, 3))
    for k in range(3):
        fx, fy, vx, ph = (rng.uniform(1, 6, (n, 1, 1, 1)), rng.uniform(1, 6, (n, 1, 1, 1)),
                          rng.uniform(-0.3, 0.3, (n, 1, 1, 1)), rng.uniform(0, 2 * np.pi, (n, 1, 1, 1)))
        tt = np.arange(t)[None, :, None, None]
        wave = np.sin(2 * np.pi * (fx * (xx + vx * tt / t) + fy * yy) + ph)                # (N, T, H, W)
        tex += wave[..., None] * rng.uniform(10, 40, (n, 1, 1, 1, 3))
    texture = np.clip(scene + tex, 0, 255).round().astype(np.uint8)
    noise = rng.integers(0, 256, videos.shape, dtype=np.uint8)
    return {"static": static, "flickering": np.stack(flick), "texture": texture, "noise": noise}


def top_prob(model, videos) -> tuple[np.ndarray, np.ndarray]:
    from flash_bench import yardstick

    logp = yardstick.log_probs(model, list(videos))
    return logp.argmax(1), np.exp(logp.max(1))


def choose_threshold(model, val_videos, val_labels, rng) -> float:
    """The top-probability threshold that best separates validation ground truth (recognised and kept) from
    validation junk (rejected), by balanced accuracy."""
    pred, p_gt = top_prob(model, val_videos)
    p_junk = np.concatenate([top_prob(model, v)[1] for v in junk(val_videos, rng).values()])
    grid = np.linspace(1 / 12, 1.0, 200)
    score = [((pred == val_labels) & (p_gt >= th)).mean() + (p_junk < th).mean() for th in grid]
    return float(grid[int(np.argmax(score))])


def round_trip(base_dir: str, videos: np.ndarray) -> np.ndarray:
    from flash_bench.tiny_world import load_tiny_base, to_unit

    vae = load_tiny_base(base_dir).vae
    out = []
    with torch.no_grad():
        for v in videos:
            rec = vae.decode(vae.encode(to_unit(v)).latent_dist.mean).sample.clamp(-1, 1)
            out.append(((rec + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy())
    return np.stack(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--extra", type=int, default=60, help="extra training videos per action (indices 1000+)")
    parser.add_argument("--base-dir", default=None, help="a v2 tiny base: also judge its VAE round trip")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    from flash_bench import yardstick

    train_videos, train_labels = render_set(range(16), args.extra)
    cfg = replace(yardstick.TrainConfig(seed=args.seed, steps=args.steps, extra_per_action=args.extra),
                  model=yardstick.YardstickConfig(frames=8, size=32))
    start = time.time()
    model = yardstick.train(cfg, train_videos, train_labels)
    print(f"trained on {len(train_videos)} v2 videos, {args.steps} steps, {time.time() - start:.0f} s")

    rng = np.random.default_rng(args.seed + 1)
    val_videos, val_labels = render_set(VALIDATION)
    th = choose_threshold(model, val_videos, val_labels, rng)
    test_videos, test_labels = render_set(range(16, 20))
    pred, p = top_prob(model, test_videos)
    print(f"'no action' threshold on the top probability (from validation): {th:.3f}")
    print(f"G3 ground truth (48 test videos): accuracy {(pred == test_labels).mean():.3f}, recognised and kept "
          f"{((pred == test_labels) & (p >= th)).mean():.3f} (gate >= 0.90)")
    for kind, videos in junk(test_videos, np.random.default_rng(args.seed + 2)).items():
        print(f"G3 {kind:10s}: 'no action' in {(top_prob(model, videos)[1] < th).mean():.3f} (gate >= 0.90)")
    if args.base_dir:
        pred, p = top_prob(model, round_trip(args.base_dir, test_videos))
        print(f"G1 VAE round trip ({args.base_dir}): accuracy {(pred == test_labels).mean():.3f}, recognised and "
              f"kept {((pred == test_labels) & (p >= th)).mean():.3f} (gate >= 0.90)")


if __name__ == "__main__":
    main()
