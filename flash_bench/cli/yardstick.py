"""CLI command ``train yardstick``: train the action-recognition yardstick and report its own quality.

Mount with ``train_app.command("yardstick")(train_yardstick)`` on the ``train`` sub-app of the main typer app.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

def train_yardstick(
    seed: int = typer.Option(0, help="Seed of initialisation, batches, augmentation and the extra videos."),
    steps: Optional[int] = typer.Option(None, help="Training steps (default: the recipe's, 1200)."),
    out: Optional[Path] = typer.Option(None, help="Weights to write (.safetensors; a .json record goes beside it; "
                                                  "default: the shipped file)."),
    extra_per_action: int = typer.Option(60, help="Extra videos rendered per action (indices 1000+)."),
    evaluate_only: bool = typer.Option(False, help="Only re-measure the quality of the weights at --out "
                                                   "(e.g. once the tiny VAE exists) and update the JSON."),
    vae: Optional[Path] = typer.Option(None, help="Tiny VAE for the round-trip check: a tiny-base folder or a "
                                                  "VAE .safetensors (default: the shipped tiny base)."),
) -> None:
    """Train the small action classifier behind action_accuracy / action_confidence on synthetic (1 CPU thread)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from flash_bench import yardstick
    from flash_bench.types import InputError

    try:
        out = out or yardstick.WEIGHTS_PATH
        if evaluate_only:
            info = yardstick.reevaluate(out, vae)
        else:
            cfg = yardstick.recipe(seed=seed, extra_per_action=extra_per_action,
                                   **({} if steps is None else {"steps": steps}))
            steps = cfg.steps
            command = (f"{yardstick.TRAIN_COMMAND} --seed {seed} --steps {steps} --extra-per-action {extra_per_action}"
                       + ("" if out == yardstick.WEIGHTS_PATH else f" --out {out}"))
            columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
            with Progress(*columns) as progress:
                render = progress.add_task("rendering training videos", total=None)
                train = progress.add_task("training", total=steps)
                info = yardstick.train_yardstick(
                    cfg, out, command, vae_folder=vae,
                    on_render=lambda n, total: progress.update(render, completed=n, total=total),
                    on_step=lambda s, loss: progress.update(train, completed=s + 1,
                                                            description=f"training (loss {loss:.3f})"))
    except InputError as err:
        typer.secho(f"error: {err}", fg="red", err=True)
        raise typer.Exit(2)
    _print_quality(info, out)


def _print_quality(info: dict, out: Path) -> None:
    t = info["training"]
    typer.echo(f"yardstick: {info['parameters']} parameters → {out} (sha256 {info['sha256'][:12]})")
    typer.echo(f"  trained with: {t['command']}  (seed {t['seed']}, {t['steps']} steps, {t['videos']} videos; "
               f"render {t['render_seconds']} s, train {t['train_seconds']} s, 1 thread)")
    q = info["quality"]
    typer.echo(f"  quality (chance {100 * q['chance']:.1f}%):")
    for key in ("ground_truth", "held_out_extra", "mp4", "blurred", "noisy", "ground_truth_flicker",
                "ground_truth_scene_moving", "tiny_vae", "frames_shuffled", "static", "flicker", "figure_frozen",
                "figure_absent"):
        row = q.get(key, {})
        if "accuracy" in row:
            acc, conf = 100 * row["accuracy"], 100 * row["confidence"]
            extra = f"; VAE {row['vae']}, round trip {row['round_trip_psnr_db']} dB PSNR" if "vae" in row else ""
            if "largest_class_share" in row:
                extra += f"; largest class share {100 * row['largest_class_share']:.0f}%"
            refused = f"  no action {100 * row['refused']:5.1f}%" if "refused" in row else ""
            typer.echo(f"    {key:<25} accuracy {acc:5.1f}%  confidence {conf:5.1f}%{refused}  "
                       f"(n={row['n']}: {row['what']}{extra})")
        else:
            typer.echo(f"    {key:<25} {row.get('skipped', 'not measured')}")
