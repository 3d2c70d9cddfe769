"""The paper's numbers (Tables 1, 2, A1, A2, A3), transcribed into ``results/paper/*.csv``.

Each CSV is tidy: ``table, position, row_id, row, settings, metric, value, direction``, one line per
number. ``position`` is the row's 1-based place in the paper's table; ``row_id`` is unique per table
except where the paper itself repeats a row (Table A1 prints "#5, 16 videos, no joint training" twice,
positions 3 and 10 — the loader checks the copies agree). ``value`` keeps the paper's digits.
Check marks in the PDF text extraction appear as "~" (✓) and "×" (✗); they are written ``yes``/``no``.
"""
from __future__ import annotations

from functools import cache
from pathlib import Path

import pandas as pd

from flash_bench.types import InputError

PAPER_DIR = Path(__file__).resolve().parents[1] / "results" / "paper"
TABLE_FILES = {"1": "table1.csv", "2": "table2.csv", "A1": "table_a1.csv", "A2": "table_a2.csv",
               "A3": "table_a3.csv"}
COLUMNS = ("table", "position", "row_id", "row", "settings", "metric", "value", "direction")
DIRECTIONS = {"up": True, "down": False}


def table_path(table: str, paper_dir: Path | None = None) -> Path:
    if table not in TABLE_FILES:
        raise InputError(f"unknown paper table {table!r}; known: {', '.join(TABLE_FILES)}")
    return (paper_dir or PAPER_DIR) / TABLE_FILES[table]


def _validate(df: pd.DataFrame, path: Path, table: str) -> None:
    if tuple(df.columns) != COLUMNS:
        raise InputError(f"{path}: columns must be {', '.join(COLUMNS)}; found {', '.join(df.columns)}")
    if set(df["table"]) != {table}:
        raise InputError(f"{path}: 'table' column must be {table!r} on every line")
    bad = sorted(set(df["direction"]) - set(DIRECTIONS))
    if bad or df["value"].isna().any():
        raise InputError(f"{path}: bad direction {bad} or empty value")
    per_metric = df.groupby("metric")["direction"].nunique()
    if (per_metric > 1).any():
        raise InputError(f"{path}: metric with two directions: {list(per_metric[per_metric > 1].index)}")
    copies = df.groupby(["row_id", "metric"])["value"].nunique()
    if (copies > 1).any():
        raise InputError(f"{path}: repeated rows disagree: {list(copies[copies > 1].index)}")


@cache
def _load(path: Path, table: str) -> pd.DataFrame:
    if not path.exists():
        raise InputError(f"{path}: paper numbers file not found")
    df = pd.read_csv(path, dtype={"table": str, "row_id": str, "row": str, "settings": str, "value": str},
                     keep_default_na=False)
    if tuple(df.columns) != COLUMNS:
        raise InputError(f"{path}: columns must be {', '.join(COLUMNS)}; found {', '.join(df.columns)}")
    df["value"] = pd.to_numeric(df["value"].replace("", None), errors="coerce")
    _validate(df, path, table)
    return df


def load_table(table: str, paper_dir: Path | None = None) -> pd.DataFrame:
    """The tidy table (a copy): one line per (position, metric); ``value`` is float."""
    return _load(table_path(table, paper_dir), table).copy()


def paper_values(table: str, paper_dir: Path | None = None) -> dict[str, dict[str, float]]:
    """{row_id: {metric: value}} for one table."""
    df = load_table(table, paper_dir)
    return {rid: dict(zip(g["metric"], g["value"].astype(float))) for rid, g in df.groupby("row_id", sort=False)}


def directions(table: str, paper_dir: Path | None = None) -> dict[str, bool]:
    """{metric: higher_is_better} as printed by the paper's arrows."""
    df = load_table(table, paper_dir)
    return {m: DIRECTIONS[d] for m, d in zip(df["metric"], df["direction"])}
