"""Gates G1 and G2 of issue 17 for the tiny VAE on the v2 `synthetic` world: does the VAE keep the figure and
its motion?

* G1: round trip of the 48 test videos (4 per few-shot action) >= 30 dB PSNR on the figure's own pixels
  (the renderer's mask), printed with the whole-frame PSNR, and the shipped yardstick's recognition of the
  round-tripped videos (its argmax answer is the true action; gate >= 90%).
* G2: for every action, the latent temporal share (variance around each latent pixel's temporal mean, over
  the video's variance around each channel's mean) is >= 50% of the pixel temporal share of the same videos.
  Also printed: the same ratio with the whole array's variance as denominator ("pooled", the definition of
  ``tiny_motion_floor.py``), which counts the arbitrary offsets between latent channels' means as variance.

Either trains candidate geometries from scratch for the same wall time on the v2 pretrain pool (10 pool
actions + random choreographies, never the 12 test actions), or (``--base-dir``) judges the VAE of a
pretrained tiny base folder, e.g. ``flash/weights/tiny_v2``:

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/tiny_world_vae.py --minutes 5 --candidates 64px-x4,32px-x2
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/tiny_world_vae.py --base-dir flash/weights/tiny_v2
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/tiny_world_vae.py --base-dir flash/weights/tiny_v2 \
        --decoder-minutes 5,10,15    # then tune the decoder alone (``pretrain_base.DecoderTuner``) and re-judge

The decoder-only run asks whether G1 can be reached without retraining the encoder (whose latents the UNet
is pretrained on).

One thread. ``--png`` writes, per action, a test video's frames 0 and 4, original above each VAE's round trip.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch

# name -> (canvas size, encoder widths (one per level; levels - 1 = log2 of the downsampling), latent channels)
CANDIDATES = {
    "64px-x8": (64, [16, 32, 48, 64], 4),
    "64px-x4": (64, [16, 32, 64], 4),
    "32px-x2": (32, [32, 64], 4),
}


def vae_config(widths: list[int], latent_channels: int, size: int) -> dict:
    from flash_bench.tiny_world import COMPONENTS as TINY_COMPONENTS

    n = len(widths)
    return {**TINY_COMPONENTS["vae"], "latent_channels": latent_channels, "block_out_channels": list(widths),
            "down_block_types": ["DownEncoderBlock2D"] * n, "up_block_types": ["UpDecoderBlock2D"] * n,
            "sample_size": size}


def psnr(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> float:
    err = (a.astype(np.float64) - b.astype(np.float64)) ** 2
    mse = err[mask].mean() if mask is not None else err.mean()
    return float(10 * np.log10(255.0 ** 2 / max(mse, 1e-10)))


def temporal_share(x: np.ndarray, channel_axis: int | None = None) -> float:
    """(T, ...) array: mean squared deviation from each element's temporal mean, over the variance.

    ``channel_axis=None``: the variance of the whole array (as ``tiny_motion_floor.py``), which also counts the
    constant offsets between channels' means (a latent channel's mean is arbitrary, so this under-states the
    share of a VAE's latents); with a channel axis, each channel's variance around its own mean.
    """
    x = x.astype(np.float64)
    temporal = ((x - x.mean(0, keepdims=True)) ** 2).mean()
    if channel_axis is None:
        return float(temporal / max(x.var(), 1e-12))
    axes = tuple(i for i in range(x.ndim) if i != channel_axis % x.ndim)
    return float(temporal / max(((x - x.mean(axes, keepdims=True)) ** 2).mean(), 1e-12))


@torch.no_grad()
def round_trip(vae, video: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """uint8 (T, H, W, 3) -> (latent means (T, C, h, w), reconstruction uint8 (T, H, W, 3))."""
    from flash_bench.tiny_world import to_uint8, to_unit

    z = vae.encode(to_unit(video)).latent_dist.mean
    return z.numpy(), to_uint8(vae.decode(z).sample)


def test_set(size: int, num_frames: int) -> dict[str, list[tuple[np.ndarray, np.ndarray]]]:
    """action -> its 4 test videos (016-019) with their figure masks."""
    from flash_bench.datasets import synthetic as v2

    return {a: [v2.render(a, i, num_frames=num_frames, size=size) for i in range(v2.NUM_TRAIN, v2.NUM_VIDEOS)]
            for a in v2.ACTIONS}


def recognised(videos: np.ndarray, actions: list[str]) -> float | None:
    """Share of ``videos`` whose shipped-yardstick answer (argmax, "no action" included) is their action; None
    for a canvas the yardstick is not built for."""
    from flash_bench import yardstick

    model, _info = yardstick.load()
    if videos.shape[2] != model.cfg.size:
        return None
    answers = yardstick.answers(yardstick.log_probs(model, list(videos)))
    return float(np.mean([yardstick.CLASSES[k] == a if k < len(yardstick.CLASSES) else False
                          for k, a in zip(answers, actions)]))


def gates(vae, tests) -> dict:
    """G1 (figure and frame PSNR over all test videos) and G2 (per action latent/pixel temporal share)."""
    recs, origs, masks, per_action = [], [], [], {}
    for action, items in tests.items():
        shares = {k: [] for k in ("pixel", "latent", "pixel_pooled", "latent_pooled")}
        for video, mask in items:
            z, rec = round_trip(vae, video)                                  # z: (T, C, h, w)
            recs.append(rec), origs.append(video), masks.append(mask)
            for key, x, axis in (("pixel", video, -1), ("latent", z, 1)):
                shares[key].append(temporal_share(x, axis))
                shares[f"{key}_pooled"].append(temporal_share(x))
        m = {k: float(np.mean(v)) for k, v in shares.items()}
        per_action[action] = dict(pixel_share=m["pixel"], latent_share=m["latent"],
                                  ratio=m["latent"] / max(m["pixel"], 1e-12),
                                  ratio_pooled=m["latent_pooled"] / max(m["pixel_pooled"], 1e-12))
    rec, orig, mask = np.stack(recs), np.stack(origs), np.stack(masks)
    fig = np.broadcast_to(mask[..., None], rec.shape)
    recognition = recognised(rec, [a for a, items in tests.items() for _ in items])
    return dict(figure_psnr_db=psnr(rec, orig, fig), frame_psnr_db=psnr(rec, orig), actions=per_action,
                recognition=recognition,
                g1_pass=psnr(rec, orig, fig) >= 30.0 and (recognition is None or recognition >= 0.9),
                g2_pass=all(r["ratio"] >= 0.5 for r in per_action.values()),
                g2_pooled_pass=all(r["ratio_pooled"] >= 0.5 for r in per_action.values()), recs=rec)


def report(name: str, g: dict) -> None:
    verdict = {True: "pass", False: "FAIL"}
    rec = "n/a" if g["recognition"] is None else f"{100 * g['recognition']:.1f}%"
    print(f"\n== {name}: G1 figure PSNR {g['figure_psnr_db']:.2f} dB (frame {g['frame_psnr_db']:.2f} dB), "
          f"yardstick recognition {rec} -> {verdict[g['g1_pass']]} (>= 30 dB, >= 90%); "
          f"G2 -> {verdict[g['g2_pass']]} (every ratio >= 0.5; pooled-variance ratios: "
          f"{verdict[g['g2_pooled_pass']]})")
    print(f"   {'action':22s} {'pixel share':>11s} {'latent share':>12s} {'ratio':>6s} {'pooled ratio':>12s}")
    for a, r in g["actions"].items():
        print(f"   {a:22s} {r['pixel_share']:11.4f} {r['latent_share']:12.4f} {r['ratio']:6.2f} "
              f"{r['ratio_pooled']:12.2f}")
    for key in ("ratio", "ratio_pooled"):
        ratios = [r[key] for r in g["actions"].values()]
        print(f"   {key}: mean {np.mean(ratios):.2f}, min {np.min(ratios):.2f}", flush=True)


def train_candidate(name: str, minutes: float, pool_videos: int, pool_random: int, num_frames: int):
    from diffusers import AutoencoderKL

    from flash.pretrain_base import Log, PretrainConfig, train_vae
    from flash_bench.datasets import synthetic as v2

    size, widths, channels = CANDIDATES[name]
    pool = v2.pretrain_pool(pool_videos, pool_random, num_frames=num_frames, size=size)
    frames = np.concatenate([clip.load() for _, _, clip in pool])
    torch.manual_seed(0)
    base = SimpleNamespace(vae=AutoencoderKL(**vae_config(widths, channels, size)))   # train_vae touches only .vae
    start = time.time()
    train_vae(base, frames, PretrainConfig(vae_minutes=minutes, threads=1), Log(Path(tempfile.mkdtemp()) / "vae.jsonl"))
    params = sum(p.numel() for p in base.vae.parameters())
    print(f"trained {name} ({params / 1e6:.2f} M params, {len(frames)} pool frames) for {time.time() - start:.0f} s",
          flush=True)
    return base.vae.eval(), size


def tuned_decoders(base, minutes: list[float], args) -> dict:
    """Copies of ``base.vae`` after each cumulative number of minutes of decoder-only tuning on pool frames."""
    import copy

    from flash.pretrain_base import DecoderTuner, PretrainConfig
    from flash_bench.datasets import synthetic as v2

    base = copy.deepcopy(base)                   # the caller's VAE stays as it was
    size = int(base.vae.config.sample_size)
    pool = v2.pretrain_pool(args.pool_videos, args.pool_random, num_frames=args.frames, size=size)
    frames = np.concatenate([clip.load() for _, _, clip in pool])
    tuner, out, start = DecoderTuner(base, frames, PretrainConfig()), {}, time.time()
    for m in sorted(minutes):
        while time.time() - start < m * 60:
            tuner.step()
        out[f"{args.base_dir} VAE + decoder {m:g} min ({tuner.steps} steps)"] = (copy.deepcopy(base.vae), size)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=5.0, help="training wall time per candidate")
    parser.add_argument("--candidates", default="64px-x4,32px-x2", help="comma list of: " + ", ".join(CANDIDATES))
    parser.add_argument("--base-dir", default=None, help="judge this tiny base folder's VAE instead of training")
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--pool-videos", type=int, default=30, help="per pool action")
    parser.add_argument("--pool-random", type=int, default=300, help="random choreographies")
    parser.add_argument("--decoder-minutes", default="", help="with --base-dir: comma list of cumulative minutes "
                        "of decoder-only tuning on the pool after which to judge again")
    parser.add_argument("--json", default=None, help="write the figures here")
    parser.add_argument("--png", default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)

    vaes = {}
    if args.base_dir:
        from flash_bench.tiny_world import load_tiny_base

        base = load_tiny_base(args.base_dir)
        vaes[f"{args.base_dir} VAE"] = (base.vae, int(base.vae.config.sample_size))
        if args.decoder_minutes:
            vaes.update(tuned_decoders(base, [float(m) for m in args.decoder_minutes.split(",")], args))
    else:
        for name in (n.strip() for n in args.candidates.split(",")):
            if name not in CANDIDATES:
                parser.error(f"unknown candidate {name!r}; known: {', '.join(CANDIDATES)}")
            vaes[f"{name}, {args.minutes:g} min"] = train_candidate(name, args.minutes, args.pool_videos,
                                                                   args.pool_random, args.frames)
    results, tests = {}, {}
    for name, (vae, size) in vaes.items():
        tests.setdefault(size, test_set(size, args.frames))
        h = vae.config.latent_channels, *[size // 2 ** (len(vae.config.block_out_channels) - 1)] * 2
        g = gates(vae, tests[size])
        report(f"{name} ({size}x{size} -> latents {h[0]}x{h[1]}x{h[2]})", g)
        results[name] = {k: v for k, v in g.items() if k != "recs"} | {"size": size, "latent": list(h)}
        if args.png:
            originals = np.stack([items[0][0][[0, 4]] for items in tests[size].values()])   # (12, 2, H, W, 3)
            recs = g["recs"].reshape(len(tests[size]), 4, *g["recs"].shape[1:])[:, 0, [0, 4]]
            grid = np.concatenate([np.concatenate(list(np.concatenate(list(x), 0)), 1) for x in (originals, recs)], 0)
            from PIL import Image

            path = Path(args.png).with_name(f"{Path(args.png).stem}_{len(results)}{Path(args.png).suffix}")
            Image.fromarray(grid).resize((grid.shape[1] * 2, grid.shape[0] * 2), Image.NEAREST).save(path)
            print(f"wrote {path}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
