"""Run directory -> tables: one row per method (mean over its videos), in Markdown, LaTeX or CSV.

The numbers come from :mod:`flash_bench.results` (``load_run`` → per-item table → ``summary``, the one aggregation
the CSVs, plots, regress and the gallery use too), the metric labels, arrows and decimals from the metric classes.
Imports no model code, so it runs in well under a second on a finished run.

Conventions (each one is tested):
- A missing value (metric not computed, ``null``, failed video) is a blank cell, never zero.
- A method's value is the mean over its ``ok`` videos that have the metric; set-level metrics
  (``cd_fvd``) come from ``sets/<method>.json`` and are used only when the videos they were computed on
  are exactly the ones the table averages (otherwise blank, with a note).
- Best in bold, second underlined, per column, among the ranked rows of one group (reference rows such as
  ``static``/``oracle`` are not ranked). Values are compared *as displayed* (rounded to the column's
  decimals); tied values all get the same mark (dense ranking: after a tie for best, the next distinct
  value is second).
- LaTeX uses booktabs and needs ``\\usepackage{booktabs,amssymb}`` (``\\checkmark``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from flash_bench.results import (
    BOOKKEEPING,
    METRIC_ORDER,
    Run,
    column_info,
    load_run,
    method_items,
    summary,
)
from flash_bench.types import InputError

FORMATS = ("markdown", "latex", "csv")


def value_columns(run: Run) -> list[str]:
    """The columns a table shows: the run's metrics (registered order first, then unknown sorted), then bookkeeping."""
    return list(run.metrics) + [b for b in BOOKKEEPING if b in run.table.columns]


# ----------------------------------------------------------------------------------------------
# The table model every renderer reads
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Column:
    id: str
    header: str
    decimals: int = 2
    higher_is_better: bool | None = None  # None: not ranked, no arrow

    @property
    def title(self) -> str:
        arrow = {True: " (↑)", False: " (↓)"}.get(self.higher_is_better, "")
        return self.header + arrow


@dataclass
class Row:
    keys: tuple[str, ...]
    values: dict[str, float]
    ranked: bool = True
    group: int = 0
    paper: dict[str, float] | None = None           # paper's values (same column ids)
    ci: dict[str, tuple[float, float]] | None = None  # 95% intervals


@dataclass
class Table:
    caption: str
    label: str
    key_headers: tuple[str, ...]
    columns: list[Column]
    rows: list[Row]
    notes: list[str] = field(default_factory=list)


def metric_notes(cols, run: Run | None = None) -> list[str]:
    """What a table must say about the registered metrics it shows that are not the paper's six (the yardstick,
    diagnostics): which they are, then each one's own ``note``; and the note a paper metric recorded in ``run``'s
    scoring (how this profile computed it, e.g. the tiny profile's CD-FVD featuriser)."""
    from flash_bench.experiments import PAPER_METRICS
    from flash_bench.metrics import METRICS

    others = [c for c in cols if c in METRICS and c not in PAPER_METRICS]
    recorded = ((run.scoring if run else None) or {}).get("metrics") or {}
    own = [recorded[c]["note"] for c in cols if c in PAPER_METRICS and (recorded.get(c) or {}).get("note")]
    if not others:
        return own
    labels = ", ".join(column_info(c)[0] for c in others)
    return ([f"Not among the paper's six metrics (the suite's own measures): {labels}."]
            + [METRICS.get(c).note for c in others if METRICS.get(c).note] + own)


def metric_column(col: str, run: Run | None = None) -> Column:
    label, hib, dec = column_info(col, run.scoring if run else None)
    return Column(col, label, dec, hib)


def fmt_value(v: float | None, decimals: int) -> str:
    return "" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{decimals}f}"


def rank_marks(table: Table) -> dict[tuple[int, str], str]:
    """{(row index, column id): "best" | "second"} by the displayed value; ties share a mark (dense rank)."""
    marks: dict[tuple[int, str], str] = {}
    for col in table.columns:
        if col.higher_is_better is None:
            continue
        for group in {r.group for r in table.rows}:
            shown = {i: fmt_value(r.values.get(col.id), col.decimals) for i, r in enumerate(table.rows)
                     if r.ranked and r.group == group}
            distinct = sorted({float(s) for s in shown.values() if s}, reverse=col.higher_is_better)
            for i, s in shown.items():
                if s and float(s) in distinct[:2]:
                    marks[(i, col.id)] = "best" if float(s) == distinct[0] else "second"
    return marks


# ----------------------------------------------------------------------------------------------
# Renderers
# ----------------------------------------------------------------------------------------------
def _delta(ours: float | None, paper: float | None) -> float | None:
    if ours is None or paper is None or math.isnan(ours) or math.isnan(paper):
        return None
    return ours - paper


def _ci_text(row: Row, col: Column) -> str:
    lohi = (row.ci or {}).get(col.id)
    if not lohi or any(math.isnan(x) for x in lohi) or not fmt_value(row.values.get(col.id), col.decimals):
        return ""
    return f" [{lohi[0]:.{col.decimals}f}, {lohi[1]:.{col.decimals}f}]"


def _display_rows(table: Table) -> list[tuple[tuple[str, ...], list[str], str]]:
    """(keys, plain cell texts, kind) for every printed line: ours, then paper and Δ lines when present."""
    lines = []
    blank = ("",) * (len(table.key_headers) - 1)
    for row in table.rows:
        lines.append((row.keys, [fmt_value(row.values.get(c.id), c.decimals) for c in table.columns], "ours"))
        if row.paper is not None:
            paper = [fmt_value(row.paper.get(c.id), c.decimals) for c in table.columns]
            deltas = [_delta(row.values.get(c.id), row.paper.get(c.id)) for c in table.columns]
            delta = ["" if d is None else f"{d:+.{c.decimals}f}" for d, c in zip(deltas, table.columns)]
            lines.append(((f"{row.keys[0]} (paper)",) + blank, paper, "paper"))
            lines.append((("Δ",) + blank, delta, "delta"))
    return lines


def _styled_lines(table: Table, bold, underline, ci) -> list[tuple[tuple[str, ...], list[str], str]]:
    """Display lines with best/second marks on our values and their intervals appended via ``ci(text)``."""
    marks = rank_marks(table)
    out, r = [], -1
    for keys, cells, kind in _display_rows(table):
        if kind == "ours":
            r += 1
            row = table.rows[r]
            cells = [({"best": bold, "second": underline}.get(marks.get((r, c.id)), lambda s: s)(s) if s else s)
                     + (ci(_ci_text(row, c)) if _ci_text(row, c) else "") for s, c in zip(cells, table.columns)]
        out.append((keys, cells, kind))
    return out


def to_markdown(table: Table) -> str:
    headers = list(table.key_headers) + [c.title for c in table.columns]
    lines = [f"**{table.caption}**", "", "| " + " | ".join(headers) + " |",
             "|" + "|".join([":---"] * len(table.key_headers) + ["---:"] * len(table.columns)) + "|"]
    for keys, cells, _ in _styled_lines(table, lambda s: f"**{s}**", lambda s: f"<u>{s}</u>", lambda s: s):
        lines.append("| " + " | ".join([k.replace("|", "\\|") for k in keys] + cells) + " |")
    lines += [""] + [f"- {n}" for n in table.notes] if table.notes else []
    return "\n".join(lines) + "\n"


LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                 "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
                 "<": r"\textless{}", ">": r"\textgreater{}", "|": r"\textbar{}",
                 "↑": r"$\uparrow$", "↓": r"$\downarrow$", "✓": r"\checkmark", "✗": r"$\times$",
                 "×": r"$\times$", "τ": r"$\tau$", "Δ": r"$\Delta$", "≈": r"$\approx$",
                 "→": r"$\rightarrow$", "±": r"$\pm$", "−": "-"}


def latex_escape(text: str) -> str:
    """Escape LaTeX specials (method labels such as ``flash#5@shots=8``, action ids with ``_``)."""
    return "".join(LATEX_SPECIAL.get(ch, ch) for ch in str(text))


def to_latex(table: Table) -> str:
    spec = "l" * len(table.key_headers) + "r" * len(table.columns)
    headers = [latex_escape(h) for h in list(table.key_headers) + [c.title for c in table.columns]]
    caption = latex_escape(" ".join([table.caption] + table.notes))
    body = []
    lines = _styled_lines(table, lambda s: rf"\textbf{{{s}}}", lambda s: rf"\underline{{{s}}}",
                          lambda s: rf" {{\scriptsize{s}}}")
    for keys, cells, kind in lines:
        cells = [latex_escape(k) for k in keys] + cells
        if kind != "ours":
            cells = [rf"\textit{{{c}}}" if c else c for c in cells]
        body.append(" & ".join(cells) + r" \\")
    return "\n".join([r"\begin{table}[t]", r"\centering", rf"\caption{{{caption}}}",
                      rf"\label{{{table.label}}}", r"\resizebox{\linewidth}{!}{%",
                      rf"\begin{{tabular}}{{{spec}}}", r"\toprule", " & ".join(headers) + r" \\", r"\midrule",
                      *body, r"\bottomrule", r"\end{tabular}}", r"\end{table}"]) + "\n"


def to_frame(table: Table) -> pd.DataFrame:
    """Wide tidy frame at full precision: keys, then per column its value (+ _paper, _delta, _lo, _hi)."""
    records = []
    for row in table.rows:
        rec: dict = dict(zip(table.key_headers, row.keys))
        for c in table.columns:
            v = row.values.get(c.id)
            rec[c.id] = v
            if row.paper is not None:
                rec[f"{c.id}_paper"] = row.paper.get(c.id)
                rec[f"{c.id}_delta"] = _delta(v, row.paper.get(c.id))
            if row.ci is not None and c.id in row.ci:
                rec[f"{c.id}_lo"], rec[f"{c.id}_hi"] = row.ci[c.id]
        records.append(rec)
    return pd.DataFrame(records)


def render(tables: list[Table] | Path | str, fmt: str = "markdown") -> str:
    """Render tables; given a run dir instead, render its default report (same as :func:`report_text`)."""
    if isinstance(tables, (str, Path)):
        return report_text(tables, fmt)
    if fmt not in FORMATS:
        raise InputError(f"--format {fmt!r}: choose one of {', '.join(FORMATS)}")
    if fmt == "csv":
        frames = [to_frame(t) for t in tables]
        if len(frames) > 1:
            frames = [f.assign(table=t.label).set_index("table").reset_index() for f, t in zip(frames, tables)]
        return pd.concat(frames, ignore_index=True).to_csv(index=False, float_format="%.6g")
    renderer = to_markdown if fmt == "markdown" else to_latex
    return "\n".join(renderer(t) for t in tables)


# ----------------------------------------------------------------------------------------------
# Tables built from a run
# ----------------------------------------------------------------------------------------------
REFERENCE_METHODS = ("static", "oracle")  # bracket every table; shown, never ranked


def run_caption(run: Run, title: str) -> str:
    caption = title
    if run.tiny:
        caption += " Made with tiny backbones (profile tiny): numbers are not comparable to the paper's."
    return caption


def _row_values(summary: pd.DataFrame, method: str, cols: list[str]) -> dict[str, float]:
    if method not in summary.index:
        return {}
    return {c: float(summary.loc[method, c]) for c in cols if c in summary.columns}


def run_table(run: Run, ci: bool = False, seed: int = 0) -> Table:
    """The generic report: one row per method, mean over its videos, every column the run holds."""
    means = summary(run)
    cols = value_columns(run)
    rows = []
    for m in means.index:
        counts = (str(int(means.loc[m, "videos"])), str(int(means.loc[m, "failed"])))
        rows.append(Row((m,) + counts, _row_values(means, m, cols), ranked=m not in REFERENCE_METHODS,
                        ci=method_intervals(run, m, cols, seed=seed) if ci else None))
    name = run.manifest.get("experiment") or run.root.name
    notes = [f"Means over ok videos; {len(run.manifest.get('failures') or [])} failure(s) in the manifest."]
    notes += metric_notes(cols, run)
    table = _experiment_table_key(run.manifest.get("experiment"))
    if table:
        notes.append(f"This run holds experiment {run.manifest['experiment']}: --table {table} gives its table layout.")
    return Table(run_caption(run, f"Run {name}: mean per method."), f"tab:run-{_slug(name)}",
                 ("Method", "Videos", "Failed"), [metric_column(c, run) for c in cols], rows, notes)


def _experiment_table_key(name) -> str | None:
    from flash_bench.experiments import TABLE_EXPERIMENTS

    return next((t for t, e in TABLE_EXPERIMENTS.items() if e == name), None)


def per_video_table(run: Run) -> Table:
    """One row per record; set-level metrics (no per-video value) are left out."""
    vids = run.table
    cols = [c for c in value_columns(run) if c in vids.columns]
    rows = [Row((r["method"], r["action"], r["item"], r["status"]),
                {c: float(r[c]) for c in cols if c in vids.columns}, ranked=False)
            for _, r in vids.iterrows()]
    return Table(run_caption(run, f"Run {run.root.name}: per-video values."), f"tab:videos-{_slug(run.root.name)}",
                 ("Method", "Action", "Item", "Status"), [metric_column(c, run) for c in cols], rows,
                 metric_notes(cols, run))


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in str(text)).strip("-").lower() or "run"


def method_intervals(run: Run, method: str, cols: list[str], seed: int = 0,
                     actions: set[str] | None = None) -> dict[str, tuple[float, float]]:
    """95% bootstrap interval of the per-video mean for every per-video metric column of a method."""
    from flash_bench.stats import bootstrap_ci

    rows, _ = method_items(run, method, actions)
    ok = rows[rows["status"] == "ok"]
    out = {}
    for c in cols:
        if c in run.item_metrics and ok[c].notna().sum() >= 2:
            out[c] = bootstrap_ci(ok[c].dropna().to_numpy(), seed=seed)
    return out


def paired_table(run: Run, anchor: str, others: list[str], cols: list[str], caption: str,
                 actions: set[str] | None = None, name: str = "run") -> Table:
    """Wilcoxon signed-rank test of ``anchor`` against each other method, paired by (action, item)."""
    from flash_bench.stats import wilcoxon_paired

    ok = run.table[run.table["status"] == "ok"]
    if actions is not None:
        ok = ok[ok["action"].isin(actions)]
    base = ok[ok["method"] == anchor].set_index(["action", "item"])
    rows = []
    for other in others:
        rival = ok[ok["method"] == other].set_index(["action", "item"])
        pairs = base.index.intersection(rival.index)
        for c in cols:
            if c not in ok.columns or not len(pairs):
                continue
            t = wilcoxon_paired(base.loc[pairs, c].to_numpy(float), rival.loc[pairs, c].to_numpy(float))
            if t.n:
                rows.append(Row((other, column_info(c, run.scoring)[0]), {"n": t.n, "mean_diff": t.mean_diff,
                                "median_diff": t.median_diff, "p_value": t.p_value}, ranked=False))
    columns = [Column("n", "Pairs", 0), Column("mean_diff", f"Mean diff ({anchor} - method)", 4),
               Column("median_diff", "Median diff", 4), Column("p_value", "Wilcoxon p", 4)]
    return Table(caption, f"tab:wilcoxon-{_slug(name)}", ("Method", "Metric"), columns, rows,
                 [("Two-sided Wilcoxon signed-rank test over videos paired by (action, item); no correction "
                   "for multiple comparisons.")])


def default_anchor(methods: list[str]) -> str | None:
    """FLASH's label in a run: ``flash`` if present, else the only ``flash…`` label, else None."""
    if "flash" in methods:
        return "flash"
    flashes = [m for m in methods if m.startswith("flash")]
    return flashes[0] if len(flashes) == 1 else None


def build_report(run_dir: Path | str, table: str | None = None, per_video: bool = False, paper: bool = False,
                 ci: bool = False, anchor: str | None = None, seed: int = 0) -> list[Table]:
    """Tables for ``flash-bench report``: the run summary (or paper tables), per-video values, tests."""
    run = load_run(run_dir)
    if table is not None and per_video:
        raise InputError("--per-video lists every video of the run; it cannot be combined with --table")
    if table is not None:
        return experiment_tables(run, table, paper=paper, ci=ci, seed=seed, anchor=anchor)
    if paper:
        raise InputError("--paper needs --table (1, 2, A1, A2, A3 or all): paper values belong to a paper table")
    tables = [per_video_table(run) if per_video else run_table(run, ci=ci, seed=seed)]
    if ci:
        methods = run.methods
        anchor = anchor or default_anchor(methods)
        if anchor is None or anchor not in methods:
            tables[0].notes.append(f"No paired tests: FLASH anchor {anchor!r} not found among {methods}.")
        else:
            cols = [c for c in run.item_metrics if c in METRIC_ORDER]
            others = [m for m in methods if m != anchor]
            tables.append(paired_table(run, anchor, others, cols, run_caption(run, f"Paired tests: {anchor} vs others.")))
    return tables


def report_text(run_dir: Path | str, fmt: str = "markdown", **kwargs) -> str:
    if fmt not in FORMATS:
        raise InputError(f"--format {fmt!r}: choose one of {', '.join(FORMATS)}")
    return render(build_report(run_dir, **kwargs), fmt)


# ----------------------------------------------------------------------------------------------
# Paper tables (experiments)
# ----------------------------------------------------------------------------------------------
PAPER_TABLES = ("1", "2", "A1", "A2", "A3")


def experiment_for_table(table: str):
    from flash_bench.experiments import EXPERIMENTS, TABLE_EXPERIMENTS

    key = {k.lower(): k for k in TABLE_EXPERIMENTS}.get(str(table).lower())
    if key is None:
        raise InputError(f"--table {table!r}: choose one of {', '.join(TABLE_EXPERIMENTS)} or all")
    return EXPERIMENTS.get(TABLE_EXPERIMENTS[key])


def experiment_tables(run: Run, table: str, paper: bool = False, ci: bool = False, seed: int = 0,
                      anchor: str | None = None) -> list[Table]:
    """The paper's layout for one table (or ``all`` tables that have at least one row in the run).
    ``anchor``: the row label the paired tests start from (default: the experiment's, FLASH)."""
    if str(table).lower() != "all":
        return experiment_table(run, experiment_for_table(table), paper=paper, ci=ci, seed=seed, anchor=anchor)
    exps = [e for e in (experiment_for_table(t) for t in PAPER_TABLES) if _has_rows(run, e)]
    if not exps:
        raise InputError(f"{run.root}: no row of any paper table is in this run "
                         f"(methods: {sorted(set(run.table['method']))})")
    return [t for e in exps for t in experiment_table(run, e, paper=paper, ci=ci, seed=seed, anchor=anchor)]


def _has_rows(run: Run, exp) -> bool:
    """True when some cell of ``exp`` has an ok video on that cell's actions in this run."""
    dataset = run.manifest.get("dataset") or exp.datasets[0]
    acts = {c.label: set(exp.cell_actions(c, dataset)) for c in exp.cells}
    return bool((summary(run, list(acts), acts)["videos"] > 0).any())


def _cell_row(run: Run, cell, means: pd.DataFrame, cols: list[str], paper_vals: dict | None,
              ci: bool, seed: int, actions: set[str]) -> Row:
    paper_row = (paper_vals or {}).get(cell.paper_row) if paper_vals is not None else None
    return Row((cell.row,) + tuple(cell.display), _row_values(means, cell.label, cols),
               ranked=not cell.reference, group=cell.group,
               paper=(paper_row or {}) if paper_vals is not None and not cell.reference else None,
               ci=method_intervals(run, cell.label, cols, seed=seed, actions=actions) if ci else None)


def experiment_table(run: Run, exp, paper: bool = False, ci: bool = False, seed: int = 0,
                     anchor: str | None = None) -> list[Table]:
    from flash_bench.paper_numbers import paper_values

    dataset = run.manifest.get("dataset") or exp.datasets[0]
    acts = {c.label: set(exp.cell_actions(c, dataset)) for c in exp.cells}
    labels = list(dict.fromkeys(c.label for c in exp.cells))
    means = summary(run, labels, acts)
    present = value_columns(run)
    extra = [c for c in present if c in METRIC_ORDER and c not in exp.metrics]
    # the paper's metrics this run did not compute at all are left out (kept with --paper, for its values)
    cols = [c for c in exp.metrics if paper or c in present] + extra
    paper_vals = paper_values(exp.table) if paper and exp.paper_csv else None
    rows = [_cell_row(run, c, means, cols, paper_vals, ci, seed, acts[c.label]) for c in exp.cells]
    notes = _experiment_notes(run, exp, means, dataset, paper_vals is not None, acts) + metric_notes(cols, run)
    caption = run_caption(run, f"{exp.title} Ours: run {run.root.name} on {dataset}.")
    tables = [Table(caption, f"tab:{_slug(exp.name)}", exp.key_headers, [metric_column(c, run) for c in cols], rows,
                    notes)]
    anchor = anchor or exp.anchor
    if ci and anchor not in acts:
        notes.append(f"No paired tests: {anchor!r} is not a row of this table (rows: {', '.join(labels)}).")
    elif ci and not (anchor in means.index and means.loc[anchor, "videos"] > 0):
        notes.append(f"No paired tests: {anchor} has no videos in this run.")
    elif ci:
        others = [lab for lab in labels if lab != anchor]
        metric_cols = [c for c in cols if c in run.item_metrics]
        tables.append(paired_table(run, anchor, others, metric_cols,
                                   run_caption(run, f"{exp.title.split('.')[0]}: paired tests, {anchor} vs others."),
                                   actions=acts[anchor], name=exp.name))
    return tables


def _experiment_notes(run: Run, exp, means: pd.DataFrame, dataset: str, with_paper: bool,
                      acts: dict[str, set[str]]) -> list[str]:
    notes = []
    missing = [c.label for c in exp.unique_cells() if means.loc[c.label, "videos"] == 0]
    if missing:
        notes.append(f"Not in this run (blank rows): {', '.join(missing)}.")
    if with_paper:
        notes.append(f"Paper rows: the paper's values on {exp.datasets[0]}; Δ = ours - paper.")
    mapped = [f"{a} → {exp.synthetic_actions[a]}" for a in exp.actions if exp.synthetic_actions[a] != a]
    if dataset == "synthetic" and mapped:
        notes.append(f"Actions mapped to synthetic twins: {', '.join(mapped)}.")
    filtered = [lab for lab in means.index if lab in run.sets and not method_items(run, lab, acts[lab])[1]]
    if filtered:
        notes.append(f"Set-level metrics left blank for {', '.join(filtered)}: computed on other actions than this table's.")
    return notes
