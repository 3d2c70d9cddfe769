"""flash_bench.results: one per-item table and one summary, which every consumer of a run shows."""
from __future__ import annotations

import html.parser
import io
import math
import subprocess
import sys
from pathlib import Path

import pandas as pd

from flash_bench import results
from flash_bench.metrics import METRICS
from flash_bench.results import column_info, counts, export_tables, load_run, summary
from flash_bench.store import RunStore
from conftest import write_item, write_manifest

ROOT = Path(__file__).resolve().parents[1]


def write_records(root: Path, records: list[dict], sets: dict | None = None, methods=None) -> RunStore:
    store = RunStore(root)
    for rec in records:
        write_item(store, {"seconds": 1.0, "num_frames": 16, "height": 64, "width": 64, "seed": 7, **rec})
    for method, values in (sets or {}).items():
        store.write_set_metrics(method, values)
    write_manifest(store, {"profile": "tiny", "dataset": "synthetic", "failures": [],
                          "methods": methods or list(dict.fromkeys(r["method"] for r in records))})
    return store


def ok(method, action, item, **metrics) -> dict:
    return {"method": method, "action": action, "item": item, "status": "ok", "metrics": metrics}


def failed(method, action, item) -> dict:
    return {"method": method, "action": action, "item": item, "status": "failed", "error": "boom",
            "traceback": "Traceback ...", "seconds": None, "num_frames": None, "metrics": {}}


# lamp: text 20, 30 on `wave`, 40 on `jump`, one failed `jump` item; cosine_rgb only where it has ground truth.
# flash: text 10 and 14 on `wave`. Set-level cd_fvd for both.
RECORDS = [ok("lamp", "wave", "016", text_alignment=20.0, cosine_rgb=0.5),
           ok("lamp", "wave", "017", text_alignment=30.0, cosine_rgb=None),
           ok("lamp", "jump", "016", text_alignment=40.0, cosine_rgb=0.75),
           failed("lamp", "jump", "017"),
           ok("flash", "wave", "016", text_alignment=10.0, cosine_rgb=0.25),
           ok("flash", "wave", "017", text_alignment=14.0)]
SETS = {"lamp": {"cd_fvd": 900.0}, "flash": {"cd_fvd": 800.0}}


def test_per_item_table_has_one_row_per_record_and_floats_for_metrics(tmp_path):
    write_records(tmp_path / "run", RECORDS, {**SETS, "gone": {"cd_fvd": 1.0}})   # a stale set: no items behind it
    run = load_run(tmp_path / "run")
    assert len(run.table) == 6 and run.item_metrics == ("text_alignment", "cosine_rgb") and "gone" not in run.sets
    assert run.metrics == ("text_alignment", "cd_fvd", "cosine_rgb")           # the registry's order
    assert run.methods == ["lamp", "flash"] and run.items == {"jump": ["016", "017"], "wave": ["016", "017"]}
    assert "traceback" not in run.table.columns and "metrics" not in run.table.columns
    lamp = run.record("lamp", "wave", "017")
    assert lamp["cosine_rgb"] is None and lamp["text_alignment"] == 30.0 and lamp["seed"] == 7
    assert run.record("flash", "jump", "016") is None
    assert run.video("lamp", "wave", "016") is None                          # no file: no video


def test_summary_is_the_mean_over_ok_items_with_counts_and_set_metrics(tmp_path):
    write_records(tmp_path / "run", RECORDS, SETS)
    run = load_run(tmp_path / "run")
    s = summary(run)
    assert list(s.columns[:2]) == ["videos", "failed"] and list(s.index) == ["lamp", "flash"]
    assert s.loc["lamp", "videos"] == 3 and s.loc["lamp", "failed"] == 1
    assert s.loc["lamp", "text_alignment"] == 30.0                     # (20 + 30 + 40) / 3: the failed item is out
    assert s.loc["lamp", "cosine_rgb"] == 0.625                        # (0.5 + 0.75) / 2: missing is skipped, not 0
    assert s.loc["flash", "text_alignment"] == 12.0 and s.loc["flash", "cosine_rgb"] == 0.25
    assert s.loc["lamp", "cd_fvd"] == 900.0 and s.loc["flash", "cd_fvd"] == 800.0
    assert s.loc["lamp", "seconds"] == 1.0 and "seed" not in s.columns
    n = counts(run)
    assert n.loc["lamp"].to_dict() == {"text_alignment": 3, "cd_fvd": 3, "cosine_rgb": 2}
    # restricted to `wave`: lamp's cd_fvd (computed on wave + jump) is left out; flash has only wave, so it stays
    wave = summary(run, actions={"lamp": {"wave"}, "flash": {"wave"}})
    assert wave.loc["lamp", "text_alignment"] == 25.0 and wave.loc["lamp", "failed"] == 0
    assert math.isnan(wave.loc["lamp", "cd_fvd"]) and wave.loc["flash", "cd_fvd"] == 800.0


def test_csvs_report_and_regress_show_the_same_numbers(tmp_path):
    # cosine_flow is null on every item (no ground truth, no failure): the column stays, blank, in every output
    records = [ok("static", "wave", f"{i:03d}", text_alignment=20.0 + i, cosine_flow=None) for i in range(3)]
    records += [ok("flash", "wave", f"{i:03d}", text_alignment=30.0 + 2 * i, cosine_flow=None) for i in range(3)]
    write_records(tmp_path / "run", records, {"flash": {"cd_fvd": 5.0}}, methods=["static", "flash"])
    export_tables(RunStore(tmp_path / "run"))
    expected = pd.DataFrame({"videos": [3.0, 3.0], "failed": [0.0, 0.0], "text_alignment": [21.0, 32.0],
                             "cd_fvd": [math.nan, 5.0], "cosine_flow": [math.nan, math.nan]},
                            index=pd.Index(["static", "flash"], name="method"))
    csv = pd.read_csv(tmp_path / "run" / "summary.csv", index_col="method")
    pd.testing.assert_frame_equal(csv[expected.columns], expected, check_dtype=False)
    per_video = pd.read_csv(tmp_path / "run" / "per_video.csv")
    assert len(per_video) == 6 and per_video["cosine_flow"].isna().all() and "traceback" not in per_video

    from flash_bench.regress import run_values
    from flash_bench.report import report_text

    report = pd.read_csv(io.StringIO(report_text(tmp_path / "run", "csv")), index_col="Method")
    pd.testing.assert_frame_equal(report[["text_alignment", "cd_fvd", "cosine_flow"]].rename_axis("method"),
                                  expected[["text_alignment", "cd_fvd", "cosine_flow"]], check_dtype=False)
    values = run_values(tmp_path / "run")[0]
    assert values["flash"] == {"videos": 3.0, "text_alignment": 32.0, "cd_fvd": 5.0, "cosine_flow": None,
                               "num_frames": 16.0}


def test_no_tables_for_a_run_without_records(tmp_path):
    write_manifest(RunStore(tmp_path / "run"), {"methods": []})
    export_tables(RunStore(tmp_path / "run"))
    assert not (tmp_path / "run" / "summary.csv").exists()
    assert summary(load_run(tmp_path / "run")).empty


def test_metric_facts_are_the_metric_classes_attributes(monkeypatch):
    for name in METRICS.names():
        cls = METRICS.get(name)
        assert column_info(name) == (cls.label, cls.higher_is_better, cls.decimals)
    cls = METRICS.get("cosine_rgb")
    monkeypatch.setattr(cls, "label", "Cosine (I3D RGB)")
    monkeypatch.setattr(cls, "decimals", 3)
    assert column_info("cosine_rgb") == ("Cosine (I3D RGB)", True, 3)   # read from the class, not a copy


def test_unregistered_metric_facts_come_from_the_runs_scoring_record():
    class Plugin(METRICS.get("cosine_rgb")):
        name, label, higher_is_better, decimals = "my_metric", "My Metric", False, 3

    scoring = {"metrics": {"my_metric": Plugin().facts()}}     # what scoring writes into scoring.json
    assert column_info("my_metric", scoring) == ("My Metric", False, 3)
    assert column_info("my_metric") == ("my_metric", None, results.UNKNOWN_DECIMALS)


def test_results_and_every_metric_class_import_no_model_library():
    code = ("import sys; from flash_bench.metrics import METRICS; from flash_bench.results import column_info; "
            "[column_info(m) for m in METRICS.names()]; "
            "print([m for m in ('torch', 'torchvision', 'open_clip', 'diffusers', 'transformers', 'cdfvd', 'flash', "
            "'baselines') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


class _Cells(html.parser.HTMLParser):
    """Text of every <th>/<td> of the gallery's metrics table, per row."""

    def __init__(self):
        super().__init__()
        self.rows, self._in, self._cell = [], False, None

    def handle_starttag(self, tag, attrs):
        if tag == "table" and ("class", "metrics-table") in attrs:
            self._in = True
        elif self._in and tag == "tr":
            self.rows.append([])
        elif self._in and tag in ("th", "td"):
            self._cell = ""

    def handle_endtag(self, tag):
        if tag == "table":
            self._in = False
        elif self._in and tag in ("th", "td") and self._cell is not None:
            self.rows[-1].append(self._cell)
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data


def gallery_table(page: Path) -> dict[str, dict[str, str]]:
    p = _Cells()
    p.feed(page.read_text())
    header, *rows = p.rows
    return {r[0]: dict(zip(header[1:], r[1:])) for r in rows}


def test_gallery_shows_the_summary(tmp_path):
    from flash_bench.gallery import build_gallery

    write_records(tmp_path / "run", RECORDS, SETS)
    build_gallery(tmp_path / "run", tmp_path / "site")
    index = gallery_table(tmp_path / "site" / "index.html")
    assert index["lamp"] == {"videos": "3", "failed": "1", "Text Alignment ↑": "30.00", "CD-FVD ↓": "900.00",
                             "Cosine RGB ↑": "0.6250"}
    jump = gallery_table(tmp_path / "site" / "action-jump.html")
    assert jump["lamp"] == {"videos": "1", "failed": "1", "Text Alignment ↑": "40.00", "CD-FVD ↓": "–",
                            "Cosine RGB ↑": "0.7500"}
    wave = gallery_table(tmp_path / "site" / "action-wave.html")
    assert wave["flash"]["CD-FVD ↓"] == "800.00"      # all of flash's items are `wave` items: its set is this one
    assert jump["flash"] == {"videos": "0", "failed": "0", "Text Alignment ↑": "–", "CD-FVD ↓": "–",
                             "Cosine RGB ↑": "–"}
