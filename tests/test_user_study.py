"""The A4.1 user-study kit: anonymisation, control questions, and the analysis of hand-made answers."""
from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from flash_bench.cli.gallery import userstudy_app
from flash_bench.store import RunStore
from flash_bench.types import InputError
from flash_bench.user_study import analyze_study, build_study, read_responses
from flash_bench.video_io import read_image, read_video
from test_gallery import browser, make_run  # noqa: F401  (browser is a fixture)

METHODS = ("flash", "lamp", "dynamicrafter", "oracle")
STUDIED = METHODS[:3]                       # oracle is a reference method: left out by default
WORKER_FILES = ("forms", "mturk_template.html", "mturk_batch.csv", "media")


@pytest.fixture(scope="module")
def kit(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("study")
    run = make_run(tmp, methods=METHODS)
    key = build_study(run, tmp / "kit", per_action=2, seed=3)
    return tmp, key


def worker_facing(root: Path) -> list[Path]:
    return [p for name in WORKER_FILES for p in ([root / name] if (root / name).is_file()
                                                 else sorted((root / name).rglob("*")))]


def mean_abs(a, b) -> float:
    return float(np.abs(a.astype(int) - b.astype(int)).mean())


def test_no_method_name_reaches_participants(kit):
    tmp, key = kit
    files = worker_facing(tmp / "kit")
    assert len(files) > 10
    for p in files:
        text = p.name + (p.read_bytes().decode("latin-1") if p.is_file() else "")
        for m in METHODS:
            assert m not in text.lower(), f"{p} leaks method name {m!r}"
    assert set(key["methods"]) == set(STUDIED)
    assert "flash" in (tmp / "kit" / "key.json").read_text()       # the private key does name them


def test_labels_are_a_bijection_onto_the_methods(kit):
    tmp, key = kit
    mains = [q for pair in key["pairs"].values() for q in pair.values() if q["kind"] == "main"]
    for q in mains:
        labels = sorted(q["labels"])
        assert labels == [chr(65 + k) for k in range(len(STUDIED))]
        assert sorted(q["labels"].values()) == sorted(STUDIED)                # onto and one-to-one
        assert len(set(q["media"].values())) == len(labels)
    orders = {tuple(q["labels"][c] for c in sorted(q["labels"])) for q in mains}
    assert len(orders) > 1                                                      # shuffled, not fixed


def test_anonymous_videos_show_what_the_key_says(kit):
    tmp, key = kit
    run = tmp / "run"
    for pair in key["pairs"].values():
        q = next(q for q in pair.values() if q["kind"] == "main")
        for label, method in q["labels"].items():
            shown = read_video(tmp / "kit" / f"{q['media'][label]}.mp4")
            truth = read_video(RunStore(run).video_path(method, q["action"], q["item"]))
            others = [read_video(RunStore(run).video_path(m, q["action"], q["item"])) for m in STUDIED if m != method]
            assert mean_abs(shown, truth) < 3 < min(mean_abs(shown, o) for o in others)


def test_items_per_action_exclude_failed_videos(kit):
    _, key = kit
    mains = [q for pair in key["pairs"].values() for q in pair.values() if q["kind"] == "main"]
    by_action = {}
    for q in mains:
        by_action.setdefault(q["action"], []).append(q["item"])
    assert {a: len(v) for a, v in by_action.items()} == {"wave": 2, "jump": 2}
    assert all(len(set(v)) == len(v) for v in by_action.values())
    assert "t1" not in by_action["jump"]     # flash (the first method) failed jump/t1: not askable


def test_control_questions_are_well_formed(kit):
    tmp, key = kit
    data = tmp / "data"
    orders = set()
    for pair in key["pairs"].values():
        kinds = [pair["q1"]["kind"], pair["q2"]["kind"]]
        assert sorted(kinds) == ["control", "main"]
        orders.add(tuple(kinds))
        c = pair["q1"] if kinds[0] == "control" else pair["q2"]
        assert len(c["labels"]) == len(STUDIED)
        real = [lab for lab, src in c["labels"].items() if src.startswith("real:")]
        assert real == [c["correct"]]
        assert c["labels"][c["correct"]] == f"real:{c['action']}/{c['item']}"
        kinds_of = {src.split(":")[0] for src in c["labels"].values()}
        assert kinds_of == {"real", "static", "mismatch"}
        gt = read_video(data / c["action"] / "test" / f"{c['item']}.mp4")
        ref = read_image(data / c["action"] / "test" / f"{c['item']}.png")
        for label, src in c["labels"].items():
            video = read_video(tmp / "kit" / f"{c['media'][label]}.mp4")
            if src.startswith("real:"):
                assert mean_abs(video, gt) < 3
            elif src.startswith("static:"):
                assert mean_abs(video, np.repeat(ref[None], len(video), 0)) < 3   # the reference, frozen
            else:                                                               # same action, other clip
                other = src.split(":")[1]
                assert other.startswith(c["action"] + "/") and other != f"{c['action']}/{c['item']}"
                assert mean_abs(video, gt) > 3
    assert orders == {("main", "control"), ("control", "main")}                 # shuffled within pairs


def test_mturk_batch_and_forms_agree_with_the_key(kit):
    tmp, key = kit
    with open(tmp / "kit" / "mturk_batch.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["pair_id"] for r in rows] == list(key["pairs"])
    template = (tmp / "kit" / "mturk_template.html").read_text()
    assert set(re.findall(r"\$\{(\w+)\}", template)) == set(rows[0])             # every variable has a column
    assert 'name="q1"' in template and 'name="q2"' in template
    for r in rows:
        pair = key["pairs"][r["pair_id"]]
        for q in ("q1", "q2"):
            srcs = [r[f"{q}_video_{lab}_url"] for lab in sorted(pair[q]["labels"])]
            assert srcs == [pair[q]["media"][lab] + ".mp4" for lab in sorted(pair[q]["labels"])]
        form = (tmp / "kit" / "forms" / f"{r['pair_id']}.html").read_text()
        assert re.findall(r'<source src="\.\./(media/\w+)\.mp4"', form) == \
            [pair[q]["media"][lab] for q in ("q1", "q2") for lab in sorted(pair[q]["labels"])]


# ----------------------------------------------------------------------------------------------
# Analysis of hand-made answers
# ----------------------------------------------------------------------------------------------
HAND_KEY = {"version": 1, "methods": ["flash", "lamp", "pia"], "tiny": True, "pairs": {
    "p1": {"q1": {"kind": "main", "action": "wave", "item": "t0", "labels": {"A": "lamp", "B": "flash", "C": "pia"}},
           "q2": {"kind": "control", "action": "jump", "item": "t1", "correct": "B",
                  "labels": {"A": "static:jump/t1", "B": "real:jump/t1", "C": "mismatch:jump/t0"}}},
    "p2": {"q1": {"kind": "control", "action": "wave", "item": "t1", "correct": "C",
                  "labels": {"A": "mismatch:wave/t0", "B": "static:wave/t1", "C": "real:wave/t1"}},
           "q2": {"kind": "main", "action": "jump", "item": "t2", "labels": {"A": "flash", "B": "pia", "C": "lamp"}}}}}
# worker, pair, q1, q2 -> (hand) verdict
HAND_ANSWERS = [
    ("w1", "p1", "B", "B"),   # valid: flash (wave)
    ("w1", "p2", "C", "A"),   # valid: flash (jump)
    ("w2", "p1", "A", "B"),   # valid: lamp (wave)
    ("w2", "p2", "A", "B"),   # control failed (A != C): invalid
    ("w3", "p1", "C", "A"),   # control failed: invalid
    ("w3", "p2", "C", "C"),   # valid: lamp (jump); dropped with strict_workers (w3 failed p1)
    ("w4", "p1", "", "B"),    # main unanswered: invalid
    ("w4", "p2", "C", "B"),   # valid: pia (jump)
]


def write_hand_files(tmp: Path) -> tuple[Path, Path]:
    key = tmp / "key.json"
    key.write_text(json.dumps(HAND_KEY))
    responses = tmp / "Batch_1_batch_results.csv"
    with open(responses, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["HITId", "WorkerId", "AssignmentStatus", "Input.pair_id", "Input.q1_prompt",
                    "Answer.q1", "Answer.q2"])
        for k, (worker, pair, a1, a2) in enumerate(HAND_ANSWERS):
            w.writerow([f"H{k}", worker, "Submitted", pair, "a person, waving", a1, a2])
    return responses, key


def test_analysis_of_hand_made_answers(tmp_path):
    responses, key = write_hand_files(tmp_path)
    r = analyze_study(responses, key)
    assert (len(r.responses), r.valid) == (8, 5)
    reasons = r.responses.loc[~r.responses["valid"], "reason"].value_counts()
    assert dict(reasons) == {"failed control": 2, "no answer": 1}
    pref = r.preference.set_index("method")
    assert pref["count"].to_dict() == {"flash": 2, "lamp": 2, "pia": 1}
    assert pref["rate"].to_dict() == pytest.approx({"flash": 0.4, "lamp": 0.4, "pia": 0.2})
    # resampling 5 responses makes the bootstrap rate Binomial(5, p)/5: its 2.5/97.5% quantiles, in closed form
    from scipy.stats import binom

    for m in pref.index:
        expected = binom.ppf([0.025, 0.975], 5, pref.loc[m, "rate"]) / 5
        assert (pref.loc[m, "ci_low"], pref.loc[m, "ci_high"]) == pytest.approx(tuple(expected))
    per = r.per_action.set_index(["action", "method"])
    assert per.loc[("wave", "flash"), "rate"] == pytest.approx(0.5) and per.loc[("wave", "pia"), "count"] == 0
    assert per.loc[("jump", "pia"), "rate"] == pytest.approx(1 / 3) and per.loc[("jump", "lamp"), "valid"] == 3


def test_strict_workers_drop_every_answer_of_a_failed_worker(tmp_path):
    responses, key = write_hand_files(tmp_path)
    r = analyze_study(responses, key, strict_workers=True)
    assert r.valid == 3
    pref = r.preference.set_index("method")
    assert pref["rate"].to_dict() == pytest.approx({"flash": 2 / 3, "lamp": 0.0, "pia": 1 / 3})
    assert (pref.loc["lamp", "ci_low"], pref.loc["lamp", "ci_high"]) == (0.0, 0.0)   # never chosen


def test_analysis_cli_writes_tables_and_pie(tmp_path):
    responses, key = write_hand_files(tmp_path)
    out = tmp_path / "analysis"
    res = CliRunner().invoke(userstudy_app, ["analyze", str(responses), "--key", str(key), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "valid: 5" in res.output and "| flash | 2 | 40.0% |" in res.output and "TINY" in res.output
    pie = np.asarray(Image.open(out / "preference_pie.png").convert("RGB"))
    assert pie.shape[0] > 200 and pie.std() > 10
    assert (out / "per_action.csv").read_text().count("\n") == 1 + 2 * 3


def test_bad_response_files_name_the_problem(tmp_path):
    responses, key = write_hand_files(tmp_path)
    bad = tmp_path / "bad.csv"
    bad.write_text("WorkerId,Answer.q1,Answer.q2\nw1,A,B\n")
    with pytest.raises(InputError, match="Input.pair_id"):
        read_responses(bad)
    bad.write_text("WorkerId,Input.pair_id,Answer.q1,Answer.q2\nw1,p9,A,B\n")
    with pytest.raises(InputError, match="p9"):
        analyze_study(bad, key)


def test_built_kit_round_trip(kit, tmp_path):
    """Answers made from the built key (flash always, control right; or control wrong) analyse as expected."""
    _, key_dict = kit
    key = tmp_path / "key.json"
    key.write_text(json.dumps(key_dict))
    rows = []
    for pid, pair in key_dict["pairs"].items():
        answers = {}
        for q, spec in pair.items():
            if spec["kind"] == "main":
                answers[q] = next(lab for lab, m in spec["labels"].items() if m == "flash")
            else:
                answers[q] = spec["correct"]
        rows.append(("good", pid, answers["q1"], answers["q2"]))
        wrong = {q: ("A" if a != "A" else "B") if pair[q]["kind"] == "control" else a for q, a in answers.items()}
        rows.append(("careless", pid, wrong["q1"], wrong["q2"]))
    responses = tmp_path / "r.csv"
    with open(responses, "w", newline="") as f:
        csv.writer(f).writerows([("WorkerId", "Input.pair_id", "Answer.q1", "Answer.q2"), *rows])
    r = analyze_study(responses, key)
    assert r.valid == len(key_dict["pairs"])
    assert r.preference.set_index("method")["rate"].to_dict() == {"flash": 1.0, "lamp": 0.0, "dynamicrafter": 0.0}


def test_form_plays_and_exports_answers_in_chromium(kit, browser):  # noqa: F811
    tmp, key = kit
    pid = next(iter(key["pairs"]))
    browser.events.clear()
    target, session = browser.open((tmp / "kit" / "forms" / f"{pid}.html").as_uri())
    state = browser.evaluate(session, """new Promise(done => setTimeout(() => {
      const vids = Array.from(document.querySelectorAll('video'));
      document.querySelector('input[name=q1][value=B]').checked = true;
      document.querySelector('input[name=q2][value=A]').checked = true;
      document.querySelector('input[name=WorkerId]').value = 'W9';
      document.querySelector('button[type=submit]').click();
      done({ready: vids.map(v => v.readyState >= 2 && !v.error && !v.paused),
            answer: document.getElementById('answer').value});
    }, 2000))""")
    browser.send("Target.closeTarget", {"targetId": target})
    assert browser.errors() == []
    assert len(state["ready"]) == 2 * len(STUDIED) and all(state["ready"])
    assert state["answer"] == f"WorkerId,Input.pair_id,Answer.q1,Answer.q2\nW9,{pid},B,A\n"


def test_study_without_requests_uses_the_oracle_videos(tmp_path):
    run = make_run(tmp_path, methods=("flash", "lamp", "oracle"), actions=("wave",), n_test=3, with_requests=False)
    key = build_study(run, tmp_path / "kit", per_action=1, seed=0)
    (pair,) = key["pairs"].values()
    control = next(q for q in pair.values() if q["kind"] == "control")
    real = read_video(tmp_path / "kit" / f"{control['media'][control['correct']]}.mp4")
    oracle = read_video(RunStore(run).video_path("oracle", "wave", control["item"]))
    assert mean_abs(real, oracle) < 3
    assert "holds no requests" in key["truth"]


def test_build_cli(tmp_path):
    run = make_run(tmp_path, methods=("flash", "lamp", "oracle"), actions=("wave",), n_test=2)
    out = tmp_path / "kit"
    res = CliRunner().invoke(userstudy_app, ["build", str(run), "--out", str(out), "--per-action", "1",
                                             "--methods", "flash,lamp", "--base-url", "https://example.org/s/"])
    assert res.exit_code == 0, res.output
    assert "1 question pairs" in res.output and (out / "key.json").is_file()
    with open(out / "mturk_batch.csv", newline="") as f:
        (row,) = list(csv.DictReader(f))
    assert row["q1_video_A_url"].startswith("https://example.org/s/media/")
    res = CliRunner().invoke(userstudy_app, ["build", str(run), "--out", str(out), "--methods", "flash,pia"])
    assert res.exit_code == 2 and "pia" in res.output


def test_crowd_form_json_answers_are_read(tmp_path):
    responses, key = write_hand_files(tmp_path)
    with open(responses, newline="") as f:
        rows = list(csv.DictReader(f))
    as_json = tmp_path / "json.csv"
    with open(as_json, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["WorkerId", "Input.pair_id", "Answer.taskAnswers"])
        for r in rows:
            w.writerow([r["WorkerId"], r["Input.pair_id"], json.dumps([{"q1": r["Answer.q1"], "q2": r["Answer.q2"]}])])
    assert read_responses(as_json) == read_responses(responses)
