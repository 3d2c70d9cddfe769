"""DynamiCrafter (Xing et al., ECCV 2024): image animation by two conditions on a video diffusion UNet —

1. *context*: CLIP image tokens of the reference (open_clip ViT-H/14, every token of the last block, no final
   LayerNorm) pass through a query resampler (Perceiver, 16 queries per frame × 16 frames) and reach every
   spatial cross-attention through a second, decoupled key/value pair: ``out = attn(q, text) + λ·attn(q, img)``,
   frame f reading its own 16 tokens (λ = tanh(α)+1 when learnable);
2. *detail*: the reference's VAE latent is concatenated to the noisy latent of every frame (8 input channels);
plus a frame-stride (fs) embedding added to the timestep embedding. Sampling: DDIM, η = 1, CFG whose
unconditional branch is the empty prompt + the tokens of a black image (the concatenated latent is kept).

There is no diffusers pipeline. ``paper``: the official checkpoint (``Doubiiu/DynamiCrafter`` ``model.ckpt``, 256²)
is loaded by key mapping onto diffusers/open_clip parts: ``UNet3DConditionModel`` (DynamiCrafter's UNet is the
ModelScope/VideoCrafter layout: ResBlock + temporal conv, spatial transformer, temporal transformer, and an
initial temporal transformer) with this module's image cross-attention processors and fs-embedding hook,
open_clip ViT-H-14 (text: penultimate layer; image tokens), diffusers ``AutoencoderKL`` (diffusers' own LDM VAE
converter) and :class:`Resampler` (official keys). Official 256 settings: 50 DDIM steps ("uniform" spacing), η = 1,
CFG 7.5, fs = 3, LDM "linear" (sqrt-linear) betas; CLIP input resized as kornia does (:func:`clip_resize`).
``tiny``: the same conditioning modules on FLASH's tiny base (its VAE, text encoder and UNetMotionModel with
``conv_in`` widened to 8 channels); the image encoder is a frozen seeded tiny open_clip ViT. The modules the
method adds (widened conv_in, image key/values, resampler, fs embedding) are pretrained on the synthetic pretrain
pool by :mod:`baselines.pretrain_conditioning` and shipped in ``baselines/weights/dynamicrafter_tiny.safetensors``.
The tiny profile samples with ``flash_bench.tiny_world.DDIM_STEPS`` DDIM steps, like every tiny method.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F

from baselines import tiny_components as tc
from flash_bench import tiny_world as tw
from flash_bench.tiny_world import video_noise
from flash_bench.method import TINY_BASE_WEIGHTS, Method
from flash_bench.types import InputError, Profile

WEIGHTS_NAME = "dynamicrafter_tiny"
TEXT_LEN = 77
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


@dataclass(frozen=True)
class DynamiCrafterConfig:
    steps: int = 50
    guidance: float = 7.5
    eta: float = 1.0
    frame_stride: int = 3          # fs: the 256 model's frame stride (larger -> larger motion)
    guidance_rescale: float = 0.0  # 0.7 for the 512/1024 models
    native_size: int = 256
    negative_prompt: str = ""      # the unconditional text ("empty_seq")


PROFILES = {Profile.PAPER: DynamiCrafterConfig(),
            Profile.TINY: DynamiCrafterConfig(steps=tw.DDIM_STEPS, frame_stride=1, native_size=tw.SIZE)}


@dataclass(frozen=True)
class Arch:
    """Sizes of the image branch (the official 256 model's, or the tiny profile's)."""

    clip_size: int = 224           # pixels the CLIP image encoder sees
    clip_width: int = 1280         # CLIP ViT token width (Resampler embedding_dim)
    context_dim: int = 1024        # UNet cross-attention width (Resampler output_dim)
    dim: int = 1024
    depth: int = 4
    dim_head: int = 64
    heads: int = 12
    queries: int = 16              # tokens per frame
    video_length: int = 16
    learnable_scale: bool = True   # λ = tanh(α) + 1 per layer (256 model); 1 otherwise
    tiny_vit: dict = field(default_factory=dict)


PAPER_ARCH = Arch()
TINY_ARCH = Arch(clip_size=32, clip_width=64, context_dim=32, dim=64, depth=2, dim_head=16, heads=4, queries=4,
                 tiny_vit=dict(image_size=32, patch_size=8, width=64, layers=2, heads=4, mlp_ratio=4.0,
                               output_dim=32))


# ----------------------------------------------------------------------------------------- resampler
class PerceiverAttention(nn.Module):
    """Latent queries attend to [image tokens; latents] (keys: norm1, norm2, to_q, to_kv, to_out)."""

    def __init__(self, dim: int, dim_head: int, heads: int):
        super().__init__()
        self.heads, inner = heads, dim_head * heads
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.to_q = nn.Linear(dim, inner, bias=False)
        self.to_kv = nn.Linear(dim, inner * 2, bias=False)
        self.to_out = nn.Linear(inner, dim, bias=False)

    def forward(self, x: torch.Tensor, latents: torch.Tensor) -> torch.Tensor:
        x, latents = self.norm1(x), self.norm2(latents)
        k, v = self.to_kv(torch.cat([x, latents], dim=1)).chunk(2, dim=-1)
        b, n, _ = latents.shape
        q, k, v = (t.view(b, t.shape[1], self.heads, -1).transpose(1, 2) for t in (self.to_q(latents), k, v))
        out = F.scaled_dot_product_attention(q, k, v)                          # (B, heads, N, d)
        return self.to_out(out.transpose(1, 2).reshape(b, n, -1))              # (B, N, heads*d)


class Resampler(nn.Module):
    """DynamiCrafter's image-context projector: ``queries × video_length`` learnt latents read the CLIP tokens
    through ``depth`` (attention, feed-forward) layers; output (B, video_length·queries, output_dim)."""

    def __init__(self, arch: Arch):
        super().__init__()
        n, dim = arch.queries * arch.video_length, arch.dim
        self.latents = nn.Parameter(torch.randn(1, n, dim) / dim ** 0.5)
        self.proj_in = nn.Linear(arch.clip_width, dim)
        self.proj_out = nn.Linear(dim, arch.context_dim)
        self.norm_out = nn.LayerNorm(arch.context_dim)
        self.layers = nn.ModuleList(nn.ModuleList([
            PerceiverAttention(dim, arch.dim_head, arch.heads),
            nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, 4 * dim, bias=False), nn.GELU(),
                          nn.Linear(4 * dim, dim, bias=False))]) for _ in range(arch.depth))

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        latents = self.latents.expand(tokens.shape[0], -1, -1)
        x = self.proj_in(tokens)
        for attn, ff in self.layers:
            latents = attn(x, latents) + latents
            latents = ff(latents) + latents
        return self.norm_out(self.proj_out(latents))


# ----------------------------------------------------------------------------------------- CLIP image tokens
def tiny_vision(arch: Arch = TINY_ARCH):
    from open_clip.transformer import VisionTransformer

    torch.manual_seed(0)
    return VisionTransformer(**arch.tiny_vit).eval().requires_grad_(False)


def clip_resize(image: torch.Tensor, size: int) -> torch.Tensor:
    """``kornia.geometry.resize(image, (size, size), "bicubic", align_corners=True, antialias=True)``, as the official
    image embedder resizes: when downscaling by f, a Gaussian blur with σ = max((f − 1)/2, 0.001) and an odd kernel
    of ≥ max(4σ, 3) taps, then plain bicubic. For 256 → 224 (σ ≈ 0.07) that is plain bicubic."""
    from torchvision.transforms.v2.functional import gaussian_blur

    factors = [n / size for n in image.shape[-2:]]                             # (h, w)
    if max(factors) > 1:
        sigmas = [max((f - 1) / 2, 0.001) for f in factors]
        kernel = [k + 1 - k % 2 for k in (int(max(4 * s, 3)) for s in sigmas)]
        image = gaussian_blur(image, kernel_size=kernel[::-1], sigma=sigmas[::-1])   # torchvision takes (x, y)
    return F.interpolate(image, size=(size, size), mode="bicubic", align_corners=True)


def clip_pixels(image: torch.Tensor, size: int) -> torch.Tensor:
    """Images in [-1, 1] (B, 3, H, W) -> the CLIP image encoder's input (resized, CLIP mean/std)."""
    x = clip_resize(image, size)
    mean, std = (torch.tensor(v, device=x.device).view(1, 3, 1, 1) for v in (CLIP_MEAN, CLIP_STD))
    return ((x + 1) / 2 - mean) / std


def image_tokens(visual, image: torch.Tensor, size: int) -> torch.Tensor:
    """Images in [-1, 1] (B, 3, H, W) -> every CLIP ViT token after the last block, no ln_post (B, 1+P, width)."""
    x = visual.conv1(clip_pixels(image, size)).flatten(2).transpose(1, 2)         # (B, P, width)
    cls = visual.class_embedding.to(x.dtype).expand(x.shape[0], 1, -1)
    x = visual.ln_pre(visual.patch_dropout(torch.cat([cls, x], dim=1) + visual.positional_embedding))
    if not getattr(visual.transformer, "batch_first", True):
        return visual.transformer(x.transpose(0, 1)).transpose(0, 1)
    return visual.transformer(x)


# ----------------------------------------------------------------------------------------- image cross-attention
def frame_tokens(img: torch.Tensor, per_frame: int) -> torch.Tensor:
    """(B*F, F*q, D) rows of a video's image tokens -> (B*F, q, D): row i keeps frame (i mod F)'s q tokens.
    When the tokens are not F·q (other frame counts), every frame reads all of them (as the official UNet does)."""
    bf, n, d = img.shape
    frames = n // per_frame
    if n % per_frame or bf % frames:
        return img
    idx = torch.arange(bf, device=img.device) % frames
    return img.view(bf, frames, per_frame, d)[torch.arange(bf, device=img.device), idx]   # (B*F, q, D)


class ImageCrossAttnProcessor:
    """Cross-attention over [text (77); image tokens]: softmax(qKᵀ)V on the text plus λ × the same with the
    image keys/values ``to_k_ip``/``to_v_ip`` (decoupled; λ = tanh(α)+1 with a learnt α, else 1)."""

    def __init__(self, per_frame: int, scale: float = 1.0):
        self.per_frame, self.scale = per_frame, scale

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, temb=None, **kwargs):
        if encoder_hidden_states is None or encoder_hidden_states.shape[1] <= TEXT_LEN:
            raise ValueError("image cross-attention expects [text tokens (77); image tokens] as context")
        text, img = encoder_hidden_states[:, :TEXT_LEN], encoder_hidden_states[:, TEXT_LEN:]
        img = frame_tokens(img, self.per_frame)

        def heads(t):
            return t.view(t.shape[0], t.shape[1], attn.heads, -1).transpose(1, 2)   # (B, heads, N, d)

        q = heads(attn.to_q(hidden_states))
        out = F.scaled_dot_product_attention(q, heads(attn.to_k(text)), heads(attn.to_v(text)))
        out_ip = F.scaled_dot_product_attention(q, heads(attn.to_k_ip(img)), heads(attn.to_v_ip(img)))
        lam = self.scale * (torch.tanh(attn.alpha) + 1) if hasattr(attn, "alpha") else self.scale
        out = (out + lam * out_ip).transpose(1, 2).flatten(2)                      # (B, N, heads*d)
        out = attn.to_out[1](attn.to_out[0](out))
        if attn.residual_connection:
            out = out + hidden_states
        return out / attn.rescale_output_factor


def cross_attention_names(unet) -> list[str]:
    """Module names of the spatial cross-attentions (``…attentions.N.transformer_blocks.M.attn2``)."""
    return [n for n, _ in unet.named_modules() if re.search(r"\.attentions\.\d+\.transformer_blocks\.\d+\.attn2$", n)]


def install_image_cross_attention(unet, arch: Arch) -> None:
    """Add ``to_k_ip``/``to_v_ip`` (and ``alpha``) to every spatial cross-attention and its processor."""
    modules = dict(unet.named_modules())
    for name in cross_attention_names(unet):
        attn = modules[name]
        attn.to_k_ip = nn.Linear(arch.context_dim, attn.inner_dim, bias=False)
        attn.to_v_ip = nn.Linear(arch.context_dim, attn.inner_dim, bias=False)
        if arch.learnable_scale:
            attn.alpha = nn.Parameter(torch.zeros(()))
        attn.set_processor(ImageCrossAttnProcessor(arch.queries))


# ----------------------------------------------------------------------------------------- fs embedding
def install_fs_embedding(unet) -> None:
    """``unet.fps_embedding`` (Linear-SiLU-Linear, last layer zero-initialised as in DynamiCrafter): its output for
    the current frame stride is added to the timestep embedding by a forward hook on ``unet.time_embedding``."""
    ch, dim = unet.time_embedding.linear_1.in_features, unet.time_embedding.linear_2.out_features
    unet.fps_embedding = nn.Sequential(nn.Linear(ch, dim), nn.SiLU(), nn.Linear(dim, dim))
    nn.init.zeros_(unet.fps_embedding[2].weight)
    nn.init.zeros_(unet.fps_embedding[2].bias)
    unet._dc_fs = torch.zeros((1,), dtype=torch.long)

    def add_fs(module, args, out):
        from diffusers.models.embeddings import get_timestep_embedding

        fs = get_timestep_embedding(unet._dc_fs.to(out.device), ch, flip_sin_to_cos=True, downscale_freq_shift=0)
        return out + unet.fps_embedding(fs.to(out.dtype))

    unet.time_embedding.register_forward_hook(add_fs)


def set_frame_stride(unet, fs: int) -> None:
    unet._dc_fs = torch.tensor([int(fs)], dtype=torch.long)


# ----------------------------------------------------------------------------------------- the model
class DynamiCrafterModel(nn.Module):
    """Denoiser + conditioners. ``text(prompts)`` -> (B, 77, D); ``context(prompts, images)`` -> (B, 77+F·q, D)."""

    def __init__(self, unet, vae, visual, resampler, text_fn, arch: Arch, scheduler_config: dict,
                 noise_shared: float = 0.0):
        super().__init__()
        self.unet, self.vae, self.visual, self.resampler = unet, vae, visual, resampler
        self.text_fn, self.arch, self.scheduler_config = text_fn, arch, dict(scheduler_config)
        self.noise_shared = noise_shared       # the base's noise prior (flash_bench.tiny_world.video_noise)

    def conditioning_modules(self) -> nn.ModuleDict:
        """What the method adds to a video UNet (what the tiny profile pretrains and ships)."""
        modules = dict(self.unet.named_modules())
        ip = nn.ModuleList()
        for name in cross_attention_names(self.unet):         # the image key/values only, shared with the UNet
            attn, holder = modules[name], nn.Module()
            holder.to_k_ip, holder.to_v_ip = attn.to_k_ip, attn.to_v_ip
            if hasattr(attn, "alpha"):
                holder.alpha = attn.alpha
            ip.append(holder)
        return nn.ModuleDict({"conv_in": self.unet.conv_in, "fps_embedding": self.unet.fps_embedding,
                              "resampler": self.resampler, "visual": self.visual, "image_cross_attention": ip})

    def context(self, prompts: list[str], images: torch.Tensor) -> torch.Tensor:
        img = self.resampler(image_tokens(self.visual, images, self.arch.clip_size))   # (B, F·q, D)
        return torch.cat([self.text_fn(prompts), img], dim=1)                          # (B, 77+F·q, D)

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """Images in [-1, 1] (B, 3, H, W) -> scaled latents (B, 4, h, w) (posterior mean)."""
        return self.vae.encode(images).latent_dist.mean * self.vae.config.scaling_factor

    def forward(self, latents: torch.Tensor, first: torch.Tensor, t, context: torch.Tensor) -> torch.Tensor:
        """latents (B, 4, F, h, w) + first-frame latent (B, 4, h, w) concatenated on channels -> prediction."""
        from diffusers import UNet3DConditionModel

        nf = latents.shape[2]
        x = torch.cat([latents, first[:, :, None].expand(-1, -1, nf, -1, -1)], dim=1)   # (B, 8, F, h, w)
        if not isinstance(self.unet, UNet3DConditionModel):      # UNetMotionModel takes per-frame context
            context = context.repeat_interleave(nf, dim=0)                              # (B*F, L, D)
        return self.unet(x, t, encoder_hidden_states=context).sample


# ----------------------------------------------------------------------------------------- official checkpoint
@dataclass(frozen=True)
class UNetLayout:
    """The official UNet's shape, enough to name its blocks (openaimodel3d.UNetModel arguments)."""

    channels: tuple = (320, 640, 1280, 1280)   # model_channels × channel_mult
    attention_levels: tuple = (0, 1, 2)        # levels whose downsampling rate is in attention_resolutions
    num_res_blocks: int = 2
    head_dim: int = 64                         # num_head_channels
    context_dim: int = 1024
    in_channels: int = 8
    out_channels: int = 4

    def diffusers_config(self) -> dict:
        down = ["CrossAttnDownBlock3D" if i in self.attention_levels else "DownBlock3D"
                for i in range(len(self.channels))]
        up = [b.replace("Down", "Up") for b in reversed(down)]
        return dict(in_channels=self.in_channels, out_channels=self.out_channels, block_out_channels=self.channels,
                    layers_per_block=self.num_res_blocks, cross_attention_dim=self.context_dim,
                    attention_head_dim=self.head_dim, down_block_types=down, up_block_types=up,
                    norm_num_groups=32)


PAPER_LAYOUT = UNetLayout()
# The official sampler in diffusers' terms: LDM "linear" betas are linear in sqrt(beta) (``make_beta_schedule`` in
# lvdm/models/utils_diffusion.py; diffusers calls it ``scaled_linear``); DDIM "uniform" timesteps
# range(0, 1000, 1000 // S) + 1 (= ``leading`` + ``steps_offset=1``), the last step's ᾱ_prev = ᾱ_0.
PAPER_SCHEDULER = dict(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                       clip_sample=False, steps_offset=1, timestep_spacing="leading", set_alpha_to_one=False,
                       prediction_type="epsilon")
RESBLOCK = {"in_layers.0": "norm1", "in_layers.2": "conv1", "emb_layers.1": "time_emb_proj",
            "out_layers.0": "norm2", "out_layers.3": "conv2", "skip_connection": "conv_shortcut"}


def _res(table: dict, src: str, dst: str, temp: str) -> None:
    for a, b in RESBLOCK.items():
        table[f"{src}.{a}"] = f"{dst}.{b}"
    table[f"{src}.temopral_conv"] = temp       # (sic) the official attribute name


def _level(table: dict, src: str, dst: str, j: int, attn: bool) -> None:
    """One (ResBlock [+ SpatialTransformer + TemporalTransformer]) group of a down/up block."""
    _res(table, f"{src}.0", f"{dst}.resnets.{j}", f"{dst}.temp_convs.{j}")
    if attn:
        table[f"{src}.1"] = f"{dst}.attentions.{j}"
        table[f"{src}.2"] = f"{dst}.temp_attentions.{j}"


def unet_prefix_table(layout: UNetLayout = PAPER_LAYOUT) -> dict[str, str]:
    """Official module prefix -> diffusers UNet3DConditionModel prefix (inner names then agree, except ResBlocks)."""
    t = {"input_blocks.0.0": "conv_in", "init_attn.0": "transformer_in", "time_embed.0": "time_embedding.linear_1",
         "time_embed.2": "time_embedding.linear_2", "fps_embedding": "fps_embedding", "out.0": "conv_norm_out",
         "out.2": "conv_out", "middle_block.1": "mid_block.attentions.0",
         "middle_block.2": "mid_block.temp_attentions.0"}
    _res(t, "middle_block.0", "mid_block.resnets.0", "mid_block.temp_convs.0")
    _res(t, "middle_block.3", "mid_block.resnets.1", "mid_block.temp_convs.1")
    levels, n_res = len(layout.channels), layout.num_res_blocks
    for lv in range(levels):
        attn = lv in layout.attention_levels
        for j in range(n_res):
            _level(t, f"input_blocks.{1 + lv * (n_res + 1) + j}", f"down_blocks.{lv}", j, attn)
        if lv < levels - 1:
            t[f"input_blocks.{(lv + 1) * (n_res + 1)}.0.op"] = f"down_blocks.{lv}.downsamplers.0.conv"
        up = levels - 1 - lv
        for j in range(n_res + 1):
            src = f"output_blocks.{up * (n_res + 1) + j}"
            _level(t, src, f"up_blocks.{up}", j, attn)
            if j == n_res and lv > 0:
                t[f"{src}.{3 if attn else 1}.conv"] = f"up_blocks.{up}.upsamplers.0.conv"
    return t


def map_unet_state(official: dict, layout: UNetLayout = PAPER_LAYOUT, prefix: str = "model.diffusion_model.") -> dict:
    """The official UNet's tensors renamed for :func:`build_unet3d`; an unmatched key is an error."""
    table = unet_prefix_table(layout)
    ordered = sorted(table, key=len, reverse=True)           # longest prefix first
    out = {}
    for key, value in official.items():
        if not key.startswith(prefix):
            continue
        k = key[len(prefix):]
        if k.startswith("framestride_embed."):   # the released 256 model's name; the official loader renames it
            k = "fps_embedding" + k[len("framestride_embed"):]
        src = next((p for p in ordered if k == p or k.startswith(p + ".")), None)
        if src is None:
            raise InputError(f"DynamiCrafter checkpoint key {key!r} has no diffusers counterpart")
        if k.startswith("init_attn.0.proj_") and k.endswith(".weight") and value.ndim == 3:
            value = value[..., 0]          # Conv1d(k=1) in the official init_attn == diffusers' Linear
        out[table[src] + k[len(src):]] = value
    return out


def set_head_dim(unet, head_dim: int) -> None:
    """Official attention uses heads = width / head_dim everywhere (UNet3DConditionModel's config cannot say so)."""
    from diffusers.models.attention_processor import Attention

    for m in unet.modules():
        if isinstance(m, Attention):
            m.heads, m.scale = m.inner_dim // head_dim, head_dim ** -0.5


def build_unet3d(layout: UNetLayout, arch: Arch):
    """UNet3DConditionModel in the official layout + image cross-attention + fs embedding (random init)."""
    from diffusers import UNet3DConditionModel

    unet = UNet3DConditionModel(**layout.diffusers_config())
    set_head_dim(unet, layout.head_dim)
    install_image_cross_attention(unet, arch)
    install_fs_embedding(unet)
    return unet.eval().requires_grad_(False)


def _sub(state: dict, prefix: str) -> dict:
    return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}


def _load(module: nn.Module, state: dict, what: str, allow_missing: tuple = ()) -> None:
    missing, unexpected = module.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.startswith(allow_missing)] if allow_missing else missing
    if missing or unexpected:
        raise InputError(f"DynamiCrafter checkpoint does not fit {what}: missing {missing[:4]}, "
                         f"unexpected {unexpected[:4]}")


def openclip_text_fn(clip):
    """open_clip text tower -> penultimate-layer states after ln_final (B, 77, 1024), as DynamiCrafter encodes text."""
    import open_clip

    @torch.no_grad()
    def encode(prompts: list[str]) -> torch.Tensor:
        tokens = open_clip.tokenize(prompts).to(clip.token_embedding.weight.device)
        x = clip.token_embedding(tokens) + clip.positional_embedding                  # (B, 77, W)
        first = not getattr(clip.transformer, "batch_first", True)
        x = x.transpose(0, 1) if first else x
        for block in clip.transformer.resblocks[:-1]:
            x = block(x, attn_mask=clip.attn_mask)
        return clip.ln_final(x.transpose(0, 1) if first else x)
    return encode


def paper_model(device: str, options: dict) -> tuple[DynamiCrafterModel, dict]:
    """The official 256 checkpoint on diffusers/open_clip parts (local file only; WeightsMissing otherwise)."""
    import open_clip
    from diffusers import AutoencoderKL
    from diffusers.loaders.single_file_utils import convert_ldm_vae_checkpoint

    from flash_bench.weights import load_state_dict, resolve

    state = load_state_dict(resolve("dynamicrafter-256", options.get("weights_dir")))
    unet = build_unet3d(PAPER_LAYOUT, PAPER_ARCH)
    _load(unet, map_unet_state(state), "UNet3DConditionModel")
    vae = AutoencoderKL(block_out_channels=(128, 256, 512, 512), down_block_types=("DownEncoderBlock2D",) * 4,
                        up_block_types=("UpDecoderBlock2D",) * 4, layers_per_block=2, latent_channels=4,
                        sample_size=256, scaling_factor=0.18215)
    _load(vae, convert_ldm_vae_checkpoint(state, vae.config), "AutoencoderKL")
    clip = open_clip.create_model("ViT-H-14", pretrained=None)
    visual = {k: v for k, v in _sub(state, "embedder.model.").items() if k.startswith("visual.")}
    _load(clip, {**_sub(state, "cond_stage_model.model."), **visual}, "open_clip ViT-H-14",
          allow_missing=("logit_scale", "logit_bias", "visual.proj", "text_projection"))
    resampler = Resampler(PAPER_ARCH)
    _load(resampler, _sub(state, "image_proj_model."), "Resampler")
    model = DynamiCrafterModel(unet, vae, clip.visual, resampler, openclip_text_fn(clip), PAPER_ARCH, PAPER_SCHEDULER)
    return model.eval().requires_grad_(False).to(device), {"checkpoint": "Doubiiu/DynamiCrafter model.ckpt (256)"}


# ----------------------------------------------------------------------------------------- tiny profile
def widen_conv_in(unet, channels: int = 8) -> None:
    """conv_in for [noisy latent; first-frame latent]: the base's weights on the first 4 channels, zeros on the rest."""
    old = unet.conv_in
    new = nn.Conv2d(channels, old.out_channels, old.kernel_size, padding=old.padding).to(old.weight.device)
    with torch.no_grad():
        new.weight.zero_()
        new.weight[:, :old.in_channels] = old.weight
        new.bias.copy_(old.bias)
    unet.conv_in = new
    unet.register_to_config(in_channels=channels)


def tiny_model(device: str = "cpu", trained: bool = True) -> tuple[DynamiCrafterModel, dict]:
    base, base_tag = tc.tiny_base(device)
    unet = base.unet
    widen_conv_in(unet)
    torch.manual_seed(0)
    install_image_cross_attention(unet, TINY_ARCH)
    install_fs_embedding(unet)
    model = DynamiCrafterModel(unet, base.vae, tiny_vision(), Resampler(TINY_ARCH), base.encode_prompts, TINY_ARCH,
                               base.scheduler.config, base.noise_shared).to(device)
    weights = tc.load_conditioning(WEIGHTS_NAME, model.conditioning_modules(), base_tag) if trained else tc.UNTRAINED
    return model.eval().requires_grad_(False), {"base": base_tag, "conditioning": weights,
                                                "noise_shared": base.noise_shared}


# ----------------------------------------------------------------------------------------- sampling
@torch.no_grad()
def sample_latents(model: DynamiCrafterModel, image: torch.Tensor, prompt: str, num_frames: int, seed: int,
                   cfg: DynamiCrafterConfig) -> torch.Tensor:
    """image (1, 3, S, S) in [-1, 1] -> latent video (1, 4, F, h, w): DDIM (η) with CFG over (text, image) jointly."""
    from diffusers import DDIMScheduler
    from diffusers.pipelines.stable_diffusion.pipeline_stable_diffusion import rescale_noise_cfg

    sched = DDIMScheduler.from_config(model.scheduler_config)
    sched.set_timesteps(cfg.steps)
    gen = torch.Generator().manual_seed(int(seed))
    first = model.encode(image)                                                       # (1, 4, h, w)
    set_frame_stride(model.unet, cfg.frame_stride)
    context = torch.cat([model.context([cfg.negative_prompt], torch.zeros_like(image)),   # uncond: "" + black image
                         model.context([prompt], image)])                              # (2, 77+F·q, D)
    latents = video_noise((1, first.shape[1], num_frames, *first.shape[2:]), gen, model.noise_shared).to(image.device)
    latents = latents * sched.init_noise_sigma
    for t in sched.timesteps:
        x = sched.scale_model_input(latents, t)
        uncond, cond = model(torch.cat([x, x]), torch.cat([first, first]), t, context).chunk(2)
        pred = uncond + cfg.guidance * (cond - uncond)
        if cfg.guidance_rescale > 0:
            pred = rescale_noise_cfg(pred, cond, guidance_rescale=cfg.guidance_rescale)
        latents = sched.step(pred, t, latents, eta=cfg.eta, generator=gen).prev_sample
    return latents


class DynamiCrafterMethod(Method):
    """Registered as ``dynamicrafter``; training-free per action (``fit`` is a no-op)."""

    name = "dynamicrafter"
    weights = {Profile.TINY: (*TINY_BASE_WEIGHTS, "baselines/weights/dynamicrafter_tiny.safetensors"),
               Profile.PAPER: ("dynamicrafter-256",)}

    def __init__(self, ctx):
        super().__init__(ctx)
        from baselines.tiny_base import config_for

        self.cfg = config_for(DynamiCrafterConfig, PROFILES, ctx.profile, ctx.options, self.name)
        self._model, self._tags = None, {}

    @property
    def model(self) -> DynamiCrafterModel:
        if self._model is None:
            self._model, self._tags = (tiny_model(self.ctx.device) if self.ctx.profile is Profile.TINY
                                       else paper_model(self.ctx.device, self.ctx.options))
        return self._model

    def describe(self) -> dict:
        _ = self.model
        return {"name": self.name, "profile": self.ctx.profile, **self._tags, **asdict(self.cfg)}

    @torch.no_grad()
    def animate(self, reference, prompt, num_frames, seed, item=None):
        if num_frames < 1:
            raise InputError(f"dynamicrafter: num_frames must be ≥ 1, got {num_frames}")
        model = self.model
        image = tw.to_unit(reference, self.cfg.native_size).to(self.ctx.device)   # (1, 3, S, S)
        latents = sample_latents(model, image, prompt, num_frames, seed, self.cfg)
        frames = latents[0].permute(1, 0, 2, 3) / model.vae.config.scaling_factor      # (F, 4, h, w)
        return tw.to_uint8(model.vae.decode(frames).sample, self.ctx.size)
