"""`flash-bench weights list | fetch | verify`: the checkpoints of flash_bench.weights (thin CLI).

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
def verify(names: Optional[List[str]] = typer.Argument(None, help="Names (default: all present)."),
           weights_dir: Optional[Path] = WEIGHTS_DIR) -> None:
    """Hash present checkpoints and compare with the table; exit 1 when one is missing or differs."""
    from flash_bench import weights
    from flash_bench.types import InputError

    bad = 0
    for name in _names(names):
        try:
            path = weights.resolve(name, weights_dir, verify=False)
            digest = weights.check_sha256(weights.get(name), path) if path.is_file() else "(folder)"
            known = "matches" if weights.get(name).sha256 else "no known sha256 in the table"
            typer.echo(f"{name}: ok {digest} ({known}) {path}")
        except InputError as e:
            bad += 1
            typer.secho(f"{name}: {e}", fg="red")
    if bad:
        raise typer.Exit(1)
