"""The command line: every command has --help, `python -m flash_bench` works, --help imports no model library."""
import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from flash_bench.cli.main import app

runner = CliRunner()


def _commands(group=app, prefix=()):
    import typer.main

    click_group = typer.main.get_command(group)
    stack = [(prefix, click_group)]
    while stack:
        path, cmd = stack.pop()
        yield path
        for name, sub in getattr(cmd, "commands", {}).items():
            stack.append((path + (name,), sub))


@pytest.mark.parametrize("path", sorted(_commands()))
def test_every_command_has_help(path):
    result = runner.invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_python_dash_m_and_light_help():
    code = ("import sys, runpy; sys.argv=['flash-bench','--help']\n"
            "try:\n    runpy.run_module('flash_bench', run_name='__main__')\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in ('torch', 'diffusers', 'open_clip', 'transformers') if m in sys.modules]\n"
            "print('HEAVY', heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60).stdout
    assert "Usage" in out and "HEAVY []" in out


def test_methods_and_datasets_lists():
    out = runner.invoke(app, ["methods", "list", "--json"])
    names = [m["name"] for m in json.loads(out.output)]
    assert {"static", "oracle"} <= set(names)
    assert "synthetic" in runner.invoke(app, ["datasets", "list"]).output


def test_unknown_method_is_one_clear_error(tmp_path):
    result = runner.invoke(app, ["run", "--methods", "statik", "--run-dir", str(tmp_path / "r")])
    assert result.exit_code == 2
    assert "Did you mean static" in result.output


def test_inspect_folder_dataset_json(folder_root):
    result = runner.invoke(app, ["datasets", "inspect", "folder", "--root", str(folder_root), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert [(a["action"], a["train"], a["test"]) for a in data["actions"]] == [("jump", 3, 2), ("wave", 3, 2)]


def test_gallery_does_not_write_into_a_run_dir_another_process_holds(tmp_path):
    from flash_bench.store import RunStore
    from tests.test_gallery import make_run

    run_dir = make_run(tmp_path)
    with RunStore(run_dir).lock():
        result = runner.invoke(app, ["gallery", str(run_dir)])
    assert result.exit_code == 2 and f"run dir {run_dir} is in use by another" in result.output
    assert not (run_dir / "gallery").exists()
    result = runner.invoke(app, ["gallery", str(run_dir), "--out", str(tmp_path / "site")])   # outside: no lock
    assert result.exit_code == 0, result.output
    assert runner.invoke(app, ["gallery", str(run_dir)]).exit_code == 0 and (run_dir / "gallery" / "index.html").exists()


def test_resume_refuses_a_pickled_optimizer_state_naming_it(tmp_path):
    import torch

    out = tmp_path / "flash.safetensors"
    args = ["train", "flash", "--actions", "arm_wave", "--out", str(out), "--frames", "4", "--size", "32"]
    result = runner.invoke(app, [*args, "--steps", "1"])
    assert result.exit_code == 0, result.output
    optim = out.with_suffix(".optim.pt")

    class Evil:
        def __reduce__(self):
            return (print, ("PAYLOAD RAN",))

    torch.save({"optimizer": Evil()}, optim)
    result = runner.invoke(app, [*args, "--steps", "2"])
    assert result.exit_code == 2 and f"error: {optim}: not a FLASH optimizer state" in result.output
    assert "PAYLOAD RAN" not in result.output and "weights_only=False" not in result.output


@pytest.mark.parametrize("args,message", [
    (["train", "flash", "--actions", "arm_wave", "--out", "OUT", "--steps", "0"], "--steps must be >= 1"),
    (["train", "flash", "--actions", " ", "--out", "OUT"], "--actions is empty"),
    (["animate", "--checkpoint", "c", "--image", "i.png", "--prompt", "p", "--out", "OUT", "--frames", "1"],
     "--frames must be >= 2, got 1"),
    (["train", "flash", "--actions", "arm_wave", "--out", "OUT", "--variant", "7", "--steps", "1", "--frames", "4",
      "--size", "32"], "unknown FLASH variant #7: expected 1-6"),      # was silently #5
])
def test_flash_commands_check_their_values_first(args, message, tmp_path):
    out = tmp_path / "out.safetensors"
    result = runner.invoke(app, [str(out) if a == "OUT" else a for a in args])
    assert result.exit_code == 2 and message in result.output and not out.exists()


def test_run_size_defaults_by_profile_and_an_explicit_size_is_kept(tmp_path, monkeypatch):
    """`--size` and `--frames` are the tiny world's in the tiny profile and 512 / 16 in the paper one unless given; a
    given 64 stays 64 (it once became 512 silently in the paper profile). `--weights-dir` reaches the weights lookup
    of the run and its workers."""
    import flash_bench.runner as runner_module
    from flash_bench import tiny_world

    seen = {}

    def fake_run(cfg, run_dir, progress=None):
        import os

        seen[cfg.profile] = (cfg.size, cfg.num_frames, os.environ.get("FLASH_BENCH_WEIGHTS"))
        raise runner_module.InputError("stop here")

    monkeypatch.setattr(runner_module, "run", fake_run)
    monkeypatch.setenv("FLASH_BENCH_WEIGHTS", "placeholder")   # restored after the test, whatever the CLI sets
    monkeypatch.delenv("FLASH_BENCH_WEIGHTS")
    weights = tmp_path / "w"
    weights.mkdir()
    for profile, extra in (("tiny", []), ("paper", []), ("paper", ["--size", "64", "--weights-dir", str(weights)])):
        result = runner.invoke(app, ["run", "--methods", "static", "--profile", profile, "--run-dir",
                                     str(tmp_path / f"r-{profile}-{len(extra)}"), *extra])
        assert result.exit_code == 2 and "stop here" in result.output, result.output
        if profile == "tiny":
            assert seen["tiny"] == (tiny_world.SIZE, tiny_world.NUM_FRAMES, None)
        elif not extra:
            assert seen["paper"] == (512, 16, None)
    assert seen["paper"] == (64, 16, str(weights.resolve()))
    result = runner.invoke(app, ["run", "--methods", "static", "--weights-dir", str(tmp_path / "nope")])
    assert result.exit_code == 2 and "--weights-dir" in result.output and "not a folder" in result.output
