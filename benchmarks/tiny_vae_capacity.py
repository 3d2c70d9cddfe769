"""How much of a synthetic figure survives the tiny VAE? (issue 4: the limit on FLASH-tiny's motion.)

Trains tiny AutoencoderKLs of different latent shapes from scratch for the same wall time on the same pretrain-pool
frames (``flash.pretrain_base.train_vae``, one thread each, in turn), then reports held-out PSNR over whole frames
and over the figure alone (pixels that differ from the frame's median background), the action yardstick's
accuracy on the 48 ground-truth test videos after each VAE's round trip (can the action still be seen at all?),
and writes a PNG: per test reference of the 12 few-shot actions, the original, then each VAE's reconstruction.
The shipped tiny base's VAE (x8, 4 channels, trained 8 min, then tuned during UNet pretraining) is included as
it is. ``--out-dir`` keeps each trained VAE (diffusers ``save_pretrained``).

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/tiny_vae_capacity.py --minutes 6 --png /tmp/vae.png

The latent shape is what the UNet pays for: x4 quadruples its spatial positions, extra channels cost almost
nothing. Same-time comparisons from scratch, so the ranking is what matters, not the absolute dB.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch

CANDIDATES = {
    "x8-4ch": dict(latent_channels=4, down=4),
    "x8-16ch": dict(latent_channels=16, down=4),
    "x4-4ch": dict(latent_channels=4, down=3),
}


def vae_config(latent_channels: int, down: int) -> dict:
    from flash.base_model import TINY_COMPONENTS

    cfg = dict(TINY_COMPONENTS["vae"])
    widths = [16, 32, 48, 64][:down]
    return {**cfg, "latent_channels": latent_channels, "block_out_channels": widths,
            "down_block_types": ["DownEncoderBlock2D"] * down, "up_block_types": ["UpDecoderBlock2D"] * down}


def psnr(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> float:
    err = (a.astype(np.float64) - b.astype(np.float64)) ** 2
    mse = err[mask].mean() if mask is not None else err.mean()
    return float(10 * np.log10(255.0 ** 2 / max(mse, 1e-10)))


@torch.no_grad()
def reconstruct(vae, frames: np.ndarray) -> np.ndarray:
    from flash.pretrain_base import to_unit

    rec = vae.decode(vae.encode(to_unit(frames)).latent_dist.mean).sample.clamp(-1, 1)
    return ((rec + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=6.0, help="training wall time per candidate")
    parser.add_argument("--png", default=None, help="write the reconstruction grid here")
    parser.add_argument("--candidates", default=",".join(CANDIDATES), help="comma list of: " + ", ".join(CANDIDATES))
    parser.add_argument("--out-dir", default=None, help="save each trained VAE in a subfolder here")
    args = parser.parse_args()
    torch.set_num_threads(1)

    from diffusers import AutoencoderKL

    from flash.base_model import load_tiny_base
    from flash.pretrain_base import Log, PretrainConfig, pool_videos, train_vae
    from flash_bench.datasets.synthetic import SyntheticDataset

    cfg = PretrainConfig(vae_minutes=args.minutes, threads=1)
    frames = np.concatenate([v[::4] for v, _ in pool_videos(cfg)])               # 4 frames per pool video
    refs = np.stack([a.test[0].reference() for a in SyntheticDataset().actions()])   # held out: the 12 actions
    background = np.median(refs.reshape(len(refs), -1, 3), axis=1)[:, None, None, :]
    figure = np.abs(refs.astype(np.int16) - background).max(-1) > 24                 # (N, H, W)
    from flash_bench import yardstick

    judge, _ = yardstick.load()
    test, ids = yardstick.ground_truth_test_set(judge.cfg)
    vaes = {"shipped x8-4ch": load_tiny_base().vae}
    for name in (n.strip() for n in args.candidates.split(",")):
        if name not in CANDIDATES:
            parser.error(f"unknown candidate {name!r}; known: {', '.join(CANDIDATES)}")
        spec = CANDIDATES[name]
        torch.manual_seed(0)
        base = SimpleNamespace(vae=AutoencoderKL(**vae_config(**spec)))    # train_vae touches only .vae
        start = time.time()
        train_vae(base, frames, cfg, Log(Path(tempfile.mkdtemp()) / "vae.jsonl"))
        vaes[f"{name}, {args.minutes:g} min"] = base.vae.eval()
        print(f"trained {name} in {time.time() - start:.0f} s", flush=True)
        if args.out_dir:
            base.vae.save_pretrained(Path(args.out_dir) / name)
    rows = {"original": refs, **{name: reconstruct(vae, refs) for name, vae in vaes.items()}}
    print(f"{'VAE':28s} {'PSNR dB':>8s} {'figure PSNR dB':>15s} {'yardstick on GT round trip':>27s}")
    for name, vae in vaes.items():
        rec = rows[name]
        fig = np.broadcast_to(figure[..., None], rec.shape)
        trips = [reconstruct(vae, v) for v in test]
        acc = yardstick.scores(yardstick.log_probs(judge, trips), ids)["accuracy"].mean()
        print(f"{name:28s} {psnr(rec, refs):8.2f} {psnr(rec, refs, fig):15.2f} {acc:27.2f}")
    if args.png:
        from PIL import Image

        grid = np.concatenate([np.concatenate(list(r), axis=1) for r in rows.values()], axis=0)
        Image.fromarray(grid).resize((grid.shape[1] * 2, grid.shape[0] * 2), Image.NEAREST).save(args.png)
        print(f"wrote {args.png} (rows: {', '.join(rows)})")


if __name__ == "__main__":
    main()
