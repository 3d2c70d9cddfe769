"""Which sampling noise prior should the tiny profile use? FLASH-tiny as the main job runs it, per noise prior.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/tiny_noise_prior.py [--shared 0,0.3,0.8] [--actions a,b]

For each few-shot action of ``synthetic``: FLASH (the registered method, the tiny profile's full model #6, its
default fit on the 16 training videos), then its 4 test references animated from initial noise with fraction
``s`` of the variance shared by all frames (``flash_bench.tiny_world.video_noise``; ``NOISE_SHARED`` is the
shipped choice). Printed per action and ``s``: the yardstick's answers, then over all actions per ``s``: action
accuracy, the share answered "no action", mean |frame - frame 1| ("drift") and mean |Δframe| ("change"),
beside the ground truth's. Same fit, the main job's seeds for every ``s``: only the initial noise differs.
docs/tiny_profile.md has the figures that chose ``NOISE_SHARED``.
"""
from __future__ import annotations

import argparse
import time

import numpy as np


def drift(v: np.ndarray) -> float:
    return float(np.abs(v[1:].astype(float) - v[:1]).mean())


def change(v: np.ndarray) -> float:
    return float(np.abs(np.diff(v.astype(float), axis=0)).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", default="0,0.3,0.8", help="comma list of shared-noise fractions s")
    parser.add_argument("--actions", default="", help="comma list of action ids (default: all 12)")
    parser.add_argument("--cache-dir", default="results/cache", help="FLASH fits are cached here")
    args = parser.parse_args()

    import torch

    from flash_bench import yardstick
    from flash_bench.datasets.synthetic import SyntheticDataset
    from flash_bench.registry import METHODS
    from flash_bench.runner import item_seed
    from flash_bench.tiny_world import NOISE_SHARED, NUM_FRAMES, SIZE
    from flash_bench.types import MethodContext

    torch.set_num_threads(1)
    shared = [float(s) for s in args.shared.split(",")]
    actions = SyntheticDataset().actions()
    if args.actions:
        wanted = args.actions.split(",")
        actions = [a for a in actions if a.id in wanted]
        if len(actions) != len(wanted):
            raise SystemExit(f"unknown action in {wanted}")
    model, _ = yardstick.load()
    method = METHODS.get("flash")(MethodContext(profile="tiny", size=SIZE, num_frames=NUM_FRAMES,
                                                cache_dir=args.cache_dir))
    print(f"shipped NOISE_SHARED = {NOISE_SHARED}")
    stats = {s: {"hits": 0, "refused": 0, "drift": [], "change": []} for s in shared}
    gt_drift, gt_change, n = [], [], 0
    for action in actions:
        start = time.perf_counter()
        method.fit(action, [c.load() for c in action.train], action.prompt)
        truth = [item.ground_truth.load() for item in action.test]
        gt_drift += [drift(v) for v in truth]
        gt_change += [change(v) for v in truth]
        n += len(truth)
        for s in shared:
            method.base.noise_shared = s
            videos = [method.animate(item.reference(), action.prompt, NUM_FRAMES, item_seed(0, action.id, item.id))
                      for item in action.test]
            answers = [yardstick.answer(lp) for lp in yardstick.log_probs(model, videos)]
            st = stats[s]
            st["hits"] += sum(a == action.id for a in answers)
            st["refused"] += sum(a == yardstick.NO_ACTION for a in answers)
            st["drift"] += [drift(v) for v in videos]
            st["change"] += [change(v) for v in videos]
            print(f"{action.id:22s} s={s:<4}: {', '.join(answers)}", flush=True)
        print(f"  ({time.perf_counter() - start:.0f} s)", flush=True)
    print(f"\n{n} test videos; ground truth: drift {np.mean(gt_drift):.1f}, change {np.mean(gt_change):.1f}")
    print("| s | action accuracy | no action | drift | change |\n| --- | ---: | ---: | ---: | ---: |")
    for s, st in stats.items():
        print(f"| {s} | {100 * st['hits'] / n:.1f}% | {100 * st['refused'] / n:.1f}% | {np.mean(st['drift']):.1f} | "
              f"{np.mean(st['change']):.1f} |")


if __name__ == "__main__":
    main()
