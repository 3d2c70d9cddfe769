"""CLIP frame, reference-image and prompt embeddings (open_clip) for the three CLIP metrics of A3.3.

``paper``: open_clip ``ViT-L-14`` with the OpenAI weights (QuickGELU, as OpenAI trained it), loaded from the
local file :mod:`flash_bench.weights` resolves. ``tiny``: the same open_clip ``CLIP`` class from a reduced
config — suite-trained weights for a dataset geometry that has them (:mod:`flash_bench.features.trained`;
trained by :func:`flash_bench.backbones_train.train_clip`), seeded random weights otherwise. All use open_clip's
own evaluation preprocessing (bicubic resize of the shorter side, centre crop, OpenAI mean/std) and its bundled
BPE tokenizer, so everything runs offline; the trained tiny model reads the BPE ids through
:class:`CompactTokenizer` (the ids its captions used; every other id hashed to one of a few "unknown" ids, so
that different unseen words stay apart). Embeddings are L2-normalised float32.
"""
from __future__ import annotations

import contextlib
import json
import logging
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from flash_bench.types import InputError, Profile

VERSION = "1"  # preprocessing / feature definition version (keys the feature cache)

TINY_CFG = {
    "embed_dim": 64,
    "quick_gelu": True,
    "vision_cfg": {"image_size": 64, "layers": 2, "width": 64, "head_width": 32, "patch_size": 16,
                   "pool_type": "avg"},  # mean of patch tokens: random weights still give input-dependent features
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 2},
}


def unknown_row(bpe_ids, rows: int):
    """The "unknown" id (1..``rows``) of BPE ids outside a compact vocabulary: a fixed multiplicative hash, so
    that different unseen words mostly land on different rows and a word always on the same one."""
    import torch

    h = (torch.as_tensor(bpe_ids, dtype=torch.long) * 2654435761) % 2 ** 32          # Knuth's hash
    return 1 + (h >> 16) % rows


class CompactTokenizer:
    """open_clip's BPE tokenizer with its ids mapped onto a small vocabulary: 0 = padding, 1..``unknown_ids`` =
    any id not in ``ids`` (by :func:`unknown_row`), then ``ids[k]`` at ``1 + unknown_ids + k``, then
    start-of-text and end-of-text (the largest id, as open_clip's ``argmax`` text pooling requires)."""

    def __init__(self, ids: list[int], context_length: int, unknown_ids: int = 1):
        import open_clip
        import torch

        if int(unknown_ids) < 1:
            raise InputError(f"unknown_ids must be >= 1, got {unknown_ids}")
        self.bpe, self.context_length = open_clip.get_tokenizer("ViT-B-32"), int(context_length)
        self.ids = sorted(set(int(i) for i in ids) - {0, self.bpe.sot_token_id, self.bpe.eot_token_id})
        self.unknown_ids = int(unknown_ids)
        first = 1 + self.unknown_ids                                            # compact id of ids[0]
        self.vocab_size = first + len(self.ids) + 2
        table = unknown_row(torch.arange(max(self.bpe.eot_token_id, self.bpe.sot_token_id) + 1), self.unknown_ids)
        table[0] = 0
        table[torch.tensor(self.ids, dtype=torch.long)] = torch.arange(first, first + len(self.ids))
        table[self.bpe.sot_token_id], table[self.bpe.eot_token_id] = self.vocab_size - 2, self.vocab_size - 1
        self.table, self.first_word = table, first

    def __call__(self, texts):
        return self.table[self.bpe(texts, context_length=self.context_length)]   # (N, context_length)

    def words(self, tokens):
        """bool mask of the known word ids in compact ``tokens`` (not padding, unknown, start or end)."""
        return (tokens >= self.first_word) & (tokens < self.vocab_size - 2)


@dataclass
class ClipBackbone:
    model: torch.nn.Module
    preprocess: object             # open_clip's eval transform: PIL image → (3, S, S) tensor
    tokenizer: object
    info: dict = field(default_factory=dict)
    batch_size: int = 32

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def id(self) -> str:
        return self.info["backbone"]

    @torch.inference_mode()
    def encode_frames(self, frames: np.ndarray) -> np.ndarray:
        """uint8 (T, H, W, 3) → L2-normalised (T, D) float32 image embeddings."""
        from PIL import Image

        out = []
        for start in range(0, len(frames), self.batch_size):
            batch = torch.stack([self.preprocess(Image.fromarray(f)) for f in frames[start:start + self.batch_size]])
            emb = self.model.encode_image(batch.to(self.device))
            out.append(torch.nn.functional.normalize(emb.float(), dim=-1).cpu())
        return torch.cat(out).numpy()

    @torch.inference_mode()
    def encode_texts(self, texts: list[str]) -> np.ndarray:
        """Prompts → L2-normalised (N, D) float32 text embeddings."""
        emb = self.model.encode_text(self.tokenizer(texts).to(self.device))
        return torch.nn.functional.normalize(emb.float(), dim=-1).cpu().numpy()


def tiny_model(model_cfg: dict):
    """(open_clip ``CLIP`` from ``model_cfg``, its eval preprocessing), random weights."""
    import open_clip

    with tempfile.TemporaryDirectory() as d, _quiet_logging():
        (Path(d) / "open_clip_config.json").write_text(json.dumps({"model_cfg": model_cfg}))
        model, _, preprocess = open_clip.create_model_and_transforms(f"local-dir:{d}")  # no weights: random
    return model, preprocess


def build(profile: Profile | str, weights_dir=None, seed: int = 0, geometry=None) -> ClipBackbone:
    """``geometry``: (num_frames, size) of the dataset scored — picks the tiny profile's trained weights."""
    import open_clip

    from flash_bench.features import trained

    if Profile.parse(profile) is Profile.PAPER:
        from flash_bench import weights

        path = weights.resolve("clip-vit-l-14-openai", weights_dir)
        model, _, preprocess = open_clip.create_model_and_transforms("ViT-L-14-quickgelu", pretrained=str(path))
        tokenizer = open_clip.get_tokenizer("ViT-L-14-quickgelu")
        info = {"backbone": "clip-ViT-L-14-openai", "weights": weights.provenance("clip-vit-l-14-openai", path)}
    elif (path := trained.path("clip", geometry)) is not None:
        rec = trained.record(path)
        model, preprocess = tiny_model(rec["config"]["model_cfg"])
        trained.load_into(model, path)
        cfg = rec["config"]
        tokenizer = CompactTokenizer(cfg["token_ids"], cfg["model_cfg"]["text_cfg"]["context_length"],
                                     cfg.get("unknown_ids", 1))          # records before hashed unknowns: 1
        info = {"backbone": "clip-tiny-vit", "weights": trained.provenance("clip", geometry, seed),
                "config": rec["config"]["model_cfg"]}
    else:
        torch.manual_seed(seed)
        model, preprocess = tiny_model(TINY_CFG)
        tokenizer = open_clip.get_tokenizer("ViT-B-32")  # the bundled OpenAI BPE, context length 77
        info = {"backbone": "clip-tiny-vit", "weights": f"random (seed {seed})", "config": TINY_CFG}
    return ClipBackbone(model.eval(), preprocess, tokenizer, {**info, "version": VERSION})


@contextlib.contextmanager
def _quiet_logging():
    """open_clip logs a warning for a config without weights — intended for the tiny profile."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)
