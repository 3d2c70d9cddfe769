"""The one narrow interface every animation method implements (FLASH, the six baselines, static, oracle).

The runner calls nothing else: ``fit`` once per action with its training videos (few-shot training,
may be a no-op), then ``animate`` once per test item. Fitted weights belong under
``ctx.cache_dir`` keyed by what they depend on, so a second run reuses them.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Sequence

from flash_bench.types import Action, ImageArray, MethodContext, TestItem, VideoArray


class Method(ABC):
    name: str = ""
    needs_ground_truth: bool = False   # only the oracle reads the answer

    def __init__(self, ctx: MethodContext):
        self.ctx = ctx

    def fit(self, action: Action, videos: Sequence[VideoArray], prompt: str) -> None:
        """Few-shot training on one action's videos. Training-free methods keep this no-op."""

    def fit_joint(self, actions: Sequence[Action]) -> None:
        """One model for several actions, each video with its own prompt (Table A1's joint training).

        The runner calls this once, before ``animate``, for a cell whose options name ``joint_actions``;
        ``fit`` is then not called.
        """
        raise NotImplementedError(f"method {self.name!r} has no joint training")

    @abstractmethod
    def animate(self, reference: ImageArray, prompt: str, num_frames: int, seed: int,
                item: TestItem | None = None) -> VideoArray:
        """Animate ``reference`` (uint8 (H, W, 3)) into uint8 (num_frames, H, W, 3).

        ``item`` is passed so that reference methods (the oracle) can reach the ground truth;
        generative methods must not read it.
        """

    def describe(self) -> dict:
        """Settings that identify this method's outputs (recorded in the manifest, part of cache keys)."""
        return {"name": self.name, "profile": self.ctx.profile, **self.ctx.options}
