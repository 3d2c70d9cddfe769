"""The weights table: offline resolution, one clear error for a missing file, sha256 refusal, safe loading.
Nothing here touches the network: every test runs with sockets disabled."""
import dataclasses
import json
import socket
from pathlib import Path

import numpy as np
import pytest
import torch

from flash_bench import weights
from flash_bench.weights import WEIGHTS, WeightFile, WeightsCorrupt, WeightsMissing
from conftest import write_item


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    """No network, empty caches, an empty weights folder."""
    def refuse(*args, **kwargs):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    (tmp_path / "weights").mkdir()
    monkeypatch.setenv(weights.ENV_DIR, str(tmp_path / "weights"))
    return tmp_path / "weights"


@pytest.mark.parametrize("name", list(WEIGHTS))
def test_missing_weights_raise_one_error_naming_file_source_and_place(name, offline):
    w = WEIGHTS[name]
    with pytest.raises(WeightsMissing) as err:
        weights.resolve(name)
    message = str(err.value)
    assert w.local_name in message and str(offline / w.local_name) in message
    if w.recipe:  # made locally, never fetched
        assert w.recipe in message and "Nobody publishes it" in message
    else:
        assert (w.hf_repo or w.url) in message and f"flash-bench weights fetch {name}" in message


@pytest.mark.parametrize("build", ["clip", "videomae", "i3d", "raft"])
def test_paper_backbones_fail_fast_without_weights(build):
    from flash_bench.features import clip, i3d, raft_flow, videomae

    calls = {"clip": lambda: clip.build("paper"), "videomae": lambda: videomae.build("paper"),
             "i3d": lambda: i3d.build("rgb", "paper"), "raft": lambda: raft_flow.build("paper")}
    with pytest.raises(WeightsMissing):
        calls[build]()


def test_fetch_refuses_under_hf_hub_offline():
    with pytest.raises(WeightsMissing, match="HF_HUB_OFFLINE"):
        weights.fetch("i3d-rgb-imagenet")


def test_weights_dir_file_is_found_verified_and_loaded(offline):
    from flash_bench.features import i3d

    state = i3d.InceptionI3d(400, in_channels=3).state_dict()
    torch.save({k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}, offline / "rgb_imagenet.pt")
    model, info = i3d.build("rgb", "paper")
    assert info["weights"]["sha256"] == weights.sha256_of(offline / "rgb_imagenet.pt")
    torch.testing.assert_close(model.state_dict()["Mixed_5c.b3b.conv3d.weight"], state["Mixed_5c.b3b.conv3d.weight"])


def test_explicit_weights_dir_wins_over_the_environment(tmp_path):
    other = tmp_path / "explicit"
    other.mkdir()
    (other / "flow_imagenet.pt").write_bytes(b"x")
    assert weights.resolve("i3d-flow-imagenet", other, verify=False) == other / "flow_imagenet.pt"


def test_a_file_whose_sha256_differs_is_refused(offline):
    # the RAFT row carries torchvision's 8-hex-digit sha256 prefix; random weights cannot match it
    from torchvision.models.optical_flow import raft_large

    torch.save(raft_large(weights=None).state_dict(), offline / WEIGHTS["raft-large"].local_name)
    with pytest.raises(WeightsCorrupt, match="does not match"):
        weights.resolve("raft-large")


def test_adding_a_row_is_one_data_entry_and_sha256_is_checked(monkeypatch, offline):
    payload = b"hello weights"
    import hashlib

    row = WeightFile("demo", "demo.bin", url="https://example.invalid/demo.bin",
                     sha256=hashlib.sha256(payload).hexdigest(), size="1 kB", licence="CC0")
    monkeypatch.setitem(WEIGHTS, "demo", row)
    (offline / "demo.bin").write_bytes(payload)
    assert weights.resolve("demo") == offline / "demo.bin"
    monkeypatch.setitem(WEIGHTS, "demo", dataclasses.replace(row, sha256="0" * 64))
    weights._VERIFIED.clear()
    with pytest.raises(WeightsCorrupt):
        weights.resolve("demo")


def test_hf_cache_is_used_without_network(monkeypatch, tmp_path):
    monkeypatch.delenv(weights.ENV_DIR)
    w = WEIGHTS["clip-vit-l-14-openai"]
    repo = tmp_path / "hf" / "hub" / f"models--{w.hf_repo.replace('/', '--')}"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("abc123")
    snapshot = repo / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    (snapshot / w.filename).write_bytes(b"weights")
    assert weights.resolve(w.name) == snapshot / w.filename


def test_checkpoints_load_only_as_tensors(tmp_path):
    good = tmp_path / "good.pt"
    torch.save({"model": {"w": torch.ones(2)}}, good)
    assert torch.equal(weights.load_state_dict(good)["w"], torch.ones(2))  # "model" unwrapped

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    bad = tmp_path / "bad.pt"
    torch.save({"w": Evil()}, bad)
    with pytest.raises(weights.InputError, match="weights_only"):
        weights.load_state_dict(bad)
    from safetensors.numpy import save_file

    save_file({"w": np.zeros(3, np.float32)}, str(tmp_path / "x.safetensors"))
    assert weights.load_state_dict(tmp_path / "x.safetensors")["w"].shape == (3,)


def test_unknown_name_suggests_close_ones():
    with pytest.raises(weights.InputError, match="raft-large"):
        weights.get("raft-larg")


def test_cli_list_and_fetch_offline(offline):
    from typer.testing import CliRunner

    from flash_bench.cli.weights import app

    runner = CliRunner()
    result = runner.invoke(app, ["list", "--json"])
    assert result.exit_code == 0
    rows = json.loads(result.output)
    assert {r["name"] for r in rows} == set(WEIGHTS) and not any(r["present"] for r in rows)
    (offline / "rgb_imagenet.pt").write_bytes(b"x")
    assert "present" in runner.invoke(app, ["list"]).output
    result = runner.invoke(app, ["fetch", "videomae-v2-g-ssv2"])
    assert result.exit_code == 2 and "vit_g_hybrid_pt_1200e_ssv2_ft.pth" in result.output
    result = runner.invoke(app, ["verify", "i3d-rgb-imagenet"])
    assert result.exit_code == 1 and "unloadable" in result.output and "does not load as tensors" in result.output


def test_scoring_with_the_paper_profile_stops_at_once_on_missing_weights(tmp_path):
    from flash_bench.scoring import score_run
    from flash_bench.store import RunStore

    store = RunStore(tmp_path / "run")
    key = write_item(store, {"method": "m", "action": "a", "item": "i", "status": "ok"})
    with pytest.raises(WeightsMissing, match="open_clip_model.safetensors"):
        score_run(store, ["text_alignment"], "paper", "cpu", tmp_path / "cache")
    assert store.scores(key) == {}


def test_check_weights_fails_before_any_work_and_passes_for_tiny():
    from flash_bench.scoring import check_weights

    check_weights(None, "tiny")  # random weights: nothing to find
    with pytest.raises(WeightsMissing, match="rgb_imagenet.pt"):
        check_weights(["cosine_rgb"], "paper")


def test_zip_checkpoints_are_memory_mapped_and_legacy_ones_still_load(tmp_path):
    """A 10 GB checkpoint (DynamiCrafter's model.ckpt) must not be read into RAM beside the model it fills; torch's
    legacy format (the 2018 I3D files) cannot be memory-mapped and still loads."""
    new, old = tmp_path / "new.ckpt", tmp_path / "old.pt"
    torch.save({"state_dict": {"w": torch.arange(4.0)}}, new)
    torch.save({"w": torch.arange(4.0)}, old, _use_new_zipfile_serialization=False)
    mapped = weights.load_state_dict(new)["w"]
    assert torch.equal(mapped, torch.arange(4.0))
    maps = Path("/proc/self/maps")
    if maps.exists():                                          # Linux: the file is mapped, not read
        assert str(new) in maps.read_text()
    assert torch.equal(weights.load_state_dict(old)["w"], torch.arange(4.0))


# ------------------------------------------------------------ integrity: published sha256, lock file, loadability
def _tensor_file(path, value=1.0):
    torch.save({"w": torch.full((4,), value)}, path)
    return path


def _evil_file(path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    torch.save({"w": Evil()}, path)
    return path


def test_verify_says_present_missing_and_failing_and_exits_non_zero(offline):
    from typer.testing import CliRunner

    from flash_bench.cli.weights import app

    _tensor_file(offline / "rgb_imagenet.pt")                              # loads, but nothing vouches for it
    _evil_file(offline / "flow_imagenet.pt")                               # a pickle payload
    _tensor_file(offline / WEIGHTS["raft-large"].local_name)              # not the published file
    result = CliRunner().invoke(app, ["verify", "--json"])
    assert result.exit_code == 1
    rows = {r["name"]: r for r in json.loads(result.stdout)}
    assert rows["i3d-rgb-imagenet"]["state"] == "unverifiable" and "weights lock" in rows["i3d-rgb-imagenet"]["detail"]
    assert rows["i3d-flow-imagenet"]["state"] == "unloadable"
    assert rows["raft-large"]["state"] == "mismatch" and "ff5fadd5" in rows["raft-large"]["detail"]
    missing = rows["videomae-v2-g-ssv2"]
    assert missing["state"] == "missing" and WEIGHTS["videomae-v2-g-ssv2"].url in missing["detail"]
    assert sum(r["state"] == "missing" for r in rows.values()) == len(WEIGHTS) - 3


def test_lock_records_loadable_files_and_later_loads_check_against_it(offline):
    from typer.testing import CliRunner

    from flash_bench.cli.weights import app

    runner = CliRunner()
    rgb = _tensor_file(offline / "rgb_imagenet.pt")
    _evil_file(offline / "flow_imagenet.pt")
    result = runner.invoke(app, ["lock"])                                  # every present file
    assert result.exit_code == 1 and "flow_imagenet.pt: does not load as tensors" in result.output
    entries = json.loads((offline / weights.LOCK_FILE).read_text())["weights"]
    assert set(entries) == {"i3d-rgb-imagenet"}
    assert entries["i3d-rgb-imagenet"]["sha256"] == __import__("hashlib").sha256(rgb.read_bytes()).hexdigest()
    result = runner.invoke(app, ["verify", "i3d-rgb-imagenet"])
    assert result.exit_code == 0 and "1 ok" in result.output
    _tensor_file(rgb, 2.0)                                                 # replaced behind our back
    with pytest.raises(WeightsCorrupt, match=f"{rgb}: sha256 .* differs .*{weights.LOCK_FILE}"):
        weights.resolve("i3d-rgb-imagenet")
    assert runner.invoke(app, ["verify", "i3d-rgb-imagenet"]).exit_code == 1
    assert runner.invoke(app, ["lock", "i3d-rgb-imagenet"]).exit_code == 1      # a lock entry is not overwritten
    assert runner.invoke(app, ["lock", "i3d-rgb-imagenet", "--replace"]).exit_code == 0
    assert weights.resolve("i3d-rgb-imagenet") == rgb


def test_a_locked_snapshot_folder_is_checked_file_by_file(offline):
    from safetensors.torch import save_file

    folder = offline / "sd-v1-5" / "unet"
    folder.mkdir(parents=True)
    save_file({"w": torch.ones(3)}, str(folder / "diffusion_pytorch_model.safetensors"))
    (folder / "config.json").write_text("{}")
    assert weights.verify("sd-v1-5")["state"] == "unverifiable"
    weights.lock("sd-v1-5")
    assert weights.verify("sd-v1-5")["state"] == "ok"
    (folder / "config.json").write_text('{"x": 1}')
    with pytest.raises(WeightsCorrupt, match="sd-v1-5"):
        weights.resolve("sd-v1-5")


def test_a_verified_fetch_records_the_digest(offline, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setattr(weights, "_fetch_url", lambda w, target: _tensor_file(target))   # stands in for the download
    path = weights.fetch("i3d-rgb-imagenet")
    assert weights.read_lock()["i3d-rgb-imagenet"]["sha256"] == weights.sha256_of(path)


def test_an_unloadable_metric_checkpoint_fails_the_run_before_generation(offline, tmp_path):
    from flash_bench.config import RunConfig, method_cells
    from flash_bench.runner import run
    from tests.conftest import make_folder_dataset

    bad = _evil_file(offline / "rgb_imagenet.pt")
    root = make_folder_dataset(tmp_path / "data", actions=("wave",), n_train=1, n_test=1)
    with pytest.raises(WeightsCorrupt, match=f"{bad}: does not load as tensors"):
        run(RunConfig(dataset="folder", root=str(root), cells=method_cells(["static"]), num_frames=8, size=32,
                      profile="paper", metrics=("cosine_rgb",)), tmp_path / "run")
    from flash_bench.store import RunStore

    store = RunStore(tmp_path / "run")
    assert store.records() == [] and store.read_manifest()["status"] == "failed"


def test_a_pickle_named_safetensors_for_open_clip_is_refused_before_any_work(offline):
    import pickle

    from flash_bench.scoring import check_weights

    path = offline / WEIGHTS["clip-vit-l-14-openai"].local_name
    path.write_bytes(pickle.dumps({"visual.proj": [0.0] * 8}))
    with pytest.raises(WeightsCorrupt, match=f"{path}: does not load as tensors"):
        check_weights(["text_alignment"], "paper")
    assert weights.verify("clip-vit-l-14-openai")["state"] == "unloadable"


def test_a_checkpoint_with_wrong_keys_fails_the_run_before_any_video(offline, tmp_path):
    """An I3D file that loads as tensors but does not fit InceptionI3d: the run stops before generating, naming
    the file (once it was found only when scoring began, after every video had been made)."""
    import torch

    from flash_bench.config import RunConfig, method_cells
    from flash_bench.runner import run
    from flash_bench.scoring import WeightsBroken
    from flash_bench.store import RunStore
    from tests.conftest import make_folder_dataset

    bad = offline / WEIGHTS["i3d-rgb-imagenet"].local_name
    torch.save({"conv.weight": torch.zeros(3, 3)}, bad)
    root = make_folder_dataset(tmp_path / "data")
    cfg = RunConfig(dataset="folder", root=str(root), cells=method_cells(["static"]), profile="paper", num_frames=8,
                    size=32, metrics=("cosine_rgb",))
    with pytest.raises(WeightsBroken, match=f"i3d_rgb.*{bad}"):
        run(cfg, tmp_path / "run")
    store = RunStore(tmp_path / "run")
    assert store.records() == [] and store.read_manifest()["status"] == "failed"
    assert not list((tmp_path / "run").glob("videos/**/*.mp4"))
