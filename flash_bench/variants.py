"""FLASH's ablation variants #1–#6 (Table 2): the one table of their switches.

``flash.config.variant`` builds a variant's FlashConfig from it; the experiments' presets and Table 2's ✓/✗
columns derive from it. ``decoder``: with the Detail Enhancement Decoder (a checkpoint, given as decoder=PATH).
A leaf (it imports nothing), so the report side reads it without loading the method.
"""
VARIANT_SWITCHES: dict[int, dict[str, bool]] = {
    1: dict(strong_aug=False, motion_align=False, corr_align=False, decoder=False),
    2: dict(strong_aug=True, motion_align=False, corr_align=False, decoder=False),
    3: dict(strong_aug=True, motion_align=True, corr_align=False, decoder=False),
    4: dict(strong_aug=True, motion_align=False, corr_align=True, decoder=False),
    5: dict(strong_aug=True, motion_align=True, corr_align=True, decoder=False),
    6: dict(strong_aug=True, motion_align=True, corr_align=True, decoder=True),
}
FULL_MODEL = 6       # the paper's FLASH (Table 1): every component
