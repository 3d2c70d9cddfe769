"""flash-bench regress: passes on an unchanged run, fails on a perturbed or missing value."""
from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from flash_bench.cli.report import regress
from flash_bench.regress import DEFAULT_TOLERANCES, compare, drift_table, update_golden
from flash_bench.store import RunStore
from flash_bench.types import InputError
from conftest import write_item, write_manifest


def make_run(root, delta=0.0):
    store = RunStore(root)
    for method, base in (("static", 20.0), ("flash", 23.0)):
        for item in ("016", "017"):
            write_item(store, {"method": method, "action": "arm_wave", "item": item, "status": "ok",
                                "seconds": 3.0 + delta * 1000, "num_frames": 16,
                                "metrics": {"text_alignment": base + (delta if method == "flash" else 0.0),
                                            "cosine_rgb": 0.8}})
        store.write_set_metrics(method, {"cd_fvd": 500.0})
    write_manifest(store, {"profile": "tiny", "tiny_backbones": True, "dataset": "synthetic",
                          "methods": ["static", "flash"], "experiment": "ci", "failures": []})
    return store


def cli():
    app = typer.Typer()
    app.command()(regress)
    app.command("noop")(lambda: None)
    return app


def test_unchanged_run_passes_and_perturbed_run_fails(tmp_path):
    make_run(tmp_path / "a")
    golden = update_golden(tmp_path / "a", tmp_path / "golden.json")
    drifts, checked = compare(tmp_path / "a", golden)
    assert drifts == [] and checked == 2 * 5  # videos, text, cosine_rgb, cd_fvd, num_frames per method

    inside = DEFAULT_TOLERANCES["text_alignment"]["abs"] / 2   # the default read, not restated
    make_run(tmp_path / "b", delta=inside)  # inside the tolerance; seconds change is never compared
    assert compare(tmp_path / "b", golden)[0] == []

    make_run(tmp_path / "c", delta=0.5)
    drifts, _ = compare(tmp_path / "c", golden)
    assert [(d.metric, d.method, d.golden, d.now, d.reason) for d in drifts] == [
        ("text_alignment", "flash", 23.0, 23.5, "drift")]
    table = drift_table(drifts)
    assert table.splitlines()[0].split() == ["metric", "method", "golden", "now", "tolerance", "reason"]
    assert "23.5" in table


def test_missing_value_and_method_are_drift(tmp_path):
    make_run(tmp_path / "a")
    golden = update_golden(tmp_path / "a", tmp_path / "g.json")
    store = RunStore(tmp_path / "a")
    for item in ("016", "017"):
        store.write_score("cosine_rgb", store.key_of("flash", "arm_wave", item), None)
    data = json.loads(golden.read_text())
    data["values"]["lamp"] = {"text_alignment": 1.0}
    golden.write_text(json.dumps(data))
    reasons = {(d.method, d.metric, d.reason) for d in compare(tmp_path / "a", golden)[0]}
    assert reasons == {("flash", "cosine_rgb", "missing now"), ("lamp", "*", "method missing")}


def test_update_keeps_hand_tuned_tolerances(tmp_path):
    make_run(tmp_path / "a")
    golden = update_golden(tmp_path / "a", tmp_path / "g.json")
    data = json.loads(golden.read_text())
    data["tolerances"]["text_alignment"] = {"abs": 1.0, "rel": 0.0}
    data["tolerance_note"] = "why 1.0"
    golden.write_text(json.dumps(data))
    make_run(tmp_path / "c", delta=0.5)
    assert compare(tmp_path / "c", golden)[0] == []  # 0.5 < the file's 1.0
    update_golden(tmp_path / "c", golden)
    assert json.loads(golden.read_text())["tolerances"]["text_alignment"]["abs"] == 1.0
    assert json.loads(golden.read_text())["tolerance_note"] == "why 1.0"
    assert json.loads(golden.read_text())["values"]["flash"]["text_alignment"] == 23.5


def test_cli_exit_codes(tmp_path):
    make_run(tmp_path / "a")
    make_run(tmp_path / "c", delta=0.5)
    g = tmp_path / "g.json"
    runner = CliRunner()
    res = runner.invoke(cli(), ["regress", str(tmp_path / "a"), "--golden", str(g)])
    assert res.exit_code == 2 and "golden file not found" in res.output
    assert runner.invoke(cli(), ["regress", str(tmp_path / "a"), "--golden", str(g), "--update"]).exit_code == 0
    res = runner.invoke(cli(), ["regress", str(tmp_path / "a"), "--golden", str(g)])
    assert res.exit_code == 0 and "ok: 10 values" in res.output
    res = runner.invoke(cli(), ["regress", str(tmp_path / "c"), "--golden", str(g)])
    assert res.exit_code == 1 and "text_alignment" in res.output and "flash" in res.output


def test_bad_golden_file(tmp_path):
    make_run(tmp_path / "a")
    (tmp_path / "g.json").write_text("[1, 2]")
    with pytest.raises(InputError, match="g.json"):
        compare(tmp_path / "a", tmp_path / "g.json")


def test_a_golden_file_of_another_geometry_is_refused_with_the_refresh_command(tmp_path):
    """The CI golden values were made at 16 frames; a run at another frame count (the tiny world's change of
    geometry) is not "drift" of every value but a golden file that must be refreshed: one error that says so."""
    make_run(tmp_path / "a")
    golden = update_golden(tmp_path / "a", tmp_path / "g.json")
    assert json.loads(golden.read_text())["source"]["setup"] == {"dataset": "synthetic", "profile": "tiny",
                                                                 "num_frames": 16}
    store = make_run(tmp_path / "b")
    for item in ("016", "017"):
        for method in ("static", "flash"):
            write_item(store, {"method": method, "action": "arm_wave", "item": item, "status": "ok", "seconds": 3.0,
                               "num_frames": 8, "metrics": {"text_alignment": 20.0, "cosine_rgb": 0.8}})
    with pytest.raises(InputError, match=r"num_frames 16 -> 8.*--update"):
        compare(tmp_path / "b", golden)
    old = json.loads(golden.read_text())
    del old["source"]["setup"]                      # a golden file written before setups were recorded
    golden.write_text(json.dumps(old))
    with pytest.raises(InputError, match="num_frames 16 -> 8"):
        compare(tmp_path / "b", golden)


def test_a_drift_names_where_the_environment_differs_from_the_golden_files(tmp_path):
    """The golden file records the package versions and CPU kernels of its run; a drifting run in another
    environment is told which differ (the first suspects without a code change), an identical one hears nothing."""
    make_run(tmp_path / "a")
    write_manifest(RunStore(tmp_path / "a"), {"profile": "tiny", "dataset": "synthetic", "methods": ["static", "flash"],
                                               "experiment": "ci", "failures": [], "cpu_capability": "Xeon (avx512f)",
                                               "versions": {"diffusers": "0.42.1", "torch": "2.14.1"}})
    golden = update_golden(tmp_path / "a", tmp_path / "g.json")
    assert json.loads(golden.read_text())["source"]["environment"] == {
        "versions": {"diffusers": "0.42.1", "torch": "2.14.1"}, "cpu_capability": "Xeon (avx512f)"}
    make_run(tmp_path / "b", delta=0.5)
    write_manifest(RunStore(tmp_path / "b"), {"profile": "tiny", "dataset": "synthetic", "methods": ["static", "flash"],
                                               "experiment": "ci", "failures": [], "cpu_capability": "EPYC (avx2)",
                                               "versions": {"diffusers": "0.43.0", "torch": "2.14.1"}})
    result = CliRunner().invoke(cli(), ["regress", str(tmp_path / "b"), "--golden", str(golden)])
    assert result.exit_code == 1
    assert "diffusers 0.42.1 -> 0.43.0; cpu_capability Xeon (avx512f) -> EPYC (avx2)" in result.output
    assert "torch" not in result.output.split("environment:")[1]
    same = CliRunner().invoke(cli(), ["regress", str(tmp_path / "a"), "--golden", str(golden)])
    assert same.exit_code == 0 and "environment" not in same.output
