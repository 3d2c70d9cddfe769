"""How the tiny UNet's head split sets its training speed: one pretraining step (batch 4 × 8 frames of 16×16×4
latents, cross-frame attention, forward + backward) of the tiny base's UNet as configured
(``tiny_world.COMPONENTS``) against the same UNet with diffusers' ``attention_head_dim`` = 8, the value the
tiny base had before: diffusers reads it as the *number of heads*, which split the 32 / 64 channels into heads of
4 / 8, and the CPU attention kernel's cost grows with the head count. Same parameters, same FLOPs elsewhere.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/tiny_unet_heads.py [--repeats 3]

Steps alternate between the two, so a shared machine's load hits both alike. Prints each one's best step time and the ratio (target: the configured UNet ≥ 2× faster).
"""
from __future__ import annotations

import argparse
import copy
import time


def build(heads: int | None):
    """(step function, parameter count) of the tiny UNet with ``heads`` (None: as configured)."""
    import torch

    from flash.pretrain_base import unet_step
    from flash_bench.cross_frame_attention import apply_cross_frame_attention
    from flash_bench.tiny_world import COMPONENTS, build_tiny_components

    comp = copy.deepcopy(COMPONENTS)
    if heads is not None:
        comp["unet"]["attention_head_dim"] = heads
    base = build_tiny_components(0, comp)
    apply_cross_frame_attention(base.unet)
    base.unet.train().requires_grad_(True)
    emb = base.encode_prompts(["a person is moving."]).repeat(4, 1, 1)
    z = torch.randn(4, 4, 8, 16, 16, generator=torch.Generator().manual_seed(0))
    gen = torch.Generator().manual_seed(0)

    def step() -> float:
        start = time.perf_counter()
        unet_step(base, z, emb, gen).backward()
        return time.perf_counter() - start
    return step, sum(p.numel() for p in base.unet.parameters())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    from flash_bench.tiny_world import COMPONENTS

    (ours_step, n_ours), (old_step, n_old) = build(None), build(8)
    assert n_ours == n_old
    ours_step(), old_step()                                # warm-up
    times = [(ours_step(), old_step()) for _ in range(args.repeats)]   # interleaved: the same load for both
    ours, old = (min(t) for t in zip(*times))
    print(f"tiny UNet, {COMPONENTS['unet']['attention_head_dim']} heads: {ours:.2f} s/step; "
          f"8 heads: {old:.2f} s/step ({n_ours / 1e6:.2f} M parameters each)")
    ratio = old / ours
    print(f"speed-up {ratio:.1f}x ({'PASS' if ratio >= 2 else 'FAIL'}: target >= 2x)")


if __name__ == "__main__":
    main()
