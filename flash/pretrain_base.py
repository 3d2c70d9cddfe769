"""Pretraining of the tiny base on the synthetic ``pretrain`` pool — the CPU-scale mirror of starting FLASH from
AnimateDiff (which was pretrained on WebVid). Run once, in the background, and ship the weights:

    flash-bench pretrain-base --profile tiny [--minutes 90] [--seed 0]

The pool (:func:`flash_bench.datasets.synthetic.pretrain_pool`) is the 10 pretraining actions plus
``random_videos`` random choreographies, never the 12 few-shot actions, rendered in the tiny world's geometry
(:mod:`flash_bench.tiny_world`: 32x32 canvas, 8 frames, 16x16 latents) into ``flash/weights/tiny_v2/``
(docs/tiny_world_v2.md).

Stages (each resumable from ``resume_dir``):
1. the tiny VAE is trained on pool frames (L1 + MSE + a tiny KL term), its latent scale set to 1/std;
   optionally (``vae_decoder_minutes``, e.g. after a warm start) its decoder alone is then tuned on the pool
   frames, figure-weighted (:func:`figure_weighted_loss`), the learning rate on a cosine; the encoder stays
   frozen, so the UNet's latents stay valid;
2. the pool's latents are cached once (each video and its horizontal flip);
3. the UNet (spatial layers + motion modules) is trained on the cached latents with the base model's own
   mechanisms — cross-frame attention, noise-free first frame — v-prediction, uniform timesteps, 10% empty
   prompts (for classifier-free guidance). The text encoder is a frozen seeded random tiny CLIP.
Every ``save_every_min`` minutes the EMA weights are written (fp16) to ``out_dir`` with a JSONL log.
"""
from __future__ import annotations

import copy
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from flash_bench.cross_frame_attention import apply_cross_frame_attention
from flash_bench.tiny_world import (BASE_DIR, COMPONENTS, NUM_FRAMES, SIZE, BaseModel, build_tiny_components,
                                    denoising_loss, diffusion_target, noisy_input, save_tiny_base, to_unit)
from flash_bench.types import Profile


@dataclass(frozen=True)
class PretrainConfig:
    out_dir: str = str(BASE_DIR)
    resume_dir: str = "results/cache/tiny_v2_resume"
    source: str = "synthetic"          # "synthetic" pretrain pool | "blobs" (smoke tests only)
    seed: int = 0
    size: int = SIZE
    num_frames: int = NUM_FRAMES
    videos_per_action: int = 30        # synthetic pretrain pool: 10 actions (none of the 12 few-shot ones)
    random_videos: int = 0             # random choreographies added to the synthetic pool
    random_variants: int = 0           # and of each random-choreography variant (synthetic.RANDOM_VARIANTS)
    vae_minutes: float = 10.0
    vae_batch: int = 16
    vae_lr: float = 1e-3
    unet_minutes: float = 600.0        # stop after this long (or when killed; checkpoints survive)
    unet_max_steps: int = 10**9
    unet_batch: int = 4
    unet_lr: float = 2e-4
    ema_decay: float = 0.999
    cond_dropout: float = 0.1
    save_every_min: float = 4.0
    decoder_every: int = 8             # one VAE-decoder step per this many UNet steps (0 = off)
    threads: int = 2
    warm_start: str = ""               # a tiny base folder to continue from when resume_dir holds no state
    vae_decoder_minutes: float = 0.0   # decoder-only, figure-weighted tuning after stage 1 (0 = none)
    vae_decoder_lr: float = 2e-3       # its peak learning rate (cosine down to 5% over vae_decoder_minutes)
    vae_decoder_batch: int = 16
    figure_weight: float = 8.0         # the renderer's figure pixels weigh 1 + this in its loss


# ----------------------------------------------------------------------------------------- data
def blob_videos(n: int, size: int, num_frames: int, seed: int) -> list[tuple[np.ndarray, str]]:
    """Smoke-test data: a bright disc moving left or right on a dark background."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    out = []
    for i in range(n):
        direction = 1 if i % 2 == 0 else -1
        cy, cx, r = rng.uniform(0.3, 0.7) * size, rng.uniform(0.3, 0.7) * size, size / 8
        colour = rng.integers(80, 256, 3)
        frames = np.zeros((num_frames, size, size, 3), np.uint8)
        for t in range(num_frames):
            x = cx + direction * (t - num_frames / 2) * size / (2.5 * num_frames)
            frames[t][(yy - cy) ** 2 + (xx - x) ** 2 < r * r] = colour
        out.append((frames, "a disc moves right" if direction > 0 else "a disc moves left"))
    return out


def pool_videos(cfg: PretrainConfig, with_masks: bool = False):
    """(uint8 (T, H, W, 3), prompt) for every video of the pretrain pool; and, ``with_masks``, each video's figure
    mask, bool (T, H, W), from the same render (the renderer's mask; the non-black pixels, the disc, for blobs),
    else None."""
    if cfg.source == "blobs":
        videos = blob_videos(32, cfg.size, cfg.num_frames, cfg.seed)
        return videos, ([frames.any(-1) for frames, _ in videos] if with_masks else None)
    if cfg.source != "synthetic":
        from flash_bench.types import InputError

        raise InputError(f"pretraining source {cfg.source!r}: expected 'synthetic' (the v2 world, formerly "
                         "'synthetic-v2') or 'blobs'")
    from flash_bench.datasets import synthetic

    pool = synthetic.pretrain_pool(num_videos=cfg.videos_per_action, num_random=cfg.random_videos,
                                   num_frames=cfg.num_frames, size=cfg.size, seed=cfg.seed,
                                   num_variants=cfg.random_variants)
    if not with_masks:
        return [(clip.load(), prompt) for _action_id, prompt, clip in pool], None
    rendered = [synthetic.render(action_id, int(clip.id), num_frames=cfg.num_frames, size=cfg.size, seed=cfg.seed)
                for action_id, _prompt, clip in pool]
    return [(video, prompt) for (video, _), (_, prompt, _) in zip(rendered, pool)], [mask for _, mask in rendered]


def components_for(cfg: PretrainConfig) -> dict:
    """The tiny base's component configs (:data:`flash_bench.tiny_world.COMPONENTS`); the synthetic world must be
    rendered at the canvas size its VAE is built for."""
    if cfg.source == "synthetic" and cfg.size != COMPONENTS["vae"]["sample_size"]:
        from flash_bench.types import InputError

        raise InputError(f"source synthetic renders at size {COMPONENTS['vae']['sample_size']} "
                         f"(flash_bench.tiny_world.COMPONENTS), got size={cfg.size}")
    return COMPONENTS


# ----------------------------------------------------------------------------------------- logging
class Log:
    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)

    def __call__(self, **row) -> None:
        row = {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **row}
        with open(self.path, "a") as f:
            f.write(json.dumps(row) + "\n")
        print(json.dumps(row), flush=True)


# ----------------------------------------------------------------------------------------- stage 1: VAE
def train_vae(base: BaseModel, frames: np.ndarray, cfg: PretrainConfig, log: Log) -> None:
    """Reconstruction training of the tiny AutoencoderKL on random pool frames for ``vae_minutes``."""
    vae, gen = base.vae, torch.Generator().manual_seed(cfg.seed)
    vae.train().requires_grad_(True)
    opt = torch.optim.AdamW(vae.parameters(), lr=cfg.vae_lr)
    start, step = time.time(), 0
    while time.time() - start < cfg.vae_minutes * 60:
        idx = torch.randint(0, len(frames), (cfg.vae_batch,), generator=gen)
        x = to_unit(frames[idx.numpy()])                                   # (B, 3, H, W)
        if step % 2:
            x = x.flip(-1)
        dist = vae.encode(x).latent_dist
        rec = vae.decode(dist.sample(generator=gen)).sample
        kl = dist.kl().mean() / x[0].numel()
        loss = (rec - x).abs().mean() + (rec - x).pow(2).mean() + 1e-6 * kl
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        if step % 20 == 0:
            psnr = 10 * torch.log10(4.0 / (rec.detach().clamp(-1, 1) - x).pow(2).mean())
            log(stage="vae", step=step, loss=round(loss.item(), 5), psnr_db=round(psnr.item(), 2),
                minutes=round((time.time() - start) / 60, 2))
    vae.eval().requires_grad_(False)


def figure_weighted_loss(rec: torch.Tensor, x: torch.Tensor, mask: torch.Tensor, figure_weight: float) -> torch.Tensor:
    """L1 + MSE per pixel, weighted w = 1 + ``figure_weight`` x mask and normalised by the weights' mean:
    sum(w * (|rec - x| + (rec - x)^2)) / sum(w), w broadcast over the 3 colour channels. rec, x: (B, 3, H, W);
    mask: (B, H, W), 1 on the figure."""
    w = (1.0 + figure_weight * mask.float())[:, None].expand_as(x)
    err = rec - x
    return (w * (err.abs() + err.pow(2))).sum() / w.sum()


def _cosine_lr(peak: float, fraction: float) -> float:
    """Cosine from ``peak`` (fraction 0) down to 5% of it (fraction >= 1)."""
    import math

    f = min(max(fraction, 0.0), 1.0)
    return peak * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * f)))


@torch.no_grad()
def _encoded_means(vae, frames: np.ndarray, chunk: int = 256) -> torch.Tensor:
    return torch.cat([vae.encode(to_unit(frames[j:j + chunk])).latent_dist.mean for j in range(0, len(frames), chunk)])


def tune_decoder(base: BaseModel, frames: np.ndarray, masks: np.ndarray, cfg: PretrainConfig, log: Log) -> None:
    """Stage 1b: the VAE decoder (+ post_quant_conv) alone, on the encoder's latent means of the pool frames
    (N, H, W, 3) with their figure masks (N, H, W), :func:`figure_weighted_loss`, AdamW on a cosine over
    ``vae_decoder_minutes`` of training time. Resumable: every ``save_every_min`` minutes the VAE
    (``vae_tuned.safetensors``), the optimizer and the time and steps done go to ``resume_dir``, and the out
    folder is rewritten (:func:`_write_out`)."""
    from safetensors.torch import save_file

    from flash_bench.store import atomic_path, atomic_write_json

    rdir, vae = Path(cfg.resume_dir), base.vae
    state_path = rdir / "decoder_state.json"
    state = json.loads(state_path.read_text()) if state_path.exists() else {"minutes": 0.0, "steps": 0}
    budget = cfg.vae_decoder_minutes
    if state["minutes"] >= budget:
        return
    vae.eval().requires_grad_(False)
    latents = _encoded_means(vae, frames)                                  # (N, C, h, w): the encoder is frozen
    params = list(vae.decoder.parameters()) + list(vae.post_quant_conv.parameters())
    for p in params:
        p.requires_grad_(True)
    opt = torch.optim.AdamW(params, lr=cfg.vae_decoder_lr, weight_decay=0.0)
    if (rdir / "decoder_optimizer.pt").exists():
        opt.load_state_dict(torch.load(rdir / "decoder_optimizer.pt", weights_only=True))
    step, done = state["steps"], state["minutes"]
    gen = torch.Generator().manual_seed(cfg.seed + 11 + step)
    mask_t = torch.from_numpy(np.ascontiguousarray(masks))
    start, last_save, psnr_avg = time.time(), time.time(), None
    log(stage="vae_decoder_start", frames=len(frames), figure_share=round(float(masks.mean()), 4),
        steps=step, minutes_done=round(done, 2), budget_minutes=budget)

    def elapsed() -> float:
        return done + (time.time() - start) / 60

    def save() -> None:
        with atomic_path(rdir / "vae_tuned.safetensors") as tmp:
            save_file({k: v.detach().contiguous() for k, v in vae.state_dict().items()}, str(tmp))
        with atomic_path(rdir / "decoder_optimizer.pt") as tmp:
            torch.save(opt.state_dict(), tmp)
        atomic_write_json(state_path, {"minutes": elapsed(), "steps": step})
        _write_out(base, cfg, log)

    while elapsed() < budget:
        lr = _cosine_lr(cfg.vae_decoder_lr, elapsed() / budget)
        for group in opt.param_groups:
            group["lr"] = lr
        idx = torch.randint(0, len(frames), (cfg.vae_decoder_batch,), generator=gen)
        x = to_unit(frames[idx.numpy()])                                   # (B, 3, H, W)
        rec = vae.decode(latents[idx]).sample
        loss = figure_weighted_loss(rec, x, mask_t[idx], cfg.figure_weight)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        with torch.no_grad():
            err = (rec.clamp(-1, 1) - x).pow(2).mean(1)                    # (B, H, W)
            m = mask_t[idx]
            fig = 10 * torch.log10(4.0 / (err[m].mean() if m.any() else err.mean())).item()
        psnr_avg = fig if psnr_avg is None else 0.98 * psnr_avg + 0.02 * fig
        if step % 50 == 0:
            log(stage="vae_decoder", step=step, loss=round(loss.item(), 5), lr=round(lr, 6),
                figure_psnr_db=round(psnr_avg, 2), minutes=round(elapsed(), 2))
        if time.time() - last_save > cfg.save_every_min * 60:
            save()
            last_save = time.time()
    save()
    for p in params:
        p.requires_grad_(False)
    log(stage="vae_decoder_done", steps=step, minutes=round(elapsed(), 2))


@torch.no_grad()
def set_latent_scale(base: BaseModel, frames: np.ndarray) -> float:
    """SD-style scaling factor: 1 / std of the latents of a sample of frames."""
    idx = np.linspace(0, len(frames) - 1, min(len(frames), 512)).astype(int)
    lat = torch.cat([base.vae.encode(to_unit(frames[idx[j:j + 64]])).latent_dist.mean
                     for j in range(0, len(idx), 64)])                     # (N, C, h, w)
    scale = float(1.0 / lat.std())
    base.vae.register_to_config(scaling_factor=scale)
    return scale


# ----------------------------------------------------------------------------------------- stage 2: latents
def pool_identity(cfg: PretrainConfig) -> str:
    """What the latent cache was made from: the pool's source, size and render settings, the world's VERSION and
    the random-choreography variants it knows."""
    from flash_bench.datasets import synthetic

    keys = ("source", "seed", "size", "num_frames", "videos_per_action", "random_videos", "random_variants")
    return json.dumps({"synthetic_version": synthetic.VERSION, **{k: getattr(cfg, k) for k in keys},
                       "variants": [*synthetic.VARIANT_ACTIONS, *synthetic.SPARSE_ACTIONS]}, sort_keys=True)


@torch.no_grad()
def cache_latents(base: BaseModel, videos: list[tuple[np.ndarray, str]], cache: Path | None = None,
                  identity: str = "") -> tuple[torch.Tensor, list[str]]:
    """Latent videos (2V, C, F, h, w) of every video and its mirror image, and their prompts.

    The mirror is taken in latent space (a horizontal flip of the latent), an approximation of encoding the
    flipped video that halves the encoding time. Saved to ``cache`` when given, with ``identity``
    (:func:`pool_identity`) in its metadata; read back only when that identity matches, so a changed pool is
    encoded afresh.
    """
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    from flash_bench.store import atomic_path

    prompts = [p for _, p in videos for _ in range(2)]
    if cache is not None and cache.exists():
        with safe_open(str(cache), "pt") as f:
            same = (f.metadata() or {}).get("pool") == identity
        if same:
            return load_file(str(cache))["latents"], prompts
    lats = []
    for frames, _ in videos:
        z = base.encode_frames(to_unit(frames)).permute(1, 0, 2, 3)         # (C, F, h, w)
        lats += [z, z.flip(-1)]
    latents = torch.stack(lats)
    if cache is not None:
        with atomic_path(cache) as tmp:
            save_file({"latents": latents.contiguous()}, str(tmp), metadata={"pool": identity})
    return latents, prompts


# ----------------------------------------------------------------------------------------- stage 3: UNet
def _prompt_table(base: BaseModel, prompts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """Embeddings of the unique prompts with the empty prompt last, and each video's row index."""
    unique = sorted(set(prompts))
    table = base.encode_prompts(unique + [""])                             # (P+1, 77, D)
    index = torch.tensor([unique.index(p) for p in prompts])
    return table, index


def unet_step(base: BaseModel, z0: torch.Tensor, emb: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """One denoising loss on latent videos z0 (B, C, F, h, w) with prompt embeddings emb (B, 77, D)."""
    sched, nf = base.scheduler, z0.shape[2]
    t = torch.randint(0, sched.config.num_train_timesteps, (z0.shape[0],), generator=gen)
    noise = torch.randn(z0.shape, generator=gen)
    pred = base.unet(noisy_input(sched, z0, noise, t), t, emb.repeat_interleave(nf, 0)).sample
    return denoising_loss(pred, diffusion_target(sched, z0, noise, t))


def _save_resume(rdir: Path, unet, ema, opt, step: int) -> None:
    from safetensors.torch import save_file

    from flash_bench.store import atomic_path, atomic_write_json

    for name, module in (("unet", unet), ("ema", ema)):
        with atomic_path(rdir / f"{name}.safetensors") as tmp:
            save_file({k: v.contiguous() for k, v in module.state_dict().items()}, str(tmp))
    with atomic_path(rdir / "optimizer.pt") as tmp:
        torch.save(opt.state_dict(), tmp)
    atomic_write_json(rdir / "unet_state.json", {"step": step})


def _load_resume(rdir: Path, unet, ema, opt) -> int:
    from safetensors.torch import load_file

    if not (rdir / "unet_state.json").exists():
        return 0
    unet.load_state_dict(load_file(str(rdir / "unet.safetensors")))
    ema.load_state_dict(load_file(str(rdir / "ema.safetensors")))
    if (rdir / "optimizer.pt").exists():          # absent after a warm start: AdamW starts afresh
        opt.load_state_dict(torch.load(rdir / "optimizer.pt", weights_only=True))
    return json.loads((rdir / "unet_state.json").read_text())["step"]


@torch.no_grad()
def _ema_update(ema, model, decay: float) -> None:
    for pe, pm in zip(ema.parameters(), model.parameters()):
        pe.lerp_(pm, 1.0 - decay)


class DecoderTuner:
    """Keeps improving the VAE *decoder* (encoder frozen, so cached latents stay valid) while the UNet trains:
    one reconstruction step every ``decoder_every`` UNet steps."""

    def __init__(self, base: BaseModel, frames: np.ndarray, cfg: PretrainConfig):
        self.base, self.frames, self.cfg = base, frames, cfg
        self.params = list(base.vae.decoder.parameters()) + list(base.vae.post_quant_conv.parameters())
        self.opt = torch.optim.AdamW(self.params, lr=cfg.vae_lr * 0.5)
        self.gen = torch.Generator().manual_seed(cfg.seed + 7)
        self.steps, self.psnr = 0, None

    def step(self) -> None:
        vae = self.base.vae
        idx = torch.randint(0, len(self.frames), (self.cfg.vae_batch // 2,), generator=self.gen)
        x = to_unit(self.frames[idx.numpy()])                               # (B, 3, H, W)
        with torch.no_grad():
            z = vae.encode(x).latent_dist.mean
        for p in self.params:
            p.requires_grad_(True)
        rec = vae.decode(z).sample
        loss = (rec - x).abs().mean() + (rec - x).pow(2).mean()
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        for p in self.params:
            p.requires_grad_(False)
        self.steps += 1
        psnr = 10 * torch.log10(4.0 / (rec.detach().clamp(-1, 1) - x).pow(2).mean()).item()
        self.psnr = psnr if self.psnr is None else 0.95 * self.psnr + 0.05 * psnr


def train_unet(base: BaseModel, latents: torch.Tensor, prompts: list[str], cfg: PretrainConfig, log: Log,
               tuner: DecoderTuner | None = None) -> None:
    """Train the whole UNetMotionModel on cached latents; EMA weights are what ships."""
    unet, rdir = base.unet, Path(cfg.resume_dir)
    apply_cross_frame_attention(unet)
    table, index = _prompt_table(base, prompts)
    ema = copy.deepcopy(unet).requires_grad_(False)
    unet.train().requires_grad_(True)
    opt = torch.optim.AdamW(unet.parameters(), lr=cfg.unet_lr, weight_decay=0.0)
    step = _load_resume(rdir, unet, ema, opt)
    gen = torch.Generator().manual_seed(cfg.seed + step)
    start, last_save, loss_avg = time.time(), time.time(), None
    while time.time() - start < cfg.unet_minutes * 60 and step < cfg.unet_max_steps:
        idx = torch.randint(0, len(latents), (cfg.unet_batch,), generator=gen)
        drop = torch.rand(cfg.unet_batch, generator=gen) < cfg.cond_dropout
        emb = table[torch.where(drop, len(table) - 1, index[idx])]         # (B, 77, D)
        loss = unet_step(base, latents[idx], emb, gen)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(unet.parameters(), 1.0)
        opt.step()
        _ema_update(ema, unet, min(cfg.ema_decay, (1 + step) / (10 + step)))
        step += 1
        loss_avg = loss.item() if loss_avg is None else 0.98 * loss_avg + 0.02 * loss.item()
        if tuner is not None and step % cfg.decoder_every == 0:
            tuner.step()
        if step % 100 == 0 or step == 10:
            log(stage="unet", step=step, loss_ema=round(loss_avg, 5), minutes=round((time.time() - start) / 60, 2),
                decoder_steps=tuner.steps if tuner else 0, decoder_psnr_db=round(tuner.psnr or 0, 2) if tuner else None)
        if time.time() - last_save > cfg.save_every_min * 60:
            _checkpoint(base, ema, unet, opt, step, cfg, log)
            last_save = time.time()
    _checkpoint(base, ema, unet, opt, step, cfg, log)


def _checkpoint(base: BaseModel, ema, unet, opt, step: int, cfg: PretrainConfig, log: Log) -> None:
    from safetensors.torch import save_file

    from flash_bench.store import atomic_path

    _save_resume(Path(cfg.resume_dir), unet, ema, opt, step)
    with atomic_path(Path(cfg.resume_dir) / "vae_tuned.safetensors") as tmp:
        save_file({k: v.contiguous() for k, v in base.vae.state_dict().items()}, str(tmp))
    _save_out(base, ema, step, cfg, log)


def _write_out(base: BaseModel, cfg: PretrainConfig, log: Log) -> None:
    """Write the out folder outside UNet training: ``base``'s VAE with the UNet of ``resume_dir``'s EMA weights
    (a warm start's) when there are any, else ``base``'s own."""
    from safetensors.torch import load_file

    rdir = Path(cfg.resume_dir)
    unet, steps = base.unet, 0
    if (rdir / "ema.safetensors").exists():
        unet = copy.deepcopy(base.unet)
        unet.load_state_dict(load_file(str(rdir / "ema.safetensors")))
        steps = json.loads((rdir / "unet_state.json").read_text())["step"]
    _save_out(base, unet, steps, cfg, log)


def _save_out(base: BaseModel, unet, steps: int, cfg: PretrainConfig, log: Log) -> None:
    """The out folder: ``base``'s VAE and text encoder with ``unet``. Its ``config.json`` records this run
    (``pretrain``: the config, UNet and decoder steps) and keeps the warm start's own record
    (``warm_start_pretrain``), which a warm-started UNet's earlier training is described by."""
    source = Path(cfg.warm_start) / "config.json" if cfg.warm_start else None
    before = json.loads(source.read_text()).get("pretrain") if source is not None and source.exists() else None
    decoder = Path(cfg.resume_dir) / "decoder_state.json"
    decoder_steps = json.loads(decoder.read_text())["steps"] if decoder.exists() else 0
    shipped = BaseModel(base.vae, base.text_encoder, base.tokenizer, unet, base.scheduler, Profile.TINY,
                        base.prediction_type)
    record = {**asdict(cfg), "unet_steps": steps, "vae_decoder_steps": decoder_steps}
    save_tiny_base(shipped, Path(cfg.out_dir), components_for(cfg),
                   {"pretrain": record, **({"warm_start_pretrain": before} if before else {})})
    log(stage="checkpoint", unet_steps=steps, vae_decoder_steps=decoder_steps, out_dir=cfg.out_dir)


# ----------------------------------------------------------------------------------------- orchestration
def _warm_start(cfg: PretrainConfig, log: Log) -> None:
    """Seed an empty ``resume_dir`` from a finished tiny base (e.g. the shipped one): its VAE and scale, its
    (EMA) UNet as both the training and the EMA weights, and its step count. The optimizer starts afresh."""
    from safetensors.torch import save_file

    from flash_bench.store import atomic_path, atomic_write_json
    from flash_bench.tiny_world import load_tiny_base

    rdir, src = Path(cfg.resume_dir), Path(cfg.warm_start)
    if (rdir / "unet_state.json").exists():
        return
    base = load_tiny_base(src)
    steps = json.loads((src / "config.json").read_text()).get("pretrain", {}).get("unet_steps", 0)
    rdir.mkdir(parents=True, exist_ok=True)
    for name, module in (("vae", base.vae), ("unet", base.unet), ("ema", base.unet)):
        with atomic_path(rdir / f"{name}.safetensors") as tmp:
            save_file({k: v.contiguous() for k, v in module.state_dict().items()}, str(tmp))
    atomic_write_json(rdir / "vae.json", {"scaling_factor": float(base.vae.config.scaling_factor)})
    atomic_write_json(rdir / "unet_state.json", {"step": steps})
    log(stage="warm_start", source=str(src), unet_steps=steps)


def _vae_stage(base: BaseModel, videos, cfg: PretrainConfig, log: Log) -> None:
    from safetensors.torch import load_file, save_file

    from flash_bench.store import atomic_path, atomic_write_json

    rdir = Path(cfg.resume_dir)
    if (rdir / "vae.json").exists():
        tuned = rdir / "vae_tuned.safetensors"    # the decoder keeps training with the UNet (DecoderTuner)
        base.vae.load_state_dict(load_file(str(tuned if tuned.exists() else rdir / "vae.safetensors")))
        base.vae.register_to_config(scaling_factor=json.loads((rdir / "vae.json").read_text())["scaling_factor"])
        return
    frames = np.concatenate([v for v, _ in videos])                         # (N, H, W, 3)
    train_vae(base, frames, cfg, log)
    scale = set_latent_scale(base, frames)
    with atomic_path(rdir / "vae.safetensors") as tmp:
        save_file({k: v.contiguous() for k, v in base.vae.state_dict().items()}, str(tmp))
    atomic_write_json(rdir / "vae.json", {"scaling_factor": scale})
    log(stage="vae_done", scaling_factor=scale)


def pretrain_base(cfg: PretrainConfig) -> Path:
    """Run (or resume) all three stages; returns the folder holding the shipped tiny base."""
    torch.set_num_threads(cfg.threads)
    log = Log(Path(cfg.out_dir) / "train_log.jsonl")
    log(stage="start", config=asdict(cfg), torch=torch.__version__)
    if cfg.warm_start:
        _warm_start(cfg, log)
    base = build_tiny_components(cfg.seed, components_for(cfg))
    videos, masks = pool_videos(cfg, with_masks=cfg.vae_decoder_minutes > 0)
    log(stage="data", videos=len(videos), prompts=sorted({p for _, p in videos}))
    _vae_stage(base, videos, cfg, log)
    frames = np.concatenate([v for v, _ in videos])                         # (N, H, W, 3)
    if cfg.vae_decoder_minutes > 0:
        tune_decoder(base, frames, np.concatenate(masks), cfg, log)
    if cfg.unet_minutes <= 0 or cfg.unet_max_steps <= 0:
        _write_out(base, cfg, log)
        return Path(cfg.out_dir)
    latents, prompts = cache_latents(base, videos, Path(cfg.resume_dir) / "latents.safetensors", pool_identity(cfg))
    log(stage="latents", shape=list(latents.shape), std=round(float(latents.std()), 4))
    tuner = DecoderTuner(base, frames, cfg) if cfg.decoder_every > 0 else None
    train_unet(base, latents, prompts, cfg, log, tuner)
    return Path(cfg.out_dir)
