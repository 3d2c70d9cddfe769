"""An offline CLIP tokenizer: transformers' ``CLIPTokenizer`` built from open_clip's bundled BPE.

SD1.5's tokenizer is the OpenAI CLIP BPE (49,408 ids, ``<|startoftext|>`` = 49406, ``<|endoftext|>`` = 49407,
77 tokens). open_clip ships the same merges file, so the tiny profile needs no download.
"""
from __future__ import annotations

import functools
import gzip
from pathlib import Path


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2/CLIP's reversible byte -> printable-unicode table: printable bytes map to themselves (first),
    the other bytes to 256, 257, ... (after them), in this order."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) \
        + list(range(ord("®"), ord("ÿ") + 1))
    others = [b for b in range(256) if b not in printable]
    return {**{b: chr(b) for b in printable}, **{b: chr(256 + i) for i, b in enumerate(others)}}


@functools.lru_cache(maxsize=1)
def clip_vocab_and_merges() -> tuple[dict[str, int], list[tuple[str, str]]]:
    import open_clip

    bpe = Path(open_clip.__file__).parent / "bpe_simple_vocab_16e6.txt.gz"
    lines = gzip.open(bpe).read().decode("utf-8").split("\n")
    merges = [tuple(m.split()) for m in lines[1:49152 - 256 - 2 + 1]]
    symbols = list(_bytes_to_unicode().values())
    vocab = symbols + [s + "</w>" for s in symbols] + ["".join(m) for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    return {tok: i for i, tok in enumerate(vocab)}, merges


def offline_clip_tokenizer():
    """A ``CLIPTokenizer`` identical in ids to SD1.5's, built without network access."""
    from transformers import CLIPTokenizer

    vocab, merges = clip_vocab_and_merges()
    return CLIPTokenizer(vocab=dict(vocab), merges=list(merges), model_max_length=77)
