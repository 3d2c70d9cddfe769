"""House rules that can be checked mechanically: data flows one way, registries match module names."""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _violations(files, forbidden):
    bad = []
    for f in files:
        for name in _imports(f):
            if any(name == x or name.startswith(x + ".") for x in forbidden):
                bad.append(f"{f.relative_to(ROOT)} imports {name}")
    return bad


def test_types_is_a_leaf():
    assert not [n for n in _imports(ROOT / "flash_bench/types.py") if n.startswith(("flash", "baselines"))]


def test_metrics_never_reach_methods_or_datasets():
    files = [*ROOT.glob("flash_bench/metrics/*.py"), *ROOT.glob("flash_bench/features/*.py")]
    assert not _violations(files, ["flash", "baselines", "flash_bench.datasets", "flash_bench.runner"])


def test_report_side_never_imports_models():
    files = [ROOT / f"flash_bench/{n}.py" for n in ("report", "stats", "plots", "regress", "paper_numbers")]
    forbidden = ["torch", "torchvision", "diffusers", "transformers", "open_clip", "flash", "baselines",
                 "flash_bench.features", "flash_bench.scoring", "flash_bench.runner"]
    assert not _violations(files, forbidden)


def test_methods_never_import_metrics():
    files = [*ROOT.glob("flash/*.py"), *ROOT.glob("baselines/*.py")]
    assert not _violations(files, ["flash_bench.metrics", "flash_bench.features", "flash_bench.scoring",
                                   "flash_bench.report"])


MARKER = "# " + "Copied from"  # diffusers' marker for forked model code


def test_no_copied_model_code():
    offenders = [str(p.relative_to(ROOT)) for p in ROOT.glob("**/*.py")
                 if ".venv" not in p.parts and p.name != "test_architecture.py" and MARKER in p.read_text()]
    assert not offenders


@pytest.mark.parametrize("registry_name", ["METHODS", "DATASETS"])
def test_registry_entries_resolve_to_modules_named_after_them(registry_name):
    from flash_bench import registry

    reg = getattr(registry, registry_name)
    for name in reg.names():
        module = reg.target(name).split(":")[0]
        parts = module.split(".")
        # baselines.ti2v_zero for "ti2v-zero"; the paper's own method is a package: flash.method for "flash"
        assert name.replace("-", "_") in (parts[-1], parts[0]), (name, module)
        assert (ROOT / (module.replace(".", "/") + ".py")).exists(), module
