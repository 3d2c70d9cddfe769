"""`flash-bench validate-metrics`: does each metric order known-good and known-bad videos as it must (thin CLI).

Register with ``app.command("validate-metrics")(validate_metrics)``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from flash_bench.types import Profile


def validate_metrics(
    dataset: str = typer.Option("synthetic", "--dataset", help="Dataset whose ground truth the checks are built from."),
    root: Optional[Path] = typer.Option(None, "--root", help="Dataset folder (all but `synthetic`)."),
    profile: Optional[Profile] = typer.Option(None, help="Default: tiny on synthetic, paper elsewhere."),
    metrics: str = typer.Option("all", help="'all' or a comma list of metric ids."),
    frames: Optional[int] = typer.Option(None, help="Frames the ground-truth clips are sampled to "
                                         "(default: the profile's)."),
    size: Optional[int] = typer.Option(None, help="Frame size (default: the profile's)."),
    device: Optional[str] = typer.Option(None, help="cpu | cuda (default: cuda when present)."),
    weights_dir: Optional[Path] = typer.Option(None, "--weights-dir", help="Checkpoints (default $FLASH_BENCH_WEIGHTS)."),
    cache_dir: Path = typer.Option(Path("results/cache"), help="Feature cache folder."),
    out: Optional[Path] = typer.Option(None, "--json", help="Also write the checks to this JSON file."),
) -> None:
    """Build known-good and known-bad videos from a dataset's ground truth (the truth itself, the reference repeated,
    time-reversed, frame-shuffled, blurred, noise, other items) and print, per metric, whether it orders them as it
    must, with the statistic and a PASS/FAIL. Exit 1 if any check fails."""
    from flash_bench.cli import checks
    from flash_bench.registry import DATASETS
    from flash_bench.store import atomic_write_json
    from flash_bench.types import InputError
    from flash_bench.validate import format_checks, validate_metrics as run_checks

    try:
        checks.known("--dataset", DATASETS, dataset)
        profile, size, frames = checks.profile_and_geometry(dataset, profile, frames, size)
        device = checks.device(device)
        chosen = checks.metric_ids(metrics)
        ds = DATASETS.get(dataset)(root, num_frames=frames, size=size) if root is not None else \
            DATASETS.get(dataset)(num_frames=frames, size=size)
        results = run_checks(ds, chosen, profile=profile, device=device, cache_dir=cache_dir,
                             weights_dir=weights_dir, progress=lambda s: typer.echo(s, err=True))
    except (InputError, KeyError) as e:
        typer.secho(f"error: {checks.message(e)}", fg="red", err=True)
        raise typer.Exit(2)
    if profile is Profile.TINY:
        typer.secho("profile: tiny — reduced-size backbones; not comparable to the paper's", fg="yellow")
    typer.echo(format_checks(results))
    failed = sum(not c.passed for c in results)
    typer.echo(f"{len(results) - failed} of {len(results)} checks pass")
    if out is not None:
        atomic_write_json(out, {"dataset": dataset, "profile": profile, "checks": [c.to_dict() for c in results]})
    raise typer.Exit(1 if failed else 0)
