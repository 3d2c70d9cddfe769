"""`flash-bench evaluate`: score videos made anywhere else with the FLASH protocol (thin CLI).

Register with ``app.command()(evaluate)`` (``from flash_bench.cli.evaluate import evaluate``).
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from flash_bench.types import Profile


def evaluate(
    videos: Path = typer.Option(..., "--videos", help="Folder laid out as <action>/<item>.mp4."),
    dataset: str = typer.Option(..., "--dataset", help="Dataset whose test items the videos answer."),
    root: Optional[Path] = typer.Option(None, "--root", help="Dataset folder (all but `synthetic`)."),
    profile: Optional[Profile] = typer.Option(None, help="paper (published backbones) | tiny (reduced backbones); "
                                              "default: tiny on synthetic, paper elsewhere."),
    metrics: str = typer.Option("all", help="'all' or a comma list of metric ids."),
    method: Optional[str] = typer.Option(None, help="Label of these videos in tables (default: folder name)."),
    run_dir: Optional[Path] = typer.Option(None, help="Default: results/runs/eval-<dataset>-<label>."),
    frames: Optional[int] = typer.Option(None, help="Frames the dataset's ground-truth clips are sampled to "
                                         "(default: the profile's)."),
    size: Optional[int] = typer.Option(None, help="Ground-truth frame size (default: the profile's)."),
    real_set: str = typer.Option("test", help="CD-FVD real set: test | test+train."),
    device: Optional[str] = typer.Option(None, help="cpu | cuda (default: cuda when present)."),
    weights_dir: Optional[Path] = typer.Option(None, "--weights-dir",
                                               help="Checkpoints (default $FLASH_BENCH_WEIGHTS)."),
    cache_dir: Path = typer.Option(Path("results/cache"), help="Feature cache folder."),
) -> None:
    """Score DIR/<action>/<item>.mp4 against a dataset's test items and write a run dir `report` reads."""
    from flash_bench.cli import checks
    from flash_bench.registry import DATASETS
    from flash_bench.runner import evaluate_videos
    from flash_bench.store import RunLocked
    from flash_bench.types import InputError

    try:  # every value checked before any model or dataset loads
        checks.known("--dataset", DATASETS, dataset)
        profile, size, frames = checks.profile_and_geometry(dataset, profile, frames, size)
        device = checks.device(device)
        chosen = checks.metric_ids(metrics)
        if not videos.is_dir():
            raise InputError(f"--videos {videos}: not a folder (lay it out as <action>/<item>.mp4)")
        label = method or videos.resolve().name
        run_dir = run_dir or Path("results/runs") / f"eval-{dataset}-{label}"
        checks.out_dir("--run-dir", run_dir)
        ds = DATASETS.get(dataset)(root, num_frames=frames, size=size)
        store = evaluate_videos(videos, ds, run_dir, method=label, metrics=chosen, profile=profile, device=device,
                                cache_dir=cache_dir, weights_dir=weights_dir, real_set=real_set)
    except (InputError, RunLocked, KeyError) as e:
        typer.secho(f"error: {checks.message(e)}", fg="red", err=True)
        raise typer.Exit(2)
    n = store.read_manifest().get("items") or {}
    typer.echo(f"run dir: {store.root} ({n.get('reused', 0)} videos reused, {n.get('new', 0)} new, "
               f"{n.get('failed', 0)} failed)")
    if profile is Profile.TINY:
        typer.secho("profile: tiny — reduced-size backbones with random weights; not comparable to the paper",
                    fg="yellow")
    typer.echo(f"table:   flash-bench report {store.root}")
