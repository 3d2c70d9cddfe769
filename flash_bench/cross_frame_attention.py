"""Cross-frame attention (Sec. 3.1, A2.1, A3.2): every spatial self-attention layer takes its keys and values
from the **first and the current frame** instead of the current frame alone.

Installed as a diffusers attention processor on each ``attn1`` of the UNet's spatial transformers (the
motion modules' temporal attention is left alone). A forward pre-hook on the UNet records the number of
frames of the current call in a shared :class:`FrameState`, which the processors read. The same processor
carries the hook used by inter-frame correspondence alignment (:mod:`flash.correspondence_alignment` sets
``qk_transform``; this module does not import it).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F


@dataclass
class FrameState:
    """Per-call facts shared by the processors and hooks of one UNet."""

    num_frames: int = 1
    record_probs: bool = False                    # tests: keep attention probabilities per layer
    probs: dict = field(default_factory=dict)     # layer name -> (B*F, heads, N, 2N)


def first_and_current(x: torch.Tensor, num_frames: int) -> torch.Tensor:
    """(B*F, N, C) -> (B*F, 2N, C): each frame's tokens preceded by its video's first-frame tokens."""
    bf, n, c = x.shape
    video = x.view(bf // num_frames, num_frames, n, c)                  # (B, F, N, C)
    first = video[:, :1].expand(-1, num_frames, -1, -1)                # (B, F, N, C)
    return torch.cat([first, video], dim=2).reshape(bf, 2 * n, c)      # (B*F, 2N, C)


def _heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    b, n, c = x.shape
    return x.view(b, n, heads, c // heads).transpose(1, 2)             # (B, heads, N, c/heads)


class CrossFrameAttnProcessor:
    """Spatial self-attention with K/V from [first frame; current frame] (eq. 5 with FLASH's K/V)."""

    def __init__(self, name: str, state: FrameState):
        self.name, self.state = name, state
        self.qk_transform = None   # (q, k) -> (q, k), set per step by correspondence alignment

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, temb=None,
                 **kwargs):
        if encoder_hidden_states is not None or hidden_states.ndim != 3:
            raise ValueError(f"{self.name}: cross-frame attention expects spatial self-attention on (B*F, N, C)")
        nf = self.state.num_frames
        q = attn.to_q(hidden_states)
        k = first_and_current(attn.to_k(hidden_states), nf)                # (B*F, 2N, C)
        v = first_and_current(attn.to_v(hidden_states), nf)                # (B*F, 2N, C)
        if self.qk_transform is not None:
            q, k = self.qk_transform(q, k)
        q, k, v = (_heads(t, attn.heads) for t in (q, k, v))
        if self.state.record_probs:
            probs = (q @ k.transpose(-1, -2) * attn.scale).softmax(-1)   # (B*F, heads, N, 2N)
            self.state.probs[self.name] = probs.detach()
            out = probs @ v
        else:
            out = F.scaled_dot_product_attention(q, k, v, scale=attn.scale)
        out = out.transpose(1, 2).flatten(2)                                # (B*F, N, C)
        out = attn.to_out[1](attn.to_out[0](out))
        if attn.residual_connection:
            out = out + hidden_states
        return out / attn.rescale_output_factor


def spatial_self_attention_names(unet) -> list[str]:
    """Processor keys of the spatial self-attention layers (``…attentions.N…attn1.processor``)."""
    return [n for n in unet.attn_processors if ".attentions." in n and n.endswith("attn1.processor")]


def apply_cross_frame_attention(unet) -> FrameState:
    """Install :class:`CrossFrameAttnProcessor` on every spatial self-attention; return the shared state.

    Idempotent: a UNet that already has it returns its existing state.
    """
    existing = getattr(unet, "_flash_frame_state", None)
    if existing is not None:
        return existing
    state = FrameState()
    procs = dict(unet.attn_processors)
    for name in spatial_self_attention_names(unet):
        procs[name] = CrossFrameAttnProcessor(name, state)
    unet.set_attn_processor(procs)

    def _record_frames(module, args, kwargs):
        sample = args[0] if args else kwargs["sample"]
        state.num_frames = int(sample.shape[2])    # UNetMotionModel input is (B, C, F, h, w)

    unet.register_forward_pre_hook(_record_frames, with_kwargs=True)
    unet._flash_frame_state = state
    return state


def cross_frame_processors(unet) -> list[CrossFrameAttnProcessor]:
    return [p for p in unet.attn_processors.values() if isinstance(p, CrossFrameAttnProcessor)]
