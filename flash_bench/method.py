"""The one narrow interface every animation method implements (FLASH, the six baselines, static, oracle).

The runner calls nothing else: ``fit`` once per action with its training videos (few-shot training,
may be a no-op), then ``animate`` once per test item. Fitted weights belong under
``ctx.cache_dir`` keyed by what they depend on, so a second run reuses them.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Sequence

from flash_bench.tiny_world import BASE_DIR
from flash_bench.types import Action, ImageArray, MethodContext, TestItem, VideoArray


REPO = Path(__file__).resolve().parent.parent   # shipped weights are named relative to the repository
TINY_BASE_WEIGHTS = tuple(str((BASE_DIR / f).relative_to(REPO)) for f in
                          ("config.json", "unet.safetensors", "vae.safetensors", "text_encoder.safetensors"))


class Method(ABC):
    name: str = ""
    needs_ground_truth: bool = False   # only the oracle reads the answer
    # The checkpoints the method loads, per profile: rows of flash_bench.weights (found in the weights folder) or files
    # and folders shipped in this repository (paths relative to its root). Their sha256 is part of every item key.
    weights: dict[str, tuple[str, ...]] = {}

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
        """The resolved settings that determine this method's outputs: part of every item's key (and record)."""
        return {"name": self.name, "profile": self.ctx.profile, **self.ctx.options}

    def weight_files(self) -> dict[str, Path]:
        """Every checkpoint file or folder the method loads, by name (default: :attr:`weights` of the profile). A
        row of :mod:`flash_bench.weights` that is absent raises its ``WeightsMissing``; a shipped file that is
        absent is left out (the method then runs without it, and its ``describe`` says so)."""
        from flash_bench import weights

        out = {}
        for name in self.weights.get(self.ctx.profile, ()):
            if name in weights.WEIGHTS:
                out[name] = weights.resolve(name, self.ctx.options.get("weights_dir"))
            elif (REPO / name).exists():
                out[name] = REPO / name
        return out
