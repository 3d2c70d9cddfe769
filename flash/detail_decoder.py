"""Detail Enhancement Decoder (Sec. 3.3, A2.3): propagate the reference image's encoder features into the decoder.

The diffusers ``AutoencoderKL`` is extended, not forked: forward hooks do all the work.

Levels. With ``n = len(vae.config.block_out_channels)`` the VAE has levels ``l = 0 .. n-1`` at resolution
``H / 2**l`` (l = 0 the pixel resolution, l = n-1 the latent resolution). At level l

* the encoder feature g_l is the output of the last resnet of ``encoder.down_blocks[l]`` (before its
  downsampler), collected by temporary forward hooks while the reference image is encoded;
* the decoder feature h_l is the output of the last resnet of ``decoder.up_blocks[n-1-l]`` (before its
  upsampler); a forward hook on it replaces h_l by ĥ_l (eq. 6), which the up block then upsamples and hands
  to level l-1. Both have ``block_out_channels[l]`` channels and the same size, but g_l is still resized
  (bilinear) and projected by a fully connected (1x1) layer to g̃_l as in A2.3, so references of another size
  work too.

Branches at each level, on g̃ (1, C, H, W) and h (N, C, H, W):

* warping: four 3x3 convolutions on concat(h, g̃) predict a displacement field (dx, dy) in pixels of that
  level; ĝ(y, x) = g̃(y + dy, x + dx), bilinear ``grid_sample`` with ``align_corners=False`` and border
  padding (see :func:`warp`);
* patch attention: h and g̃ cut into ``patch_size`` x ``patch_size`` patches (odd sizes padded by
  replication on the right/bottom, cropped afterwards), each patch embedded by a linear layer; one
  multi-head cross-attention with h's patches as query and g̃'s as key/value; the result mapped back to
  patches → ǧ;
* fusion: two 3x3 convolutions on concat(h, g̃) give w (N, C, H, W); ĥ = h + w ⊙ (ĝ + ǧ)  (eq. 6).

The last fusion convolution is zero-initialised (weights and bias), so w = 0 and an untrained decoder is the
plain decoder bit for bit; the displacement head is zero-initialised too (identity warp at the start).

:meth:`DetailDecoder.decode` takes latents already divided by ``vae.config.scaling_factor`` (exactly what
``vae.decode`` takes) and a reference image in [-1, 1].
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from flash_bench.types import InputError

BRANCHES = ("warp", "attn")


@dataclass(frozen=True)
class DetailDecoderConfig:
    """Branch switches (Table A2: warp only, attn only, both) and sizes of the new layers."""

    branches: tuple[str, ...] = BRANCHES
    patch_size: int = 2
    levels: tuple[int, ...] | None = None   # levels that get an enhancer (0 = pixel resolution); None = all
    max_hidden: int = 128                   # hidden channels of the warp/fusion convs: min(C, max_hidden)
    max_attn_dim: int = 512                 # patch embedding width: min(C * p * p, max_attn_dim)
    head_dim: int = 64                      # attention heads = max(1, width // head_dim)

    def __post_init__(self):
        branches = tuple(self.branches)
        bad = [b for b in branches if b not in BRANCHES]
        if bad or not branches or len(set(branches)) != len(branches):
            raise InputError(f"detail decoder branches {branches!r}: expected a non-empty subset of {BRANCHES}")
        if self.patch_size < 1:
            raise InputError(f"detail decoder patch_size must be >= 1, got {self.patch_size}")
        object.__setattr__(self, "branches", branches)
        if self.levels is not None:
            object.__setattr__(self, "levels", tuple(int(v) for v in self.levels))

    def to_dict(self) -> dict:
        d = asdict(self)
        d["branches"] = list(self.branches)
        d["levels"] = None if self.levels is None else list(self.levels)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "DetailDecoderConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise InputError(f"unknown detail decoder config keys {unknown}; known: {sorted(known)}")
        d = dict(d)
        if "branches" in d:
            d["branches"] = tuple(d["branches"])
        if d.get("levels") is not None:
            d["levels"] = tuple(d["levels"])
        return cls(**d)

    @classmethod
    def parse_branches(cls, text: str, **kw) -> "DetailDecoderConfig":
        """``"warp,attn"`` / ``"warp"`` / ``"attn"`` (also ``"both"``) -> config."""
        names = BRANCHES if text.strip() == "both" else tuple(t.strip() for t in text.split(",") if t.strip())
        return cls(branches=names, **kw)


# ----------------------------------------------------------------------------------------------- warping
def warp(feat: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Backward warp: out[n, :, y, x] = feat[n, :, y + flow[n, 1, y, x], x + flow[n, 0, y, x]].

    ``feat`` (N, C, H, W); ``flow`` (N, 2, H, W) in pixels, channel 0 = dx (columns), 1 = dy (rows).
    Pixel centres sit at normalised (2x + 1) / W - 1 (``align_corners=False``); outside samples clamp to
    the border. An integer flow therefore moves content exactly by whole pixels.
    """
    n, _, h, w = flow.shape
    ys = torch.arange(h, dtype=flow.dtype, device=flow.device)
    xs = torch.arange(w, dtype=flow.dtype, device=flow.device)
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")                       # (H, W) each
    px = gx + flow[:, 0]                                                  # (N, H, W) sampling columns
    py = gy + flow[:, 1]                                                  # (N, H, W) sampling rows
    grid = torch.stack([(2 * px + 1) / w - 1, (2 * py + 1) / h - 1], -1)  # (N, H, W, 2) as (x, y)
    return F.grid_sample(feat, grid, mode="bilinear", padding_mode="border", align_corners=False)


def _conv(cin: int, cout: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, padding=1)


class WarpBranch(nn.Module):
    """Four convolutions on concat(h, g̃) -> displacement field -> warped g̃ (ĝ)."""

    def __init__(self, channels: int, hidden: int):
        super().__init__()
        self.convs = nn.ModuleList([_conv(2 * channels, hidden), _conv(hidden, hidden),
                                    _conv(hidden, hidden), _conv(hidden, 2)])
        nn.init.zeros_(self.convs[-1].weight)   # zero displacement at the start
        nn.init.zeros_(self.convs[-1].bias)

    def flow(self, h: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        x = torch.cat([h, g], 1)                                          # (N, 2C, H, W)
        for conv in self.convs[:-1]:
            x = F.silu(conv(x))
        return self.convs[-1](x)                                          # (N, 2, H, W) pixels (dx, dy)

    def forward(self, h: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        return warp(g, self.flow(h, g))


# ------------------------------------------------------------------------------------------ patch attention
def patchify(x: torch.Tensor, p: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """(N, C, H, W) -> tokens (N, ceil(H/p) * ceil(W/p), C*p*p); odd sizes are replicate-padded first."""
    n, c, h, w = x.shape
    ph, pw = (-h) % p, (-w) % p
    if ph or pw:
        x = F.pad(x, (0, pw, 0, ph), mode="replicate")
    hp, wp = (h + ph) // p, (w + pw) // p
    x = x.reshape(n, c, hp, p, wp, p)                                     # (N, C, Hp, p, Wp, p)
    x = x.permute(0, 2, 4, 1, 3, 5).reshape(n, hp * wp, c * p * p)        # (N, Hp*Wp, C*p*p)
    return x, (hp, wp)


def unpatchify(tokens: torch.Tensor, grid: tuple[int, int], p: int, size: tuple[int, int]) -> torch.Tensor:
    """Inverse of :func:`patchify`: tokens (N, Hp*Wp, C*p*p) -> (N, C, H, W), padding cropped."""
    n, _, d = tokens.shape
    (hp, wp), c = grid, d // (p * p)
    x = tokens.reshape(n, hp, wp, c, p, p).permute(0, 3, 1, 4, 2, 5)     # (N, C, Hp, p, Wp, p)
    x = x.reshape(n, c, hp * p, wp * p)                                   # (N, C, Hp*p, Wp*p)
    return x[:, :, : size[0], : size[1]]


class PatchAttention(nn.Module):
    """Cross-attention over patches: h's patches query g̃'s patches (keys and values) -> ǧ."""

    def __init__(self, channels: int, patch_size: int, dim: int, heads: int):
        super().__init__()
        self.p = patch_size
        patch_dim = channels * patch_size * patch_size
        self.embed_q = nn.Linear(patch_dim, dim)     # patch embedding of h
        self.embed_kv = nn.Linear(patch_dim, dim)    # patch embedding of g̃
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.unembed = nn.Linear(dim, patch_dim)

    def forward(self, h: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        q_tok, grid = patchify(h, self.p)                                 # (N, L, C*p*p)
        kv_tok, kv_grid = patchify(g, self.p)                             # (1 or N, L', C*p*p)
        q, kv = self.embed_q(q_tok), self.embed_kv(kv_tok)                # (N, L, D), (., L', D)
        kv = kv.expand(q.shape[0], -1, -1)                                # (N, L', D)
        out, _ = self.attn(q, kv, kv, need_weights=False)                 # (N, L, D)
        return unpatchify(self.unembed(out), grid, self.p, h.shape[-2:])  # (N, C, H, W)


# -------------------------------------------------------------------------------------------------- fusion
class LevelEnhancer(nn.Module):
    """One decoder level: g -> g̃ (resize + FC), branches, fusion weights w; eq. 6."""

    def __init__(self, enc_channels: int, dec_channels: int, cfg: DetailDecoderConfig):
        super().__init__()
        c = dec_channels
        hidden = min(c, cfg.max_hidden)
        self.proj = nn.Conv2d(enc_channels, c, 1)                         # fully connected over channels
        self.warp = WarpBranch(c, hidden) if "warp" in cfg.branches else None
        dim = min(c * cfg.patch_size ** 2, cfg.max_attn_dim)
        self.attn = (PatchAttention(c, cfg.patch_size, dim, max(1, dim // cfg.head_dim))
                     if "attn" in cfg.branches else None)
        self.fuse = nn.ModuleList([_conv(2 * c, hidden), _conv(hidden, c)])
        nn.init.zeros_(self.fuse[-1].weight)    # w = 0: the untrained decoder is the plain decoder
        nn.init.zeros_(self.fuse[-1].bias)

    def project(self, g: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        if tuple(g.shape[-2:]) != tuple(size):
            g = F.interpolate(g, size=tuple(size), mode="bilinear", align_corners=False)
        return self.proj(g)                                               # g̃ (B, C, H, W)

    def forward(self, h: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        g = self.project(g.to(h.dtype), h.shape[-2:]).expand(h.shape[0], -1, -1, -1)  # (N, C, H, W)
        hg = torch.cat([h, g], 1)                                         # (N, 2C, H, W)
        w = self.fuse[1](F.silu(self.fuse[0](hg)))                        # fusion weights (N, C, H, W)
        detail = 0
        if self.warp is not None:
            detail = detail + self.warp(h, g)                             # ĝ
        if self.attn is not None:
            detail = detail + self.attn(h, g)                             # ǧ
        return h + w * detail                                             # eq. 6


# ------------------------------------------------------------------------------------------------ decoder
class DetailDecoder(nn.Module):
    """The new branches of every level plus the hooks that apply them to a diffusers ``AutoencoderKL``.

    Its ``state_dict`` holds only the new layers (the VAE is referenced, not owned).
    """

    def __init__(self, vae, config: DetailDecoderConfig = DetailDecoderConfig()):
        super().__init__()
        self.config = config
        self._vae = [vae]                       # a list, so the VAE is not registered as a submodule
        self._handles: list = []
        self._ref: list[torch.Tensor] | None = None
        chans = list(vae.config.block_out_channels)
        self.num_levels = len(chans)
        levels = range(self.num_levels) if config.levels is None else config.levels
        for lv in levels:
            if not 0 <= lv < self.num_levels:
                raise InputError(f"detail decoder level {lv} out of range: the VAE has levels 0..{self.num_levels - 1}")
        self.levels = tuple(sorted(levels))
        self.enhancers = nn.ModuleDict({str(lv): LevelEnhancer(chans[lv], chans[lv], config) for lv in self.levels})
        p = next(vae.parameters())
        self.to(device=p.device, dtype=p.dtype)

    @property
    def vae(self):
        return self._vae[0]

    def signature(self) -> dict:
        """What a checkpoint must match: the VAE's level structure."""
        c = self.vae.config
        return {"block_out_channels": list(c.block_out_channels), "down_block_types": list(c.down_block_types),
                "up_block_types": list(c.up_block_types)}

    # -------------------------------------------------------------------------------------- hooks
    def attach(self) -> "DetailDecoder":
        """Register the decoder hooks (idempotent). They do nothing unless a reference is being used."""
        if not self._handles:
            ups = self.vae.decoder.up_blocks
            for lv in self.levels:
                block = ups[self.num_levels - 1 - lv]
                self._handles.append(block.resnets[-1].register_forward_hook(self._decoder_hook(lv)))
        return self

    def remove(self) -> None:
        """Detach every hook: the VAE is the plain VAE again."""
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def _decoder_hook(self, level: int):
        def hook(module, args, output):
            if self._ref is None:
                return None
            return self.enhancers[str(level)](output, self._ref[level])   # ĥ_l replaces h_l
        return hook

    @torch.no_grad()
    def reference_features(self, reference: torch.Tensor) -> list[torch.Tensor]:
        """g_l for every level: (1, C_l, H/2**l, W/2**l), from temporary hooks on the encoder's down blocks."""
        feats: list = [None] * self.num_levels
        handles = []
        for lv, block in enumerate(self.vae.encoder.down_blocks):
            def grab(module, args, output, lv=lv):
                feats[lv] = output
            handles.append(block.resnets[-1].register_forward_hook(grab))
        try:
            self.vae.encoder(reference.to(device=self._device(), dtype=self._dtype()))
        finally:
            for handle in handles:
                handle.remove()
        return feats

    def _device(self):
        return next(self.vae.parameters()).device

    def _dtype(self):
        return next(self.vae.parameters()).dtype

    # ------------------------------------------------------------------------------------- decode
    def decode(self, latents: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
        """Latents (N, C, h, w), already divided by ``vae.config.scaling_factor`` (as for ``vae.decode``),
        and a reference image (1, 3, H, W) in [-1, 1] -> frames (N, 3, H, W), unclamped like ``vae.decode``."""
        if reference.ndim != 4 or reference.shape[1] != 3 or reference.shape[0] not in (1, latents.shape[0]):
            raise ValueError(f"reference must be (1, 3, H, W) (or one per frame), got {tuple(reference.shape)}")
        if getattr(self.vae, "use_tiling", False):
            raise ValueError("the detail decoder does not support VAE tiling; call vae.disable_tiling()")
        self.attach()
        self._ref = self.reference_features(reference)
        try:
            return self.vae.decode(latents).sample
        finally:
            self._ref = None


def apply_detail_decoder(vae, config: DetailDecoderConfig | dict | None = None) -> DetailDecoder:
    """A fresh (zero-initialised) detail decoder on ``vae``, hooks attached."""
    if config is None:
        config = DetailDecoderConfig()
    elif isinstance(config, dict):
        config = DetailDecoderConfig.from_dict(config)
    return DetailDecoder(vae, config).attach()


# ------------------------------------------------------------------------------------------- checkpoints
def save_decoder(decoder: DetailDecoder, path: Path, extra: dict | None = None) -> None:
    """Safetensors with only the new layers; config + VAE signature in its metadata (and a ``.json`` beside)."""
    from safetensors.torch import save_file

    from flash_bench.store import atomic_path, atomic_write_json

    path = Path(path)
    meta = {"config": decoder.config.to_dict(), "vae": decoder.signature(), **(extra or {})}
    state = {k: v.detach().cpu().contiguous() for k, v in decoder.state_dict().items()}
    with atomic_path(path) as tmp:
        save_file(state, str(tmp), metadata={"detail_decoder": json.dumps(meta, sort_keys=True)})
    atomic_write_json(path.with_suffix(".json"), meta)


def read_decoder_meta(path: Path) -> dict:
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: detail decoder checkpoint not found")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = (f.metadata() or {}).get("detail_decoder")
    except Exception as err:  # safetensors raises its own error types for corrupt headers
        raise InputError(f"{path}: not a readable safetensors file ({err})") from err
    if meta is None:
        raise InputError(f"{path}: not a detail decoder checkpoint (no 'detail_decoder' metadata)")
    return json.loads(meta)


def load_decoder(path: Path, vae) -> DetailDecoder:
    """A trained detail decoder from ``path`` on ``vae`` (hooks attached). Refuses a VAE of another shape."""
    from safetensors.torch import load_file

    meta = read_decoder_meta(path)
    decoder = DetailDecoder(vae, DetailDecoderConfig.from_dict(meta["config"]))
    if meta.get("vae") != decoder.signature():
        raise InputError(f"{path}: trained for a VAE with {meta.get('vae')}, but this VAE has {decoder.signature()}")
    state = load_file(str(path))
    missing, unexpected = decoder.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise InputError(f"{path}: checkpoint does not match the decoder (missing {missing[:3]}, "
                         f"unexpected {unexpected[:3]})")
    p = next(vae.parameters())
    return decoder.to(device=p.device, dtype=p.dtype).attach()
