"""House rules that can be checked mechanically: data flows one way, registries match module names."""
import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _module(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def _loaded(modules: list[str]) -> set[str]:
    """Every module in ``sys.modules`` after a fresh interpreter imports ``modules`` (transitive imports, lazy ones
    excluded: they only load when a function runs)."""
    code = "import importlib, sys\nfor m in sys.argv[1:]: importlib.import_module(m)\nprint('\\n'.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code, *modules], capture_output=True, text=True, cwd=ROOT,
                         timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    return set(out.stdout.split())


def _violations(files, forbidden):
    """``module loads name`` for each forbidden module any of ``files`` loads, transitively. One interpreter imports
    them all (imports only add modules, so a clean union means each is clean); a dirty union is then traced to
    its modules one interpreter each."""
    def hits(loaded):   # the forbidden names that are loaded (a package or any module of it)
        return sorted(x for x in forbidden if any(n == x or n.startswith(x + ".") for n in loaded))

    modules = [_module(f) for f in files]
    if not hits(_loaded(modules)):
        return []
    return [f"{m} loads {n}" for m in modules for n in hits(_loaded([m]))]


MODEL_LIBRARIES = ["torch", "torchvision", "diffusers", "transformers", "open_clip"]
REPORT_SIDE = ("report", "stats", "plots", "regress", "paper_numbers", "results", "gallery", "user_study", "validate")
ENTRY_SCRIPTS = ("flash_bench/__main__.py",)   # runs the CLI when imported: checked through flash_bench.cli.main
# rule -> (files, modules none of them may load at import, transitively)
RULES = {
    "the suite never loads a method": (
        [p for p in ROOT.glob("flash_bench/**/*.py") if str(p.relative_to(ROOT)) not in ENTRY_SCRIPTS],
        ["flash", "baselines"]),   # methods are reached through the registry's lazy "module:attr" strings
    "the command line loads no model library (instant --help)": (
        [*ROOT.glob("flash_bench/cli/*.py")], [*MODEL_LIBRARIES, "flash_bench.datasets", "flash_bench.metrics"]),
    "metrics reach no method or dataset": (
        [*ROOT.glob("flash_bench/metrics/*.py"), *ROOT.glob("flash_bench/features/*.py"),
         ROOT / "flash_bench/yardstick.py"], ["flash", "baselines", "flash_bench.datasets", "flash_bench.runner"]),
    "the report side loads no model": (
        [ROOT / f"flash_bench/{n}.py" for n in REPORT_SIDE],
        [*MODEL_LIBRARIES, "flash", "baselines", "flash_bench.features", "flash_bench.scoring", "flash_bench.runner"]),
    "methods never load metrics": (
        [*ROOT.glob("flash/*.py"), *ROOT.glob("baselines/*.py")],
        ["flash_bench.metrics", "flash_bench.features", "flash_bench.scoring", "flash_bench.report",
         "flash_bench.results"]),
    "baselines never load the method under test": ([*ROOT.glob("baselines/*.py")], ["flash"]),
    "types is a leaf": ([ROOT / "flash_bench/types.py"], ["flash", "baselines", *MODEL_LIBRARIES]),
}


@pytest.mark.parametrize("rule", RULES)
def test_import_rules(rule):
    files, forbidden = RULES[rule]
    assert files and not _violations(files, forbidden)


def test_every_module_is_under_a_rule():
    """No module escapes the transitive checks: every .py file of the three packages is in at least one rule."""
    covered = {f for files, _ in RULES.values() for f in files}
    every = [p for pkg in ("flash", "flash_bench", "baselines") for p in ROOT.glob(f"{pkg}/**/*.py")]
    assert not sorted(str(p.relative_to(ROOT)) for p in every
                      if p not in covered and str(p.relative_to(ROOT)) not in ENTRY_SCRIPTS)


READS_THE_RUN_DIR = ("scoring", "requests", "results", "report", "regress", "stats", "plots", "gallery", "user_study")
OPENS_A_DATASET = ("flash_bench.datasets", "flash_bench.runner", "flash", "baselines")


def _imports(path: Path) -> set[str]:
    """Every module and ``module.name`` an import statement anywhere in ``path`` names (function bodies included)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            out |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
    return out


def test_scoring_and_the_report_side_read_only_the_run_dir():
    """Scoring, report, gallery and user study never open a dataset: no module they load at import (transitively)
    is a dataset, the runner or a method, and no import anywhere in them (lazy ones included) names one, or the
    registries of datasets and methods."""
    files = [ROOT / f"flash_bench/{n}.py" for n in READS_THE_RUN_DIR]
    assert not _violations(files, list(OPENS_A_DATASET))
    forbidden = (*OPENS_A_DATASET, "flash_bench.registry.DATASETS", "flash_bench.registry.METHODS")
    assert not [f"{f.name} imports {name}" for f in files for name in sorted(_imports(f))
                if any(name == x or name.startswith(x + ".") for x in forbidden)]


def test_the_import_check_sees_a_lazy_dataset_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from flash_bench.registry import DATASETS\n    return DATASETS\n")
    assert "flash_bench.registry.DATASETS" in _imports(bad)


def test_the_check_sees_transitive_imports_and_names_the_module(tmp_path, monkeypatch):
    """The mechanism itself: a module that loads torch only through another module is caught, and a dirty union
    is traced to the module that is dirty (its own interpreter), not blamed on its neighbours."""
    assert "torch" in _loaded(["flash.sampling"]) and "flash" not in _loaded(["flash_bench.types"])
    package = tmp_path / "probe"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "clean.py").write_text("import json\n")
    (package / "via.py").write_text("import flash_bench.cross_frame_attention\n")   # torch, one step removed
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    monkeypatch.setenv("PYTHONPATH", f"{tmp_path}{os.pathsep}{Path(__file__).resolve().parents[1]}")
    assert _violations([package / "clean.py", package / "via.py"], ["torch"]) == ["probe.via loads torch"]


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
