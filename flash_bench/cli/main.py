"""`flash-bench`: run the benchmark, inspect datasets and methods, and (via sub-modules) everything else.

Only typer and the standard library are imported at the top, so ``--help`` is instant; each command
imports what it needs.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Optional

import typer

from flash_bench.types import Profile

app = typer.Typer(help="flash-bench: few-shot human action animation (FLASH) and its benchmark.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
datasets_app = typer.Typer(help="List, inspect and export datasets.", no_args_is_help=True)
methods_app = typer.Typer(help="List animation methods.", no_args_is_help=True)
app.add_typer(datasets_app, name="datasets")
app.add_typer(methods_app, name="methods")


def _mount() -> None:
    """Commands that live beside their library code (each module imports only typer at the top)."""
    from flash_bench.cli.backbones import train_backbone
    from flash_bench.cli.gallery import gallery, userstudy_app
    from flash_bench.cli.decoder import train_decoder
    from flash_bench.cli.evaluate import evaluate
    from flash_bench.cli.flash import animate, pretrain_base, train_app
    from flash_bench.cli.report import regress, report
    from flash_bench.cli.validate import validate_metrics
    from flash_bench.cli.weights import app as weights_app
    from flash_bench.cli.yardstick import train_yardstick

    app.command()(report)
    app.command()(regress)
    app.add_typer(train_app, name="train")
    train_app.command("decoder")(train_decoder)
    train_app.command("yardstick")(train_yardstick)
    train_app.command("backbone")(train_backbone)
    app.command()(animate)
    app.command("pretrain-base")(pretrain_base)
    app.command()(evaluate)
    app.command("validate-metrics")(validate_metrics)
    app.add_typer(weights_app, name="weights")
    app.command()(gallery)
    app.add_typer(userstudy_app, name="userstudy")


def _fail(message: str) -> None:
    typer.secho(f"error: {message}", fg="red", err=True)
    raise typer.Exit(2)


@app.command()
def run(
    methods: str = typer.Option("all", help="'all' or a comma list of registered methods."),
    experiment: Optional[str] = typer.Option(None, help="Run a paper table's experiment instead of --methods."),
    dataset: str = typer.Option("synthetic", help="Dataset name (see `flash-bench datasets list`)."),
    root: Optional[Path] = typer.Option(None, help="Dataset folder (all but `synthetic`)."),
    actions: Optional[str] = typer.Option(None, help="Comma list of action ids (default: all)."),
    shots: Optional[int] = typer.Option(None, help="Training videos per action (seeded subset)."),
    profile: Optional[Profile] = typer.Option(None, help="Default: tiny on synthetic, paper elsewhere."),
    seed: int = typer.Option(0, help="Base seed; every test item gets its own seed derived from it."),
    run_dir: Optional[Path] = typer.Option(None, help="Default: results/runs/<dataset>-<profile>[-<experiment>]."),
    limit: Optional[int] = typer.Option(None, help="Test items per action."),
    test_items: Optional[int] = typer.Option(None, help="Render this many test items per action (synthetic only: "
                                             "videos 016 onwards; default 4), for statistical power."),
    metrics: str = typer.Option("all", help="'all', 'none' or a comma list of metric ids."),
    device: Optional[str] = typer.Option(None, help="cpu | cuda (default: cuda when present)."),
    size: Optional[int] = typer.Option(None, help="Frame height = width in pixels (default: the profile's)."),
    frames: Optional[int] = typer.Option(None, help="Frames per video (default: the profile's)."),
    cache_dir: Path = typer.Option(Path("results/cache"), help="Shared cache of fitted methods and features."),
    weights_dir: Optional[Path] = typer.Option(None, "--weights-dir",
                                               help="Checkpoints for the paper profile (default $FLASH_BENCH_WEIGHTS)."),
    jobs: Optional[int] = typer.Option(None, help="Worker processes for fitting and animating (default: one per "
                                       "CPU core, at most 4, on the CPU; 1 on a GPU; under torchrun each rank is "
                                       "one)."),
) -> None:
    """Fit every method on each action's training videos, animate its test images, score, and write a run dir."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from flash_bench.cli import checks
    from flash_bench.config import RunConfig, default_workers
    from flash_bench.distributed import rank_of_this_process
    from flash_bench.registry import DATASETS, METHODS
    from flash_bench.runner import run as run_benchmark
    from flash_bench.store import RunLocked
    from flash_bench.types import InputError

    try:  # every value checked before any model or dataset loads
        checks.known("--dataset", DATASETS, dataset)
        profile, size, frames = checks.profile_and_geometry(dataset, profile, frames, size)
        if weights_dir is not None:
            if not weights_dir.is_dir():
                raise InputError(f"--weights-dir {weights_dir}: not a folder")
            os.environ["FLASH_BENCH_WEIGHTS"] = str(weights_dir.resolve())   # this process and its workers
        for option, value in (("--limit", limit), ("--jobs", jobs), ("--shots", shots)):
            checks.at_least(option, value, 1)
        DATASETS.get(dataset).check_test_items(test_items)
        device = checks.device(device)
        chosen = checks.listed("--methods", methods)
        cells, exp_actions, exp_limit = _cells(chosen, experiment, dataset, METHODS)
        run_dir = run_dir or Path("results/runs") / "-".join(filter(None, [dataset, profile, experiment]))
        checks.out_dir("--run-dir", run_dir)
        cfg = RunConfig(dataset=dataset, cells=cells, root=str(root.resolve()) if root else None,
                        actions=checks.listed("--actions", actions) or exp_actions, shots=shots, profile=profile,
                        seed=seed, limit=limit if limit is not None else exp_limit, test_items=test_items,
                        num_frames=frames, size=size,
                        device=device, metrics=checks.metric_ids(metrics), experiment=experiment,
                        cache_dir=str(cache_dir), jobs=jobs or default_workers(device))
        columns = [TextColumn("{task.description:<18}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
        main = rank_of_this_process() == 0   # under torchrun/srun only rank 0 shows progress and the outcome
        with Progress(*columns, disable=not main) as progress:
            store = run_benchmark(cfg, run_dir, progress=progress)
    except (InputError, RunLocked, KeyError) as e:
        _fail(checks.message(e))
    if main:
        _print_outcome(store)


def _cells(methods, experiment, dataset, registry):
    from flash_bench.config import method_cells

    if experiment:
        from flash_bench.experiments import EXPERIMENTS, experiment_cells

        exp = EXPERIMENTS.get(experiment)
        if dataset not in exp.datasets:
            raise KeyError(f"experiment {experiment!r} runs on {', '.join(exp.datasets)}, not {dataset!r}")
        return (*experiment_cells(exp, dataset), exp.limit)
    names = registry.names() if methods == ("all",) else list(methods)
    for n in names:
        registry.target(n)  # unknown name → did-you-mean error before any work starts
    return method_cells(names), None, None


def _print_outcome(store) -> None:
    manifest = store.read_manifest()
    n = manifest.get("items") or {}
    typer.echo(f"\nrun dir:   {store.root}")
    typer.echo(f"items:     {store.root / 'items'} ({n.get('reused', 0)} reused, {n.get('new', 0)} new, "
               f"{n.get('failed', 0)} failed)")
    typer.echo(f"per video: {store.root / 'per_video.csv'}")
    typer.echo(f"summary:   {store.root / 'summary.csv'}")
    if manifest.get("tiny_backbones"):
        typer.secho("profile:   tiny — reduced-size models with seeded or suite-trained weights; "
                    "numbers are not comparable to the paper's", fg="yellow")
    for f in manifest["failures"][:10]:
        where = f.get("file") or f"{f.get('method')}/{f.get('action')}/{f.get('item', '*')}"
        typer.secho(f"failed:    {where}: {f['error']}", fg="red")
    typer.echo(f"table:     flash-bench report {store.root}\n")
    from flash_bench.report import render

    typer.echo(render(store.root, fmt="markdown"))


@datasets_app.command("list")
def datasets_list() -> None:
    """Registered datasets."""
    from flash_bench.registry import DATASETS

    for name in DATASETS.names():
        typer.echo(name)


@datasets_app.command("inspect")
def datasets_inspect(name: str, root: Optional[Path] = typer.Option(None), shots: Optional[int] = None,
                     as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """Actions, prompts and train/test counts of a dataset."""
    from flash_bench.cli import checks
    from flash_bench.registry import DATASETS
    from flash_bench.types import InputError

    try:
        checks.known("dataset", DATASETS, name)
        checks.at_least("--shots", shots, 1)
        ds = DATASETS.get(name)(root, shots=shots)
        rows = [{"action": a.id, "prompt": a.prompt, "train": len(a.train), "test": len(a.test),
                 "test_with_ground_truth": sum(t.ground_truth is not None for t in a.test)} for a in ds.actions()]
    except (InputError, KeyError) as e:
        _fail(checks.message(e))
    if as_json:
        typer.echo(json.dumps({"dataset": name, "actions": rows, "failures": ds.failures}, indent=2))
        return
    for r in rows:
        typer.echo(f"{r['action']:<22} train {r['train']:>3}  test {r['test']:>3}  {r['prompt']}")
    for f in ds.failures:
        typer.secho(f"unreadable: {f['action']}: {f['error']}", fg="red")


@datasets_app.command("export")
def datasets_export(name: str, out: Path, root: Optional[Path] = typer.Option(None),
                    size: Optional[int] = typer.Option(None, help="Frame size (default: the tiny profile's)."),
                    frames: Optional[int] = typer.Option(None, help="Frames (default: the tiny profile's).")) -> None:
    """Write a dataset to OUT in the `folder` layout (prompt.txt, train/*.mp4, test/*.png + *.mp4)."""
    from flash_bench.cli import checks
    from flash_bench.datasets.export import export_dataset
    from flash_bench.registry import DATASETS
    from flash_bench.types import InputError

    try:
        checks.known("dataset", DATASETS, name)
        _, size, frames = checks.profile_and_geometry(name, Profile.TINY, frames, size)
        checks.out_dir("OUT", out)
        ds = DATASETS.get(name)(root, num_frames=frames, size=size)
        n, failures = export_dataset(ds, out)
    except (InputError, OSError) as e:
        _fail(str(e))
    typer.echo(f"wrote {n} files to {out}")
    for f in failures:
        typer.secho(f"not exported: {f.get('action')}/{f.get('item', '*')}: {f['error']}", fg="red")
    if failures:
        raise typer.Exit(1)


@methods_app.command("list")
def methods_list(as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """Registered animation methods."""
    from flash_bench.registry import METHODS

    rows = [{"name": n, "target": METHODS.target(n)} for n in METHODS.names()]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
    else:
        for r in rows:
            typer.echo(f"{r['name']:<14} {r['target']}")


_mount()
