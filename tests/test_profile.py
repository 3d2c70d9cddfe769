"""The Profile type: one parse with one error at every entry point, the same bytes as the bare string in every
key and record, and the defaults `run` and `evaluate` share (profile by dataset, CUDA when present)."""
import json

import pytest
from typer.testing import CliRunner

from flash_bench.types import InputError, Profile


def test_a_profile_is_its_value_in_json_paths_and_content_keys():
    """Item keys, manifests and run-dir names made from a Profile are byte for byte those of the bare string
    (the CI golden run and users' run dirs are keyed by them)."""
    from flash.config import FlashConfig
    from flash_bench.store import canonical, content_key

    for p in Profile:
        assert json.dumps({"profile": p}) == json.dumps({"profile": p.value})
        assert content_key({"method": {"profile": p}}) == content_key({"method": {"profile": p.value}})
        assert canonical([p]) == canonical([p.value]) and f"{p}" == str(p) == "-".join([p]) == p.value
        assert {p.value: 1}[p] == 1 and {p: 1}[p.value] == 1   # one dict key (PROFILES, weights tables)
    cfg = FlashConfig(profile="paper")
    assert cfg.profile is Profile.PAPER and json.loads(json.dumps(cfg.to_dict()))["profile"] == "paper"
    assert FlashConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg   # a checkpoint's config round-trips


@pytest.mark.parametrize("make", ["RunConfig", "MethodContext", "FlashConfig", "Featurisers", "profile_config",
                                  "load_base", "load_vae", "profile_geometry"])
def test_every_python_entry_point_parses_the_profile_once_with_one_error(make):
    """A bad profile given to any constructor or loader of the Python API is one InputError naming the value —
    never silently the paper branch of an ``if profile == "tiny"``."""
    from flash.base_model import load_base
    from flash.config import FlashConfig, profile_config
    from flash.train_decoder import load_vae
    from flash_bench.config import RunConfig, profile_geometry
    from flash_bench.scoring import Featurisers
    from flash_bench.types import MethodContext

    calls = {"RunConfig": lambda p: RunConfig(profile=p), "FlashConfig": lambda p: FlashConfig(profile=p),
             "MethodContext": lambda p: MethodContext(profile=p, size=32, num_frames=8),
             "Featurisers": Featurisers, "profile_config": profile_config, "load_base": load_base,
             "load_vae": load_vae, "profile_geometry": profile_geometry}
    with pytest.raises(InputError, match=r"^profile must be tiny or paper, got 'Tiny'$"):
        calls[make]("Tiny")
    if make in ("RunConfig", "MethodContext", "FlashConfig"):
        assert calls[make]("paper").profile is Profile.PAPER   # stored as the type, whatever was given


def test_run_config_from_a_manifest_holds_the_type():
    from flash_bench.config import RunConfig

    cfg = RunConfig.from_dict(json.loads(json.dumps(RunConfig(profile=Profile.PAPER).to_dict())))
    assert cfg.profile is Profile.PAPER and cfg == RunConfig(profile="paper")


def test_method_context_has_no_geometry_default():
    """The run's size and frames always decide a method's geometry; a context without them is a TypeError, not a
    silent 64 px x 16 frames."""
    from flash_bench.types import MethodContext

    with pytest.raises(TypeError, match="size"):
        MethodContext(profile="tiny")
    ctx = MethodContext(size=32, num_frames=8)
    assert (ctx.profile, ctx.size, ctx.num_frames) == (Profile.TINY, 32, 8)


def test_evaluate_defaults_like_run(tmp_path, monkeypatch):
    """`evaluate` and `validate-metrics` take the profile from the dataset and the device from the machine, as `run`
    does: tiny on synthetic, paper elsewhere; CUDA when torch sees one (once: CPU always)."""
    import torch

    import flash_bench.runner as runner_module
    import flash_bench.validate as validate_module
    from flash_bench.cli.main import app

    seen = {}

    def fake_evaluate(videos, ds, run_dir, *, profile, device, **kw):
        seen["evaluate"] = (profile, device)
        raise InputError("stop here")

    def fake_validate(ds, metrics, *, profile, device, **kw):
        seen["validate"] = (profile, device)
        raise InputError("stop here")

    monkeypatch.setattr(runner_module, "evaluate_videos", fake_evaluate)
    monkeypatch.setattr(validate_module, "validate_metrics", fake_validate)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    cli = CliRunner()
    result = cli.invoke(app, ["evaluate", "--videos", str(tmp_path), "--dataset", "synthetic", "--metrics", "none",
                              "--run-dir", str(tmp_path / "run")])
    assert "stop here" in result.output and seen["evaluate"] == (Profile.TINY, "cuda"), result.output
    result = cli.invoke(app, ["validate-metrics", "--metrics", "temporal_consistency"])
    assert "stop here" in result.output and seen["validate"] == (Profile.TINY, "cuda"), result.output
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    cli.invoke(app, ["evaluate", "--videos", str(tmp_path), "--dataset", "synthetic", "--metrics", "none",
                     "--run-dir", str(tmp_path / "run")])
    assert seen["evaluate"] == (Profile.TINY, "cpu")


def test_evaluate_videos_takes_the_profile_from_the_dataset(tmp_path):
    """The Python API too: ``evaluate_videos`` on synthetic without a profile is tiny (it was the paper's)."""
    from flash_bench.datasets.synthetic import SyntheticDataset
    from flash_bench.runner import evaluate_videos

    (tmp_path / "videos").mkdir()
    store = evaluate_videos(tmp_path / "videos", SyntheticDataset(), tmp_path / "run", metrics=[],
                            cache_dir=tmp_path / "cache")
    assert store.read_manifest()["profile"] == "tiny"
