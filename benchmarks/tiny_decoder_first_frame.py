"""Does the Detail Enhancement Decoder keep what is clean? Issue 17's "FLASH's first frame matches the reference at
≥ 30 dB", measured on the decoders alone.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/tiny_decoder_first_frame.py [--decoder A.safetensors ...]

On the 48 test videos of `synthetic` (4 per action, the renderer's figure masks): each frame is encoded by the
shipped tiny VAE (posterior mean) and decoded by the plain VAE decoder and by each detail decoder (shipped, and
any given), with the video's clean frame 1 as the reference — what FLASH decodes when its latents are exact.
Printed: PSNR on the figure's pixels and on whole frames, frame 1 (the reference, the issue's ≥ 30 dB) and
frames 2..T (the clean round trip) apart. No sampling is involved: this is the decoder's ceiling, not FLASH's.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from tiny_world_vae import psnr, round_trip, test_set  # noqa: E402  (the G1 benchmark's PSNR, round trip, test set)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--decoder", action="append", default=[], help="a detail decoder checkpoint (repeatable)")
    args = parser.parse_args()
    torch.set_num_threads(1)

    from flash.detail_decoder import load_decoder
    from flash.method import TINY_DECODER_DIR
    from flash_bench.tiny_world import NUM_FRAMES, SIZE, load_tiny_base, to_uint8, to_unit

    vae = load_tiny_base().vae
    videos = [item for items in test_set(SIZE, NUM_FRAMES).values() for item in items]
    trips = [round_trip(vae, v) for v, _ in videos]                  # (latent means, plain decoder's frames)
    decoded = {"plain VAE decoder": [rec for _, rec in trips]}
    with torch.no_grad():
        for path in [TINY_DECODER_DIR / "both.safetensors", *map(Path, args.decoder)]:
            decoder = load_decoder(path, vae)
            decoded[str(path)] = [to_uint8(decoder.decode(torch.from_numpy(z), to_unit(v[:1])))
                                  for (z, _), (v, _) in zip(trips, videos)]
            decoder.remove()
    orig = np.stack([v for v, _ in videos])
    fig = np.broadcast_to(np.stack([m for _, m in videos])[..., None], orig.shape)
    print(f"{len(videos)} test videos, {orig.shape[1]} frames of {orig.shape[2]}x{orig.shape[3]}; PSNR in dB")
    print(f"{'decoder':60s} frame 1: figure / frame   frames 2..T: figure / frame")
    for name, rec in decoded.items():
        rec = np.stack(rec)
        first, rest = (slice(0, 1), slice(1, None))
        cells = [psnr(rec[:, s], orig[:, s], fig[:, s]) for s in (first, rest)]
        whole = [psnr(rec[:, s], orig[:, s]) for s in (first, rest)]
        print(f"{name[-60:]:60s} {cells[0]:6.2f} / {whole[0]:6.2f}          {cells[1]:6.2f} / {whole[1]:6.2f}")


if __name__ == "__main__":
    main()
