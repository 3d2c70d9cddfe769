"""The base video diffusion model: AnimateDiff on diffusers (Sec. 3.1, A2.1).

``paper``: ``UNetMotionModel.from_unet2d(SD1.5 UNet, MotionAdapter guoyww/animatediff-motion-adapter-v1-5-2)``,
SD1.5 VAE / CLIP text encoder / tokenizer, DDIM with AnimateDiff's linear betas. Weights are read from the
Hugging Face hub cache or a local folder only (never downloaded); a miss raises one error naming them.

``tiny``: the tiny world's base (:mod:`flash_bench.tiny_world`, shared with the baselines): the same classes
with reduced configs, an offline CLIP tokenizer, and weights pretrained on the synthetic pretrain pool by
:mod:`flash.pretrain_base` and shipped in ``flash/weights/tiny_v2/`` (fp16 storage, fp32 compute).
"""
from __future__ import annotations

from flash_bench.tiny_world import ANIMATEDIFF_SCHEDULER, BaseModel, load_tiny_base, to_device
# Old names of the tiny world's, still read by flash_bench/yardstick.py (which should import flash_bench.tiny_world).
from flash_bench.tiny_world import BASE_DIR as TINY_BASE_DIR, COMPONENTS as TINY_COMPONENTS  # noqa: F401
from flash_bench.types import InputError, Profile

SD15_REPO = "stable-diffusion-v1-5/stable-diffusion-v1-5"
MOTION_ADAPTER_REPO = "guoyww/animatediff-motion-adapter-v1-5-2"


def _offline(fn, what: str, **kw):
    try:
        return fn(**kw)
    except (OSError, ValueError) as err:
        raise InputError(f"paper-profile weights not found offline: {what} ({err.__class__.__name__}: "
                         f"{str(err).splitlines()[0]}). Put them in the Hugging Face hub cache "
                         "(HF_HOME) or pass a local folder; nothing is downloaded.") from err


MOTION_ADAPTER_ROW = "animatediff-motion-adapter-v1-5-2"


def paper_folder(path: str, row: str) -> str:
    """A folder from flash_bench.weights when ``path`` is the default hub id and that table has the row
    (weights dir, then hub cache; a miss raises WeightsMissing naming the file); else ``path`` unchanged."""
    if path not in (SD15_REPO, MOTION_ADAPTER_REPO):
        return path
    from flash_bench import weights

    if row not in weights.WEIGHTS:
        return path
    return str(weights.resolve(row))


def load_paper_base(sd_path: str = SD15_REPO, adapter_path: str = MOTION_ADAPTER_REPO,
                    device: str = "cpu") -> BaseModel:
    """SD1.5 + AnimateDiff motion adapter v1-5-2, from the local hub cache or folders (offline only)."""
    from diffusers import AutoencoderKL, DDIMScheduler, MotionAdapter, UNet2DConditionModel, UNetMotionModel
    from transformers import CLIPTextModel, CLIPTokenizer

    sd_path, adapter_path = paper_folder(sd_path, "sd-v1-5"), paper_folder(adapter_path, MOTION_ADAPTER_ROW)
    common = dict(local_files_only=True)
    vae = _offline(AutoencoderKL.from_pretrained, f"{sd_path}/vae", pretrained_model_name_or_path=sd_path,
                   subfolder="vae", **common)
    text_encoder = _offline(CLIPTextModel.from_pretrained, f"{sd_path}/text_encoder",
                            pretrained_model_name_or_path=sd_path, subfolder="text_encoder", **common)
    tokenizer = _offline(CLIPTokenizer.from_pretrained, f"{sd_path}/tokenizer",
                         pretrained_model_name_or_path=sd_path, subfolder="tokenizer", **common)
    unet2d = _offline(UNet2DConditionModel.from_pretrained, f"{sd_path}/unet",
                      pretrained_model_name_or_path=sd_path, subfolder="unet", **common)
    adapter = _offline(MotionAdapter.from_pretrained, adapter_path,
                       pretrained_model_name_or_path=adapter_path, **common)
    unet = UNetMotionModel.from_unet2d(unet2d, adapter)
    scheduler = DDIMScheduler(**ANIMATEDIFF_SCHEDULER, prediction_type="epsilon")
    for m in (vae, text_encoder, unet):
        m.eval().requires_grad_(False)
    return to_device(BaseModel(vae, text_encoder, tokenizer, unet, scheduler, Profile.PAPER, "epsilon"), device)


def load_base(profile: Profile | str, device: str = "cpu", base_dir: str | None = None, **paper_kw) -> BaseModel:
    if Profile.parse(profile) is Profile.TINY:
        return load_tiny_base(base_dir, device)
    return load_paper_base(device=device, **paper_kw)
