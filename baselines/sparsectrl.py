"""SparseCtrl (Guo et al., ECCV 2024), RGB condition, through diffusers' ``AnimateDiffSparseControlNetPipeline``.

A sparse control net (a copy of the UNet encoder with motion modules) reads the condition frames: every frame
gets the VAE latent of its condition image (zeros where there is none) concatenated with a 1-channel mask that is
1 only on conditioned frames. Here the reference image is the only condition, on frame 0
(``controlnet_frame_indices=[0]``); the net's residuals steer all 16 frames of the AnimateDiff UNet.

``paper``: SD1.5 + MotionAdapter ``guoyww/animatediff-motion-adapter-v1-5-3`` (AnimateDiff v3) + its domain
adapter LoRA ``guoyww/animatediff-motion-lora-v1-5-3`` (fused, needs ``peft``) + ``SparseControlNetModel``
``guoyww/animatediff-sparsectrl-rgb``; the official RGB settings of guoyww/AnimateDiff
(``configs/prompts/3_sparsectrl/3_1_sparsectrl_i2v.yaml``): 256×384 (H×W), DDIM 25 steps, CFG 8.5; 16 frames; local
files only. The reference is cropped to 2:3 around its centre and resized, as that repository's ``animate.py`` does
(``RandomResizedCrop((H, W), scale=(1, 1), ratio=W/H)``, whose fallback is this centre crop); the benchmark's frames
are square, so the 256×384 video's central 256×256 is what is scored (docs/paper_profile_settings.md).
``tiny``: the same pipeline on FLASH's tiny base; the control net is initialised from the base (encoder + motion
modules, as ``SparseControlNetModel.from_unet`` does), pretrained on the synthetic pretrain pool by
:mod:`baselines.pretrain_conditioning` and shipped in ``baselines/weights/sparsectrl_tiny.safetensors``. The domain
adapter has no tiny counterpart (the tiny base was trained on the same synthetic domain), so none is applied.
The tiny profile samples with ``flash_bench.tiny_world.DDIM_STEPS`` DDIM steps, like every tiny method.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from baselines import tiny_components as tc
from flash_bench import tiny_world as tw
from flash_bench.method import TINY_BASE_WEIGHTS, Method
from flash_bench.types import InputError, Profile

WEIGHTS_NAME = "sparsectrl_tiny"


@dataclass(frozen=True)
class SparseCtrlConfig:
    steps: int = 25
    guidance: float = 8.5
    conditioning_scale: float = 1.0
    height: int = 256
    width: int = 384
    negative_prompt: str = ""


PROFILES = {Profile.PAPER: SparseCtrlConfig(), Profile.TINY: SparseCtrlConfig(height=tw.SIZE, width=tw.SIZE,
                                                                          steps=tw.DDIM_STEPS)}


def condition_image(reference, height: int, width: int):
    """uint8 (H, W, 3) -> PIL ``width``×``height``: AnimateDiff's condition transform, ``RandomResizedCrop((height,
    width), scale=(1, 1), ratio=width/height)``, which for any other aspect takes its fallback, the largest centred
    crop of that aspect (drawn here without the global RNG), then resizes it bilinearly."""
    from torchvision.transforms.functional import resized_crop

    image = tc.to_pil(reference, reference.shape[:2])        # validates; no resize
    w, h = image.size
    ratio = width / height
    if w / h < ratio:                                       # taller than wanted: keep the full width
        cw, ch = w, int(round(w / ratio))
    elif w / h > ratio:                                     # wider: keep the full height
        cw, ch = int(round(h * ratio)), h
    else:
        cw, ch = w, h
    return resized_crop(image, (h - ch) // 2, (w - cw) // 2, ch, cw, [height, width])


def central_square(frames):
    """(F, H, W, 3) -> its central min(H, W)² (the benchmark scores square frames)."""
    h, w = frames.shape[1:3]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    return frames[:, top:top + side, left:left + side]


def tiny_controlnet(base):
    """An RGB SparseControlNetModel (simplified VAE-latent condition + mask channel) initialised from the tiny
    base's conv_in, time embedding, encoder blocks and motion modules; its condition conv and zero convs start at 0."""
    from diffusers import SparseControlNetModel

    unet2d = tc.tiny_image_unet(base)
    motion = tc.tiny_motion_adapter_config()
    config = dict(SparseControlNetModel.from_unet(unet2d, conditioning_channels=4, load_weights_from_unet=False).config)
    config.update(motion_num_attention_heads=motion["motion_num_attention_heads"],
                  motion_max_seq_length=motion["motion_max_seq_length"], conditioning_channels=4,
                  use_simplified_condition_embedding=True, concat_conditioning_mask=True)
    torch.manual_seed(0)
    net = SparseControlNetModel.from_config(config)
    state = {k: v for k, v in base.unet.state_dict().items()
             if k.split(".")[0] in ("conv_in", "time_embedding", "down_blocks", "mid_block")}
    missing, _ = net.load_state_dict(state, strict=False)
    own = ("controlnet_cond_embedding", "controlnet_down_blocks", "controlnet_mid_block")
    foreign = [k for k in missing if not k.startswith(own)]
    if foreign:
        raise ValueError(f"tiny base does not initialise the control net: missing {foreign[:3]}")
    return net.eval().requires_grad_(False)


def build_pipeline(vae, text_encoder, tokenizer, unet2d, adapter, controlnet, scheduler_config: dict, device: str):
    from diffusers import AnimateDiffSparseControlNetPipeline, DDIMScheduler

    pipe = AnimateDiffSparseControlNetPipeline(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet2d,
                                               motion_adapter=adapter, controlnet=controlnet,
                                               scheduler=DDIMScheduler.from_config(scheduler_config))
    pipe.unet.eval().requires_grad_(False)
    pipe.set_progress_bar_config(disable=True)
    return pipe.to(device)


def tiny_pipeline(device: str = "cpu", trained: bool = True):
    """(AnimateDiffSparseControlNetPipeline on the tiny base, tags). The base's UNetMotionModel is used as is."""
    base, base_tag = tc.tiny_base(device)
    net = tiny_controlnet(base)
    weights = tc.load_conditioning(WEIGHTS_NAME, net, base_tag) if trained else tc.UNTRAINED
    pipe = build_pipeline(base.vae, base.text_encoder, base.tokenizer, base.unet, None, net,
                          base.scheduler.config, device)
    return pipe, {"base": base_tag, "conditioning": weights, "noise_shared": base.noise_shared}


def paper_pipeline(device: str, options: dict):
    """SD1.5 + AnimateDiff v3 adapter + domain-adapter LoRA + SparseCtrl RGB, from local files only."""
    from diffusers import AutoencoderKL, MotionAdapter, SparseControlNetModel, UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTokenizer

    from flash_bench.tiny_world import ANIMATEDIFF_SCHEDULER

    sd, kw = tc.paper_snapshot("sd-v1-5", options), dict(local_files_only=True)
    parts = dict(vae=AutoencoderKL.from_pretrained(sd, subfolder="vae", **kw),
                 text_encoder=CLIPTextModel.from_pretrained(sd, subfolder="text_encoder", **kw),
                 tokenizer=CLIPTokenizer.from_pretrained(sd, subfolder="tokenizer", **kw),
                 unet2d=UNet2DConditionModel.from_pretrained(sd, subfolder="unet", **kw),
                 adapter=MotionAdapter.from_pretrained(
                     tc.paper_snapshot("animatediff-motion-adapter-v1-5-3", options), **kw),
                 controlnet=SparseControlNetModel.from_pretrained(
                     tc.paper_snapshot("animatediff-sparsectrl-rgb", options), **kw))
    sched = {**ANIMATEDIFF_SCHEDULER, "prediction_type": "epsilon"}
    pipe = build_pipeline(**parts, scheduler_config=sched, device=device)
    lora = tc.paper_snapshot("animatediff-v3-domain-adapter", options)
    try:
        pipe.load_lora_weights(lora, adapter_name="domain_adapter")
    except (ImportError, ValueError) as err:   # diffusers needs `peft` for LoRA loading
        raise InputError(f"sparsectrl: could not load the domain-adapter LoRA from {lora} ({err}); "
                         "`pip install 'flash-bench[paper]'` (peft) is required for the paper profile") from err
    pipe.fuse_lora(lora_scale=1.0)
    return pipe, {"base": "stable-diffusion-v1-5 + animatediff v1-5-3 + domain adapter",
                  "conditioning": "guoyww/animatediff-sparsectrl-rgb"}


class SparseCtrlMethod(tc.PipelineMethod, Method):
    """Registered as ``sparsectrl``; training-free per action (``fit`` is a no-op)."""

    name = "sparsectrl"
    weights = {Profile.TINY: (*TINY_BASE_WEIGHTS, "baselines/weights/sparsectrl_tiny.safetensors"),
               Profile.PAPER: ("sd-v1-5", "animatediff-motion-adapter-v1-5-3", "animatediff-sparsectrl-rgb",
                         "animatediff-v3-domain-adapter")}

    config_class = SparseCtrlConfig
    profiles = PROFILES

    def build_pipeline(self):
        if self.ctx.profile is Profile.TINY:
            return tiny_pipeline(self.ctx.device)
        return paper_pipeline(self.ctx.device, self.ctx.options)

    @torch.no_grad()
    def animate(self, reference, prompt, num_frames, seed, item=None):
        if num_frames < 1:
            raise InputError(f"sparsectrl: num_frames must be ≥ 1, got {num_frames}")
        with torch.random.fork_rng(devices=[]):   # the pipeline samples the condition latent from the global RNG
            torch.manual_seed(int(seed))
            out = self._run(reference, prompt, num_frames, seed)
        return tc.frames_to_uint8(central_square(out.frames[0]), self.ctx.size)

    def frame_size(self) -> tuple[int, int]:
        return self.cfg.height, self.cfg.width

    def _run(self, reference, prompt, num_frames, seed):
        cfg = self.cfg
        return self.pipe(prompt=prompt, negative_prompt=cfg.negative_prompt,
                         conditioning_frames=[condition_image(reference, cfg.height, cfg.width)],
                         controlnet_frame_indices=[0], controlnet_conditioning_scale=cfg.conditioning_scale,
                         num_frames=num_frames, height=cfg.height, width=cfg.width,
                         num_inference_steps=cfg.steps, guidance_scale=cfg.guidance,
                         latents=self.initial_latents(num_frames, seed),
                         generator=tc.seeded(seed, self.ctx.device), output_type="np")
