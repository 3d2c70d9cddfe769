"""VideoMAE-v2 video features for CD-FVD, through the cd-fvd package's own model and preprocessing code.

``paper``: cd-fvd's ``vit_giant_patch14_224`` (ViT-g/14, 1408-d, SSv2 fine-tuned head) with
``vit_g_hybrid_pt_1200e_ssv2_ft.pth`` resolved by :mod:`flash_bench.weights` (cd-fvd would download it
itself; we never let it). ``tiny``: cd-fvd's ``VisionTransformer`` class at reduced depth and width —
suite-trained for a dataset geometry that has weights (:mod:`flash_bench.features.trained`; masked video
autoencoding on the world's pretraining pool, :func:`flash_bench.backbones_train.train_videomae`), seeded random
weights otherwise. Input as cd-fvd: uint8 (B, T, H, W, 3) → /255 → bilinear resize to the model's input size
(224² for both cd-fvd's model and the random tiny one, as ``preprocess_videomae``; 32² for the trained tiny one),
no mean/std; frames resampled to the model's frame count; feature = ``forward_features`` (mean-pooled tokens +
fc_norm). The tiny profile's CD-FVD does not read this featuriser (:data:`flash_bench.metrics.cd_fvd.FEATURISER`:
no tiny VideoMAE learned to see motion; docs/tiny_backbones.md).
"""
from __future__ import annotations

from functools import partial

import numpy as np
import torch

from flash_bench.types import Profile

VERSION = "1"
TINY = {"embed_dim": 96, "depth": 2, "num_heads": 4, "patch_size": 32}  # 7×7×8 = 392 tokens at 224²


def tiny_model(cfg: dict):
    """cd-fvd's ``VisionTransformer`` from keyword arguments (a trained tiny backbone's JSON config), random weights."""
    from cdfvd.third_party.VideoMAEv2 import videomaev2_finetune as vm

    return vm.VisionTransformer(norm_layer=partial(torch.nn.LayerNorm, eps=1e-6), **cfg)


def build(profile: Profile | str, weights_dir=None, seed: int = 0, num_frames: int = 16, geometry=None):
    """(model in eval mode, provenance dict). ``geometry``: (num_frames, size) of the dataset scored — picks the
    tiny profile's trained weights."""
    from cdfvd.third_party.VideoMAEv2 import videomaev2_finetune as vm

    from flash_bench.features import trained

    common = dict(img_size=224, num_classes=174, all_frames=num_frames, tubelet_size=2, use_mean_pooling=True)
    if Profile.parse(profile) is Profile.PAPER:
        from flash_bench import weights

        path = weights.resolve("videomae-v2-g-ssv2", weights_dir)
        model = vm.vit_giant_patch14_224(pretrained=False, drop_path_rate=0.3, **common)
        model.load_state_dict(weights.load_state_dict(path))
        info = {"backbone": "videomae-v2-g14-ssv2", "weights": weights.provenance("videomae-v2-g-ssv2", path)}
    elif (path := trained.path("videomae", geometry)) is not None:
        cfg = trained.record(path)["config"]
        model = tiny_model(cfg)
        trained.load_into(model, path)
        info = {"backbone": "videomae-v2-tiny", "weights": trained.provenance("videomae", geometry, seed),
                "config": cfg}
    else:
        torch.manual_seed(seed)
        model = tiny_model({"mlp_ratio": 48 / 11, "qkv_bias": True, **TINY, **common})
        info = {"backbone": "videomae-v2-tiny", "weights": f"random (seed {seed})", "config": TINY}
    return model.eval(), {**info, "version": VERSION}


@torch.inference_mode()
def video_features(model, videos: np.ndarray) -> np.ndarray:
    """uint8 (B, T, H, W, 3) → (B, D) float32, as cd-fvd's ``get_videomae_features`` computes them."""
    if videos.shape[1] != model.num_frames:  # the positional table is for num_frames: resample by video_io's rule
        idx = np.round(np.linspace(0, videos.shape[1] - 1, model.num_frames)).astype(int)
        videos = videos[:, idx]
    x = preprocess(videos, model.patch_embed.img_size[0])  # (B, 3, T, s, s) in [0, 1]
    device = next(model.parameters()).device
    return model.forward_features(x.to(device)).float().cpu().numpy()


def preprocess(videos: np.ndarray, size: int) -> torch.Tensor:
    """uint8 (B, T, H, W, 3) → float (B, 3, T, size, size): /255, each frame resized bilinearly
    (``align_corners=False``, no antialias) — cd-fvd's ``preprocess_videomae`` at ``size`` 224."""
    x = torch.from_numpy(np.ascontiguousarray(videos)).permute(0, 4, 1, 2, 3).float() / 255   # (B, 3, T, H, W)
    b, c, t, h, w = x.shape
    frames = x.permute(0, 2, 1, 3, 4).reshape(b * t, c, h, w)
    frames = torch.nn.functional.interpolate(frames, size=(size, size), mode="bilinear", align_corners=False)
    return frames.reshape(b, t, c, size, size).permute(0, 2, 1, 3, 4)
