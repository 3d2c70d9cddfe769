"""Inter-frame correspondence relation alignment (Sec. 3.2, eq. 5, A3.2).

In a random fraction p of the cross-frame attention layers (re-drawn every training step), the augmented
video's attention map S = Softmax(QKᵀ/√c) is computed from the *original* video's Q and K ("we replace Q and K
of the augmented video with those of the original video when calculating S", A3.2); its values stay its own,
so S^ori warps the augmented first frame. The batch is a pair [original; augmented].
"""
from __future__ import annotations

import torch

from flash_bench.cross_frame_attention import cross_frame_processors


def align_query_key(q: torch.Tensor, k: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """q (2B*F, N, C), k (2B*F, 2N, C), batch [original; augmented] -> augmented half's Q, K := original's."""
    half = q.shape[0] // 2
    return torch.cat([q[:half], q[:half]]), torch.cat([k[:half], k[:half]])


class CorrespondenceAlignment:
    """Chooses round(p·L) of the L cross-frame attention layers at random each step and switches them on."""

    def __init__(self, unet, p: float = 0.5, generator: torch.Generator | None = None):
        self.processors = cross_frame_processors(unet)
        if not self.processors:
            raise ValueError("correspondence alignment needs cross-frame attention (apply it first)")
        self.p, self.generator = p, generator

    def select(self) -> list[str]:
        """Draw this step's layers; returns their names."""
        count = round(self.p * len(self.processors))
        chosen = set(torch.randperm(len(self.processors), generator=self.generator)[:count].tolist())
        for i, proc in enumerate(self.processors):
            proc.qk_transform = align_query_key if i in chosen else None
        return [self.processors[i].name for i in sorted(chosen)]

    def clear(self) -> None:
        for proc in self.processors:
            proc.qk_transform = None
