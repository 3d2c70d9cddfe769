"""The transcribed paper numbers: against the paper text, its prose, and its own cross-table invariants."""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from flash_bench import paper_numbers as P
from flash_bench import report as R

PAPER_TXT = Path(os.environ.get("FLASH_PAPER_TXT", "/work/shared/reference/flash-paper.txt"))
CAPTIONS = {"1": "Table 1.", "2": "Table 2.", "A1": "Table A1.", "A2": "Table A2.", "A3": "Table A3."}
SHAPES = {"1": (7, 7), "2": (6, 6), "A1": (11, 10), "A2": (10, 10), "A3": (7, 7)}  # (printed rows, distinct ids)


@pytest.mark.parametrize("table", list(P.TABLE_FILES))
def test_tables_load_with_the_paper_shape(table):
    df = P.load_table(table)
    rows, ids = SHAPES[table]
    assert df["position"].nunique() == rows and df["row_id"].nunique() == ids
    assert len(df) == rows * 6 and set(df["metric"]) == set(R.METRIC_ORDER[:6])
    for metric, hib in P.directions(table).items():
        assert R.column_info(metric)[1] is hib  # arrows agree with the report's metric table


def _paper_lines(table: str) -> list[list[str]]:
    """Tab-split lines of the paper text between the table's caption and the next blank-run of prose."""
    lines = PAPER_TXT.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(CAPTIONS[table]))
    return [re.sub(r"</?u>", "", line).split("\t") for line in lines[start:start + 25] if "\t" in line]


@pytest.mark.skipif(not PAPER_TXT.exists(), reason=f"paper text not found at {PAPER_TXT} (set FLASH_PAPER_TXT)")
@pytest.mark.parametrize("table", list(P.TABLE_FILES))
def test_every_number_matches_the_paper_text(table):
    df = P.load_table(table)
    raw = P.TABLE_FILES[table]
    text_rows = _paper_lines(table)
    csv = (P.PAPER_DIR / raw).read_text().splitlines()[1:]
    by_pos: dict[int, list[str]] = {}
    for line in csv:  # the value column as written (keeps trailing zeros)
        fields = line.split(",")
        by_pos.setdefault(int(fields[1]), []).append(fields[6])
    data_rows = [r for r in text_rows if len(r) >= 7 and re.fullmatch(r"[\d.]+", r[-1])]
    assert len(data_rows) == df["position"].nunique()
    for pos, values in sorted(by_pos.items()):
        paper_row = data_rows[pos - 1]
        assert paper_row[-6:] == values, (table, pos)
        assert paper_row[0] == df.loc[df["position"] == pos, "row"].iloc[0]


# Numbers quoted in the prose of A4.2 (typed from the sentences, independent of the tables).
PROSE = [("A2", "#3@tau=25", "temporal_consistency", 94.85), ("A2", "#3@tau=25", "cosine_flow", 0.6979),
         ("A2", "#4@p=1.0", "cosine_flow", 0.6934), ("A2", "#5", "temporal_consistency", 95.01),
         ("A2", "#6@warp", "temporal_consistency", 95.35), ("A2", "#5", "text_alignment", 22.52),
         ("A2", "#6@patch", "text_alignment", 22.71), ("A2", "#5", "image_alignment", 76.35),
         ("A2", "#6@patch", "image_alignment", 74.97)]


@pytest.mark.parametrize("table,row,metric,value", PROSE)
def test_numbers_quoted_in_the_prose(table, row, metric, value):
    assert P.paper_values(table)[row][metric] == value


def test_rows_shared_between_tables_agree():
    t2, a1, a2 = P.paper_values("2"), P.paper_values("A1"), P.paper_values("A2")
    for v in ("#1", "#2", "#5"):
        assert a1[f"{v}@shots=16"] == t2[v]
    assert a2["#3@tau=90"] == t2["#3"] and a2["#4@p=0.5"] == t2["#4"]
    assert a2["#5"] == t2["#5"] and a2["#6@warp+patch"] == t2["#6"]


def _paper_marks(table: str) -> dict[str, dict[str, str]]:
    vals = P.paper_values(table)
    t = R.Table("", "", ("Method",), [R.metric_column(m) for m in R.METRIC_ORDER[:6]],
                [R.Row((rid,), v) for rid, v in vals.items()])
    marks: dict[str, dict[str, str]] = {}
    for (i, metric), mark in R.rank_marks(t).items():
        marks.setdefault(metric, {})[t.rows[i].keys[0]] = mark
    return marks


def test_underlines_and_claims_of_table1_and_a3():
    # Table 1: FLASH's Image Alignment is underlined (second); §4.1: FLASH best except Text/Image Alignment,
    # where TI2V-Zero and DreamVideo beat it on text and DynamiCrafter on image alignment.
    m1 = _paper_marks("1")
    assert m1["image_alignment"]["FLASH"] == "second" and m1["image_alignment"]["DynamiCrafter"] == "best"
    for metric in ("temporal_consistency", "cd_fvd", "cosine_rgb", "cosine_flow"):
        assert m1[metric]["FLASH"] == "best"
    t1 = P.paper_values("1")
    assert t1["TI2V-Zero"]["text_alignment"] > t1["FLASH"]["text_alignment"] < t1["DreamVideo"]["text_alignment"]
    # Table A3: FLASH's Temporal Consistency underlined; A4.3: FLASH best on CD-FVD, Cosine RGB and Flow,
    # DynamiCrafter better on Image Alignment and Temporal Consistency.
    m3 = _paper_marks("A3")
    assert m3["temporal_consistency"]["FLASH"] == "second" and m3["temporal_consistency"]["DynamiCrafter"] == "best"
    assert all(m3[m]["FLASH"] == "best" for m in ("cd_fvd", "cosine_rgb", "cosine_flow"))
    assert m3["image_alignment"]["DynamiCrafter"] == "best"
    a3 = P.paper_values("A3")
    assert min(a3["DreamVideo"]["text_alignment"], a3["TI2V-Zero"]["text_alignment"]) > a3["FLASH"]["text_alignment"]


def test_a1_claim_variant5_best_cosine_flow_per_shot_count():
    # A4.2: "Variant #5 consistently outperforms Variants #1 and #2 across different numbers of training videos".
    a1 = P.paper_values("A1")
    for n in (16, 8, 4):
        flows = {v: a1[f"{v}@shots={n}"]["cosine_flow"] for v in ("#1", "#2", "#5")}
        assert max(flows, key=flows.get) == "#5"


def test_unknown_table_and_bad_file(tmp_path):
    from flash_bench.types import InputError

    with pytest.raises(InputError, match="unknown paper table"):
        P.load_table("9")
    (tmp_path / "table1.csv").write_text("table,row\n1,x\n")
    with pytest.raises(InputError, match="columns must be"):
        P.load_table("1", tmp_path)
