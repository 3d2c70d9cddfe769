"""flash-bench report on hand-made run dirs written with RunStore (no models)."""
from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from flash_bench import report as R
from flash_bench.results import load_run
from flash_bench.store import RunStore
from flash_bench.types import InputError
from conftest import write_item, write_manifest

ROOT = Path(__file__).resolve().parents[1]


def write_run(root: Path, values: dict, *, sets: dict | None = None, failed=(), tiny=True,
              experiment=None, dataset="synthetic") -> RunStore:
    """values: {method: {(action, item): {metric: value}}}; ``failed``: (method, action, item) records."""
    store = RunStore(root)
    for method, per in values.items():
        for (action, item), metrics in per.items():
            write_item(store, {"method": method, "action": action, "item": item, "status": "ok",
                                "seconds": 1.5, "num_frames": 16, "height": 64, "width": 64, "seed": 0,
                                "metrics": metrics})
    for method, action, item in failed:
        write_item(store, {"method": method, "action": action, "item": item, "status": "failed",
                            "seconds": None, "num_frames": None, "metrics": {}})
    for method, vals in (sets or {}).items():
        store.write_set_metrics(method, vals)
    write_manifest(store, {"profile": "tiny" if tiny else "paper", "tiny_backbones": tiny, "dataset": dataset,
                          "methods": list(values), "experiment": experiment, "command": "test",
                          "git_commit": None, "created": "2026-11-24", "failures": []})
    return store


def random_run(root: Path, seed=0, methods=("static", "flash", "lamp"), n_items=5):
    rng = np.random.default_rng(seed)
    values = {m: {(a, f"{i:03d}"): {"text_alignment": float(rng.uniform(20, 25)),
                                    "cosine_rgb": float(rng.uniform(0.6, 0.9))}
                  for a in ("arm_wave", "push_up") for i in range(16, 16 + n_items)} for m in methods}
    write_run(root, values)
    return values


def md_row(text: str, first_cell: str) -> list[str]:
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells and cells[0] == first_cell:
            return cells
    raise AssertionError(f"no row {first_cell!r} in\n{text}")


# The paper's Table 1 header (its text extraction prints the Cosine RGB arrow as "†"), and its printed values:
# results/paper/table1.csv transcribes them as printed, so their decimals are the paper's.
PAPER_HEADERS = ["Text Alignment (↑)", "Image Alignment (↑)", "Temporal Consistency (↑)", "CD-FVD (↓)",
                 "Cosine RGB (↑)", "Cosine Flow (↑)"]
PAPER_METRICS = ["text_alignment", "image_alignment", "temporal_consistency", "cd_fvd", "cosine_rgb", "cosine_flow"]


def paper_decimals() -> dict[str, int]:
    import csv

    with open(ROOT / "results" / "paper" / "table1.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    decimals = {m: {len(r["value"].split(".")[1]) for r in rows if r["metric"] == m} for m in PAPER_METRICS}
    assert all(len(d) == 1 for d in decimals.values()), decimals
    return {m: d.pop() for m, d in decimals.items()}


def test_report_table_against_hand_computed_means_and_the_papers_layout(tmp_path):
    per_item = {  # two items each; flash and lamp are ranked, static (a reference method) is not
        "flash": [(20.0, 80.0, 95.0, 0.5, 0.25), (22.0, 90.0, 96.0, 0.7, 0.5)],
        "lamp": [(23.0, 70.0, 90.0, 0.9, 0.1), (24.0, 71.0, 92.0, 0.8, 0.2)],
        "static": [(30.0, 99.0, 99.0, 1.0, 1.0), (30.0, 99.0, 99.0, 1.0, 1.0)],
    }
    names = ["text_alignment", "image_alignment", "temporal_consistency", "cosine_rgb", "cosine_flow"]
    write_run(tmp_path / "run", {m: {("a", f"{16 + i:03d}"): dict(zip(names, v)) for i, v in enumerate(items)}
                                 for m, items in per_item.items()},
              sets={"flash": {"cd_fvd": 800.0}, "lamp": {"cd_fvd": 900.0}, "static": {"cd_fvd": 100.0}})
    md = R.report_text(tmp_path / "run", "markdown")
    header = md_row(md, "Method")
    assert header[3:9] == PAPER_HEADERS
    # means by hand: flash (20+22)/2, (80+90)/2, (95+96)/2, cd_fvd 800, (0.5+0.7)/2, (0.25+0.5)/2; lamp likewise.
    # Best bold, second underlined between flash and lamp, by direction (CD-FVD: lower is better).
    assert md_row(md, "flash")[1:9] == ["2", "0", "<u>21.00</u>", "**85.00**", "**95.50**", "**800.00**",
                                        "<u>0.6000</u>", "**0.3750**"]
    assert md_row(md, "lamp")[3:9] == ["**23.50**", "<u>70.50</u>", "<u>91.00</u>", "<u>900.00</u>", "**0.8500**",
                                       "<u>0.1500</u>"]
    assert md_row(md, "static")[3:9] == ["30.00", "99.00", "99.00", "100.00", "1.0000", "1.0000"]
    decimals = paper_decimals()
    for cell, metric in zip(md_row(md, "static")[3:9], PAPER_METRICS):
        assert len(cell.split(".")[1]) == decimals[metric], metric


def test_missing_metrics_are_blank_not_zero(tmp_path):
    write_run(tmp_path / "run", {
        "static": {("arm_wave", "016"): {"text_alignment": 21.0, "cosine_flow": None}},
        "flash": {("arm_wave", "016"): {"text_alignment": 23.0}},  # no cosine_flow at all
        "lamp": {("arm_wave", "016"): {}},
    }, sets={"flash": {"cd_fvd": 800.0}}, failed=[("lamp", "arm_wave", "017")])
    md = R.report_text(tmp_path / "run", "markdown")
    header = md_row(md, "Method")
    flow, fvd, text = (header.index(h) for h in ("Cosine Flow (↑)", "CD-FVD (↓)", "Text Alignment (↑)"))
    lamp, flash = md_row(md, "lamp"), md_row(md, "flash")
    assert lamp[flow] == lamp[text] == lamp[fvd] == "" and lamp[2] == "1"  # one failed video, counted
    assert flash[flow] == "" and "800.00" in flash[fvd]
    csv = R.report_text(tmp_path / "run", "csv").splitlines()
    lamp_csv = next(line for line in csv if line.startswith("lamp,")).split(",")
    cols = csv[0].split(",")
    assert lamp_csv[cols.index("cosine_flow")] == "" and lamp_csv[cols.index("text_alignment")] == ""
    assert "0.0" not in [lamp_csv[cols.index(c)] for c in ("cosine_flow", "text_alignment", "cd_fvd")]
    per_video = R.report_text(tmp_path / "run", "markdown", per_video=True)
    assert "CD-FVD" not in per_video  # set-level only: no per-video column


def hand_table(values_a, values_b, group=None) -> R.Table:
    cols = [R.Column("up", "Up", 2, True), R.Column("down", "Down", 2, False), R.Column("n", "N", 0, None)]
    rows = [R.Row((f"m{i}",), {"up": a, "down": b, "n": 3.0}, group=(group or [0] * len(values_a))[i])
            for i, (a, b) in enumerate(zip(values_a, values_b))]
    return R.Table("hand", "tab:hand", ("Method",), cols, rows)


def test_bold_and_underline_placement_with_ties():
    # up: 3.0 best, 2.0 tied second (both underlined), 1.0 plain; down: lower is better, 1.001 == 1.00 shown.
    t = hand_table([2.0, 3.0, 2.0, 1.0, math.nan], [1.004, 1.001, 5.0, 2.0, 0.5])
    t.rows[4].ranked = False  # a reference row never gets a mark, even with the best value
    marks = R.rank_marks(t)
    assert {k: v for k, v in marks.items() if k[1] == "up"} == {
        (1, "up"): "best", (0, "up"): "second", (2, "up"): "second"}
    assert {k: v for k, v in marks.items() if k[1] == "down"} == {
        (0, "down"): "best", (1, "down"): "best", (3, "down"): "second"}
    assert not any(k[1] == "n" for k in marks)
    tex = R.to_latex(t)
    assert "m1 & \\textbf{3.00} & \\textbf{1.00} & 3" in tex and "m3 & 1.00 & \\underline{2.00} & 3" in tex
    assert "m0 & \\underline{2.00} & \\textbf{1.00}" in tex and "m4 &  & 0.50 & 3" in tex
    md = R.to_markdown(t)
    assert md_row(md, "m1")[1] == "**3.00**" and md_row(md, "m0")[1] == "<u>2.00</u>"


def test_ranking_is_per_group():
    t = hand_table([1.0, 2.0, 5.0, 4.0], [1.0, 1.0, 1.0, 1.0], group=[0, 0, 1, 1])
    marks = R.rank_marks(t)
    assert marks[(1, "up")] == "best" and marks[(0, "up")] == "second"
    assert marks[(2, "up")] == "best" and marks[(3, "up")] == "second"


@pytest.mark.parametrize("text,expected", [
    ("flash#5@shots=8", r"flash\#5@shots=8"), ("soccer_shoot", r"soccer\_shoot"), ("50% & $x$", r"50\% \& \$x\$"),
    ("a{b}~^\\", r"a\{b\}\textasciitilde{}\textasciicircum{}\textbackslash{}"), ("τ ✓ ✗", r"$\tau$ \checkmark $\times$"),
])
def test_latex_escaping(text, expected):
    assert R.latex_escape(text) == expected


def latex_structure_ok(tex: str) -> None:
    """Checks that always run: booktabs rules in order, equal cell counts, balanced braces, no raw specials."""
    lines = tex.splitlines()
    top, mid, bottom = (lines.index(x) for x in (r"\toprule", r"\midrule", r"\bottomrule"))
    assert top < mid < bottom and r"\hline" not in tex
    spec = next(line for line in lines if line.startswith(r"\begin{tabular}")).split("{")[2].rstrip("}")
    body = lines[top + 1:bottom]
    assert all(line.count(" & ") == len(spec) - 1 and line.endswith(r"\\") for line in body if line != r"\midrule")
    depth = 0
    for ch in tex.replace(r"\{", "").replace(r"\}", ""):
        depth += {"{": 1, "}": -1}.get(ch, 0)
        assert depth >= 0
    assert depth == 0
    for line in body:
        stripped = line.replace(r"\#", "").replace(r"\_", "").replace(r"\%", "").replace(r"\&", "")
        assert "#" not in stripped and "_" not in stripped.replace(r"\textunderscore", "") and "%" not in stripped


def compile_latex(tex: str, tmp_path: Path) -> None:
    doc = ("\\documentclass{article}\n\\usepackage[utf8]{inputenc}\n\\usepackage{booktabs,amssymb,graphicx}\n"
           "\\begin{document}\n" + tex + "\\end{document}\n")
    (tmp_path / "t.tex").write_text(doc)
    res = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "t.tex"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120, check=False)
    assert res.returncode == 0, res.stdout[-3000:]
    assert (tmp_path / "t.pdf").stat().st_size > 0


def test_latex_report_is_valid_and_compiles(tmp_path):
    write_run(tmp_path / "run", {
        "flash#5@shots=8": {("soccer_shoot", "016"): {"text_alignment": 22.5, "cd_fvd": None}},
        "static": {("soccer_shoot", "016"): {"text_alignment": 21.0}},
        "50%_a&b": {("soccer_shoot", "016"): {"text_alignment": 20.0}},
    }, sets={"static": {"cd_fvd": 1000.0}})
    tex = R.report_text(tmp_path / "run", "latex", ci=False)
    latex_structure_ok(tex)
    assert r"flash\#5@shots=8" in tex and r"50\%\_a\&b" in tex and "tiny backbones" in tex
    assert r"Text Alignment ($\uparrow$)" in tex and r"CD-FVD ($\downarrow$)" in tex
    if shutil.which("pdflatex") is None:
        pytest.skip("pdflatex not installed (apt-get install texlive-latex-base texlive-latex-recommended); "
                    "structure validated only")
    compile_latex(tex, tmp_path)
    random_run(tmp_path / "run2", n_items=3)
    tex2 = R.report_text(tmp_path / "run2", "latex", ci=True)  # intervals + the Wilcoxon table
    assert r"{\scriptsize [" in tex2 and tex2.count(r"\begin{table}") == 2
    latex_structure_ok(tex2.split(r"\end{table}")[0])
    compile_latex(tex2, tmp_path)


def test_experiment_run_points_at_its_table(tmp_path):
    write_run(tmp_path / "run", {"flash#5": {("sprint_run", "016"): {"text_alignment": 22.0}}}, experiment="table2")
    assert "--table 2 gives its table layout" in R.report_text(tmp_path / "run")


def test_per_video_table_has_one_row_per_record(tmp_path):
    random_run(tmp_path / "run", n_items=2)
    md = R.report_text(tmp_path / "run", "markdown", per_video=True)
    assert sum(line.startswith("| flash |") for line in md.splitlines()) == 4
    assert "arm_wave" in md_row(md, "lamp")


def test_ci_intervals_and_wilcoxon_closed_form(tmp_path):
    # flash beats lamp by a distinct positive amount on all 10 paired videos: the exact two-sided
    # Wilcoxon p-value is 2 / 2**10.
    values = {"flash": {}, "lamp": {}}
    for i in range(10):
        key = ("a", f"{i:03d}")
        values["lamp"][key] = {"text_alignment": 20.0 + (i % 3)}
        values["flash"][key] = {"text_alignment": 20.0 + (i % 3) + 0.1 * (i + 1)}
    write_run(tmp_path / "run", values)
    tables = R.build_report(tmp_path / "run", ci=True)
    flash = next(r for r in tables[0].rows if r.keys[0] == "flash")
    lo, hi = flash.ci["text_alignment"]
    assert lo < flash.values["text_alignment"] < hi
    test = tables[1].rows[0]
    assert test.keys == ("lamp", "Text Alignment") and test.values["n"] == 10
    assert test.values["p_value"] == pytest.approx(2 / 2 ** 10, rel=1e-9)
    assert test.values["mean_diff"] == pytest.approx(0.55)


def test_bad_run_dirs_name_the_file(tmp_path):
    with pytest.raises(InputError, match="run dir not found"):
        load_run(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="not a run dir"):
        load_run(tmp_path / "empty")
    random_run(tmp_path / "run", n_items=1)
    bad = RunStore(tmp_path / "run").record_path("flash", "arm_wave", "016")
    bad.write_text("{not json")
    with pytest.raises(InputError, match=str(bad)):
        load_run(tmp_path / "run")
    with pytest.raises(InputError, match="--format"):
        R.report_text(tmp_path / "empty", "html")


def test_report_imports_no_model_code(tmp_path):
    random_run(tmp_path / "run", n_items=2)
    code = ("import sys; from flash_bench.report import report_text; "
            f"report_text({str(tmp_path / 'run')!r}, 'latex', ci=True); "
            "bad = [m for m in ('torch', 'diffusers', 'open_clip', 'transformers', 'flash', 'baselines') "
            "if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)")
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                         check=False)
    assert res.returncode == 0, res.stdout + res.stderr


def test_cli_report_writes_file_and_fails_clearly(tmp_path):
    import typer
    from typer.testing import CliRunner

    from flash_bench.cli.report import report

    app = typer.Typer()
    app.command()(report)
    app.command("noop")(lambda: None)  # two commands -> typer keeps the "report" subcommand name
    random_run(tmp_path / "run", n_items=1)
    out = tmp_path / "t.tex"
    res = CliRunner().invoke(app, ["report", str(tmp_path / "run"), "--format", "latex", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert out.read_text().startswith(r"\begin{table}")
    res = CliRunner().invoke(app, ["report", str(tmp_path / "missing")])
    assert res.exit_code == 2 and "run dir not found" in res.output
    assert RunStore(tmp_path / "run").read_manifest()["profile"] == "tiny"


def test_empty_run_and_unknown_metric(tmp_path):
    write_manifest(RunStore(tmp_path / "fresh"), {"profile": "tiny", "methods": ["static"], "failures": []})
    md = R.report_text(tmp_path / "fresh")
    assert md_row(md, "Method")[:3] == ["Method", "Videos", "Failed"] and "| static" not in md
    write_run(tmp_path / "run", {"a": {("x", "016"): {"my_score": 0.123456}},
                                 "b": {("x", "016"): {"my_score": 0.5}}})
    md = R.report_text(tmp_path / "run")
    col = md_row(md, "Method").index("my_score")  # unknown id: its own name, no arrow, not ranked
    assert md_row(md, "a")[col] == "0.1235" and md_row(md, "b")[col] == "0.5000"
    with pytest.raises(InputError, match="--per-video"):
        R.report_text(tmp_path / "run", table="1", per_video=True)
