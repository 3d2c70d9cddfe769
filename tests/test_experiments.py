"""Experiment declarations: labels, reuse across tables, paper-row coverage, synthetic mapping, no logic."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from flash_bench import paper_numbers as P
from flash_bench.experiments import (
    EXPERIMENTS,
    FLASH_DEFAULTS,
    FLASH_SWITCHES,
    SYNTHETIC_ACTIONS,
    TABLE_EXPERIMENTS,
    Cell,
    Experiment,
    experiment_cells,
)

ALL = {name: EXPERIMENTS.get(name) for name in EXPERIMENTS.names()}
SYNTHETIC_IDS = {"push_up", "arm_wave", "shoot_dance", "running_in_place", "sprint_run", "soccer_shoot",
                 "drinking_from_cup", "balance_beam_jump", "canoeing_sprint", "chopping_wood",
                 "ice_bucket_challenge", "hugging_human"}
SEVEN = {"ti2v-zero", "sparsectrl", "pia", "dynamicrafter", "dreamvideo", "lamp", "flash"}


def effective(cell: Cell) -> tuple:
    """Everything that changes what a cell computes, with defaults filled in."""
    opts = {**FLASH_DEFAULTS, **cell.options} if cell.method == "flash" else dict(cell.options)
    return cell.method, tuple(sorted(opts.items())), cell.shots, cell.joint, cell.actions if cell.joint else None


def test_registry_names_match_experiments():
    for name, exp in ALL.items():
        assert isinstance(exp, Experiment) and exp.name == name
    assert set(TABLE_EXPERIMENTS.values()) == set(ALL)


def test_one_label_per_configuration_across_all_experiments():
    seen: dict[str, tuple] = {}
    configs: dict[tuple, str] = {}
    for exp in ALL.values():
        for cell in exp.cells:
            cfg = effective(cell)
            assert seen.setdefault(cell.label, cfg) == cfg, f"label {cell.label} names two configurations"
            assert configs.setdefault(cfg, cell.label) == cell.label, f"{cfg} has two labels"


def test_labels_reused_between_tables():
    labels = {name: {c.paper_row: c.label for c in exp.cells if c.paper_row} for name, exp in ALL.items()}
    assert labels["table2"]["#5"] == labels["tableA1"]["#5@shots=16"] == labels["tableA2"]["#5"] == "flash#5"
    assert labels["table2"]["#6"] == labels["tableA2"]["#6@warp+patch"] == labels["table1"]["FLASH"] == "flash"
    assert labels["table2"]["#3"] == labels["tableA2"]["#3@tau=90"] == "flash#3"
    assert labels["tableA1"]["#1@shots=8"] == "flash#1@shots=8"
    assert labels["tableA1"]["#5@shots=16+joint"] == "flash#5@joint"
    assert labels["tableA2"]["#3@tau=75"] == "flash#3@tau=75"


def test_every_paper_row_is_declared_and_exists():
    for exp in ALL.values():
        if exp.paper_csv is None:
            assert not any(c.paper_row for c in exp.cells)
            continue
        assert Path(exp.paper_csv).name == P.TABLE_FILES[exp.table]
        ids = set(P.paper_values(exp.table))
        declared = {c.paper_row for c in exp.cells if c.paper_row}
        assert declared == ids, (exp.name, ids ^ declared)
        # rows are printed in the paper's order (positions of the declared rows are increasing)
        df = P.load_table(exp.table)
        order = [c.paper_row for c in exp.cells if c.paper_row]
        positions = df.drop_duplicates("position")["row_id"].tolist()
        assert order == positions


def test_table1_and_a3_cover_the_seven_methods_and_bracket_them():
    for name in ("table1", "tableA3"):
        cells = ALL[name].cells
        assert {c.method for c in cells if not c.reference} == SEVEN
        assert {c.method for c in cells if c.reference} == {"static", "oracle"}


def test_variants_match_the_paper_in_the_experiments_and_in_the_method():
    """Table 2's switches as the paper prints them (results/paper/table2.csv) are the experiments' presets, their
    ✓/✗ columns, and what the method builds from ``variant=N`` and from the preset's options alike."""
    from flash.method import config_from_options
    from flash_bench.variants import VARIANT_SWITCHES

    paper = P.load_table("2").drop_duplicates("row_id").set_index("row_id")["settings"]
    exp = ALL["table2"]
    assert [c.row for c in exp.cells] == list(paper.index) == [f"#{n}" for n in VARIANT_SWITCHES]
    for cell in exp.cells:
        printed = dict(kv.split("=") for kv in paper[cell.paper_row].split(";"))
        assert cell.options == {k: printed[k] == "yes" for k in FLASH_SWITCHES}, cell.row
        assert cell.display == tuple("✓" if printed[k] == "yes" else "✗" for k in FLASH_SWITCHES), cell.row
        number = int(cell.row[1:])
        by_number, by_options = config_from_options("tiny", {"variant": number}), config_from_options("tiny", cell.options)
        assert by_number == by_options, cell.row
        assert {k: bool(getattr(by_number, k)) for k in FLASH_SWITCHES} == cell.options, cell.row


def _switch_tables(path: Path) -> list[int]:
    """Lines of ``path`` that spell out variant switches: a dict (literal or ``dict(...)``) giving all three
    training switches as constants, or a tuple of Table 2's four ✓/✗ marks."""
    training = {"strong_aug", "motion_align", "corr_align"}
    lines = []
    for node in ast.walk(ast.parse(path.read_text())):
        pairs = (zip(node.keys, node.values) if isinstance(node, ast.Dict) else
                 ((ast.Constant(k.arg), k.value) for k in node.keywords)
                 if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "dict" else ())
        keys = {k.value for k, v in pairs if isinstance(k, ast.Constant) and isinstance(v, ast.Constant)}
        marks = (isinstance(node, ast.Tuple) and len(node.elts) == len(FLASH_SWITCHES)
                 and all(isinstance(e, ast.Constant) and e.value in ("✓", "✗") for e in node.elts))
        if training <= keys or marks:
            lines.append(node.lineno)
    return lines


def test_variant_identity_lives_in_one_table():
    """flash_bench/variants.py is the only place that spells out a variant's switches; flash.config, the
    experiments' presets and Table 2's marks derive from it (there were three copies that could drift apart)."""
    root = Path(__file__).parents[1]
    found = {str(p.relative_to(root)): lines for folder in ("flash", "flash_bench", "baselines")
             for p in sorted((root / folder).rglob("*.py")) if (lines := _switch_tables(p))}
    assert list(found) == ["flash_bench/variants.py"] and len(found["flash_bench/variants.py"]) == 6, found


def test_synthetic_mapping_and_runner_cells():
    for exp in ALL.values():
        assert set(exp.dataset_actions(exp.actions, "synthetic")) <= SYNTHETIC_IDS
    assert SYNTHETIC_ACTIONS["golf_swing"] == "chopping_wood" and SYNTHETIC_ACTIONS["lifting"] == "ice_bucket_challenge"
    cells, actions = experiment_cells(ALL["tableA3"], "synthetic")
    assert actions == ("chopping_wood", "ice_bucket_challenge")
    cells, actions = experiment_cells(ALL["tableA1"], "haa500")
    assert len(cells) == len({c.label for c in cells}) == 10  # the repeated #5 row runs once
    joint = next(c for c in cells if c.label == "flash#5@joint")
    assert joint.options["joint_actions"] == actions == ("sprint_run", "soccer_shoot", "canoeing_sprint", "hugging_human")


FORBIDDEN = (ast.For, ast.While, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp, ast.FunctionDef,
             ast.Lambda, ast.With)


@pytest.mark.parametrize("path", sorted((Path(__file__).parents[1] / "flash_bench" / "experiments").glob("[!_]*.py")))
def test_declaration_files_hold_no_logic(path):
    tree = ast.parse(path.read_text())
    bad = [type(n).__name__ for n in ast.walk(tree) if isinstance(n, FORBIDDEN)]
    calls = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    assert not bad and calls <= {"Experiment", "Cell"}, (path.name, bad, calls)


@pytest.mark.parametrize("profile", ["tiny", "paper"])
def test_every_flash_cell_resolves_and_one_label_is_one_config(profile, monkeypatch):
    """Each FLASH cell of every experiment builds its config in both profiles (Table A2's decoder rows once asked
    for a branch name the decoder does not know), and a label always means the same FlashConfig — the run dir keys
    videos by label (once plain ``flash`` was #5 in the paper profile and #6 in the tiny one)."""
    import flash.method as fm

    # a stand-in path per branch set (the real function still validates the name), so the paper profile needs no
    # trained decoder on disk
    real = fm.decoder_checkpoint
    monkeypatch.setattr(fm, "decoder_checkpoint", lambda prof, decoder, branches="both":
                        None if decoder in (None, False) else
                        (real("tiny", False, branches) or f"/decoders/{branches}.safetensors"))
    configs: dict[str, object] = {}
    for exp in ALL.values():
        for cell in exp.unique_cells():
            if cell.method != "flash":
                continue
            key = fm.config_from_options(profile, cell.options), cell.shots, cell.joint
            assert configs.setdefault(cell.label, key) == key, cell.label
    assert len(set(configs.values())) == len(configs)     # and one configuration has one label
    full = fm.config_from_options(profile, {})
    assert full.decoder and full.motion_align and full.corr_align and full.strong_aug   # plain `flash` is #6
    assert configs["flash"] == (full, None, False)


def test_unknown_decoder_branches_is_one_clear_error():
    from flash.detail_decoder import BRANCHES, DetailDecoderConfig
    from flash.method import config_from_options
    from flash_bench.types import InputError

    with pytest.raises(InputError, match="decoder_branches='attention'"):
        config_from_options("tiny", {"variant": 6, "decoder_branches": "attention"})
    for name in BRANCHES:   # every name the option takes is one the decoder's parser takes
        assert DetailDecoderConfig.parse_branches(name).branches == (name,)
