"""Does the tiny base carry frame 1 over? The gate a base must pass before any few-shot fit is worth trying.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/tiny_base_copy_gate.py [--base-dir flash/weights/tiny_v2]

For training videos of every pool action, every random-choreography variant (the few-shot actions' poses,
props, scenes and company, dense and sparse: ``synthetic.VARIANT_ACTIONS``, ``SPARSE_ACTIONS``) and every
few-shot action, the base's one-step x0 prediction of
frames 2..F (noise-free first frame, cross-frame attention, its own prompt) is compared with the latent video,
as a share of the latent variance, at t = 999, 600 and 200; beside it, the error of "copy frame 1" (frames
2..F predicted as frame 1), which the base has in its input. Printed per group, with ``base ÷ copy`` at
t = 999. A base that has learned appearance is never worse than copying its input (ratio < 1 everywhere), and
its error floor at t = 200 lies below the size of a delicate action (``arm_wave``'s copy error). Beside it, the
error on the *static figure* — the latent pixels of the figure whose pixels never change (the renderer's mask) —
where copying frame 1 is all but exact: the share of the base's failure that is appearance, not motion.
docs/tiny_world_v2.md has the shipped base's figures.
"""
from __future__ import annotations

import argparse

import numpy as np
import torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-dir", default=None, help="a tiny base folder (default: the shipped one)")
    parser.add_argument("--videos", type=int, default=3, help="training videos per action")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)

    from diffusers import DDIMScheduler

    from flash_bench.cross_frame_attention import apply_cross_frame_attention
    from flash_bench.datasets.synthetic import SyntheticDataset, pretrain_pool, render
    from flash_bench.tiny_world import load_tiny_base, noisy_input, to_unit

    base = load_tiny_base(args.base_dir)
    apply_cross_frame_attention(base.unet)
    sched = DDIMScheduler.from_config(base.scheduler.config)
    sched.set_timesteps(25)                 # step() needs a schedule; only its x0 prediction is used
    groups: dict[str, list] = {}
    for action, prompt, clip in pretrain_pool(args.videos, 0, num_variants=args.videos):
        groups.setdefault(f"pool: {action}", []).append((action, prompt, int(clip.id)))
    for action in SyntheticDataset().actions():
        groups[action.id] = [(action.id, action.prompt, int(c.id)) for c in action.train[:args.videos]]
    gen = torch.Generator().manual_seed(args.seed)
    times = (999, 600, 200)
    print(f"{'videos':28s} " + " ".join(f"t={t:<5d}" for t in times)
          + "  copy    base÷copy (t=999)   static figure: base / copy (t=999)")
    worst, still = 0.0, []
    with torch.inference_mode():
        for name, items in groups.items():
            err, copy, fig = {t: [] for t in times}, [], []
            for action, prompt, index in items:
                video, mask = render(action, index)
                z0 = base.encode_frames(to_unit(video)).permute(1, 0, 2, 3)[None]  # (1, C, F, h, w)
                var = float(z0.var())
                emb = base.encode_prompts([prompt]).repeat_interleave(z0.shape[2], 0)
                copy.append(float(((z0[:, :, 1:] - z0[:, :, :1]) ** 2).mean()) / var)
                static = _static_figure(video, mask, z0.shape[-1])                # (h, w) latent pixels
                for t in times:
                    tt = torch.tensor([t])
                    x_t = noisy_input(sched, z0, torch.randn(z0.shape, generator=gen), tt)
                    x0 = sched.step(base.unet(x_t, tt, emb).sample, t, x_t).pred_original_sample
                    err[t].append(float(((x0 - z0)[:, :, 1:] ** 2).mean()) / var)
                    if t == 999 and static.any():
                        fig.append([float(((e[:, :, 1:] ** 2).mean((0, 1, 2))[static]).mean()) / var
                                    for e in (x0 - z0, z0[:, :, :1] - z0)])
            ratio = np.mean(err[999]) / np.mean(copy)
            worst = max(worst, ratio)
            figure = "-" if not fig else "{:.3f} / {:.4f}".format(*np.mean(fig, 0))
            still += fig
            print(f"{name:28s} " + " ".join(f"{np.mean(err[t]):.3f}  " for t in times)
                  + f"{np.mean(copy):.3f}   {ratio:.2f}              {figure}", flush=True)
    print(f"worst base÷copy at t=999: {worst:.2f} ({'PASS' if worst < 1 else 'FAIL'}: a base must beat copying frame 1)")
    b_fig, c_fig = np.mean(still, 0)
    print(f"static figure (latent pixels of the figure that never move), all groups: base {b_fig:.3f}, "
          f"copy {c_fig:.4f} (base ÷ copy {b_fig / c_fig:.0f})")


def _static_figure(video: np.ndarray, mask: np.ndarray, side: int):
    """bool (side, side): latent pixels covering the figure whose pixels never change over the clip."""
    import torch.nn.functional as F

    moving = torch.from_numpy(np.abs(np.diff(video.astype(np.int16), axis=0)).sum((0, 3)) > 0)[None, None]
    figure = torch.from_numpy(mask.any(0))[None, None]
    k = video.shape[1] // side
    pool = lambda m: F.max_pool2d(m.float(), k)[0, 0] > 0                      # noqa: E731
    return (pool(figure) & ~pool(moving)).numpy()


if __name__ == "__main__":
    main()
