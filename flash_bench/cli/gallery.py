"""CLI: ``gallery`` (static HTML site of a run) and ``userstudy build|analyze`` (the A4.1 kit). Thin wrappers.

Register on the main app with ``app.command()(gallery)`` and ``app.add_typer(userstudy_app, name="userstudy")``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from flash_bench.types import InputError

userstudy_app = typer.Typer(help="The paper's user study (A4.1): build anonymised MTurk forms, analyse answers.",
                            no_args_is_help=True)


def _fail(err: Exception) -> None:
    typer.secho(f"error: {err}", fg="red", err=True)
    raise typer.Exit(2)


def gallery(
    run_dir: Path = typer.Argument(..., help="A run directory (results/runs/<id>)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Site folder (default: RUN_DIR/gallery)."),
    gif: Optional[Path] = typer.Option(None, "--gif", help="Instead of the site, write one comparison GIF here: a row "
                                       "per item, the ground truth then each method."),
    methods: Optional[str] = typer.Option(None, "--methods", help="--gif: comma list of method labels, in order."),
    items: Optional[str] = typer.Option(None, "--items", help="--gif: comma list of action/item (default: the "
                                        "first item of every action)."),
    zoom: int = typer.Option(1, "--zoom", help="--gif: draw each pixel as ZOOM x ZOOM pixels (nearest neighbour)."),
) -> None:
    """Write a static HTML gallery of a run: references, ground truth and every method's videos side by side."""
    import contextlib

    from flash_bench.gallery import build_gallery, comparison_gif
    from flash_bench.store import RunLocked, RunStore

    split = lambda s: [x.strip() for x in s.split(",") if x.strip()] if s else None  # noqa: E731
    target = gif if gif is not None else out if out is not None else run_dir / "gallery"
    inside = run_dir.is_dir() and run_dir.resolve() in target.resolve().parents
    try:  # writing into a run dir: only while no run holds it
        with RunStore(run_dir).lock() if inside else contextlib.nullcontext():
            if gif is not None:
                columns = comparison_gif(run_dir, gif, split(methods), split(items), zoom=zoom)
                typer.echo(f"wrote {gif} (columns: {', '.join(columns)})")
                return
            index = build_gallery(run_dir, out)
    except (InputError, RunLocked) as e:
        _fail(e)
    typer.echo(f"gallery written to {index} (open it in a browser; it works from file://)")


@userstudy_app.command("build")
def build(
    run_dir: Path = typer.Argument(..., help="A run directory."),
    out: Path = typer.Option(..., "--out", help="Folder for the kit (forms, MTurk files, PRIVATE key.json)."),
    per_action: int = typer.Option(4, "--per-action", help="Random reference images per action (paper: 4)."),
    seed: int = typer.Option(0, "--seed", help="Seed for the item choice, shuffles and anonymous file names."),
    methods: Optional[str] = typer.Option(None, "--methods", help="Comma list (default: every method of the "
                                          "run except oracle and static)."),
    base_url: str = typer.Option("", "--base-url", help="URL prefix where media/ will be hosted (for the MTurk CSV)."),
) -> None:
    """Build the A4.1 study: shuffled, anonymised questions, each paired with a control question."""
    from flash_bench.user_study import build_study

    chosen = [m.strip() for m in methods.split(",") if m.strip()] if methods else None
    if per_action < 1:
        _fail(InputError(f"--per-action must be >= 1, got {per_action}"))
    try:
        key = build_study(run_dir, out, per_action=per_action, seed=seed, methods=chosen, base_url=base_url)
    except InputError as e:
        _fail(e)
    typer.echo(f"{len(key['pairs'])} question pairs written to {out}; keep {out / 'key.json'} private")


@userstudy_app.command("analyze")
def analyze(
    responses: Path = typer.Argument(..., help="MTurk batch results CSV (or the standalone forms' CSV rows)."),
    key: Path = typer.Option(..., "--key", help="The key.json written by `userstudy build`."),
    out: Optional[Path] = typer.Option(None, "--out", help="Folder for CSVs, summary.md and the pie chart "
                                       "(default: beside RESPONSES, <name>-analysis)."),
    strict_workers: bool = typer.Option(False, "--strict-workers", help="Drop every answer of a worker who "
                                        "failed any control question (default: only the failed pair's)."),
    seed: int = typer.Option(0, "--seed", help="Bootstrap seed."),
) -> None:
    """Valid responses, preference rates with bootstrap intervals, per-action breakdown, pie chart (Fig. A5)."""
    from flash_bench.user_study import analyze_study, summary_text, write_analysis

    out = out or responses.with_name(f"{responses.stem}-analysis")
    try:
        result = analyze_study(responses, key, strict_workers=strict_workers, seed=seed)
        written = write_analysis(result, out)
    except InputError as e:
        _fail(e)
    typer.echo(summary_text(result), nl=False)
    for p in written:
        typer.echo(f"written: {p}", err=True)
