"""PIA (Zhang et al., CVPR 2024, "Personalized Image Animator") through diffusers' ``PIAPipeline``.

PIA conditions an AnimateDiff UNet on the reference image through its input: the UNet's ``conv_in`` takes
9 channels = 4 noisy latent + 1 mask + 4 masked-image latent. The masked-image channels hold the reference
image's VAE latent at every frame; the mask channel holds, per frame, PIA's "inter-frame affinity" coefficient
(1 at frame 0, decaying with distance; ``motion_scale`` picks one of PIA's coefficient tables — larger tables
allow larger motion). The condition adapter (``MotionAdapter`` with ``conv_in_channels=9``: PIA's motion modules
+ the extra input channels) is what PIA trains.

``paper``: ``PIAPipeline`` with SD1.5 and ``openmmlab/PIA-condition-adapter``; DDIM (AnimateDiff's linear
betas) 25 steps, CFG 7.5, 16 frames, 512². Weights come from the weights folder / HF hub cache only.
``tiny``: the same pipeline on FLASH's tiny base (its VAE, text encoder, spatial UNet) with a tiny PIA adapter:
the base's motion modules + a 9-channel ``conv_in`` (base weights on the latent channels, the 5 condition
channels zero-initialised), both pretrained on the synthetic pretrain pool by
:mod:`baselines.pretrain_conditioning` and shipped in ``baselines/weights/pia_tiny.safetensors``.
The tiny profile samples with ``flash_bench.tiny_world.DDIM_STEPS`` DDIM steps, like every tiny method.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from baselines import tiny_components as tc
from flash_bench import tiny_world as tw
from flash_bench.method import TINY_BASE_WEIGHTS, Method
from flash_bench.types import InputError, Profile

WEIGHTS_NAME = "pia_tiny"


@dataclass(frozen=True)
class PIAConfig:
    steps: int = 25
    guidance: float = 7.5
    motion_scale: int = 0          # PIA's coefficient table: 0 small, 1 moderate, 2 large motion (3-5 loops)
    native_size: int = 512         # the base model's pixel resolution; output is resized to ctx.size
    negative_prompt: str = ""


PROFILES = {Profile.PAPER: PIAConfig(), Profile.TINY: PIAConfig(native_size=tw.SIZE, steps=tw.DDIM_STEPS)}


def tiny_adapter(base):
    """PIA's condition adapter at tiny scale: MotionAdapter(conv_in_channels=9) holding the base's motion
    modules; conv_in = the base's 4 latent-channel weights + 5 zero-initialised condition channels."""
    from diffusers import MotionAdapter

    torch.manual_seed(0)
    adapter = MotionAdapter(**tc.tiny_motion_adapter_config(), conv_in_channels=9)
    missing, unexpected = adapter.load_state_dict(tc.motion_state(base.unet), strict=False)
    if unexpected or any(not k.startswith("conv_in") for k in missing):
        raise ValueError(f"tiny base motion modules do not fit the PIA adapter: {missing[:3]} {unexpected[:3]}")
    with torch.no_grad():
        adapter.conv_in.weight.zero_()
        adapter.conv_in.weight[:, :4] = base.unet.conv_in.weight
        adapter.conv_in.bias.copy_(base.unet.conv_in.bias)
    return adapter


def build_pipeline(vae, text_encoder, tokenizer, unet2d, adapter, scheduler_config: dict, device: str):
    from diffusers import DDIMScheduler, PIAPipeline

    pipe = PIAPipeline(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet2d,
                       scheduler=DDIMScheduler.from_config(scheduler_config), motion_adapter=adapter)
    pipe.unet.eval().requires_grad_(False)
    pipe.set_progress_bar_config(disable=True)
    return pipe.to(device)


def tiny_pipeline(device: str = "cpu", trained: bool = True):
    """(PIAPipeline on the tiny base, tags); ``trained=False`` skips the shipped adapter (pretraining starts here)."""
    from flash_bench.cross_frame_attention import apply_cross_frame_attention

    base, base_tag = tc.tiny_base(device)
    adapter = tiny_adapter(base)
    weights = tc.load_conditioning(WEIGHTS_NAME, adapter, base_tag) if trained else tc.UNTRAINED
    pipe = build_pipeline(base.vae, base.text_encoder, base.tokenizer, tc.tiny_image_unet(base), adapter,
                          base.scheduler.config, device)
    apply_cross_frame_attention(pipe.unet)      # part of the tiny base (it was pretrained with it)
    return pipe, {"base": base_tag, "conditioning": weights, "noise_shared": base.noise_shared}


def paper_pipeline(device: str, options: dict):
    """SD1.5 + openmmlab/PIA-condition-adapter from local files only (WeightsMissing names what is absent)."""
    from diffusers import AutoencoderKL, MotionAdapter, UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTokenizer

    from flash_bench.tiny_world import ANIMATEDIFF_SCHEDULER

    sd = tc.paper_snapshot("sd-v1-5", options)
    adapter_dir = tc.paper_snapshot("pia-condition-adapter", options)
    kw = dict(local_files_only=True)
    parts = dict(vae=AutoencoderKL.from_pretrained(sd, subfolder="vae", **kw),
                 text_encoder=CLIPTextModel.from_pretrained(sd, subfolder="text_encoder", **kw),
                 tokenizer=CLIPTokenizer.from_pretrained(sd, subfolder="tokenizer", **kw),
                 unet2d=UNet2DConditionModel.from_pretrained(sd, subfolder="unet", **kw),
                 adapter=MotionAdapter.from_pretrained(adapter_dir, **kw))
    for m in (parts["vae"], parts["text_encoder"]):
        m.eval().requires_grad_(False)
    pipe = build_pipeline(**parts, scheduler_config={**ANIMATEDIFF_SCHEDULER, "prediction_type": "epsilon"},
                          device=device)
    return pipe, {"base": "stable-diffusion-v1-5", "conditioning": "openmmlab/PIA-condition-adapter"}


class PIAMethod(tc.PipelineMethod, Method):
    """Registered as ``pia``; training-free per action (``fit`` is a no-op)."""

    name = "pia"
    weights = {Profile.TINY: (*TINY_BASE_WEIGHTS, "baselines/weights/pia_tiny.safetensors"),
               Profile.PAPER: ("sd-v1-5", "pia-condition-adapter")}

    config_class = PIAConfig
    profiles = PROFILES

    def build_pipeline(self):
        if self.ctx.profile is Profile.TINY:
            return tiny_pipeline(self.ctx.device)
        return paper_pipeline(self.ctx.device, self.ctx.options)

    @torch.no_grad()
    def animate(self, reference, prompt, num_frames, seed, item=None):
        if num_frames < 2:
            raise InputError(f"pia: num_frames must be ≥ 2, got {num_frames}")
        cfg, size = self.cfg, self.cfg.native_size
        out = self.pipe(image=tc.to_pil(reference, size), prompt=prompt, negative_prompt=cfg.negative_prompt,
                        num_frames=num_frames, height=size, width=size, num_inference_steps=cfg.steps,
                        guidance_scale=cfg.guidance, motion_scale=cfg.motion_scale,
                        latents=self.initial_latents(num_frames, seed),
                        generator=tc.seeded(seed, self.ctx.device), output_type="np")
        return tc.frames_to_uint8(out.frames[0], self.ctx.size)
