"""Paper-layout tables (--table), --paper deltas and plots, on hand-made run dirs."""
from __future__ import annotations

import shutil

import pytest

from flash_bench import paper_numbers as P
from flash_bench import report as R
from flash_bench.experiments import ABLATION_ACTIONS, EXPERIMENTS

try:  # the helpers live in test_report.py (rootdir-relative import, or tests/ as a package)
    from test_report import compile_latex, latex_structure_ok, md_row, write_run
except ImportError:  # pragma: no cover
    from tests.test_report import compile_latex, latex_structure_ok, md_row, write_run


def ablation_run(root, labels, actions=ABLATION_ACTIONS, sets=None):
    values = {lab: {(a, f"{i:03d}"): {"text_alignment": 20.0 + k + i / 100, "cosine_flow": 0.5 + k / 100}
                    for a in actions for i in (16, 17)} for k, lab in enumerate(labels)}
    write_run(root, values, sets=sets)
    return values


def test_table2_with_paper_values_and_deltas(tmp_path):
    ablation_run(tmp_path / "run", ["flash#1", "flash#5", "flash"])
    md = R.report_text(tmp_path / "run", "markdown", table="2", paper=True)
    paper = P.paper_values("2")
    lines = md.splitlines()
    i = lines.index(next(line for line in lines if line.startswith("| #5 |")))
    ours, theirs, delta = (md_row("\n".join(lines[i + k:i + k + 1]), first) for k, first in
                           ((0, "#5"), (1, "#5 (paper)"), (2, "Δ")))
    col = md_row(md, "Variant").index("Text Alignment (↑)")
    ours_ta = 20.0 + 1 + (0.16 + 0.17) / 2
    assert ours[col] == f"<u>{ours_ta:.2f}</u>" and theirs[col] == f"{paper['#5']['text_alignment']:.2f}"
    assert delta[col] == f"{ours_ta - paper['#5']['text_alignment']:+.2f}"
    flow = md_row(md, "Variant").index("Cosine Flow (↑)")
    assert md_row(md, "#6")[flow] == "**0.5200**" and ours[flow] == "<u>0.5100</u>"  # ranked on ours only
    assert md_row(md, "#2")[col] == "" and "Not in this run (blank rows): flash#2, flash#3, flash#4" in md
    assert "tiny backbones" in md


def test_set_metrics_only_when_computed_on_the_tables_actions(tmp_path):
    ablation_run(tmp_path / "a", ["flash#5"], sets={"flash#5": {"cd_fvd": 900.0}})
    ablation_run(tmp_path / "b", ["flash#5"], actions=ABLATION_ACTIONS + ("push_up",), sets={"flash#5": {"cd_fvd": 900.0}})
    fvd = md_row(R.report_text(tmp_path / "a", table="2"), "Variant").index("CD-FVD (↓)")
    assert md_row(R.report_text(tmp_path / "a", table="2"), "#5")[fvd] == "**900.00**"
    text_b = R.report_text(tmp_path / "b", table="2")
    assert md_row(text_b, "#5")[fvd] == "" and "Set-level metrics left blank for flash#5" in text_b
    flow = md_row(text_b, "Variant").index("Cosine Flow (↑)")
    assert md_row(text_b, "#5")[flow] == "**0.5000**"  # per-video means still restricted to the 4 actions
    assert "Cosine RGB (↑)" not in text_b                # a metric the run never computed is left out


def test_a3_on_synthetic_uses_the_mapped_actions(tmp_path):
    write_run(tmp_path / "run", {"flash": {("chopping_wood", "016"): {"text_alignment": 24.0}},
                                 "lamp": {("ice_bucket_challenge", "016"): {"text_alignment": 22.0},
                                          ("push_up", "016"): {"text_alignment": 99.0}}})
    md = R.report_text(tmp_path / "run", table="A3")
    assert md_row(md, "FLASH")[1] == "**24.00**" and md_row(md, "LAMP")[1] == "<u>22.00</u>"
    assert "golf_swing → chopping_wood" in md


def test_table_all_renders_the_tables_present_and_compiles(tmp_path):
    ablation_run(tmp_path / "run", ["flash#3", "flash#3@tau=75", "flash#4@p=1.0", "flash"])
    tables = R.build_report(tmp_path / "run", table="all", paper=True, ci=True)
    names = [t.label for t in tables]
    assert names[0] == "tab:table1" and "tab:table2" in names and "tab:tablea2" in names
    assert "tab:tablea1" not in names and "tab:tablea3" not in names
    tex = R.render(tables, "latex")
    for block in tex.split(r"\end{table}")[:-1]:
        latex_structure_ok(block + r"\end{table}")
    assert r"$\tau$" in tex and r"\checkmark" in tex
    if shutil.which("pdflatex") is None:
        pytest.skip("pdflatex not installed; structure validated only")
    compile_latex(tex, tmp_path)


def test_csv_has_paper_and_delta_columns(tmp_path):
    ablation_run(tmp_path / "run", ["flash#5"])
    import io

    import pandas as pd

    df = pd.read_csv(io.StringIO(R.report_text(tmp_path / "run", "csv", table="A1", paper=True)))
    assert len(df) == len(EXPERIMENTS.get("tableA1").cells)
    row = df[(df["Variant"] == "#5") & (df["# Videos Per Class"] == 16)].iloc[0]
    assert row["cd_fvd_paper"] == 906.31 and pd.isna(row["cd_fvd"]) and pd.isna(row["cd_fvd_delta"])
    assert row["cosine_flow_delta"] == pytest.approx(0.5 - 0.7224)


def test_bad_table_name(tmp_path):
    ablation_run(tmp_path / "run", ["flash"])
    with pytest.raises(R.InputError, match="--table"):
        R.report_text(tmp_path / "run", table="7")
    with pytest.raises(R.InputError, match="--paper needs --table"):
        R.report_text(tmp_path / "run", paper=True)


def test_plots_are_written_as_png_and_pdf(tmp_path):
    from flash_bench.plots import plot_run

    labels = ["flash#1", "flash#5", "flash#1@shots=8", "flash#5@shots=8", "flash#1@shots=4",
              "flash#3", "flash#3@tau=75", "flash#4", "flash#4@p=1.0", "flash", "lamp"]
    ablation_run(tmp_path / "run", labels)
    files = plot_run(tmp_path / "run", tmp_path / "plots", table="all")
    stems = {f.stem for f in files}
    assert {"table1_bars", "table2_bars", "tableA1_shots", "tableA2_tau", "tableA2_p"} <= stems
    for f in files:
        head = f.read_bytes()[:8]
        assert head.startswith(b"\x89PNG") if f.suffix == ".png" else head.startswith(b"%PDF")
    assert {f.stem for f in plot_run(tmp_path / "run", tmp_path / "p2")} == {"run_bars"}


def test_paired_tests_start_from_the_chosen_anchor(tmp_path):
    ablation_run(tmp_path / "run", ["flash#1", "flash#5", "flash"])
    default = R.report_text(tmp_path / "run", "markdown", table="2", ci=True)
    assert "paired tests, flash vs others" in default
    chosen = R.report_text(tmp_path / "run", "markdown", table="2", ci=True, anchor="flash#5")
    assert "paired tests, flash#5 vs others" in chosen
    assert md_row(chosen, "flash#1")[0] == "flash#1" and "| flash#5 |" not in chosen.split("paired tests")[1]
    wrong = R.report_text(tmp_path / "run", "markdown", table="2", ci=True, anchor="lamp")
    assert "No paired tests: 'lamp' is not a row of this table" in wrong
