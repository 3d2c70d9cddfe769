"""FLASH-tiny on one synthetic action: fit on its 16 training videos, animate its 4 test images, measure motion.

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/flash_demo.py --action arm_wave --gif docs/flash_arm_wave.gif

Prints fit and sampling times and, for FLASH, the pretrained base without fine-tuning and the ground truth:
the mean absolute frame difference (uint8 levels, consecutive frames; `static` is 0 by definition), the
jitter (mean |second temporal difference|: flicker, not motion) and what the action yardstick
(flash_bench/yardstick.py) recognises in each video — "moves in the action's way" made measurable.
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


def jitter(video: np.ndarray) -> float:
    """Mean |f_{t+1} − 2 f_t + f_{t−1}| (uint8 levels): frame-to-frame flicker; smooth motion scores low."""
    v = video.astype(np.float32)
    return float(np.abs(v[2:] - 2 * v[1:-1] + v[:-2]).mean())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--action", default="arm_wave")
    parser.add_argument("--base-dir", default=None)
    parser.add_argument("--steps", type=int, default=None, help="FLASH fitting steps (default: the tiny profile's)")
    parser.add_argument("--variant", type=int, default=6, help="Table 2 variant; 6 = full FLASH with the decoder")
    parser.add_argument("--decoder", default=None, help="another Detail Enhancement Decoder checkpoint (#6)")
    parser.add_argument("--gif", default=None)
    parser.add_argument("--cache-dir", default="results/cache")
    args = parser.parse_args()

    from flash.method import FlashMethod
    from flash.sampling import SamplingConfig, animate
    from flash_bench import tiny_world as tw
    from flash_bench.datasets.synthetic import SyntheticDataset
    from flash_bench.types import MethodContext

    action = next(a for a in SyntheticDataset().actions() if a.id == args.action)
    opts = {"variant": args.variant, **({"base_dir": args.base_dir} if args.base_dir else {}),
            **({"steps": args.steps} if args.steps else {}),
            **({"decoder": args.decoder} if args.decoder else {})}
    method = FlashMethod(MethodContext(profile="tiny", size=tw.SIZE, num_frames=tw.NUM_FRAMES,
                                       cache_dir=Path(args.cache_dir), options=opts))
    base_only = [animate(method._load_base(), item.reference(), action.prompt, tw.NUM_FRAMES, 0,
                         SamplingConfig(steps=method.cfg.sample_steps), native_size=tw.SIZE, out_size=tw.SIZE)
                 for item in action.test]
    videos = [c.load() for c in action.train]
    start = time.perf_counter()
    method.fit(action, videos, action.prompt)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    outs = [method.animate(item.reference(), action.prompt, tw.NUM_FRAMES, seed=i) for i, item in enumerate(action.test)]
    sample_s = (time.perf_counter() - start) / len(outs)
    truths = [item.ground_truth.load() for item in action.test]
    print(f"action {action.id}: fit {fit_s:.1f} s ({method.last_fit}), sampling {sample_s:.2f} s/video")
    from flash_bench import yardstick

    model, _ = yardstick.load()
    print(f"  {'':14s} {'|Δframe|':>9s} {'jitter':>7s}  yardstick: accuracy, classes seen")
    for name, vids in (("flash", outs), ("base (no fit)", base_only), ("ground truth", truths)):
        logp = yardstick.log_probs(model, vids)
        acc = yardstick.scores(logp, [action.id] * len(vids))["accuracy"].mean()
        seen = ", ".join(yardstick.CLASSES[i] for i in logp.argmax(axis=1))
        print(f"  {name:14s} {np.mean([frame_difference_energy(v) for v in vids]):9.2f} "
              f"{np.mean([jitter(v) for v in vids]):7.2f}  {acc:.2f}: {seen}")
    print(f"  {'static':14s} {0:9.2f} {0:7.2f}")
    if args.gif:
        from flash_bench.video_io import write_gif

        grid = np.concatenate([np.concatenate([t, o], axis=1) for t, o in zip(truths, outs)], axis=2)
        write_gif(args.gif, grid, fps=8)
        print(f"  wrote {args.gif} (top: ground truth, bottom: FLASH-tiny)")


if __name__ == "__main__":
    main()
