"""FLASH speed on the tiny profile (issue 4 targets).

1. Training: one FLASH step (variant #5: pair [original; augmented], motion + correspondence alignment)
   vs one variant-#1 step (original video only). Target ≤ 2.1x (the pair alone makes 2.0x the floor).
2. Sampling: FLASH's ``animate`` (cross-frame attention, reference frame at every step, AdaIN) vs diffusers'
   ``AnimateDiffPipeline`` with the same tiny components, frames, size, 25 steps and CFG 7.5. Target ≤ 1.05x.
   Two references: the pipeline on the plain UNet (FLASH's whole cost: cross-frame attention doubles the keys
   of every spatial self-attention) and on the same UNet with FLASH's cross-frame processors (the cost of
   FLASH's sampling loop alone: reference latent at every step, AdaIN, encoding the reference image).

    .venv/bin/python benchmarks/flash_speed.py [--repeats 5] [--base-dir flash/weights/tiny_base]

Uses the shipped tiny base when present (a random tiny base otherwise — speed does not depend on the
weights). Prints medians; wall-clock on a shared machine is noisy, so compare ratios from one run.
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch


def _median_seconds(fn, repeats: int, warmup: int = 1) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _base(base_dir):
    from flash.base_model import build_tiny_components, load_tiny_base

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
    out = {}
    for number in (1, 5):
        trainer = FlashTrainer(_base(base_dir), variant(number, batch=1))
        out[f"variant{number}_step_s"] = _median_seconds(lambda: trainer.step(videos), repeats)
    out["train_ratio"] = out["variant5_step_s"] / out["variant1_step_s"]
    return out


def sampling_ratio(base_dir, repeats: int, frames: int, steps: int) -> dict:
    from diffusers import AnimateDiffPipeline, DDIMScheduler

    from flash.cross_frame_attention import apply_cross_frame_attention
    from flash.sampling import SamplingConfig, animate

    flash_base = _base(base_dir)
    apply_cross_frame_attention(flash_base.unet)
    image = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    cfg = SamplingConfig(steps=steps, guidance=7.5)
    flash_s = _median_seconds(lambda: animate(flash_base, image, "a person is waving.", frames, 0, cfg), repeats)
    out = {"flash_sample_s": flash_s}
    for key, cross_frame in (("", False), ("_cross_frame_unet", True)):
        plain = _base(base_dir)
        if cross_frame:
            apply_cross_frame_attention(plain.unet)
        pipe = AnimateDiffPipeline(vae=plain.vae, text_encoder=plain.text_encoder, tokenizer=plain.tokenizer,
                                   unet=plain.unet, motion_adapter=None,
                                   scheduler=DDIMScheduler.from_config(plain.scheduler.config))
        pipe.set_progress_bar_config(disable=True)

        def run_pipe():
            pipe("a person is waving.", num_frames=frames, height=64, width=64, num_inference_steps=steps,
                 guidance_scale=7.5, generator=torch.Generator().manual_seed(0), output_type="np")

        out[f"animatediff_pipeline{key}_s"] = _median_seconds(run_pipe, repeats)
        out[f"sample_ratio{key}"] = flash_s / out[f"animatediff_pipeline{key}_s"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
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
