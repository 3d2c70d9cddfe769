"""`flash-bench weights list | fetch | verify | lock`: the checkpoints of flash_bench.weights (thin CLI).

Mount with ``app.add_typer(weights_app, name="weights")`` (``from flash_bench.cli.weights import app as weights_app``).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer

app = typer.Typer(help="List, fetch and verify the checkpoints the suite uses (offline unless you fetch).",
                  no_args_is_help=True)

WEIGHTS_DIR = typer.Option(None, "--weights-dir", help="Folder of checkpoints (default: $FLASH_BENCH_WEIGHTS).")


def _fail(message: str) -> None:
    typer.secho(f"error: {message}", fg="red", err=True)
    raise typer.Exit(2)


def _names(names: Optional[List[str]]) -> list[str]:
    from flash_bench.weights import WEIGHTS, get

    if not names or names == ["all"]:
        return list(WEIGHTS)
    for n in names:
        get(n)
    return names


@app.command("list")
def list_weights(weights_dir: Optional[Path] = WEIGHTS_DIR,
                 as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """Every checkpoint: file, size, licence, source and whether it is on this machine (no network, no hashing)."""
    from flash_bench.weights import WEIGHTS, status

    rows = [status(n, weights_dir) for n in WEIGHTS]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        mark = "present" if r["present"] else "missing"
        typer.echo(f"{r['name']:<24} {mark:<8} {r['size']:>7}  {r['file']:<40} {r['licence']}")
        typer.echo(f"{'':<24} {r['path'] or r['source']}")


@app.command()
def fetch(names: Optional[List[str]] = typer.Argument(None, help="Names (default: all)."),
          weights_dir: Optional[Path] = WEIGHTS_DIR) -> None:
    """Download checkpoints (the only command that uses the network; refused under HF_HUB_OFFLINE=1)."""
    from flash_bench import weights
    from flash_bench.types import InputError

    try:
        for name in _names(names):
            typer.echo(f"{name}: {weights.fetch(name, weights_dir)}")
    except (InputError, OSError) as e:
        _fail(str(e))


@app.command()
def verify(names: Optional[List[str]] = typer.Argument(None, help="Names (default: all)."),
           weights_dir: Optional[Path] = WEIGHTS_DIR,
           as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """Which checkpoints are present (hashed: published or locked sha256, and loadable as tensors), which are
    missing (with where to get each) and which fail; exit 1 unless every one asked for is present and verified."""
    from flash_bench import weights
    from flash_bench.types import InputError

    try:
        rows = [weights.verify(name, weights_dir) for name in _names(names)]
    except InputError as e:
        _fail(str(e))
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
    for state in ("ok", "unverifiable", "mismatch", "unloadable", "missing"):
        for r in (r for r in rows if r["state"] == state and not as_json):
            typer.secho(f"{r['name']:<34} {state:<12} {r['path'] or r['file']}", fg=None if state == "ok" else "red")
            typer.echo(f"{'':<34} {r['detail']}")
    counts = {s: sum(r["state"] == s for r in rows) for s in ("ok", "unverifiable", "mismatch", "unloadable", "missing")}
    typer.echo(", ".join(f"{n} {s}" for s, n in counts.items()), err=as_json)
    if counts["ok"] != len(rows):
        raise typer.Exit(1)


@app.command("lock")
def lock_weights(names: Optional[List[str]] = typer.Argument(None, help="Names (default: all present)."),
                 weights_dir: Optional[Path] = WEIGHTS_DIR,
                 replace: bool = typer.Option(False, "--replace", help="Re-record files that differ from their "
                                              "lock entry (you replaced them on purpose).")) -> None:
    """Record the sha256 of present, loadable checkpoints in the weights folder's lock file; later loads
    and `weights verify` compare with it."""
    from flash_bench import weights
    from flash_bench.types import InputError

    chosen = _names(names) if names else [n for n in weights.WEIGHTS if weights.find(n, weights_dir)]
    bad = 0
    for name in chosen:
        try:
            entry = weights.lock(name, weights_dir, replace=replace)
            typer.echo(f"{name}: locked {entry['sha256']} {entry['path']}")
        except InputError as e:
            bad += 1
            typer.secho(f"{name}: {e}", fg="red", err=True)
    if not chosen:
        _fail("no checkpoint present to lock (see `flash-bench weights list`)")
    if bad:
        raise typer.Exit(1)
