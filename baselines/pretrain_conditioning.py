"""Brief pretraining of the conditioning modules the PIA, SparseCtrl and DynamiCrafter baselines add to the
tiny world's base, on the synthetic ``pretrain`` pool (10 actions disjoint from the 12 few-shot ones) — the CPU-scale
mirror of the official checkpoints, which were trained on WebVid. The tiny base stays frozen; only

* ``pia``: the condition adapter — the 9-channel ``conv_in`` and the motion modules (what PIA trains),
* ``sparsectrl``: the sparse control net (reference latent + mask on frame 0 only),
* ``dynamicrafter``: the widened ``conv_in``, the image key/values, the resampler and the fs embedding

train, each with its own method's conditioning exactly as it samples, on the base's objective (v-prediction),
all frames noised, 10% empty prompts (and, for DynamiCrafter, 10% black reference images) for guidance.
Weights are written fp16 to ``baselines/weights/<method>_tiny.safetensors`` with the base's tag in the metadata:

    python -m baselines.pretrain_conditioning --method all --minutes 4

Run it again whenever the shipped tiny base changes (the methods warn when the tags differ).
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F

from flash_bench import tiny_world as tw


@dataclass(frozen=True)
class ConditioningPretrainConfig:
    minutes: float = 4.0
    max_steps: int = 10**9
    batch: int = 2
    lr: float = 1e-3               # new modules
    lr_pretrained: float = 1e-4    # modules initialised from the base (PIA's motion modules, the control net copy)
    videos_per_action: int = 20
    num_frames: int = tw.NUM_FRAMES
    size: int = tw.SIZE
    seed: int = 0
    cond_dropout: float = 0.1
    threads: int = 1


# ----------------------------------------------------------------------------------------- data
@torch.no_grad()
def pool_latents(vae, cfg: ConditioningPretrainConfig) -> tuple[torch.Tensor, list[str], torch.Tensor]:
    """Latent videos (V, 4, F, h, w) (posterior means, scaled) of the pretrain pool, their prompts and their
    first frames (V, 3, S, S) in [-1, 1]."""
    from flash_bench.datasets import synthetic

    pool = synthetic.pretrain_pool(num_videos=cfg.videos_per_action, num_frames=cfg.num_frames, size=cfg.size,
                                   seed=cfg.seed)
    lats, prompts, firsts = [], [], []
    for _action, prompt, clip in pool:
        frames = tw.to_unit(clip.load(), cfg.size)                                     # (F, 3, S, S)
        z = vae.encode(frames).latent_dist.mean * vae.config.scaling_factor           # (F, 4, h, w)
        lats.append(z.permute(1, 0, 2, 3))                                             # (4, F, h, w)
        prompts.append(prompt)
        firsts.append(frames[:1])
    return torch.stack(lats), prompts, torch.cat(firsts)


def noised(sched, z0: torch.Tensor, gen: torch.Generator):
    """Every frame noised to one per-video timestep: (z_t, target, t)."""
    from flash_bench.tiny_world import diffusion_target

    t = torch.randint(0, sched.config.num_train_timesteps, (z0.shape[0],), generator=gen)
    noise = torch.randn(z0.shape, generator=gen)
    return sched.add_noise(z0, noise, t), diffusion_target(sched, z0, noise, t), t


def prompt_batch(encode, prompts: list[str], idx: torch.Tensor, drop: float, gen: torch.Generator) -> torch.Tensor:
    """Prompt embeddings (B, 77, D) of the batch, each replaced by the empty prompt with probability ``drop``."""
    keep = torch.rand(len(idx), generator=gen) >= drop
    return encode([prompts[i] if k else "" for i, k in zip(idx.tolist(), keep.tolist())])


# ----------------------------------------------------------------------------------------- per-method losses
def pia_loss(pipe, z0, emb, gen) -> torch.Tensor:
    """PIA: UNet input = [z_t; mask of PIA affinity coefficients; frame-0 latent at every frame]."""
    from diffusers.pipelines.deprecated.pia.pipeline_pia import prepare_mask_coef_by_statistics

    b, _, nf, h, w = z0.shape
    zt, target, t = noised(pipe.scheduler, z0, gen)
    scale = int(torch.randint(0, 3, (1,), generator=gen))                     # small / moderate / large motion
    coef = torch.tensor(prepare_mask_coef_by_statistics(nf, 0, scale), dtype=z0.dtype)
    mask = coef.view(1, 1, nf, 1, 1).expand(b, 1, nf, h, w)                   # (B, 1, F, h, w)
    image = z0[:, :, :1].expand(-1, -1, nf, -1, -1)                           # (B, 4, F, h, w)
    pred = pipe.unet(torch.cat([zt, mask, image], dim=1), t, emb.repeat_interleave(nf, 0)).sample
    return F.mse_loss(pred, target)


def sparsectrl_loss(pipe, z0, emb, gen) -> torch.Tensor:
    """SparseCtrl: the control net reads frame 0's latent + a mask that is 1 on frame 0 only."""
    b, c, nf, h, w = z0.shape
    zt, target, t = noised(pipe.scheduler, z0, gen)
    cond = torch.zeros_like(z0)
    cond[:, :, 0] = z0[:, :, 0]
    mask = torch.zeros((b, 1, nf, h, w))
    mask[:, :, 0] = 1
    emb = emb.repeat_interleave(nf, 0)                                        # (B*F, 77, D)
    down, mid = pipe.controlnet(zt, t, encoder_hidden_states=emb, controlnet_cond=cond, conditioning_mask=mask,
                                return_dict=False)
    pred = pipe.unet(zt, t, encoder_hidden_states=emb, down_block_additional_residuals=down,
                     mid_block_additional_residual=mid).sample
    return F.mse_loss(pred, target)


def dynamicrafter_loss(model, z0, prompts, images, gen, drop: float) -> torch.Tensor:
    """DynamiCrafter: context = [text; resampled image tokens], frame-0 latent concatenated to every frame."""
    from baselines.dynamicrafter import set_frame_stride

    sched = _scheduler(model.scheduler_config)
    zt, target, t = noised(sched, z0, gen)
    black = torch.rand(len(images), generator=gen) < drop
    images = torch.where(black.view(-1, 1, 1, 1), torch.zeros_like(images), images)
    set_frame_stride(model.unet, 1)                                           # the pool is rendered at stride 1
    pred = model(zt, z0[:, :, 0], t, model.context(prompts, images))
    return F.mse_loss(pred, target)


def _scheduler(config: dict):
    from diffusers import DDIMScheduler

    return DDIMScheduler.from_config(config)


# ----------------------------------------------------------------------------------------- loop
def setup(method: str):
    """(model object, trainable parameter groups, module to save) for ``method`` on the tiny base, untrained."""
    if method == "pia":
        from baselines.pia import tiny_pipeline

        pipe, tags = tiny_pipeline(trained=False)
        motion = [p for n, p in pipe.unet.named_parameters() if ".motion_modules." in n]
        return pipe, tags, [list(pipe.unet.conv_in.parameters()), motion]
    if method == "sparsectrl":
        from baselines.sparsectrl import tiny_pipeline

        pipe, tags = tiny_pipeline(trained=False)
        new = ("controlnet_cond_embedding", "controlnet_down_blocks", "controlnet_mid_block")
        params = dict(pipe.controlnet.named_parameters())
        return pipe, tags, [[p for n, p in params.items() if n.startswith(new)],
                            [p for n, p in params.items() if not n.startswith(new)]]
    if method == "dynamicrafter":
        from baselines.dynamicrafter import tiny_model

        model, tags = tiny_model(trained=False)
        cond = model.conditioning_modules()
        frozen = {id(p) for p in cond["visual"].parameters()}                 # the CLIP encoder stays frozen
        return model, tags, [[p for p in cond.parameters() if id(p) not in frozen], []]
    raise ValueError(f"unknown method {method!r}: expected pia, sparsectrl or dynamicrafter")


def module_to_save(method: str, obj):
    """What ships: PIA's adapter (motion modules + conv_in), the control net, or DynamiCrafter's added modules."""
    if method == "pia":
        from diffusers import MotionAdapter

        from baselines.tiny_components import motion_state, tiny_motion_adapter_config

        adapter = MotionAdapter(**tiny_motion_adapter_config(), conv_in_channels=9)
        conv_in = {f"conv_in.{k}": v for k, v in obj.unet.conv_in.state_dict().items()}
        adapter.load_state_dict({**motion_state(obj.unet), **conv_in})
        return adapter
    return obj.controlnet if method == "sparsectrl" else obj.conditioning_modules()


def batch_loss(method: str, obj, data, cfg: ConditioningPretrainConfig, gen: torch.Generator) -> torch.Tensor:
    latents, prompts, images = data
    idx = torch.randint(0, len(latents), (cfg.batch,), generator=gen)
    z0 = latents[idx]
    if method == "dynamicrafter":
        keep = torch.rand(cfg.batch, generator=gen) >= cfg.cond_dropout
        texts = [prompts[i] if k else "" for i, k in zip(idx.tolist(), keep.tolist())]
        return dynamicrafter_loss(obj, z0, texts, images[idx], gen, cfg.cond_dropout)
    emb = prompt_batch(_encoder(obj), prompts, idx, cfg.cond_dropout, gen)
    return (pia_loss if method == "pia" else sparsectrl_loss)(obj, z0, emb, gen)


def _encoder(pipe):
    @torch.no_grad()
    def encode(texts: list[str]) -> torch.Tensor:
        ids = pipe.tokenizer(texts, padding="max_length", max_length=pipe.tokenizer.model_max_length,
                             truncation=True, return_tensors="pt").input_ids
        return pipe.text_encoder(ids)[0]
    return encode


def pretrain(method: str, cfg: ConditioningPretrainConfig = ConditioningPretrainConfig(), save: bool = True) -> dict:
    """Train ``method``'s conditioning modules for ``cfg.minutes``; write the shipped weights; return a summary."""
    from baselines.tiny_components import save_conditioning

    torch.set_num_threads(cfg.threads)
    obj, tags, (new, pretrained) = setup(method)
    data = pool_latents(obj.vae, cfg)
    for p in new + pretrained:
        p.requires_grad_(True)
    opt = torch.optim.AdamW([{"params": new, "lr": cfg.lr}, {"params": pretrained, "lr": cfg.lr_pretrained}],
                            weight_decay=0.0)
    gen, start, step, losses = torch.Generator().manual_seed(cfg.seed), time.time(), 0, []
    while time.time() - start < cfg.minutes * 60 and step < cfg.max_steps:
        loss = batch_loss(method, obj, data, cfg, gen)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(new + pretrained, 1.0)
        opt.step()
        losses.append(loss.item())
        step += 1
    summary = {"method": method, "steps": step, "minutes": round((time.time() - start) / 60, 2),
               "loss_first20": float(np.mean(losses[:20])), "loss_last20": float(np.mean(losses[-20:])),
               "base_tag": tags["base"], "config": asdict(cfg)}
    if save:
        summary["path"] = str(save_conditioning(f"{method}_tiny", module_to_save(method, obj), summary))
    return summary


def main(method: str = "all", minutes: float = 4.0, videos_per_action: int = 20, seed: int = 0,
         max_steps: int = 10**9, save: bool = True) -> None:
    """Pretrain one method's conditioning modules (or all three, one after the other)."""
    import json

    cfg = ConditioningPretrainConfig(minutes=minutes, videos_per_action=videos_per_action, seed=seed,
                                     max_steps=max_steps)
    for m in (["pia", "sparsectrl", "dynamicrafter"] if method == "all" else [method]):
        print(json.dumps(pretrain(m, cfg, save=save)), flush=True)


if __name__ == "__main__":
    import typer

    typer.run(main)
