"""CLI commands of the FLASH method: ``train flash``, ``animate`` and ``pretrain-base``.

Mount in the main app::

    from flash_bench.cli.flash import animate, pretrain_base, train_app
    app.add_typer(train_app, name="train")
    app.command("animate")(animate)
    app.command("pretrain-base")(pretrain_base)

Only typer is imported at the top; torch/diffusers load inside the commands.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from flash_bench.types import Profile

train_app = typer.Typer(help="Train FLASH, its Detail Enhancement Decoder, or the synthetic yardstick.", no_args_is_help=True)


def _fail(message: str) -> None:
    typer.secho(f"error: {message}", fg="red", err=True)
    raise typer.Exit(2)


@train_app.command("flash")
def train_flash_cmd(
    actions: str = typer.Option(..., help="Comma list of action ids; several = joint training (Table A1)."),
    out: Path = typer.Option(..., help="Checkpoint to write (.safetensors, trainable weights + config)."),
    dataset: str = typer.Option("synthetic", help="Dataset name (see `flash-bench datasets list`)."),
    root: Optional[Path] = typer.Option(None, help="Dataset folder (all but `synthetic`)."),
    shots: Optional[int] = typer.Option(None, help="Training videos per action (seeded subset)."),
    steps: Optional[int] = typer.Option(None, help="Training steps (default: tiny 80, paper 20000)."),
    profile: Profile = typer.Option(Profile.TINY.value),
    variant: int = typer.Option(5, help="Ablation variant #1-#5 of Table 2 (#6 = #5 + --decoder at animate)."),
    strong_aug: Optional[bool] = typer.Option(None, "--strong-aug/--no-strong-aug", help="Override the variant."),
    motion_align: Optional[bool] = typer.Option(None, "--motion-align/--no-motion-align", help="Override."),
    corr_align: Optional[bool] = typer.Option(None, "--corr-align/--no-corr-align", help="Override."),
    tau: float = typer.Option(90.0, help="Motion-channel percentile τ."),
    p: float = typer.Option(0.5, help="Fraction p of cross-frame attention layers aligned per step."),
    uniform_timesteps: bool = typer.Option(False, help="Uniform instead of importance timestep sampling."),
    seed: int = typer.Option(0, help="Seed of data order, augmentation, noise and timesteps."),
    size: Optional[int] = typer.Option(None, help="Clip size to load (default: the profile's native size)."),
    frames: Optional[int] = typer.Option(None, help="Frames per clip (default: the profile's)."),
    base_dir: Optional[Path] = typer.Option(None, help="tiny: another pretrained tiny base folder."),
) -> None:
    """Train FLASH on the training videos of one or more actions (resumes from an existing --out)."""
    import torch

    from flash.config import variant as make_variant
    from flash.method import load_videos, train_on_actions
    from flash_bench.cli import checks
    from flash_bench.types import InputError

    try:
        _, size, frames = checks.profile_and_geometry(dataset, profile, frames, size)
        for option, value in (("--steps", steps), ("--shots", shots)):
            checks.at_least(option, value, 1)
        checks.listed("--actions", actions)
        overrides = {k: v for k, v in dict(strong_aug=strong_aug, motion_align=motion_align,
                                           corr_align=corr_align).items() if v is not None}
        # #6 trains as #5 does (its Detail Enhancement Decoder only acts at sampling: `animate --decoder`)
        cfg = make_variant(5 if variant == 6 else variant, profile, tau=tau, p=p, seed=seed,
                           uniform_timesteps=uniform_timesteps, **overrides)
        if steps is not None:
            cfg = cfg.replace(steps=steps)
        if base_dir is not None:
            cfg = cfg.replace(base_dir=str(base_dir))
        device = "cuda" if torch.cuda.is_available() else "cpu"
        videos = load_videos(dataset, root, [a.strip() for a in actions.split(",") if a.strip()], shots,
                             size, frames, seed)
        seconds = train_on_actions(cfg, videos, out, device)
    except InputError as e:
        _fail(str(e))
    typer.echo(f"trained FLASH-{profile} on {len(videos)} videos in {seconds:.1f} s -> {out}")


def animate(
    checkpoint: Path = typer.Option(..., help="FLASH checkpoint from `train flash`."),
    image: Path = typer.Option(..., help="Reference image (.png/.jpg)."),
    prompt: str = typer.Option(..., help="Action sentence, e.g. 'a person is waving their arm.'"),
    out: Path = typer.Option(..., help="Output video (.mp4 or .gif)."),
    seed: int = typer.Option(0, help="Sampling seed."),
    steps: Optional[int] = typer.Option(None, help="DDIM steps (default 25)."),
    guidance: Optional[float] = typer.Option(None, help="Classifier-free guidance (default 7.5)."),
    frames: Optional[int] = typer.Option(None, help="Frames to generate (default: the checkpoint's profile's)."),
    size: Optional[int] = typer.Option(None, help="Output size (default: the reference image's)."),
    decoder: Optional[Path] = typer.Option(None, help="Detail Enhancement Decoder checkpoint (variant #6)."),
    fps: int = typer.Option(8, help="Frames per second of the output."),
) -> None:
    """Animate a reference image with a trained FLASH checkpoint."""
    from flash.method import animate_file
    from flash_bench.cli import checks
    from flash_bench.types import InputError

    try:
        checks.frame_args(frames if frames is not None else 2, size)
        for option, value in (("--steps", steps), ("--fps", fps)):
            checks.at_least(option, value, 1)
        info = animate_file(checkpoint, image, prompt, out, seed=seed, steps=steps, guidance=guidance,
                            num_frames=frames, size=size, decoder=decoder, fps=fps)
    except InputError as e:
        _fail(str(e))
    typer.echo(f"wrote {out} ({info})")


def pretrain_base(
    profile: Profile = typer.Option(Profile.TINY.value, help="Only `tiny`: the paper profile starts from "
                                    "AnimateDiff's weights."),
    minutes: float = typer.Option(600.0, help="UNet training time budget (stop any time: checkpoints persist); "
                                  "0: no UNet steps (e.g. only --vae-decoder-minutes)."),
    vae_minutes: float = typer.Option(10.0, help="VAE training time."),
    vae_decoder_minutes: float = typer.Option(0.0, help="Then tune the VAE decoder alone (encoder frozen) this "
                                              "long, figure-weighted, lr on a cosine (docs/tiny_world_v2.md, G1)."),
    vae_decoder_lr: float = typer.Option(2e-3, help="Peak learning rate of --vae-decoder-minutes."),
    seed: int = typer.Option(0, help="Seed of data, initialisation and training."),
    out_dir: Optional[Path] = typer.Option(None, help="Default: the shipped flash/weights/tiny_v2/."),
    resume_dir: Optional[Path] = typer.Option(None, help="Full training state (default: results/cache/tiny_v2_resume)."),
    save_every: float = typer.Option(4.0, help="Minutes between checkpoints."),
    videos_per_action: int = typer.Option(30, help="Pretrain-pool videos per action."),
    random_videos: int = typer.Option(0, help="Random choreographies added to the pool (the shipped base: 1000)."),
    random_variants: int = typer.Option(0, help="Random choreographies added per variant: in the few-shot actions' "
                                        "poses, props, scenes and company, each also sparse (1-3 joints move; "
                                        "synthetic.VARIANT_ACTIONS, SPARSE_ACTIONS)."),
    warm_start: Optional[Path] = typer.Option(None, help="Continue from this tiny base folder (e.g. the shipped "
                                              "one) when --resume-dir holds no training state."),
    decoder_every: int = typer.Option(8, help="One VAE-decoder tuning step per this many UNet steps; 0 keeps the "
                                      "VAE as it is (e.g. a warm start whose decoder others were trained on)."),
    threads: int = typer.Option(2, help="CPU threads."),
) -> None:
    """Pretrain the tiny base (VAE, then UNet + motion modules) on the synthetic pretrain pool."""
    from flash.pretrain_base import PretrainConfig
    from flash.pretrain_base import pretrain_base as run_pretraining

    if profile is not Profile.TINY:
        _fail("pretrain-base only exists for the tiny profile (paper = SD1.5 + AnimateDiff weights)")
    kw = {k: str(v) for k, v in (("out_dir", out_dir), ("resume_dir", resume_dir)) if v is not None}
    from flash_bench.cli import checks
    from flash_bench.types import InputError

    try:
        checks.at_least("--minutes", minutes, 0)
        checks.at_least("--vae-decoder-minutes", vae_decoder_minutes, 0)
    except InputError as e:
        _fail(str(e))
    cfg = PretrainConfig(seed=seed, unet_minutes=minutes, vae_minutes=vae_minutes,
                         vae_decoder_minutes=vae_decoder_minutes, vae_decoder_lr=vae_decoder_lr,
                         save_every_min=save_every, videos_per_action=videos_per_action, random_videos=random_videos,
                         random_variants=random_variants,
                         warm_start=str(warm_start or ""), threads=threads,
                         decoder_every=decoder_every, **kw)
    import pickle

    try:
        folder = run_pretraining(cfg)
    except pickle.UnpicklingError:   # resuming: the optimizer state in --resume-dir holds more than tensors
        _fail(f"{Path(cfg.resume_dir) / 'optimizer.pt'}: holds objects other than tensors (not loadable with "
              "torch.load(weights_only=True)), so it is not loaded; delete it to resume with a fresh optimizer")
    typer.echo(f"tiny base written to {folder}")
