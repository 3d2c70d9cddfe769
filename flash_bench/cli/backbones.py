"""CLI command ``train backbone NAME``: train one of the tiny profile's metric backbones on the tiny world's pool.

Mount with ``train_app.command("backbone")(train_backbone)`` on the ``train`` sub-app of the main typer app.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def train_backbone(
    name: str = typer.Argument(..., help="clip | videomae | i3d_rgb | raft | i3d_flow (after raft)"),
    steps: Optional[int] = typer.Option(None, help="Training steps (default: the backbone's own)."),
    seed: Optional[int] = typer.Option(None, help="Seed of initialisation, batches and augmentation "
                                                  "(default: the backbone's own)."),
    out_dir: Optional[Path] = typer.Option(None, help="Folder for the weights, record and log "
                                                      "(default: flash_bench/trained)."),
) -> None:
    """Train a tiny metric backbone on the synthetic (v2) pretraining pool (never the 12 few-shot actions) at 8 frames
    of 32×32, one CPU thread; writes <name>-tiny-v2.safetensors, .json and .log.jsonl."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from flash_bench.backbones_train import train_backbone as train
    from flash_bench.types import InputError

    command = f"flash-bench train backbone {name}" + (f" --steps {steps}" if steps is not None else "") + \
        (f" --seed {seed}" if seed is not None else "") + (f" --out-dir {out_dir}" if out_dir is not None else "")
    overrides = {k: v for k, v in {"seed": seed, "steps": steps}.items() if v is not None}
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    try:
        with Progress(*columns) as progress:
            render = progress.add_task("rendering the pool", total=None)
            task = progress.add_task("training", total=None)
            record = train(name, command, out_dir, overrides,
                           on_render=lambda n, total: progress.update(render, completed=n, total=total),
                           on_step=lambda stage, s, loss: progress.update(
                               task, completed=s + 1, description=f"{stage} (loss {loss:.3f})"))
    except InputError as err:
        typer.secho(f"error: {err}", fg="red", err=True)
        raise typer.Exit(2)
    typer.echo(f"{name}: {record['parameters']} parameters, sha256 {record['sha256'][:12]}, "
               f"{record['train_seconds']} s on {record['torch_threads']} thread(s); quality {record['quality']}")
