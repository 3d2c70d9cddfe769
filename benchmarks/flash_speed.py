"""FLASH speed on the tiny profile (issue 4 targets).

1. Training: one FLASH step (variant #5: pair [original; augmented], motion + correspondence alignment)
   vs one variant-#1 step (original video only). Target ≤ 2.1x (the pair alone makes 2.0x the floor).
2. Sampling: FLASH's ``animate`` (cross-frame attention, reference frame at every step, AdaIN) vs diffusers'
   ``AnimateDiffPipeline`` with the same tiny components, frames, size, 25 steps and CFG 7.5. Target ≤ 1.05x.
   Two references: the pipeline on the plain UNet (FLASH's whole cost: cross-frame attention doubles the keys
   of every spatial self-attention) and on the same UNet with FLASH's cross-frame processors (the cost of
   FLASH's sampling loop alone: reference latent at every step, AdaIN, encoding the reference image).

    .venv/bin/python benchmarks/flash_speed.py [--repeats 9] [--base-dir flash/weights/tiny_base]

Uses the shipped tiny base when present (a random tiny base otherwise — speed does not depend on the
weights). The compared calls are timed in interleaved rounds (one call of each per round, the order rotating);
a ratio is the median over rounds of the per-round ratio, so load that drifts during the run cancels out.
Block-wise medians (all FLASH calls, then all pipeline calls) moved by ±4% between runs here.
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch


def _interleaved(fns: dict, repeats: int, warmup: int = 1) -> dict[str, list[float]]:
    """Seconds per call of each function, timed in rounds that call every function once (the order rotating),
    so that a change in the machine's load hits all of them alike. Returns name -> one time per round."""
    names = list(fns)
    for _ in range(warmup):
        for name in names:
            fns[name]()
    times = {name: [] for name in names}
    for r in range(repeats):
        for name in names[r % len(names):] + names[:r % len(names)]:
            start = time.perf_counter()
            fns[name]()
            times[name].append(time.perf_counter() - start)
    return times


def _ratio(times: dict[str, list[float]], num: str, den: str) -> float:
    """Median over rounds of the per-round ratio (robust to load drifting between rounds)."""
    return statistics.median(a / b for a, b in zip(times[num], times[den], strict=True))


def _base(base_dir):
    from flash_bench.tiny_world import build_tiny_components, load_tiny_base

    try:
        return load_tiny_base(base_dir)
    except Exception:  # noqa: BLE001 — no shipped base yet: random weights time the same
        return build_tiny_components(0)


def training_ratio(base_dir, repeats: int, frames: int) -> dict:
    from flash.config import variant
    from flash.train import FlashTrainer, TrainingVideo
    from flash_bench.datasets.synthetic import render_video

    videos = [TrainingVideo(render_video("arm_wave", i, num_frames=frames, size=64), "a person is waving.")
              for i in range(2)]
    trainers = {number: FlashTrainer(_base(base_dir), variant(number, batch=1)) for number in (1, 5)}
    times = _interleaved({f"variant{n}_step_s": (lambda t=t: t.step(videos)) for n, t in trainers.items()}, repeats)
    out = {name: statistics.median(ts) for name, ts in times.items()}
    out["train_ratio"] = _ratio(times, "variant5_step_s", "variant1_step_s")
    return out


def sampling_ratio(base_dir, repeats: int, frames: int, steps: int) -> dict:
    from diffusers import AnimateDiffPipeline, DDIMScheduler

    from flash_bench.cross_frame_attention import apply_cross_frame_attention
    from flash.sampling import SamplingConfig, animate

    flash_base = _base(base_dir)
    apply_cross_frame_attention(flash_base.unet)
    image = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    cfg = SamplingConfig(steps=steps, guidance=7.5)
    fns = {"flash_sample_s": lambda: animate(flash_base, image, "a person is waving.", frames, 0, cfg)}
    for key, cross_frame in (("", False), ("_cross_frame_unet", True)):
        plain = _base(base_dir)
        if cross_frame:
            apply_cross_frame_attention(plain.unet)
        pipe = AnimateDiffPipeline(vae=plain.vae, text_encoder=plain.text_encoder, tokenizer=plain.tokenizer,
                                   unet=plain.unet, motion_adapter=None,
                                   scheduler=DDIMScheduler.from_config(plain.scheduler.config))
        pipe.set_progress_bar_config(disable=True)
        fns[f"animatediff_pipeline{key}_s"] = lambda pipe=pipe: pipe(
            "a person is waving.", num_frames=frames, height=64, width=64, num_inference_steps=steps,
            guidance_scale=7.5, generator=torch.Generator().manual_seed(0), output_type="np")
    times = _interleaved(fns, repeats)
    out = {name: statistics.median(ts) for name, ts in times.items()}
    for key in ("", "_cross_frame_unet"):
        out[f"sample_ratio{key}"] = _ratio(times, "flash_sample_s", f"animatediff_pipeline{key}_s")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--steps", type=int, default=25)
    parser.add_argument("--base-dir", default=None)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    result = {**training_ratio(args.base_dir, args.repeats, args.frames),
              **sampling_ratio(args.base_dir, args.repeats, args.frames, args.steps)}
    for key, value in result.items():
        print(f"{key:26s} {value:8.3f}")
    print(f"training  ratio target <= 2.1 (floor 2.0): {'OK' if result['train_ratio'] <= 2.1 else 'ABOVE'}")
    for key in ("sample_ratio", "sample_ratio_cross_frame_unet"):
        print(f"{key:30s} target <= 1.05: {'OK' if result[key] <= 1.05 else 'ABOVE'}")


if __name__ == "__main__":
    main()
