"""Suite-trained tiny metric backbones (issue 18): `flash-bench train backbone NAME`.

With random weights the tiny profile's CLIP, VideoMAE and I3D say nothing about a video. Here each is trained,
at reduced size and in the architecture family of its paper backbone, on one tiny world's **pretraining pool
only** — the world's pool actions and random choreographies (:func:`flash_bench.datasets.synthetic.pretrain_pool`),
never the 12 few-shot actions the benchmark scores — at that world's geometry (:data:`GEOMETRY`: 8 frames of
32×32), as the paper's backbones were pretrained on data other than HAA500:

  * ``clip``: open_clip ``CLIP`` (ViT image tower, causal text transformer) trained contrastively on single pool
    frames and captions made of the prompt and the clothing colours the renderer drew ("a person is walking,
    wearing red and blue."), the colours read off the figure's pixels (the renderer's mask) by the nearest
    palette colour, and on a caption pool (``caption_per_kind``) of random choreographies given the renderer's
    props (also held over the arm's whole reach: ``synthetic.REACH_ACTIONS``), scenes, a second person or lying,
    captioned with what is drawn (``synthetic.RANDOM_VARIANTS``);
  * ``videomae``: cd-fvd's VideoMAE-v2 ``PretrainVisionTransformer`` trained by masked video autoencoding with tube
    masking (raw-pixel targets: the per-patch normalised ones are noise on this world's flat patches); its
    encoder then goes into cd-fvd's ``VisionTransformer`` (the class the paper's CD-FVD uses) and is fine-tuned
    to classify the pool actions, as the SSv2 checkpoint was fine-tuned;
  * ``i3d_rgb``: :class:`~flash_bench.features.i3d.InceptionI3d` (piergiaj's keys) at width 1/8, trained to
    classify the pool actions (the Kinetics analogue);
  * ``raft``: torchvision's ``raft_small`` (the featuriser's 2-level correlation) supervised with RAFT's sequence
    loss on pool frames whose figure is moved rigidly over the scene (:func:`move_figure`: the flow is known exactly);
  * ``i3d_flow``: ``InceptionI3d(in_channels=2)`` classifying the pool actions from the shipped RAFT's flow.

Each run writes ``flash_bench/trained/<name>-tiny-v2.safetensors`` (fp16), its record ``.json`` (architecture
config, sha256, the command, training figures) and its log ``.log.jsonl`` (one line per logged step), atomically;
:mod:`flash_bench.features.trained` loads them for datasets of that geometry. Training runs on one CPU thread.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from flash_bench.features.trained import GEOMETRY, TRAINED_DIR, WORLD, file_name
from flash_bench.types import InputError
# names of synthetic.PALETTE's colours, in its order (a test checks each name against the RGB it stands for)
COLOUR_NAMES = ("red", "blue", "green", "yellow", "orange", "purple", "teal", "white", "black", "pink")
COLOUR_MIN_SHARE = 0.1                   # a colour names the clothes when >= this share of the figure's pixels
HELD_OUT_START = 5000                    # pool indices for the held-out figures (never trained on)


# ----------------------------------------------------------------------------- the pool

@dataclass(frozen=True)
class PoolConfig:
    videos_per_action: int = 60          # of each of the 10 pool actions
    random_videos: int = 300             # random choreographies
    seed: int = 0                        # render seed


@dataclass
class Pool:
    videos: np.ndarray                   # uint8 (N, T, S, S, 3)
    labels: np.ndarray                   # int64 (N,): index into classes()
    prompts: list[str]
    colours: list[tuple[str, ...]]       # clothing colour names, most pixels first
    masks: np.ndarray | None = None      # bool (N, T, S, S): the renderer's figure mask


def classes() -> tuple[str, ...]:
    """The pool's action classes: the 10 pretraining actions, then the random choreographies."""
    from flash_bench.datasets import synthetic as v2

    return (*v2.PRETRAIN_ACTIONS, v2.RANDOM_ACTION)


def clothing_colours(video: np.ndarray, mask: np.ndarray) -> tuple[str, ...]:
    """Names of the palette colours covering >= COLOUR_MIN_SHARE of the figure's pixels (at most 2, most first)."""
    from flash_bench.datasets.synthetic import PALETTE

    px = video[mask].astype(np.float64) / 255                                   # (P, 3) figure pixels
    if len(px) == 0:
        return ()
    dist = np.linalg.norm(px[:, None] - PALETTE[None], axis=-1)                 # (P, 10)
    near = dist.argmin(1)[dist.min(1) < 0.2]
    share = np.bincount(near, minlength=len(PALETTE)) / len(px)
    order = [int(i) for i in np.argsort(-share, kind="stable") if share[i] >= COLOUR_MIN_SHARE]
    return tuple(COLOUR_NAMES[i] for i in order[:2])


def render_pool(cfg: PoolConfig = PoolConfig(), start: int = 0, progress=None) -> Pool:
    """The pretraining pool at :data:`GEOMETRY` (videos of indices ``start``…), with labels and clothing colours."""
    from flash_bench.datasets import synthetic as v2

    entries = v2.pretrain_pool(cfg.videos_per_action, cfg.random_videos, *GEOMETRY, cfg.seed)
    return _render([(a, p, start + int(c.id)) for a, p, c in entries], cfg.seed, progress)


def _render(entries: list, seed: int, progress=None) -> Pool:
    """Pool of (action id, prompt, index) entries rendered at :data:`GEOMETRY`."""
    from flash_bench.datasets import synthetic as v2

    frames, size = GEOMETRY
    names = classes()
    videos = np.empty((len(entries), frames, size, size, 3), np.uint8)
    masks = np.empty(videos.shape[:-1], bool)
    labels, prompts, colours = [], [], []
    for n, (action, prompt, index) in enumerate(entries):
        video, mask = v2.render(action, index, num_frames=frames, size=size, seed=seed)
        videos[n], masks[n] = video, mask
        labels.append(names.index(v2.pool_class(action)))
        prompts.append(prompt)
        colours.append(clothing_colours(video, mask))
        if progress:
            progress(n + 1, len(entries))
    return Pool(videos, np.array(labels, np.int64), prompts, colours, masks)


# The caption pool (CLIP only): random choreographies in the renderer's props, scenes, company and poses
# (synthetic.RANDOM_VARIANTS, never a few-shot choreography), captioned with what is drawn. Its words ground the
# objects of the world, which the pool's own prompts never name.
CAPTION_POOL_START = 20000               # video indices of the caption pool (pool: 0+, 5000+)


def render_caption_pool(per_kind: int, seed: int = 0, start: int = CAPTION_POOL_START, progress=None,
                        reach_per_kind: int = 0, near_per_kind: int = 0) -> Pool:
    """``per_kind`` videos of each random-choreography variant (``synthetic.RANDOM_VARIANTS``), then
    ``reach_per_kind`` of each hand-held prop over the arm's whole reach (``synthetic.REACH_ACTIONS``), then
    ``near_per_kind`` of two people near each other (``synthetic.NEAR_ACTIONS``), captioned with the variant's
    prompt (labels: random motion)."""
    from flash_bench.datasets import synthetic

    entries = [(action, synthetic.pool_prompt(action), start + i)
               for action, n in [(a, per_kind) for a in synthetic.VARIANT_ACTIONS]
               + [(a, reach_per_kind) for a in synthetic.REACH_ACTIONS]
               + [(a, near_per_kind) for a in synthetic.NEAR_ACTIONS] for i in range(n)]
    return _render(entries, seed, progress)


def concat(a: Pool, b: Pool) -> Pool:
    return Pool(np.concatenate([a.videos, b.videos]), np.concatenate([a.labels, b.labels]), a.prompts + b.prompts,
                a.colours + b.colours, np.concatenate([a.masks, b.masks]))


def caption(prompt: str, colours: tuple[str, ...], kind: int) -> str:
    """kind 0: the prompt; 1: the clothes only; 2: both ("a person is walking, wearing red and blue.")."""
    wearing = f"wearing {' and '.join(colours)}" if colours else ""
    if kind == 0 or not wearing:
        return prompt
    return f"a person {wearing}." if kind == 1 else f"{prompt.rstrip('.')}, {wearing}."


def all_captions(pool: Pool) -> list[str]:
    return sorted({caption(p, c, k) for p, c in zip(pool.prompts, pool.colours) for k in range(3)})


# ----------------------------------------------------------------------------- shared training pieces

def _to_float(videos: np.ndarray):
    """uint8 (B, T, H, W, 3) → float (B, 3, T, H, W) in [0, 1]."""
    import torch

    return torch.from_numpy(np.ascontiguousarray(videos)).permute(0, 4, 1, 2, 3).float() / 255


def _flip_shift(x, rng: np.random.Generator, pixels: int = 2, flow: bool = False):
    """(B, C, T, H, W): per video a random horizontal flip and a shift of up to ``pixels`` (edges replicated);
    ``flow``: channels are (dx, dy) flow, so a flip also negates dx."""
    import torch.nn.functional as F

    out = x.clone()
    H, W = x.shape[-2:]
    p = pixels
    mirror = x.new_tensor([-1.0, 1.0]).view(2, 1, 1, 1) if flow else 1.0
    for b in range(len(x)):
        v = x[b].flip(-1) * mirror if rng.random() < 0.5 else x[b]
        dy, dx = rng.integers(-p, p + 1, size=2)
        v = F.pad(v, (p, p, p, p), mode="replicate")
        out[b] = v[..., p + dy:p + dy + H, p + dx:p + dx + W]
    return out


@dataclass(frozen=True)
class TrainConfig:
    """What every trainer takes; each backbone's config overrides the defaults and adds its architecture."""
    seed: int = 0
    steps: int = 500
    batch: int = 24
    lr: float = 3e-3
    weight_decay: float = 1e-4
    pool: PoolConfig = PoolConfig()


def _optimiser(model, lr: float, weight_decay: float, steps: int):
    import torch

    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr, weight_decay=weight_decay)
    return opt, torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.1)


def _step(loss, opt, sched) -> float:
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    sched.step()
    return float(loss.detach())


class Log:
    """Training log lines (step, stage, loss, lr, seconds) kept in memory, written beside the weights."""

    def __init__(self, on_step=None, every: int = 10):
        self.lines, self.start, self.on_step, self.every = [], time.time(), on_step, every
        self.cpu_start = time.process_time()

    def step(self, stage: str, step: int, loss: float, opt) -> None:
        if self.on_step:
            self.on_step(stage, step, loss)
        if step % self.every == 0:
            self.lines.append({"stage": stage, "step": step, "loss": round(loss, 5),
                               "lr": opt.param_groups[0]["lr"], "seconds": round(time.time() - self.start, 1)})


def save(model, name: str, out_dir: Path | str | None, record: dict, log: Log) -> dict:
    """Write ``<name>-tiny-<world>.safetensors`` (fp16 floats), its ``.json`` record and ``.log.jsonl``,
    each atomically; returns the record (with sha256 and parameters)."""
    import torch
    from safetensors.torch import save_file

    from flash_bench.store import atomic_path, atomic_write_json
    from flash_bench.weights import sha256_of

    out = Path(out_dir or TRAINED_DIR) / file_name(name)
    state = {k: (v.half() if v.is_floating_point() else v).contiguous() for k, v in model.state_dict().items()}
    with atomic_path(out) as tmp:
        save_file(state, str(tmp))
    log_path = out.with_suffix(".log.jsonl")
    with atomic_path(log_path) as tmp:
        tmp.write_text("".join(json.dumps(line) + "\n" for line in log.lines))
    record = {**record, "name": name, "world": WORLD, "geometry": {"num_frames": GEOMETRY[0], "size": GEOMETRY[1]},
              "parameters": int(sum(p.numel() for p in model.parameters())), "sha256": sha256_of(out),
              "log": log_path.name, "train_seconds": round(time.time() - log.start, 1),
              "train_cpu_seconds": round(time.process_time() - log.cpu_start, 1),
              "torch_threads": torch.get_num_threads()}
    atomic_write_json(out.with_suffix(".json"), record)
    return record


# ----------------------------------------------------------------------------- CLIP

@dataclass(frozen=True)
class ClipConfig(TrainConfig):
    seed: int = 1                        # the shipped file; seed 0 wins validation but fails Temporal Consistency (docs/tiny_backbones.md)
    steps: int = 1500
    batch: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.05
    context_length: int = 24
    embed_dim: int = 64
    caption_per_kind: int = 300          # caption-pool videos of each synthetic.RANDOM_VARIANTS kind (0: the pool alone)
    reach_per_kind: int = 300            # caption-pool videos of each synthetic.REACH_ACTIONS (props over the arm's reach)
    near_per_kind: int = 300             # caption-pool videos of each synthetic.NEAR_ACTIONS (two people near each other)
    caption_share: float = 0.0           # of each batch drawn from the caption pool (0: uniform over all videos)
    unknown_share: float = 0.15          # caption tokens turned a random "unknown" id, as the prompts' unseen words are
    verb_share: float = 0.5              # captions whose verb becomes 1..verb_unknowns "unknown" ids (hide_verbs)
    verb_unknowns: int = 3
    caption_kinds: tuple[float, float, float] | None = (0.6, 0.2, 0.2)   # caption() kinds 0/1/2 (None: uniform)
    unknown_ids: int = 16                # "unknown" rows: an unseen token's is hashed (clip.unknown_row), a dropped one's random
    clip_frames: int = 1                 # frames of a video whose mean embedding meets its caption (the metric's mean)
    # 64² input (the 32² frames resized as the featuriser does), patch 4: a token covers 2×2 of the frame's pixels
    vision: dict = field(default_factory=lambda: {"image_size": 64, "patch_size": 4, "width": 96, "layers": 3,
                                                  "head_width": 32})
    text: dict = field(default_factory=lambda: {"width": 64, "heads": 2, "layers": 3})


def clip_model_cfg(cfg: ClipConfig, vocab_size: int) -> dict:
    return {"embed_dim": cfg.embed_dim, "quick_gelu": True, "vision_cfg": dict(cfg.vision),
            "text_cfg": {**cfg.text, "context_length": cfg.context_length, "vocab_size": vocab_size}}


def clip_loss(image, text, logit_scale, same):
    """Symmetric contrastive loss with several positives: ``same`` (B, B) bool marks pairs of equal captions."""
    import torch.nn.functional as F

    logits = logit_scale.exp() * F.normalize(image, dim=-1) @ F.normalize(text, dim=-1).T   # (B, B)
    target = same.float() / same.float().sum(1, keepdim=True)
    return 0.5 * (-(target * logits.log_softmax(1)).sum(1).mean() - (target * logits.log_softmax(0)).sum(0).mean())


VERB_AFTER = ("is", "are")               # a caption's verb is the word after these ("a person is [holding] a cup.")


def verb_tokens(tokenizer):
    """(compact ids of :data:`VERB_AFTER`, bool (vocab,): the compact id ends a word) for :func:`hide_verbs`."""
    import torch

    bpe, first = tokenizer.bpe, tokenizer.first_word
    after = {int(tokenizer.table[bpe.encoder[word + "</w>"]]) for word in VERB_AFTER}
    ends = torch.zeros(tokenizer.vocab_size, dtype=torch.bool)
    ends[first:first + len(tokenizer.ids)] = torch.tensor([bpe.decoder[i].endswith("</w>") for i in tokenizer.ids])
    return after, ends


def hide_verbs(tokens, after: set[int], ends, share: float, most: int, rng: np.random.Generator,
               unknown_ids: int = 1):
    """Compact token rows (B, L): with probability ``share`` a caption's verb (the word after "is"/"are", one or
    more BPE tokens) becomes 1..``most`` unknown ids, the rest shifted — as a few-shot prompt's unseen verb
    and its unseen particles are at test time ("a person is [drinking] [from] a cup.", "two people are [hugging]
    [each] [other]."), so that the words left (the object) carry the caption. Each id is drawn from the
    ``unknown_ids`` rows at random: an unseen verb is any word, so its hashed rows are any rows."""
    import torch

    out = tokens.clone()
    length = tokens.shape[1]
    for b, row in enumerate(tokens.tolist()):
        if rng.random() >= share:
            continue
        start = next((p + 1 for p, t in enumerate(row) if t in after), None)
        if start is None:
            continue
        end = next(p + 1 for p in range(start, length) if ends[row[p]])
        new = row[:start] + [int(u) for u in 1 + rng.integers(unknown_ids, size=rng.integers(1, most + 1))] + row[end:]
        if any(new[length:]):
            raise InputError(f"context_length {length} is too short for a caption with {most} unknown verb ids")
        out[b] = torch.tensor(new[:length] + [0] * (length - len(new)))
    return out


def clip_frames(videos: np.ndarray, n: int, size: int, rng: np.random.Generator):
    """uint8 (B, T, S, S, 3) → float (B, 3, n, size, size) in [0, 1]: ``n`` random frames of each video (in
    order), resized to the CLIP's input ``size`` as its featuriser does (PIL bicubic, open_clip's eval
    preprocessing), each video flipped and shifted by up to 2 px of the video (:func:`_flip_shift`)."""
    from PIL import Image

    B, T, S = videos.shape[:3]
    picks = np.sort(np.stack([rng.choice(T, n, replace=False) for _ in range(B)]), 1)    # (B, n)
    frames = videos[np.arange(B)[:, None], picks]                                      # (B, n, S, S, 3)
    if size != S:
        frames = np.stack([[np.asarray(Image.fromarray(f).resize((size, size), Image.BICUBIC)) for f in clip]
                           for clip in frames])
    return _flip_shift(_to_float(frames), rng, pixels=2 * size // S)


def train_clip(cfg: ClipConfig = ClipConfig(), pool: Pool | None = None, on_step=None):
    """→ (model, tokenizer, record, log): a tiny CLIP trained on pool frames and their captions."""
    import torch

    from flash_bench.features import clip as clip_features

    pool = pool if pool is not None else render_pool(cfg.pool)
    own = len(pool.videos)
    if cfg.caption_per_kind:
        pool = concat(pool, render_caption_pool(cfg.caption_per_kind, cfg.pool.seed,
                                                reach_per_kind=cfg.reach_per_kind, near_per_kind=cfg.near_per_kind))
    extra = int(round(cfg.caption_share * cfg.batch)) if cfg.caption_per_kind else 0
    if extra == 0:
        own = len(pool.videos)
    captions = all_captions(pool)
    bpe = clip_features.CompactTokenizer([], cfg.context_length).bpe
    ids = sorted({int(i) for i in bpe(captions, context_length=cfg.context_length).unique()})
    tokenizer = clip_features.CompactTokenizer(ids, cfg.context_length, cfg.unknown_ids)
    model_cfg = clip_model_cfg(cfg, tokenizer.vocab_size)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    model, _ = clip_features.tiny_model(model_cfg)
    model.train()
    mean = torch.tensor((0.48145466, 0.4578275, 0.40821073)).view(1, 3, 1, 1)   # open_clip's OPENAI_DATASET_MEAN
    std = torch.tensor((0.26862954, 0.26130258, 0.27577711)).view(1, 3, 1, 1)
    opt, sched = _optimiser(model, cfg.lr, cfg.weight_decay, cfg.steps)
    after, ends = verb_tokens(tokenizer)
    log = Log(on_step)
    for step in range(cfg.steps):
        idx = rng.choice(own, cfg.batch - extra, replace=False)
        if extra:
            idx = np.concatenate([idx, own + rng.choice(len(pool.videos) - own, extra, replace=False)])
        x = clip_frames(pool.videos[idx], cfg.clip_frames, cfg.vision["image_size"], rng)       # (B, 3, n, s, s)
        kinds = ([rng.integers(3) for _ in idx] if cfg.caption_kinds is None
                 else rng.choice(3, len(idx), p=cfg.caption_kinds))
        texts = [caption(pool.prompts[i], pool.colours[i], int(k)) for i, k in zip(idx, kinds)]
        same = torch.tensor([[a == b for b in texts] for a in texts])
        tokens = tokenizer(texts)                                                            # (B, L)
        if cfg.verb_share:
            tokens = hide_verbs(tokens, after, ends, cfg.verb_share, cfg.verb_unknowns, rng, cfg.unknown_ids)
        if cfg.unknown_share:                # a dropped token becomes a random unknown id, not its own word's hashed
                                             # one: that made each row a synonym of the known words hashed to it
            drop = tokenizer.words(tokens) & (torch.rand(tokens.shape) < cfg.unknown_share)
            tokens[drop] = torch.randint(1, cfg.unknown_ids + 1, (int(drop.sum()),))
        B, _, n, s, _ = x.shape
        image = model.encode_image((x.transpose(1, 2).reshape(B * n, 3, s, s) - mean) / std)      # (B·n, D)
        image = torch.nn.functional.normalize(image, dim=-1).view(B, n, -1).mean(1)              # (B, D)
        loss = clip_loss(image, model.encode_text(tokens), model.logit_scale, same)
        log.step("contrastive", step, _step(loss, opt, sched), opt)
        with torch.no_grad():
            model.logit_scale.clamp_(0, np.log(100))
    record = {"config": {"model_cfg": model_cfg, "token_ids": ids, "unknown_ids": cfg.unknown_ids},
              "training": asdict(cfg),
              "captions": len(captions), "videos": len(pool.videos)}
    return model.eval(), tokenizer, record, log


FEW_SHOT_VALIDATION = range(5000, 5004)   # the few-shot actions' validation videos (test items: 16-19)


def few_shot_retrieval(backbone, indices=FEW_SHOT_VALIDATION) -> float:
    """validate-metrics' Text Alignment check on other videos: 12-way few-shot prompt retrieval (mean frame
    embedding) on each few-shot action's videos at ``indices`` — for choosing a recipe, never trained on."""
    from flash_bench.datasets import synthetic

    prompts = [spec.prompt for spec in synthetic.ACTIONS.values()]
    text = backbone.encode_texts(prompts)                                      # (12, D)
    hits = [int(np.argmax(backbone.encode_frames(synthetic.render(a, i, num_frames=GEOMETRY[0], size=GEOMETRY[1])[0])
                          .mean(0) @ text.T)) == k for k, a in enumerate(synthetic.ACTIONS) for i in indices]
    return float(np.mean(hits))


def clip_retrieval(backbone, pool: Pool) -> float:
    """Top-1 prompt retrieval (mean frame embedding vs every pool prompt) on ``pool``'s videos."""
    prompts = sorted(set(pool.prompts))
    text = backbone.encode_texts(prompts)                                      # (P, D)
    hits = [prompts[int(np.argmax(backbone.encode_frames(v).mean(0) @ text.T))] == p
            for v, p in zip(pool.videos, pool.prompts)]
    return float(np.mean(hits))


# ----------------------------------------------------------------------------- VideoMAE

@dataclass(frozen=True)
class VideoMAEConfig(TrainConfig):
    steps: int = 400                     # masked autoencoding (its loss is flat from step ≈ 300)
    batch: int = 24
    lr: float = 1.5e-3
    weight_decay: float = 0.05
    finetune_steps: int = 800            # supervised, pool actions
    finetune_lr: float = 2e-4            # 1e-3 stayed at the label prior for 430 steps (docs)
    mask_ratio: float = 0.75             # of the 4×4 positions: 4 visible in every frame
    patch_size: int = 8
    tubelet_size: int = 1               # cd-fvd's model interpolates its positions for 8 tubelets only
    norm_target: bool = False            # per-token normalised pixels: noise on the world's flat patches (docs)
    input_norm: bool = False             # train on VideoMAE's mean/std pixels, folded into the patch embedding after
    corrupt_share: float = 0.0           # fine-tune clips made static or frame-shuffled, two extra classes (docs)
    embed_dim: int = 96
    depth: int = 4
    num_heads: int = 4
    decoder_dim: int = 64
    decoder_depth: int = 2


def videomae_model_cfg(cfg: VideoMAEConfig) -> dict:
    """Keyword arguments of cd-fvd's ``VisionTransformer`` (also read back from the JSON by the featuriser)."""
    return {"img_size": GEOMETRY[1], "patch_size": cfg.patch_size, "all_frames": GEOMETRY[0],
            "tubelet_size": cfg.tubelet_size, "embed_dim": cfg.embed_dim, "depth": cfg.depth,
            "num_heads": cfg.num_heads, "mlp_ratio": 4.0, "qkv_bias": True,
            "num_classes": len(classes()) + (len(CORRUPTIONS) if cfg.corrupt_share else 0), "use_mean_pooling": True}


# VideoMAE's data pipeline normalises pixels by ImageNet's mean/std; cd-fvd feeds its model /255 without them. A
# model trained on normalised pixels gets the normalisation folded into its patch embedding (exact: the embedding
# is a strided convolution without padding), so the shipped file takes cd-fvd's input.
VIDEOMAE_MEAN, VIDEOMAE_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
CORRUPTIONS = ("static", "shuffled")     # the fine-tune's extra classes (after classes())


def normalise_pixels(x):
    """(B, 3, T, H, W) in [0, 1] → VideoMAE's normalised pixels."""
    mean, std = (x.new_tensor(v).view(1, 3, 1, 1, 1) for v in (VIDEOMAE_MEAN, VIDEOMAE_STD))
    return (x - mean) / std


def fold_pixel_norm(model) -> None:
    """In place: ``model`` on x in [0, 1] then computes what it computed on ``normalise_pixels(x)``."""
    import torch

    proj = model.patch_embed.proj
    mean, std = (torch.tensor(v).view(1, 3, 1, 1, 1) for v in (VIDEOMAE_MEAN, VIDEOMAE_STD))
    with torch.no_grad():
        weight = proj.weight / std
        proj.bias -= (weight * mean).sum((1, 2, 3, 4))
        proj.weight.copy_(weight)


def temporal_corruptions(pool: Pool, n: int, rng: np.random.Generator) -> Pool:
    """``pool`` and, after it, ``n`` static copies (one random frame repeated) and ``n`` frame-shuffled copies (a
    random non-identity order) of random pool videos, labelled as the :data:`CORRUPTIONS` classes after
    :func:`classes`."""
    t = pool.videos.shape[1]
    idx = rng.choice(len(pool.videos), (len(CORRUPTIONS), n))
    static = np.stack([np.repeat(pool.videos[i, rng.integers(t)][None], t, 0) for i in idx[0]])
    orders = [rng.permutation(t) for _ in idx[1]]
    orders = [o if (o != np.arange(t)).any() else np.roll(o, 1) for o in orders]
    shuffled = np.stack([pool.videos[i, o] for i, o in zip(idx[1], orders)])
    labels = np.repeat(len(classes()) + np.arange(len(CORRUPTIONS)), n)
    return Pool(np.concatenate([pool.videos, static, shuffled]), np.concatenate([pool.labels, labels]),
                pool.prompts + [""] * 2 * n, pool.colours + [()] * 2 * n)


def tube_mask(batch: int, grid: tuple[int, int, int], ratio: float, rng: np.random.Generator):
    """VideoMAE's tube masking: per video the same random ``ratio`` of the H'×W' positions hidden in every one of
    the T' tubelets → bool (B, T'·H'·W'), True = masked (token order t, h, w as in ``PatchEmbed``)."""
    import torch

    t, h, w = grid
    hidden = int(round(ratio * h * w))
    mask = np.zeros((batch, h * w), bool)
    for b in range(batch):
        mask[b, rng.permutation(h * w)[:hidden]] = True
    return torch.from_numpy(np.tile(mask[:, None], (1, t, 1)).reshape(batch, t * h * w))


def patch_targets(x, tubelet: int, patch: int, normalise: bool = True):
    """(B, 3, T, H, W) → (B, N, tubelet·patch·patch·3): each token's pixels, normalised per token when
    ``normalise`` (VideoMAE's ``normlize_target``)."""
    B, C, T, H, W = x.shape
    p = x.reshape(B, C, T // tubelet, tubelet, H // patch, patch, W // patch, patch)
    p = p.permute(0, 2, 4, 6, 3, 5, 7, 1).reshape(B, -1, tubelet * patch * patch, C)   # (B, N, tb·p·p, C)
    if normalise:
        p = (p - p.mean(2, keepdim=True)) / (p.var(2, unbiased=True, keepdim=True).sqrt() + 1e-6)
    return p.reshape(B, p.shape[1], -1)


def train_videomae(cfg: VideoMAEConfig = VideoMAEConfig(), pool: Pool | None = None, on_step=None):
    """→ (cd-fvd ``VisionTransformer``, record, log): masked autoencoding, then a short supervised fine-tune."""
    import torch
    from cdfvd.third_party.VideoMAEv2 import videomaev2_pretrain as vp

    from flash_bench.features import videomae as videomae_features

    pool = pool if pool is not None else render_pool(cfg.pool)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    frames, size = GEOMETRY
    tokens = cfg.tubelet_size * cfg.patch_size ** 2 * 3
    mae = vp.PretrainVisionTransformer(
        img_size=size, patch_size=cfg.patch_size, all_frames=frames, tubelet_size=cfg.tubelet_size,
        encoder_embed_dim=cfg.embed_dim, encoder_depth=cfg.depth, encoder_num_heads=cfg.num_heads,
        decoder_num_classes=tokens, decoder_embed_dim=cfg.decoder_dim, decoder_depth=cfg.decoder_depth,
        decoder_num_heads=2, mlp_ratio=4.0, qkv_bias=True).train()
    grid = (frames // cfg.tubelet_size, size // cfg.patch_size, size // cfg.patch_size)
    opt, sched = _optimiser(mae, cfg.lr, cfg.weight_decay, cfg.steps)
    pixels = normalise_pixels if cfg.input_norm else (lambda x: x)
    log = Log(on_step)
    for step in range(cfg.steps):
        x = _flip_shift(_to_float(pool.videos[rng.choice(len(pool.videos), cfg.batch, replace=False)]), rng)
        mask = tube_mask(cfg.batch, grid, cfg.mask_ratio, rng)
        target = patch_targets(x, cfg.tubelet_size, cfg.patch_size, cfg.norm_target)[mask]
        target = target.reshape(cfg.batch, -1, tokens)
        loss = torch.nn.functional.mse_loss(mae(pixels(x), mask), target)
        log.step("masked-autoencoding", step, _step(loss, opt, sched), opt)
    model = videomae_features.tiny_model(videomae_model_cfg(cfg))
    encoder = {k: v for k, v in mae.encoder.state_dict().items() if not k.startswith(("norm.", "head."))}
    missing, unexpected = model.load_state_dict(encoder, strict=False)
    assert not unexpected and all(k.startswith(("fc_norm.", "head.")) for k in missing), (missing, unexpected)
    share = cfg.corrupt_share
    tuning = temporal_corruptions(pool, round(share / (1 - share) * len(pool.videos) / 2), rng) if share else pool
    _classify(model, lambda x: model(x), tuning, cfg.finetune_steps, cfg.batch, cfg.finetune_lr, cfg.weight_decay,
              rng, log, "finetune", batch_of=lambda v: pixels(_flip_shift(_to_float(v), rng)))
    if cfg.input_norm:
        fold_pixel_norm(model)
    record = {"config": videomae_model_cfg(cfg), "training": asdict(cfg), "videos": len(pool.videos)}
    return model.eval(), record, log


def _classify(model, logits_of, pool: Pool, steps: int, batch: int, lr: float, weight_decay: float, rng, log: Log,
              stage: str, augment=None, batch_of=None) -> None:
    """Supervised training on the pool's action labels (cross-entropy); ``logits_of``: a batch → (B, K);
    ``batch_of``: the pool's videos[idx] → a batch (default: RGB in [0, 1], flipped and shifted)."""
    import torch

    if steps == 0:
        return
    model.train()
    opt, sched = _optimiser(model, lr, weight_decay, steps)
    for step in range(steps):
        idx = rng.choice(len(pool.videos), batch, replace=False)
        x = batch_of(pool.videos[idx]) if batch_of else _flip_shift(_to_float(pool.videos[idx]), rng)
        if augment is not None:
            x = augment(x, rng)
        loss = torch.nn.functional.cross_entropy(logits_of(x), torch.from_numpy(pool.labels[idx]),
                                                 label_smoothing=0.05)
        log.step(stage, step, _step(loss, opt, sched), opt)


# ----------------------------------------------------------------------------- I3D-RGB

@dataclass(frozen=True)
class I3DConfig(TrainConfig):
    steps: int = 1200                    # 600 reached 45% held-out accuracy, 1,200 92.5% (docs/tiny_backbones.md)
    lr: float = 1e-3
    width: float = 0.125                 # of every InceptionI3d channel count
    appearance_augment: bool = False     # the yardstick's colour/blur/noise augmentation (first try, see the docs)


def i3d_logits(model, x):
    """(B, 3, T, S, S) in [0, 1] → the featuriser's RGB input (:func:`~flash_bench.features.i3d.rgb_input`'s resize,
    crop and range) → class logits (B, K) from the pooled feature."""
    from flash_bench.features import i3d

    b, _, t, s, _ = x.shape
    frames = x.permute(0, 2, 1, 3, 4).reshape(b * t, 3, s, s)                          # (B·T, 3, S, S)
    crop = i3d._resize_crop(frames, i3d.TINY_SIZE).reshape(b, t, 3, i3d.TINY_SIZE, i3d.TINY_SIZE)
    feat = model.features(crop.permute(0, 2, 1, 3, 4) * 2 - 1)                         # (B, D)
    return model.logits(feat[:, :, None, None, None]).flatten(1)                       # (B, K, 1, 1, 1) → (B, K)


def train_i3d_rgb(cfg: I3DConfig = I3DConfig(), pool: Pool | None = None, on_step=None):
    """→ (InceptionI3d, record, log): pool-action classification on the featuriser's own RGB input."""
    import torch

    from flash_bench import yardstick
    from flash_bench.features import i3d

    pool = pool if pool is not None else render_pool(cfg.pool)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    model = i3d.InceptionI3d(len(classes()), in_channels=3, width=cfg.width)
    log = Log(on_step)
    _classify(model, lambda x: i3d_logits(model, x), pool, cfg.steps, cfg.batch, cfg.lr, cfg.weight_decay, rng,
              log, "classify", augment=yardstick.augment if cfg.appearance_augment else None)
    record = {"config": {"num_classes": len(classes()), "in_channels": 3, "width": cfg.width,
                         "input_size": i3d.TINY_SIZE},
              "training": asdict(cfg), "videos": len(pool.videos)}
    return model.eval(), record, log


# ----------------------------------------------------------------------------- RAFT

@dataclass(frozen=True)
class RaftConfig(TrainConfig):
    steps: int = 1000
    batch: int = 8
    lr: float = 4e-4                     # RAFT's recipe: AdamW, one-cycle, γ = 0.8, gradients clipped to norm 1
    weight_decay: float = 1e-4
    clip_grad: float = 1.0
    updates: int = 4                     # flow refinements, in training and in the featuriser
    gamma: float = 0.8
    # the figure's rigid move (pixels at the featuriser's input size; each pair's shift scaled by U(0, 1)): moves
    # of ≤ 8 px are below one cell of RAFT's 8×-downsampled grid and it collapsed to zero flow on them; ≤ 16 px
    # it learned (docs/tiny_backbones.md)
    max_flow: float = 16.0
    rotation: float = 0.3                # radians, uniform ±
    scale: float = 0.1                   # uniform 1 ± this


def raft_model(cfg: dict):
    """torchvision's ``raft_small`` with the featuriser's 2-level correlation pyramid, random weights."""
    from torchvision.models.optical_flow import raft_small
    from torchvision.models.optical_flow.raft import CorrBlock

    return raft_small(weights=None, corr_block=CorrBlock(num_levels=cfg["corr_levels"], radius=cfg["radius"]))


def warp(image, flow, padding: str = "border"):
    """image1 with ``image1(p) = image(p + flow(p))``, so the flow from image1 to ``image`` is ``flow``:
    (B, C, S, S), (B, 2, S, S) in pixels (dx, dy) → (B, C, S, S), bilinear, edges replicated (``padding``:
    grid_sample's padding mode)."""
    import torch

    b, _, h, w = image.shape
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32),
                            indexing="ij")
    gx = (2 * (xs + flow[:, 0]) + 1) / w - 1                       # align_corners=False pixel centres
    gy = (2 * (ys + flow[:, 1]) + 1) / h - 1
    return torch.nn.functional.grid_sample(image, torch.stack([gx, gy], -1), mode="bilinear",
                                           padding_mode=padding, align_corners=False)


def move_figure(image, mask, matrix, shift):
    """(image1, image2, flow): the figure of ``image`` (B, C, S, S) under ``mask`` (B, 1, S, S in {0, 1}) moved
    by the affine map p → c + matrix·(p − c) + shift about its centroid c (``matrix`` (B, 2, 2), ``shift`` (B, 2)
    in pixels, (x, y)) over the scene; the scene behind it is each row's mean scene colour (the world's walls are
    flat per row). ``flow`` is that map's displacement on the figure's pixels and 0 on the scene: the exact flow
    from image1 = ``image`` to image2."""
    import torch

    b, _, h, w = image.shape
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32),
                            indexing="ij")
    p = torch.stack([xs, ys])[None]                                                  # (1, 2, S, S)
    area = mask.sum((2, 3)).clamp(min=1)                                             # (B, 1)
    c = ((mask * p).sum((2, 3)) / area)[..., None, None]                             # (B, 2, 1, 1)
    moved = c + torch.einsum("bij,bjhw->bihw", matrix, p - c) + shift[..., None, None]
    flow = (moved - p) * mask
    back = c + torch.einsum("bij,bjhw->bihw", torch.linalg.inv(matrix), p - c - shift[..., None, None])
    scene = (image * (1 - mask)).sum(-1, keepdim=True) / (1 - mask).sum(-1, keepdim=True).clamp(min=1)
    scene = torch.where(mask.bool(), scene.expand_as(image), image)
    alpha = warp(mask, back - p, padding="zeros")
    return image, alpha * warp(image, back - p) + (1 - alpha) * scene, flow


def flow_pairs(pool: Pool, cfg: RaftConfig, rng: np.random.Generator, size: int):
    """(image1, image2, flow): pool frames at the featuriser's input (resize + crop, [-1, 1]) and the same frames
    with the figure (its renderer mask, resized) moved rigidly (:func:`move_figure`: a random shift of up to
    ``max_flow`` px scaled by U(0, 1), rotation and scale), so the flow is known exactly."""
    import torch

    from flash_bench.features.i3d import _resize_crop

    idx = rng.choice(len(pool.videos), cfg.batch, replace=False)
    t = rng.integers(pool.videos.shape[1], size=cfg.batch)
    frames = pool.videos[idx, t]                                                             # (B, S, S, 3)
    image = _resize_crop(torch.from_numpy(frames).permute(0, 3, 1, 2).float(), size) / 127.5 - 1
    mask = (_resize_crop(torch.from_numpy(pool.masks[idx, t][:, None]).float(), size) > 0.5).float()
    angle = rng.uniform(-cfg.rotation, cfg.rotation, cfg.batch)
    scale = rng.uniform(1 - cfg.scale, 1 + cfg.scale, cfg.batch)
    matrix = np.stack([np.cos(angle), -np.sin(angle), np.sin(angle), np.cos(angle)], -1).reshape(-1, 2, 2)
    shift = rng.uniform(-1, 1, (cfg.batch, 2)) * rng.uniform(0, 1, (cfg.batch, 1)) * cfg.max_flow
    image1, image2, flow = move_figure(image, mask, torch.from_numpy(matrix * scale[:, None, None]).float(),
                                       torch.from_numpy(shift).float())
    return image1, image2.clamp(-1, 1), flow


def train_raft(cfg: RaftConfig = RaftConfig(), pool: Pool | None = None, on_step=None):
    """→ (RAFT, record, log): RAFT's sequence loss (L1 per refinement, weights γ^(N−i)) on warped pool frames."""
    import torch

    from flash_bench.features import raft_flow

    pool = pool if pool is not None else render_pool(cfg.pool)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    arch = {"corr_levels": raft_flow.TINY["corr_levels"], "radius": 3, "size": raft_flow.TINY["size"],
            "updates": cfg.updates}
    model = raft_model(arch).train()
    opt, sched = _optimiser(model, cfg.lr, cfg.weight_decay, cfg.steps)
    log = Log(on_step)
    for step in range(cfg.steps):
        image1, image2, flow = flow_pairs(pool, cfg, rng, arch["size"])
        preds = model(image1, image2, num_flow_updates=cfg.updates)
        loss = sum(cfg.gamma ** (len(preds) - 1 - i) * (p - flow).abs().mean() for i, p in enumerate(preds))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip_grad)
        opt.step()
        sched.step()
        log.step("flow", step, float(loss.detach()), opt)
    record = {"config": arch, "training": asdict(cfg), "videos": len(pool.videos)}
    return model.eval(), record, log


def raft_epe(model, pool: Pool, cfg: RaftConfig, size: int) -> dict:
    """On held-out pool videos: the mean end-point error (pixels) of moved-figure pairs (:func:`flow_pairs`),
    over all pixels and over the moving ones, against predicting zero flow; and on consecutive real frames, the
    photometric error of frame t+1 warped back by the predicted flow against frame t, against no warp (on pixels
    that change)."""
    from dataclasses import replace

    import torch

    from flash_bench.features.i3d import _resize_crop

    rng = np.random.default_rng(cfg.seed + 1)
    with torch.inference_mode():
        image1, image2, flow = flow_pairs(pool, replace(cfg, batch=len(pool.videos)), rng, size)
        pred = model(image1, image2, num_flow_updates=cfg.updates)[-1]
        t = rng.integers(pool.videos.shape[1] - 1, size=len(pool.videos))
        real = [_resize_crop(torch.from_numpy(pool.videos[np.arange(len(t)), t + k]).permute(0, 3, 1, 2).float(),
                             size) / 127.5 - 1 for k in (0, 1)]
        real_flow = model(*real, num_flow_updates=cfg.updates)[-1]
    moving = flow.norm(dim=1) > 0.5
    changed = (real[0] - real[1]).abs().sum(1) > 0.05
    photo = lambda second: float((second - real[0]).abs().sum(1)[changed].mean())   # noqa: E731
    error = lambda f: (f - flow).norm(dim=1)                                          # noqa: E731
    return {"held_out_epe": float(error(pred).mean()), "held_out_epe_zero_flow": float(flow.norm(dim=1).mean()),
            "held_out_epe_moving": float(error(pred)[moving].mean()),
            "held_out_epe_moving_zero_flow": float(flow.norm(dim=1)[moving].mean()),
            "real_pairs_photometric": photo(warp(real[1], real_flow)), "real_pairs_photometric_no_warp": photo(real[1]),
            "real_pairs_mean_flow": float(real_flow.norm(dim=1).mean())}


# ----------------------------------------------------------------------------- I3D-flow

@dataclass(frozen=True)
class I3DFlowConfig(I3DConfig):
    """The I3D-RGB recipe on the suite-trained RAFT's flow of the pool videos (the featuriser's input)."""
    steps: int = 800                     # the shared machine's budget (I3D-RGB: 1,200)


def pool_flows(pool: Pool, progress=None):
    """The I3D flow-stream input of every pool video through the shipped tiny RAFT: (N, 2, T−1, s, s) float16."""
    import torch

    from flash_bench.features import raft_flow

    raft, info = raft_flow.build("tiny", geometry=GEOMETRY)
    if "suite-trained" not in info["weights"]:
        raise InputError(f"i3d_flow trains on the suite-trained RAFT's flow: {trained_file('raft')} is missing; "
                         "run `flash-bench train backbone raft` first")
    out = []
    for n, video in enumerate(pool.videos):
        out.append(raft_flow.i3d_flow_input(raft, video, info["size"], info["updates"])[0].half())
        if progress:
            progress(n + 1, len(pool.videos))
    return torch.stack(out), info


def trained_file(name: str) -> Path:
    return TRAINED_DIR / file_name(name)


def i3d_flow_logits(model, x):
    """I3D flow-stream input (B, 2, T−1, s, s) in [−1, 1] → class logits (B, K) from the pooled feature."""
    return model.logits(model.features(x)[:, :, None, None, None]).flatten(1)


def train_i3d_flow(cfg: I3DFlowConfig = I3DFlowConfig(), pool: Pool | None = None, on_step=None):
    """→ (InceptionI3d(in_channels=2), record, log): pool-action classification on the tiny RAFT's flow."""
    import torch

    from flash_bench.features import i3d

    pool = pool if pool is not None else render_pool(cfg.pool)
    flows, raft_info = pool_flows(pool)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    model = i3d.InceptionI3d(len(classes()), in_channels=2, width=cfg.width)
    flow_pool = Pool(flows, pool.labels, pool.prompts, pool.colours)
    log = Log(on_step)
    _classify(model, lambda x: i3d_flow_logits(model, x), flow_pool, cfg.steps, cfg.batch, cfg.lr,
              cfg.weight_decay, rng, log, "classify", batch_of=lambda v: _flip_shift(v.float(), rng, flow=True))
    record = {"config": {"num_classes": len(classes()), "in_channels": 2, "width": cfg.width,
                         "input_size": raft_info["size"]},
              "raft": raft_info["weights"], "training": asdict(cfg), "videos": len(pool.videos)}
    return model.eval(), record, log


# ----------------------------------------------------------------------------- entry point

TRAINERS = {"clip": ClipConfig, "videomae": VideoMAEConfig, "i3d_rgb": I3DConfig, "raft": RaftConfig,
            "i3d_flow": I3DFlowConfig}


def train_backbone(name: str, command: str, out_dir: Path | str | None = None, overrides: dict | None = None,
                   on_render=None, on_step=None) -> dict:
    """Train backbone ``name`` with its default config (``overrides`` replace top-level fields), write it, and
    return its record (with held-out figures)."""
    import torch

    if name not in TRAINERS:
        raise InputError(f"no trainer for backbone {name!r}; known: {sorted(TRAINERS)}")
    cls = TRAINERS[name]
    unknown = set(overrides or {}) - set(cls.__dataclass_fields__)
    if unknown:
        raise InputError(f"unknown {name} training options {sorted(unknown)}")
    cfg = cls(**(overrides or {}))
    torch.set_num_threads(1)
    t0 = time.time()
    pool = render_pool(cfg.pool, progress=on_render)
    render_seconds = round(time.time() - t0, 1)
    held_out = render_pool(PoolConfig(4, 0, cfg.pool.seed), start=HELD_OUT_START)
    if name == "clip":
        model, tokenizer, record, log = train_clip(cfg, pool, on_step)
        from flash_bench.features.clip import ClipBackbone, tiny_model

        _, preprocess = tiny_model(record["config"]["model_cfg"])
        backbone = ClipBackbone(model, preprocess, tokenizer)
        props = render_caption_pool(5, cfg.pool.seed, start=HELD_OUT_START + CAPTION_POOL_START)
        quality = {"held_out_prompt_retrieval": clip_retrieval(backbone, held_out),
                   "held_out_caption_pool_retrieval": clip_retrieval(backbone, props),
                   "validation_few_shot_prompt_retrieval": few_shot_retrieval(backbone)}
    elif name == "videomae":
        model, record, log = train_videomae(cfg, pool, on_step)
        quality = {"held_out_accuracy": _accuracy(lambda x: model(x), held_out)}
        if cfg.corrupt_share:                # the held-out videos and as many static and shuffled copies
            mixed = temporal_corruptions(held_out, len(held_out.videos) // 2, np.random.default_rng(cfg.seed))
            quality["held_out_accuracy_with_corruptions"] = _accuracy(lambda x: model(x), mixed)
    elif name == "i3d_rgb":
        model, record, log = train_i3d_rgb(cfg, pool, on_step)
        quality = {"held_out_accuracy": _accuracy(lambda x: i3d_logits(model, x), held_out)}
    elif name == "raft":
        model, record, log = train_raft(cfg, pool, on_step)
        quality = raft_epe(model, held_out, cfg, record["config"]["size"])
    else:
        model, record, log = train_i3d_flow(cfg, pool, on_step)
        flows = pool_flows(held_out)[0].float()
        quality = {"held_out_accuracy": _accuracy(lambda x: i3d_flow_logits(model, x), held_out, flows)}
    record = {**record, "command": command, "render_seconds": render_seconds,
              "quality": {**quality, "held_out": f"{len(held_out.videos)} pool videos at indices {HELD_OUT_START}+"}}
    return save(model, name, out_dir, record, log)


def _accuracy(logits_of, pool: Pool, inputs=None) -> float:
    import torch

    with torch.inference_mode():
        pred = logits_of(_to_float(pool.videos) if inputs is None else inputs).argmax(1).numpy()
    return float((pred == pool.labels).mean())
