"""Plots of a run (matplotlib, Agg backend, PNG + PDF): metric bars per method (Tables 1, 2, A3 and the
plain run summary), the shots curve (Table A1) and the τ / p sweeps (Table A2).

Each plot shows one panel per metric present; a missing value is simply not drawn (never zero).
"""
from __future__ import annotations

import math
from pathlib import Path

from flash_bench.report import REFERENCE_METHODS, experiment_for_table, value_columns
from flash_bench.results import Run, column_info, load_run, summary

PLOT_TABLES = ("1", "2", "A1", "A2", "A3")


def _figure(n_panels: int):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = min(3, max(1, n_panels))
    rows = math.ceil(n_panels / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows), squeeze=False)
    for ax in axes.flat[n_panels:]:
        ax.set_visible(False)
    return fig, list(axes.flat[:n_panels])


def _save(fig, folder: Path, stem: str, title: str) -> list[Path]:
    import matplotlib.pyplot as plt

    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"{stem}.png", folder / f"{stem}.pdf"]
    for p in paths:
        fig.savefig(p, dpi=150)
    plt.close(fig)
    return paths


def _title(run: Run, text: str) -> str:
    return text + (" [tiny backbones]" if run.tiny else "")


def _colour(label: str) -> str:
    """FLASH red, the static/oracle references grey, every other method blue."""
    return "#c44e52" if label.startswith("flash") else "#999999" if label in REFERENCE_METHODS else "#4c72b0"


def bars(run: Run, labels: list[str], names: list[str], metrics: list[str], folder: Path, stem: str,
         title: str, actions: dict | None = None) -> list[Path]:
    """One bar per method (``names`` are the printed row names of ``labels``), one panel per metric."""
    means = summary(run, labels, actions)
    metrics = [m for m in metrics if m in means.columns and means[m].notna().any()]
    if not metrics:
        return []
    fig, axes = _figure(len(metrics))
    for ax, m in zip(axes, metrics):
        label, hib, _ = column_info(m, run.scoring)
        values = [means.loc[lab, m] for lab in labels]
        ax.bar(range(len(labels)), [0 if math.isnan(v) else v for v in values],
               color=[_colour(lab) for lab in labels])
        for i, v in enumerate(values):
            if math.isnan(v):
                ax.text(i, 0, "n/a", ha="center", va="bottom", fontsize=7)
        ax.set_xticks(range(len(labels)), names, rotation=45, ha="right", fontsize=7)
        ax.set_title(label + {True: " ↑", False: " ↓"}.get(hib, ""), fontsize=9)
    return _save(fig, folder, stem, _title(run, title))


def curves(run: Run, series: dict[str, list[tuple[float, str]]], metrics: list[str], xlabel: str,
           folder: Path, stem: str, title: str, actions: dict | None = None) -> list[Path]:
    """``series``: {legend: [(x, label), …]}; one line per series, one panel per metric."""
    labels = list(dict.fromkeys(lab for pts in series.values() for _, lab in pts))
    means = summary(run, labels, actions)
    metrics = [m for m in metrics if m in means.columns and means[m].notna().any()]
    if not metrics:
        return []
    fig, axes = _figure(len(metrics))
    for ax, m in zip(axes, metrics):
        label, hib, _ = column_info(m, run.scoring)
        for name, pts in series.items():
            xy = sorted((x, means.loc[lab, m]) for x, lab in pts if not math.isnan(means.loc[lab, m]))
            if xy:
                ax.plot([x for x, _ in xy], [y for _, y in xy], marker="o", label=name)
        ax.set_xlabel(xlabel, fontsize=8)
        ax.set_title(label + {True: " ↑", False: " ↓"}.get(hib, ""), fontsize=9)
        ax.legend(fontsize=7)
    return _save(fig, folder, stem, _title(run, title))


def _exp_actions(run: Run, exp) -> dict[str, set[str]]:
    dataset = run.manifest.get("dataset") or exp.datasets[0]
    return {c.label: set(exp.cell_actions(c, dataset)) for c in exp.cells}


def plot_table(run: Run, table: str, folder: Path) -> list[Path]:
    """The plot(s) of one paper table from a run."""
    exp = experiment_for_table(table)
    acts, metrics = _exp_actions(run, exp), list(exp.metrics)
    if exp.table == "A1":
        series = {c.row: [] for c in exp.cells if not c.joint}
        for c in exp.cells:
            if not c.joint:
                series[c.row].append((c.shots or 16, c.label))
        return curves(run, series, metrics, "training videos per action", folder, "tableA1_shots",
                      "Table A1: few-shot curve", acts)
    if exp.table == "A2":
        tau = {"#3": [(c.options["tau"], c.label) for c in exp.cells if "tau" in c.options]}
        p = {"#4": [(c.options["p"], c.label) for c in exp.cells if "p" in c.options]}
        return (curves(run, tau, metrics, "τ (percentile)", folder, "tableA2_tau", "Table A2: τ sweep", acts)
                + curves(run, p, metrics, "p (fraction of layers)", folder, "tableA2_p", "Table A2: p sweep", acts))
    cells = list({c.label: c for c in exp.cells}.values())
    return bars(run, [c.label for c in cells], [c.row for c in cells], metrics, folder,
                f"{exp.name}_bars", exp.title.split(".")[0], acts)


def plot_run(run_dir: Path | str, folder: Path | str, table: str | None = None) -> list[Path]:
    """Write PNG + PDF plots of a run into ``folder``; returns the files written."""
    run, folder = load_run(run_dir), Path(folder)
    if table is None:
        labels = run.methods
        metrics = [c for c in value_columns(run) if column_info(c, run.scoring)[1] is not None]
        return bars(run, labels, labels, metrics, folder, "run_bars", f"Run {run.root.name}")
    tables = PLOT_TABLES if str(table).lower() == "all" else (table,)
    return [p for t in tables for p in plot_table(run, t, folder)]
