"""CLI commands ``report`` and ``regress`` (thin: parse, call one library function, print).

Register with ``app.command()(report)`` and ``app.command()(regress)`` on the main typer app.
"""
from __future__ import annotations

from pathlib import Path

import typer

from flash_bench.types import InputError


def _fail(err: Exception) -> None:
    typer.echo(f"error: {err}", err=True)
    raise typer.Exit(2)


def report(
    run_dir: Path = typer.Argument(..., help="A run directory (results/runs/<id>)."),
    table: str | None = typer.Option(None, "--table", help="Paper table: 1, 2, A1, A2, A3, ci or all. "
                                        "Default: one row per method of the run."),
    fmt: str = typer.Option("markdown", "--format", help="markdown | latex | csv"),
    per_video: bool = typer.Option(False, "--per-video", help="One row per video instead of per method."),
    paper: bool = typer.Option(False, "--paper", help="Add the paper's values and deltas (needs --table)."),
    ci: bool = typer.Option(False, "--ci", help="95% bootstrap intervals over videos + Wilcoxon FLASH vs others."),
    anchor: str | None = typer.Option(None, "--anchor", help="Method label FLASH is tested from (--ci)."),
    plots: Path | None = typer.Option(None, "--plots", help="Also write PNG+PDF plots into this folder."),
    out: Path | None = typer.Option(None, "--out", help="Write the report to FILE instead of stdout."),
) -> None:
    """Render a run as tables (Markdown, LaTeX or CSV), optionally beside the paper's numbers."""
    from flash_bench.report import report_text

    try:
        text = report_text(run_dir, fmt, table=table, per_video=per_video, paper=paper, ci=ci, anchor=anchor)
        written = _write_plots(run_dir, table, plots) if plots else []
    except InputError as e:
        _fail(e)
    if out is None:
        typer.echo(text, nl=False)
    else:
        from flash_bench.store import atomic_write_bytes

        atomic_write_bytes(out, text.encode())
        typer.echo(f"report written to {out}", err=True)
    for p in written:
        typer.echo(f"plot written to {p}", err=True)


def _write_plots(run_dir: Path, table: str | None, folder: Path) -> list[Path]:
    from flash_bench.plots import plot_run

    return plot_run(run_dir, folder, table=table)


def regress(
    run_dir: Path = typer.Argument(..., help="A finished run directory."),
    golden: Path = typer.Option(..., "--golden", help="Golden file, e.g. results/golden/ci.json."),
    update: bool = typer.Option(False, "--update", help="(Re)write the golden file from this run."),
) -> None:
    """Compare every per-method metric of a run with a golden file; exit 1 on drift."""
    from flash_bench.regress import compare, drift_table, environment_differences, read_golden, update_golden
    from flash_bench.results import load_run

    try:
        if update:
            path = update_golden(run_dir, golden)
            typer.echo(f"golden file written to {path}")
            return
        drifts, checked = compare(run_dir, golden)
    except InputError as e:
        _fail(e)
    if drifts:
        typer.echo(drift_table(drifts))
        typer.echo(f"{len(drifts)} of {checked} values drifted beyond tolerance", err=True)
        differ = environment_differences(read_golden(golden), load_run(run_dir).manifest)
        if differ:
            typer.echo("the golden values were made in another environment: " + "; ".join(differ), err=True)
        raise typer.Exit(1)
    typer.echo(f"ok: {checked} values within tolerance of {golden}")
