"""CLI command ``train decoder``: train the Detail Enhancement Decoder (FLASH Sec. 3.3, A2.3).

Mount with ``train_app.command("decoder")(train_decoder)`` on the ``train`` sub-app of the main typer app.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from flash_bench.types import Profile


def train_decoder(
    dataset: str = typer.Option("synthetic", help="Dataset name (see `flash-bench datasets list`)."),
    root: Optional[Path] = typer.Option(None, help="Dataset folder (all but `synthetic`)."),
    steps: Optional[int] = typer.Option(None, help="Training steps (default: tiny 300, paper 10000)."),
    profile: Profile = typer.Option(Profile.TINY.value, help="tiny (shipped tiny VAE) | paper (SD1.5 VAE from the "
                                    "hub cache)."),
    branches: str = typer.Option("warp,attn", help="warp | attn | warp,attn (Table A2)."),
    out: Path = typer.Option(..., help="Checkpoint to write (.safetensors; a .json log goes beside it)."),
    seed: int = typer.Option(0, help="Seed of every distortion and sampling choice."),
    frames_per_step: Optional[int] = typer.Option(None, help="Frames per step (default: tiny 8, paper all)."),
    clean_first: bool = typer.Option(False, help="Leave frame 1 undistorted (at inference frame 1 is the clean "
                                     "reference latent)."),
    distortion: str = typer.Option("{}", help="JSON overrides of the distortions (flash/distortions.py "
                                   "DistortionConfig), e.g. '{\"blur_kernel\": [1, 5], \"elastic_alpha\": [0, 6]}'."),
    resume: bool = typer.Option(True, help="Continue from an existing checkpoint at --out."),
) -> None:
    """Train the detail decoder's new branches to rebuild clean videos from distorted ones (lr 1e-4)."""
    import torch
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from flash.detail_decoder import DetailDecoderConfig
    from flash.train_decoder import PROFILE_DEFAULTS, DecoderTrainConfig, train_on_dataset
    from flash_bench.types import InputError

    try:
        defaults = PROFILE_DEFAULTS[profile]
        cfg = DecoderTrainConfig(steps=steps if steps is not None else defaults["steps"], seed=seed,
                                 frames_per_step=frames_per_step or defaults["frames_per_step"],
                                 clean_first=clean_first, decoder=DetailDecoderConfig.parse_branches(branches),
                                 distortion=_distortion(distortion))
        device = "cuda" if torch.cuda.is_available() else "cpu"
        if profile is Profile.PAPER and device == "cpu":
            typer.secho("warning: paper profile on a CPU: expect hours per thousand steps", fg="yellow", err=True)
        columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
        with Progress(*columns) as progress:
            task = progress.add_task(f"decoder ({profile})", total=cfg.steps)

            def on_step(step: int, loss: float) -> None:
                progress.update(task, completed=step + 1, description=f"decoder ({profile}) loss {loss:.4f}")

            summary = train_on_dataset(dataset, root, profile, cfg, out, device=device, on_step=on_step)
    except (InputError, KeyError) as err:
        from flash_bench.cli.checks import message

        typer.secho(f"error: {message(err)}", fg="red", err=True)
        raise typer.Exit(2)
    if profile is Profile.TINY:
        typer.echo("(tiny profile: a CPU-scale decoder on the tiny VAE, not the paper's model)")
    typer.echo(json.dumps(summary, indent=2))


def _distortion(text: str):
    """``--distortion``'s JSON -> DistortionConfig; one InputError naming the option for bad JSON or values."""
    from flash.distortions import DistortionConfig
    from flash_bench.types import InputError

    try:
        overrides = json.loads(text)
    except json.JSONDecodeError as err:
        raise InputError(f"--distortion is not JSON ({err.msg}): {text!r}") from err
    if not isinstance(overrides, dict):
        raise InputError(f"--distortion must be a JSON object of DistortionConfig fields, got {text!r}")
    return DistortionConfig.from_dict(overrides)
