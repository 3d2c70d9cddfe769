"""The paper's user-study kit (A4.1): anonymised forms with control questions, and their analysis.

Protocol (A4.1). For each action, ``per_action`` random test items; each gives a *main* question: the
reference image, the action description and every method's video, shuffled, labelled "Video A", "Video B", …
with the paper's instruction. Each main question is paired with a *control* question: the real video of a
random test item of a random action beside clearly wrong ones — a static video (its reference image repeated),
then same-action videos that do not match the reference image, then (only when those run out) real videos of
other actions — as many candidates as the main question has, shuffled. Main and control are shuffled within
the pair. A pair is one HIT; the paper had each pair answered by 10 workers (set "assignments per HIT" on MTurk).

``build_study`` writes into ``out``::

    mturk_template.html     the HIT layout for Amazon Mechanical Turk (``${variables}``, fields q1, q2)
    mturk_batch.csv         the batch input file: one row per pair, one column per variable
    forms/index.html, forms/<pair>.html   standalone forms (offline study or preview): same layout
    media/<token>.mp4|.gif|.png            anonymous file names: no method name anywhere
    key.json                PRIVATE: pair -> question kind, labels -> methods, the control's right answer
    README.txt              what to upload and what to keep private

``analyze_study`` reads MTurk's batch results CSV (``WorkerId``, ``Input.pair_id``, ``Answer.q1``,
``Answer.q2``; the standalone forms emit the same columns): a main answer counts only when the same
assignment answered its control question right (``strict_workers``: a worker who failed any control loses
all answers). Preference rates carry 95% percentile-bootstrap intervals over valid responses.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import string
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from flash_bench.gallery import Truth, asset, clip_geometry, esc, load_truth
from flash_bench.results import Run, load_run
from flash_bench.store import atomic_write_bytes, atomic_write_json
from flash_bench.types import InputError

# A4.1 and Figure A4; "seven" becomes the number of candidate videos of the study.
INSTRUCTION = ("You will see a reference image on the left and {n} human action videos on the right, all generated "
               "from that reference image and the same action description. Please carefully select the one video "
               "in each question that: (1) Best matches the action description and displays the action correctly "
               "and smoothly. (2) Maintains the overall appearance of the reference image on the left.")
NUMBERS = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight", 9: "nine", 10: "ten"}
REFERENCE_METHODS = ("oracle", "static")   # not candidates by default: they bracket the methods, they are not ones
KEY_VERSION = 1


@dataclass(frozen=True)
class Candidate:
    label: str          # "A", "B", ... in display order
    source: str         # main: method name; control: "real:<action>/<item>", "static:…", "mismatch:…"
    token: str          # anonymous media stem, e.g. "media/3fa2…"


@dataclass(frozen=True)
class Question:
    kind: str           # "main" | "control"
    action: str
    item: str
    prompt: str
    reference: str      # media path of the reference PNG
    candidates: tuple[Candidate, ...]
    correct: str | None = None   # control: label of the real video


@dataclass(frozen=True)
class Pair:
    pair_id: str
    questions: tuple[Question, Question]   # display order: q1, q2


# ----------------------------------------------------------------------------------------------
# Building the study
# ----------------------------------------------------------------------------------------------
class _Media:
    """Anonymous media files: token = sha256(secret salt, what it shows); each file written once."""

    def __init__(self, out: Path, salt: str, num_frames: int):
        self.out, self.salt, self.num_frames, self.done = out, salt, num_frames, set()

    def token(self, what: str) -> str:
        return "media/" + hashlib.sha256(f"{self.salt}|{what}".encode()).hexdigest()[:20]

    def video(self, what: str, frames) -> str:
        from flash_bench.video_io import write_gif, write_video

        tok = self.token(what)
        if tok not in self.done:
            video = frames()
            write_video(self.out / f"{tok}.mp4", video)   # re-encoded: no container metadata survives
            write_gif(self.out / f"{tok}.gif", video)
            self.done.add(tok)
        return tok

    def image(self, what: str, image) -> str:
        from flash_bench.gallery import export_image

        tok = self.token(what)
        if tok not in self.done:
            export_image(image(), self.out / f"{tok}.png")
            self.done.add(tok)
        return tok


def study_methods(run: Run, methods: list[str] | None) -> list[str]:
    chosen = methods or [m for m in run.methods if m not in REFERENCE_METHODS]
    unknown = [m for m in chosen if m not in run.methods]
    if unknown:
        raise InputError(f"{run.root}: method(s) {unknown} are not in this run (it has {run.methods})")
    if len(chosen) < 2:
        raise InputError(f"{run.root}: a preference study needs at least 2 methods, got {chosen}")
    return chosen


def eligible_items(run: Run, truth: Truth, methods: list[str], action: str) -> list[str]:
    """Test items with a reference image and an ok video from every study method."""
    return [i for i in run.items[action]
            if (action, i) in truth.items and all(run.video(m, action, i) for m in methods)]


def main_question(run, truth, media, methods, action, item, rng) -> Question:
    from flash_bench.video_io import read_video

    order = [methods[k] for k in rng.permutation(len(methods))]
    cands = tuple(Candidate(chr(65 + k), m, media.video(f"run|{m}|{action}|{item}",
                                                       lambda m=m: read_video(run.video(m, action, item))))
                  for k, m in enumerate(order))
    ref = media.image(f"ref|{action}|{item}", truth.items[(action, item)].reference)
    return Question("main", action, item, truth.prompts.get(action, action), ref, cands)


def control_pool(truth: Truth) -> list[tuple[str, str]]:
    """(action, item) pairs whose real video exists: candidates for the control's right answer."""
    return sorted(k for k, t in truth.items.items() if t.ground_truth is not None)


def wrong_videos(truth: Truth, action: str, item: str, num_frames: int) -> list[tuple[str, object]]:
    """Clearly wrong answers, best first: static, same action not matching the reference, other actions."""
    ref = truth.items[(action, item)].reference
    out = [(f"static:{action}/{item}", lambda: np.repeat(ref()[None], num_frames, axis=0))]  # (T, H, W, 3)
    same = [(a, i) for a, i in control_pool(truth) if a == action and i != item]
    out += [(f"mismatch:{a}/{i}", truth.items[(a, i)].ground_truth.load) for a, i in same]
    out += [(f"mismatch:{action}/train/{c.id}", c.load) for c in truth.train.get(action, ())]
    other = [(a, i) for a, i in control_pool(truth) if a != action]
    out += [(f"other-action:{a}/{i}", truth.items[(a, i)].ground_truth.load) for a, i in other]
    return out


def control_question(truth, media, n, rng, num_frames) -> Question:
    pool = control_pool(truth)
    if not pool:
        raise InputError("control questions need real videos: the run's dataset has no ground-truth test videos "
                         "and the run has no oracle videos")
    action, item = pool[rng.integers(len(pool))]
    wrong = wrong_videos(truth, action, item, num_frames)
    if len(wrong) < n - 1:
        raise InputError(f"control questions need {n - 1} wrong videos beside a real one; only {len(wrong)} exist")
    options = [(f"real:{action}/{item}", truth.items[(action, item)].ground_truth.load)] + wrong[:n - 1]
    order = rng.permutation(n)
    cands = tuple(Candidate(chr(65 + k), options[j][0], media.video(options[j][0], options[j][1]))
                  for k, j in enumerate(order))
    correct = next(c.label for c in cands if c.source.startswith("real:"))
    ref = media.image(f"ref|{action}|{item}", truth.items[(action, item)].reference)
    return Question("control", action, item, truth.prompts.get(action, action), ref, cands, correct)


def make_pairs(run, truth, methods, per_action, rng, media) -> list[Pair]:
    from tqdm import tqdm

    num_frames, _ = clip_geometry(run)
    chosen = []
    for action in run.actions:
        items = eligible_items(run, truth, methods, action)
        pick = sorted(rng.choice(len(items), size=min(per_action, len(items)), replace=False)) if items else []
        chosen += [(action, items[k]) for k in pick]
    if not chosen:
        raise InputError(f"{run.root}: no test item has a reference image and a video from every method {methods}")
    pairs = []
    for n, (action, item) in enumerate(tqdm(chosen, desc="user-study pairs", leave=False, disable=None)):
        main = main_question(run, truth, media, methods, action, item, rng)
        control = control_question(truth, media, len(methods), rng, num_frames)
        first, second = (main, control) if rng.random() < 0.5 else (control, main)
        pairs.append(Pair(f"pair-{n + 1:03d}", (first, second)))
    return pairs


def build_study(run_dir: Path | str, out: Path | str, per_action: int = 4, seed: int = 0,
                methods: list[str] | None = None, base_url: str = "") -> dict:
    """Write the study kit (see the module docstring); return the key (also written to ``out/key.json``)."""
    run, out = load_run(run_dir, need_items=True), Path(out)
    methods = study_methods(run, methods)
    truth = load_truth(run)
    rng = np.random.default_rng(seed)
    media = _Media(out, rng.bytes(16).hex(), clip_geometry(run)[0])
    pairs = make_pairs(run, truth, methods, per_action, rng, media)
    instruction = INSTRUCTION.format(n=NUMBERS.get(len(methods), str(len(methods))))
    write_mturk(out, pairs, instruction, base_url, run.tiny)
    write_forms(out, pairs, instruction, run.tiny)
    key = study_key(run, truth, pairs, methods, seed, per_action)
    atomic_write_json(out / "key.json", key)
    atomic_write_bytes(out / "README.txt", readme(len(pairs), run.tiny).encode())
    return key


def study_key(run, truth, pairs, methods, seed, per_action) -> dict:
    questions = {p.pair_id: {f"q{k + 1}": {"kind": q.kind, "action": q.action, "item": q.item,
                                           "labels": {c.label: c.source for c in q.candidates},
                                           "media": {c.label: c.token for c in q.candidates},
                                           **({"correct": q.correct} if q.correct else {})}
                             for k, q in enumerate(p.questions)} for p in pairs}
    return {"version": KEY_VERSION, "run_dir": str(run.root), "profile": run.manifest.get("profile"),
            "tiny": run.tiny, "methods": methods, "seed": seed, "per_action": per_action,
            "truth": truth.note, "pairs": questions}


def readme(n_pairs: int, tiny: bool) -> str:
    return ("flash-bench user-study kit (paper A4.1)\n"
            + ("NOTE: made from a TINY-backbone run: a rehearsal of the protocol, not the paper's study.\n" if tiny
               else "")
            + f"\n{n_pairs} pairs (one HIT each; the paper had 10 workers answer each pair).\n\n"
            "Publish: mturk_template.html (MTurk project layout), mturk_batch.csv (batch input), media/ (host it\n"
            "at the --base-url given to `userstudy build`). forms/ holds the same questions as standalone pages.\n"
            "KEEP PRIVATE: key.json maps the anonymous labels to methods and holds the control answers.\n"
            "Analyse: flash-bench userstudy analyze Batch_results.csv --key key.json\n")


# ----------------------------------------------------------------------------------------------
# The HIT layout: one template, used by MTurk (${variables}) and by the standalone forms
# ----------------------------------------------------------------------------------------------
def question_html(q: int, n: int) -> str:
    cands = "".join(
        f'<label class="candidate"><video autoplay loop muted playsinline preload="auto" '
        f'data-gif="${{q{q}_video_{c}_gif}}"><source src="${{q{q}_video_{c}_url}}" type="video/mp4" '
        f'onerror="this.parentNode.dataset.failed = 1"></video>'
        f'<span><input type="radio" name="q{q}" value="{c}" required> Video {c}</span></label>'
        for c in (chr(65 + k) for k in range(n)))
    return (f'<section class="question"><h3>({q}) Action Description: ${{q{q}_prompt}}</h3><div class="qrow">'
            f'<figure class="reference"><img src="${{q{q}_reference_url}}" alt="reference image">'
            f'<figcaption>Reference image</figcaption></figure>'
            f'<div class="cands sync-group">{cands}</div></div></section>')


def hit_body(n: int, instruction: str) -> str:
    return (f'<div class="hit"><h2>Instruction:</h2><p class="instruction">{esc(instruction)}</p>'
            f'{question_html(1, n)}{question_html(2, n)}<p class="pair-id">Question set ${{pair_id}}</p></div>')


def hit_variables(pair: Pair, base_url: str) -> dict[str, str]:
    v = {"pair_id": pair.pair_id}
    for k, q in enumerate(pair.questions, start=1):
        v[f"q{k}_prompt"] = esc(q.prompt)    # MTurk pastes values into the HTML as they are
        v[f"q{k}_reference_url"] = f"{base_url}{q.reference}.png"
        for c in q.candidates:
            v[f"q{k}_video_{c.label}_url"] = f"{base_url}{c.token}.mp4"
            v[f"q{k}_video_{c.label}_gif"] = f"{base_url}{c.token}.gif"
    return v


def write_mturk(out: Path, pairs: list[Pair], instruction: str, base_url: str, tiny: bool) -> None:
    n = len(pairs[0].questions[0].candidates)
    rows = [hit_variables(p, base_url) for p in pairs]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_bytes(out / "mturk_batch.csv", buf.getvalue().encode())
    note = "<!-- made from a TINY-backbone run: a rehearsal, not the paper's study -->\n" if tiny else ""
    # participants can read this page's source: it names neither the project nor any method
    template = (f'{note}<!-- user study HIT layout; variables from mturk_batch.csv -->\n'
                f'<script src="https://assets.crowd.aws/crowd-html-elements.js"></script>\n'
                f'<style>{asset("user_study.css")}</style>\n<crowd-form answer-format="flatten-objects">\n'
                f'{hit_body(n, instruction)}\n'
                f'</crowd-form>\n<script>{asset("gallery.js")}</script>\n')
    atomic_write_bytes(out / "mturk_template.html", template.encode())


def write_forms(out: Path, pairs: list[Pair], instruction: str, tiny: bool) -> None:
    """Standalone pages (relative media links, no network): the HIT layout + a worker id + CSV export."""
    n = len(pairs[0].questions[0].candidates)
    body = string.Template(hit_body(n, instruction))
    banner = ('<div class="tiny-banner">Rehearsal study made from a TINY-backbone run (not the paper\'s models).</div>'
              if tiny else "")
    for p in pairs:
        v = {k: "../" + s if k.endswith(("_url", "_gif")) else s for k, s in hit_variables(p, "").items()}
        form = (f'<form id="hit" data-pair="{esc(p.pair_id)}">{body.substitute(v)}<p><label>Worker ID '
                f'<input name="WorkerId" required></label> <button type="submit">Submit</button></p>'
                f'<textarea id="answer" readonly rows="3" cols="60" hidden></textarea>'
                f'<p><a id="download" hidden download="{esc(p.pair_id)}.csv">download answer CSV</a></p></form>')
        atomic_write_bytes(out / "forms" / f"{p.pair_id}.html", _form_page(p.pair_id, banner + form).encode())
    links = "".join(f'<li><a href="{esc(p.pair_id)}.html">{esc(p.pair_id)}</a></li>' for p in pairs)
    atomic_write_bytes(out / "forms" / "index.html",
                       _form_page("user study", f'{banner}<h1>User study</h1><ol>{links}</ol>').encode())


def _form_page(title: str, body: str) -> str:
    return (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,">'
            f'<title>{esc(title)}</title><style>{asset("user_study.css")}</style></head><body>{body}'
            f'<script>{asset("gallery.js")}</script><script>{asset("user_study.js")}</script></body></html>\n')


# ----------------------------------------------------------------------------------------------
# Analysis
# ----------------------------------------------------------------------------------------------
@dataclass
class StudyResult:
    responses: "object"      # pandas DataFrame: one row per answered assignment
    preference: "object"     # DataFrame: method, count, rate, ci_low, ci_high (over valid responses)
    per_action: "object"     # DataFrame: action, method, count, valid, rate
    tiny: bool

    @property
    def valid(self) -> int:
        return int(self.responses["valid"].sum())


def read_key(path: Path | str) -> dict:
    path = Path(path)
    try:
        key = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(f"{path}: not a readable key file ({e})") from None
    if not isinstance(key, dict) or key.get("version") != KEY_VERSION or not isinstance(key.get("pairs"), dict):
        raise InputError(f"{path}: not a flash-bench user-study key (version {KEY_VERSION} with 'pairs')")
    return key


COLUMNS = {"worker": ("WorkerId", "worker_id"), "pair": ("Input.pair_id", "pair_id"),
           "q1": ("Answer.q1", "q1"), "q2": ("Answer.q2", "q2")}


def read_responses(path: Path | str) -> list[dict]:
    """Rows of an MTurk batch results CSV (or the standalone forms' CSV) as {worker, pair, q1, q2}.

    Answers are read from ``Answer.q1``/``Answer.q2`` (crowd-form ``answer-format="flatten-objects"``, as
    the template sets) or, when those columns are absent, from crowd-form's default ``Answer.taskAnswers``
    JSON (``[{"q1": "A", "q2": "C"}]``).
    """
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise InputError(f"{path}: not a readable CSV file ({e})") from None
    header = set(rows[0]) if rows else set()
    if TASK_ANSWERS in header and not {"Answer.q1", "q1"} & header:
        rows = [{**r, **_task_answers(r[TASK_ANSWERS], path)} for r in rows]
        header |= {"Answer.q1", "Answer.q2"}
    pick = {}
    for field, names in COLUMNS.items():
        found = [n for n in names if n in header]
        if not found:
            raise InputError(f"{path}: missing column {names[0]!r} (MTurk batch results need "
                             f"{', '.join(n[0] for n in COLUMNS.values())})")
        pick[field] = found[0]
    return [{field: (r[col] or "").strip() for field, col in pick.items()} for r in rows]


TASK_ANSWERS = "Answer.taskAnswers"


def _task_answers(text: str, path: Path) -> dict[str, str]:
    try:
        answers = json.loads(text or "[{}]")
        answers = answers[0] if isinstance(answers, list) else answers
        return {f"Answer.{q}": str(answers.get(q) or "") for q in ("q1", "q2")}
    except (json.JSONDecodeError, AttributeError, IndexError) as e:
        raise InputError(f"{path}: unreadable {TASK_ANSWERS} value {text[:80]!r} ({e})") from None


def judge(row: dict, key: dict, where: Path | str) -> dict:
    """One response -> {worker, pair, action, choice (method or None), control_ok, valid, reason}."""
    pair = key["pairs"].get(row["pair"])
    if pair is None:
        raise InputError(f"{where}: pair {row['pair']!r} (worker {row['worker']}) is not in the key")
    main = next(q for q, v in pair.items() if v["kind"] == "main")
    control = next(q for q, v in pair.items() if v["kind"] == "control")
    control_ok = row[control] == pair[control]["correct"]
    choice = pair[main]["labels"].get(row[main])
    reason = "failed control" if not control_ok else ("no answer" if choice is None else "")
    return {"worker": row["worker"], "pair": row["pair"], "action": pair[main]["action"], "choice": choice,
            "control_ok": control_ok, "valid": not reason, "reason": reason}


def analyze_study(responses_csv: Path | str, key_path: Path | str, strict_workers: bool = False,
                  n_boot: int = 2000, seed: int = 0) -> StudyResult:
    import pandas as pd

    key = read_key(key_path)
    table = pd.DataFrame([judge(r, key, responses_csv) for r in read_responses(responses_csv)],
                         columns=["worker", "pair", "action", "choice", "control_ok", "valid", "reason"])
    if table.empty:
        raise InputError(f"{responses_csv}: no responses")
    if strict_workers:
        failed = set(table.loc[~table["control_ok"], "worker"])
        drop = table["worker"].isin(failed) & table["valid"]
        table.loc[drop, ["valid", "reason"]] = [False, "worker failed another control"]
    return StudyResult(table, preference_table(table, key["methods"], n_boot, seed),
                       per_action_table(table, key["methods"]), bool(key.get("tiny")))


def preference_table(table, methods: list[str], n_boot: int, seed: int):
    """Per method: count and rate among valid responses, with a percentile-bootstrap 95% interval."""
    import pandas as pd

    from flash_bench.stats import bootstrap_ci

    chosen = table.loc[table["valid"], "choice"].to_numpy()
    rows = []
    for m in methods:
        hit = (chosen == m).astype(float)      # 1 where this response preferred m
        lo, hi = bootstrap_ci(hit, n_boot=n_boot, seed=seed) if hit.size else (np.nan, np.nan)
        rows.append({"method": m, "count": int(hit.sum()), "rate": hit.mean() if hit.size else np.nan,
                     "ci_low": lo, "ci_high": hi})
    return pd.DataFrame(rows)


def per_action_table(table, methods: list[str]):
    import pandas as pd

    valid = table[table["valid"]]
    rows = []
    for action in sorted(set(table["action"])):
        sel = valid[valid["action"] == action]
        for m in methods:
            count = int((sel["choice"] == m).sum())
            rows.append({"action": action, "method": m, "count": count, "valid": len(sel),
                         "rate": count / len(sel) if len(sel) else np.nan})
    return pd.DataFrame(rows)


def pie_chart(result: StudyResult, path: Path | str) -> Path:
    """User preference rates (%) as a pie, like the paper's Figure A5 (methods never chosen are left out)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pref = result.preference[result.preference["count"] > 0]
    if pref.empty:
        raise InputError("no valid responses: nothing to plot")
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.pie(pref["count"], labels=pref["method"], autopct="%1.0f%%", startangle=90, counterclock=False)
    title = f"User preference rates (%) ({result.valid} valid responses)"
    ax.set_title(title + ("\nTINY backbones: a rehearsal, not the paper's study" if result.tiny else ""))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=150, bbox_inches="tight")
    plt.close(fig)
    return path


def summary_text(result: StudyResult) -> str:
    t = result.responses
    lines = (["TINY backbones: a rehearsal of the protocol, not the paper's study.", ""] if result.tiny else [])
    lines += [f"responses: {len(t)}; valid: {result.valid}; invalid: {len(t) - result.valid} "
              + str({k: int(v) for k, v in t.loc[~t["valid"], "reason"].value_counts().items()}), "",
              "| method | chosen | rate | 95% CI |", "|---|---:|---:|---|"]
    for r in result.preference.itertuples():
        ci = f"[{100 * r.ci_low:.1f}, {100 * r.ci_high:.1f}]"
        lines.append(f"| {r.method} | {r.count} | {100 * r.rate:.1f}% | {ci} |")
    lines += ["", "| action | method | chosen | valid | rate |", "|---|---|---:|---:|---:|"]
    lines += [f"| {r.action} | {r.method} | {r.count} | {r.valid} | {100 * r.rate:.1f}% |"
              for r in result.per_action.itertuples()]
    return "\n".join(lines) + "\n"


def write_analysis(result: StudyResult, out: Path | str) -> list[Path]:
    out = Path(out)
    written = [out / "responses.csv", out / "preference.csv", out / "per_action.csv", out / "summary.md"]
    atomic_write_bytes(written[0], result.responses.to_csv(index=False).encode())
    atomic_write_bytes(written[1], result.preference.to_csv(index=False).encode())
    atomic_write_bytes(written[2], result.per_action.to_csv(index=False).encode())
    atomic_write_bytes(written[3], summary_text(result).encode())
    if result.valid:
        written.append(pie_chart(result, out / "preference_pie.png"))
    return written
