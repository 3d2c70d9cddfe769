"""Experiments: one declaration per paper table (cells × dataset × metrics + layout + paper numbers).

A :class:`Cell` is one printed row: a method with its settings. Its :attr:`Cell.label` is the method's
folder name in the run dir and is derived from the *configuration only* (method, FLASH variant switches,
settings that differ from FLASH's paper defaults, shots, joint training) — never from the table — so the
same configuration gets the same label in every experiment and its fits and videos are reused (Table 2's
#5 is Table A1's #5 at 16 shots and Table A2's #5).

Label rule: ``<method>`` + ``#<variant>`` when the FLASH switches match ablation preset #1–#5 (#6 is the
full model, plain ``flash``) + ``@key=value`` for every other option that differs from its default
(sorted) + ``@shots=N`` + ``@joint``. Examples: ``flash``, ``flash#5``, ``flash#3@tau=75``,
``flash#1@shots=8``, ``flash#5@joint``, ``flash@decoder_branches=warp``.

Any experiment runs on ``synthetic``: paper action ids map to synthetic ones through
:data:`SYNTHETIC_ACTIONS` (the 12 HAA500 actions have synthetic twins of the same id; UCF Sports golf
swing → ``chopping_wood``, a two-handed swing of a long tool from over the shoulder down through the
body's line; lifting → ``ice_bucket_challenge``, both hands raising a load from the chest to over the head).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from flash_bench.registry import Registry
from flash_bench.variants import FULL_MODEL, VARIANT_SWITCHES

PAPER_METRICS = ("text_alignment", "image_alignment", "temporal_consistency", "cd_fvd", "cosine_rgb", "cosine_flow")

HAA500_ACTIONS = ("push_up", "arm_wave", "shoot_dance", "running_in_place", "sprint_run", "soccer_shoot",
                  "drinking_from_cup", "balance_beam_jump", "canoeing_sprint", "chopping_wood",
                  "ice_bucket_challenge", "hugging_human")
ABLATION_ACTIONS = ("sprint_run", "soccer_shoot", "canoeing_sprint", "hugging_human")  # paper §4.2, A4.2
UCF_ACTIONS = ("golf_swing", "lifting")

SYNTHETIC_ACTIONS: dict[str, str] = {
    **{a: a for a in HAA500_ACTIONS},
    "golf_swing": "chopping_wood",
    "lifting": "ice_bucket_challenge",
}

# FLASH's ablation presets (Table 2) and Table 2's ✓/✗ columns, both from the one variant table
# (flash_bench/variants.py), and the paper's defaults of the settings Table A2 sweeps.
FLASH_VARIANTS: dict[str, dict[str, bool]] = {f"#{n}": dict(s) for n, s in VARIANT_SWITCHES.items()}
FLASH_SWITCHES = tuple(VARIANT_SWITCHES[FULL_MODEL])        # strong_aug, motion_align, corr_align, decoder
FLASH_MARKS = {row: tuple("✓" if on else "✗" for on in s.values()) for row, s in FLASH_VARIANTS.items()}
FLASH_FULL = f"#{FULL_MODEL}"                               # the full model: plain ``flash``
FLASH_DEFAULTS: dict[str, object] = {**FLASH_VARIANTS[FLASH_FULL], "tau": 90, "p": 0.5, "decoder_branches": "both"}
METHOD_DEFAULTS: dict[str, dict[str, object]] = {"flash": FLASH_DEFAULTS}


def _fmt(v: object) -> str:
    return str(v).lower() if isinstance(v, bool) else str(v)


def _variant(method: str, options: dict) -> str | None:
    """The ablation preset (#1–#5) the switches match; None for the full model or non-FLASH methods."""
    if method != "flash":
        return None
    switches = {k: options.get(k, FLASH_DEFAULTS[k]) for k in FLASH_SWITCHES}
    return next((name for name, preset in FLASH_VARIANTS.items() if preset == switches and name != FLASH_FULL), None)


@dataclass(frozen=True)
class Cell:
    """One printed row. ``display``: values of the experiment's setting columns after the first."""

    row: str
    method: str
    options: dict = field(default_factory=dict, hash=False)
    shots: int | None = None                  # None: every training video (16 in the paper)
    actions: tuple[str, ...] | None = None    # None: the experiment's actions
    joint: bool = False                       # one model trained on all of ``actions``
    display: tuple[str, ...] = ()
    paper_row: str | None = None              # row_id in results/paper/<table>.csv
    reference: bool = False                   # static/oracle: printed, never ranked
    group: int = 0                            # best/second are ranked within a group

    @property
    def label(self) -> str:
        variant = _variant(self.method, self.options)
        defaults = dict(METHOD_DEFAULTS.get(self.method, {}))
        if variant:
            defaults.update(FLASH_VARIANTS[variant])
        extras = [f"{k}={_fmt(v)}" for k, v in sorted(self.options.items())
                  if k not in defaults or defaults[k] != v]
        extras += [f"shots={self.shots}"] if self.shots is not None else []
        extras += ["joint"] if self.joint else []
        return self.method + (variant or "") + "".join("@" + e for e in extras)


@dataclass(frozen=True)
class Experiment:
    name: str
    table: str                                # "1", "2", "A1", "A2", "A3" or "ci"
    title: str
    datasets: tuple[str, ...]                 # the paper's first; "synthetic" always works
    actions: tuple[str, ...]                  # action ids of the paper's dataset
    cells: tuple[Cell, ...]
    metrics: tuple[str, ...] = PAPER_METRICS
    key_headers: tuple[str, ...] = ("Method",)
    paper_csv: str | None = None              # results/paper/<file>.csv
    anchor: str | None = "flash"              # label FLASH is paired-tested from (--ci)
    synthetic_actions: dict = field(default_factory=lambda: dict(SYNTHETIC_ACTIONS), hash=False)
    limit: int | None = None                  # test items per action (None: all)

    def dataset_actions(self, actions: tuple[str, ...], dataset: str) -> tuple[str, ...]:
        """Paper action ids → the ids of ``dataset`` (synthetic twins on ``synthetic``)."""
        if dataset != "synthetic":
            return tuple(actions)
        return tuple(dict.fromkeys(self.synthetic_actions[a] for a in actions))

    def cell_actions(self, cell: Cell, dataset: str) -> tuple[str, ...]:
        return self.dataset_actions(cell.actions or self.actions, dataset)

    def unique_cells(self) -> tuple[Cell, ...]:
        """One cell per label (a row the paper prints twice is run once)."""
        first: dict[str, Cell] = {}
        for c in self.cells:
            first.setdefault(c.label, c)
        return tuple(first.values())


def experiment_cells(exp: Experiment, dataset: str):
    """(runner cells, the experiment's actions on ``dataset``) for ``flash-bench run --experiment``.

    Joint-training cells carry ``options["joint_actions"]`` (the dataset's action ids trained together).
    """
    from flash_bench.config import Cell as RunCell

    cells = []
    for c in exp.unique_cells():
        options = dict(c.options)
        if c.joint:
            options["joint_actions"] = exp.cell_actions(c, dataset)
        restrict = exp.cell_actions(c, dataset) if c.actions else None
        cells.append(RunCell(label=c.label, method=c.method, options=options, shots=c.shots, actions=restrict))
    return tuple(cells), exp.dataset_actions(exp.actions, dataset)


EXPERIMENTS: Registry = Registry("experiment", {
    "table1": "flash_bench.experiments.table1:TABLE1",
    "table2": "flash_bench.experiments.table2:TABLE2",
    "tableA1": "flash_bench.experiments.table_a1:TABLE_A1",
    "tableA2": "flash_bench.experiments.table_a2:TABLE_A2",
    "tableA3": "flash_bench.experiments.table_a3:TABLE_A3",
    "ci": "flash_bench.experiments.ci:CI",
})
TABLE_EXPERIMENTS = {"1": "table1", "2": "table2", "A1": "tableA1", "A2": "tableA2", "A3": "tableA3", "ci": "ci"}
