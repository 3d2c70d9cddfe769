"""FlashConfig: every setting of FLASH training and sampling, with the ``paper``/``tiny`` profiles and the
ablation variants #1–#6 of Table 2 as named values.

Variants (Table 2): #1 baseline (no strong augmentation, no alignment, no decoder); #2 strong augmentation
only (pair [original; augmented], loss eq. 2 on both); #3 + motion feature alignment; #4 + inter-frame
correspondence alignment (without #3); #5 both alignments (FLASH's Motion Alignment Module); #6 #5 + the
Detail Enhancement Decoder.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass

from flash_bench.tiny_world import DDIM_STEPS as TINY_DDIM_STEPS, SIZE as TINY_SIZE
from flash_bench.types import InputError, Profile
from flash_bench.variants import VARIANT_SWITCHES


@dataclass(frozen=True)
class FlashConfig:
    profile: Profile = Profile.TINY
    # Motion Alignment Module (Sec. 3.2, A3.2)
    strong_aug: bool = True
    motion_align: bool = True
    corr_align: bool = True
    tau: float = 90.0                   # motion channels: s above the τ-percentile
    p: float = 0.5                      # fraction of cross-frame attention layers aligned per step
    # training (A3.2)
    steps: int = 20_000
    lr: float = 5e-5
    batch: int = 1                      # videos per step (the pair doubles it)
    alpha: float = 0.5                  # timestep importance sampling p(t) ∝ 1 − α cos(πt/T)
    uniform_timesteps: bool = False
    grad_checkpointing: bool = False    # recompute every ResNet, spatial transformer, motion module (train.py)
    crop_scale: float = 0.8             # random crop keeps ≥ this fraction of each side
    seed: int = 0
    # sampling (A3.2 "Inference")
    sample_steps: int = 25
    guidance: float = 7.5
    adain: bool = True
    decoder: str | None = None          # Detail Enhancement Decoder checkpoint (variant #6)
    # model
    native_size: int = 512              # the base model's canvas (tiny: flash_bench.tiny_world.SIZE)
    base_dir: str | None = None         # tiny: another pretrained tiny base folder
    sd_path: str = "stable-diffusion-v1-5/stable-diffusion-v1-5"
    adapter_path: str = "guoyww/animatediff-motion-adapter-v1-5-2"

    def __post_init__(self):
        object.__setattr__(self, "profile", Profile.parse(self.profile))
        if not 0 <= self.tau <= 100:
            raise InputError(f"tau is a percentile in [0, 100], got {self.tau}")
        if not 0 <= self.p <= 1:
            raise InputError(f"p is a fraction in [0, 1], got {self.p}")
        if (self.motion_align or self.corr_align) and not self.strong_aug:
            raise InputError("motion/correspondence alignment need strong_aug=True (they align a pair)")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "FlashConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise InputError(f"unknown FLASH config keys {unknown}; known: {sorted(known)}")
        return cls(**d)

    def replace(self, **changes) -> "FlashConfig":
        return FlashConfig.from_dict({**self.to_dict(), **changes})

    def sha256(self) -> str:
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()


PAPER = FlashConfig(profile=Profile.PAPER, native_size=512, grad_checkpointing=True)
# Tiny: fine-tunes the shipped tiny base (the tiny world's geometry, flash_bench.tiny_world; v-prediction) and
# samples with the DDIM steps every tiny method gets. 30 steps at a higher lr stand in for the paper's 20k at 5e-5.
TINY = FlashConfig(profile=Profile.TINY, native_size=TINY_SIZE, steps=30, lr=4e-4, batch=1,
                   sample_steps=TINY_DDIM_STEPS)

def profile_config(profile: Profile | str) -> FlashConfig:
    return {Profile.TINY: TINY, Profile.PAPER: PAPER}[Profile.parse(profile)]


def variant(number: int, profile: Profile | str = Profile.TINY, **overrides) -> FlashConfig:
    """Ablation preset #1–#6 (Table 2) of a profile, with optional overrides (e.g. ``tau=50``)."""
    if number not in VARIANT_SWITCHES:
        raise InputError(f"unknown FLASH variant #{number}: expected 1-6")
    switches = VARIANT_SWITCHES[number]
    training = {k: v for k, v in switches.items() if k != "decoder"}     # the decoder is a path, given as one
    cfg = profile_config(profile).replace(**training, **overrides)
    if switches["decoder"] and not cfg.decoder:
        raise InputError(f"variant #{number} needs a Detail Enhancement Decoder checkpoint (decoder=PATH)")
    return cfg
