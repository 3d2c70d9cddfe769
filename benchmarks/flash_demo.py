"""FLASH-tiny on one synthetic action: fit on its 16 training videos, animate its 4 test images, measure motion.

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/flash_demo.py --action arm_wave --gif docs/flash_arm_wave.gif

Prints fit and sampling times and the mean absolute frame difference (uint8 levels, consecutive frames) of
FLASH, of the pretrained base without fine-tuning, of the ground truth, and of `static` (0 by definition).
The GIF shows, per test item, the ground truth (top) and FLASH (bottom). Made with the tiny profile.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np


def frame_difference_energy(video: np.ndarray) -> float:
    """Mean |f_{t+1} − f_t| over pixels, channels and consecutive frame pairs (uint8 levels)."""
    v = video.astype(np.float32)
    return float(np.abs(v[1:] - v[:-1]).mean())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--action", default="arm_wave")
    parser.add_argument("--base-dir", default=None)
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--gif", default=None)
    parser.add_argument("--cache-dir", default="results/cache")
    args = parser.parse_args()

    from flash.method import FlashMethod
    from flash.sampling import SamplingConfig, animate
    from flash_bench.datasets.synthetic import SyntheticDataset
    from flash_bench.types import MethodContext

    action = next(a for a in SyntheticDataset().actions() if a.id == args.action)
    opts = {"variant": 5, **({"base_dir": args.base_dir} if args.base_dir else {}),
            **({"steps": args.steps} if args.steps else {})}
    method = FlashMethod(MethodContext(profile="tiny", cache_dir=Path(args.cache_dir), options=opts))
    base_only = [animate(method._load_base(), item.reference(), action.prompt, 16, 0,
                         SamplingConfig(), native_size=64, out_size=64) for item in action.test]
    videos = [c.load() for c in action.train]
    start = time.perf_counter()
    method.fit(action, videos, action.prompt)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    outs = [method.animate(item.reference(), action.prompt, 16, seed=i) for i, item in enumerate(action.test)]
    sample_s = (time.perf_counter() - start) / len(outs)
    truths = [item.ground_truth.load() for item in action.test]
    print(f"action {action.id}: fit {fit_s:.1f} s ({method.last_fit}), sampling {sample_s:.2f} s/video")
    for name, vids in (("flash", outs), ("base (no fit)", base_only), ("ground truth", truths)):
        print(f"  frame-difference energy {name:14s} {np.mean([frame_difference_energy(v) for v in vids]):6.2f}")
    print("  frame-difference energy static          0.00")
    if args.gif:
        from flash_bench.video_io import write_gif

        grid = np.concatenate([np.concatenate([t, o], axis=1) for t, o in zip(truths, outs)], axis=2)
        write_gif(args.gif, grid, fps=8)
        print(f"  wrote {args.gif} (top: ground truth, bottom: FLASH-tiny)")


if __name__ == "__main__":
    main()
