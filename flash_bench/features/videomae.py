"""VideoMAE-v2 video features for CD-FVD, through the cd-fvd package's own model and preprocessing code.

``paper``: cd-fvd's ``vit_giant_patch14_224`` (ViT-g/14, 1408-d, SSv2 fine-tuned head) with
``vit_g_hybrid_pt_1200e_ssv2_ft.pth`` resolved by :mod:`flash_bench.weights` (cd-fvd would download it
itself; we never let it). ``tiny``: cd-fvd's ``VisionTransformer`` class at reduced depth and width, seeded
random weights. Input as cd-fvd: uint8 (B, T, H, W, 3) → /255 → bilinear resize to 224², no mean/std
(``preprocess_videomae``); feature = ``forward_features`` (mean-pooled tokens + fc_norm).
"""
from __future__ import annotations

from functools import partial

import numpy as np
import torch

VERSION = "1"
TINY = {"embed_dim": 96, "depth": 2, "num_heads": 4, "patch_size": 32}  # 7×7×8 = 392 tokens at 224²


def build(profile: str, weights_dir=None, seed: int = 0, num_frames: int = 16):
    """(model in eval mode, provenance dict)."""
    from cdfvd.third_party.VideoMAEv2 import videomaev2_finetune as vm

    common = dict(img_size=224, num_classes=174, all_frames=num_frames, tubelet_size=2, use_mean_pooling=True)
    if profile == "paper":
        from flash_bench import weights

        path = weights.resolve("videomae-v2-g-ssv2", weights_dir)
        model = vm.vit_giant_patch14_224(pretrained=False, drop_path_rate=0.3, **common)
        model.load_state_dict(weights.load_state_dict(path))
        info = {"backbone": "videomae-v2-g14-ssv2", "weights": weights.provenance("videomae-v2-g-ssv2", path)}
    else:
        torch.manual_seed(seed)
        model = vm.VisionTransformer(mlp_ratio=48 / 11, qkv_bias=True,
                                     norm_layer=partial(torch.nn.LayerNorm, eps=1e-6), **TINY, **common)
        info = {"backbone": "videomae-v2-tiny", "weights": f"random (seed {seed})", "config": TINY}
    return model.eval(), {**info, "version": VERSION}


@torch.inference_mode()
def video_features(model, videos: np.ndarray) -> np.ndarray:
    """uint8 (B, T, H, W, 3) → (B, D) float32, exactly as cd-fvd's ``get_videomae_features`` computes them."""
    from cdfvd.third_party.VideoMAEv2.utils import preprocess_videomae

    if videos.shape[1] != model.num_frames:  # the positional table is for 16 frames: resample by video_io's rule
        idx = np.round(np.linspace(0, videos.shape[1] - 1, model.num_frames)).astype(int)
        videos = videos[:, idx]
    x = preprocess_videomae(np.ascontiguousarray(videos))  # (B, 3, T, 224, 224) in [0, 1]
    device = next(model.parameters()).device
    return model.forward_features(x.to(device)).float().cpu().numpy()
