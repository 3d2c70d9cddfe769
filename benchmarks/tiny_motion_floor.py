"""Can the tiny base carry an action at all? Memorise ONE training video, then sample it again from its own
first frame, and compare the sampler's frame-to-frame error with the size of the action in latent space.

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/tiny_motion_floor.py [--action arm_wave] [--steps 2000]

An upper bound for FLASH-tiny (issue 4, "moves in the action's way"): the few-shot fit sees 16 videos for 30
steps through the trainable subset only; here the whole UNet is trained on one video for ``--steps`` steps
(variant #1: no strong augmentation, but FLASH's shared random flip and crop, as every fit; 2,000 steps
≈ 17 min on two threads with the 8-head UNet) until its one-step x0 prediction is within about 1% of the latent
variance. Printed:

* ``motion share``: variance of the video's latents around their per-pixel temporal mean, as a fraction of the
  latent variance — how big the action is in the space the UNet works in;
* x0-prediction error on the *true* noised video at several timesteps (what training measures);
* for each sampler setting (DDIM steps, noise prior; CFG 1, no AdaIN): the sampled latents' *temporal* error
  (error minus its per-pixel temporal mean, same units as the motion share), jitter, the yardstick's probability
  of the action and how many samples it recognises. The action shows only where the temporal error is below
  the motion share.

Uses the shipped tiny base (or ``--base-dir``); tiny profile only (random tiny text encoder; the tiny world's geometry).
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch


def temporal_share(x: torch.Tensor, var: float) -> float:
    """Mean squared deviation from the per-pixel temporal mean of (1, C, F, h, w), as a fraction of ``var``."""
    return float(((x - x.mean(2, keepdim=True)) ** 2).mean() / var)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--action", default="arm_wave")
    parser.add_argument("--video", type=int, default=0, help="index of the training video to memorise")
    parser.add_argument("--steps", type=int, default=2000, help="memorisation steps (whole UNet)")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seeds", type=int, default=3, help="samples per sampler setting")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--base-dir", default=None, help="a tiny base folder (default: the shipped one)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from flash_demo import jitter

    from flash.config import variant
    from flash.sampling import SamplingConfig, sample_latents
    from flash.train import FlashTrainer, TrainingVideo
    from flash_bench import yardstick
    from flash_bench.datasets.synthetic import SyntheticDataset
    from flash_bench.tiny_world import load_tiny_base, noisy_input, to_uint8, to_unit

    action = next((a for a in SyntheticDataset().actions() if a.id == args.action), None)
    if action is None:
        raise SystemExit(f"unknown synthetic action {args.action!r}")
    if not 0 <= args.video < len(action.train):
        raise SystemExit(f"--video {args.video}: {action.id} has training videos 0-{len(action.train) - 1}")
    video = action.train[args.video].load()
    base = load_tiny_base(args.base_dir)
    trainer = FlashTrainer(base, variant(1, lr=args.lr, steps=args.steps))
    size = trainer.cfg.native_size
    for p in base.unet.parameters():          # the whole UNet, not FLASH's trainable subset: an upper bound
        p.requires_grad_(True)
    trainer.optimizer = torch.optim.AdamW(base.unet.parameters(), lr=args.lr)
    start, losses = time.perf_counter(), []
    from tqdm.auto import trange

    for _ in trange(args.steps, desc="memorising one video"):
        losses.append(trainer.step([TrainingVideo(video, action.prompt)]))
    if losses:
        k = max(1, args.steps // 5)
        print(f"memorised {action.id} #{args.video}: loss {np.mean(losses[:k]):.4f} -> {np.mean(losses[-k:]):.4f} "
              f"in {time.perf_counter() - start:.0f} s")

    from diffusers import DDIMScheduler

    sched = DDIMScheduler.from_config(base.scheduler.config)
    sched.set_timesteps(25)                   # step() needs a schedule; only its x0 prediction is used below
    with torch.inference_mode():
        z0 = base.encode_frames(to_unit(video, size)).permute(1, 0, 2, 3)[None]   # (1, C, F, h, w)
        var = float(z0.var())
        motion = temporal_share(z0, var)
        print(f"motion share of the latent variance: {motion:.4f}")
        emb = base.encode_prompts([action.prompt]).repeat_interleave(z0.shape[2], 0)
        gen = torch.Generator().manual_seed(0)
        for t in (999, 700, 400, 100):
            tt = torch.tensor([t])
            noise = torch.randn(z0.shape, generator=gen)
            x_t = noisy_input(sched, z0, noise, tt)
            x0 = sched.step(base.unet(x_t, tt, emb).sample, t, x_t).pred_original_sample
            err = (x0 - z0)[:, :, 1:]
            print(f"  true noised video, t={t:3d}: x0 error {float((err ** 2).mean()) / var:.4f}, "
                  f"temporal {temporal_share(err, var):.4f}")

    ys, _ = yardstick.load()
    target = yardstick.CLASSES.index(action.id)
    print(f"ground truth: jitter {jitter(video):.2f}, yardstick p({action.id}) "
          f"{float(np.exp(yardstick.log_probs(ys, [video])[0, target])):.3f}")
    prior = base.noise_shared
    for shared, steps in ((prior, 8), (prior, 25), (prior, 50), (0.0, 25)):
        base.noise_shared = shared
        cfg = SamplingConfig(steps=steps, guidance=1.0, adain=False)
        errs, videos = [], []
        for seed in range(args.seeds):
            latents = sample_latents(base, z0[:, :, 0], action.prompt, z0.shape[2], seed, cfg)
            errs.append(temporal_share((latents - z0)[:, :, 1:], var))
            with torch.inference_mode():
                videos.append(to_uint8(base.decode_latents(latents[0].permute(1, 0, 2, 3))))
        logp = yardstick.log_probs(ys, videos)
        p, hits = np.exp(logp[:, target]).mean(), int((logp.argmax(1) == target).sum())
        print(f"  sampled, noise prior s={shared:.1f}, DDIM {steps:2d}: temporal error "
              f"{np.mean(errs):.4f} ({np.mean(errs) / motion:.1f}x the motion), jitter "
              f"{np.mean([jitter(v) for v in videos]):.2f}, p({action.id}) {p:.3f} (chance 0.083), recognised "
              f"{hits}/{len(videos)}")


if __name__ == "__main__":
    main()
