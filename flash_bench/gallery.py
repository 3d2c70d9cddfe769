"""A static, self-contained HTML gallery of a run: every method's video beside the reference image.

``build_gallery(run_dir, out)`` writes (all links relative; works from ``file://`` and any static host)::

    index.html                          manifest, per-method metric means, action list, TINY banner
    action-<action>.html                one page per action: reference, ground truth, every method per item
    media/run/<method>/<action>/<item>.mp4|.gif   the run's videos (H.264 mp4 + GIF fallback)
    media/truth/<action>/<item>.mp4|.gif          ground-truth videos, where they exist
    media/reference/<action>/<item>.png           reference images

Prompts, references and ground truth come from the run dir's requests (:mod:`flash_bench.requests`: the frames as
the run sampled them); the gallery never opens a dataset. For items without a request they come from the ``oracle``
method's videos (its first frame is the reference), and the pages say so. The metric tables are :func:`flash_bench.results.summary` (the numbers of
``flash-bench report``). CSS and JS live in ``flash_bench/assets/`` and are inlined into every page.
"""
from __future__ import annotations

import html
import importlib.resources
import json
import math
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable
from urllib.parse import quote

import numpy as np

from flash_bench.results import Run, column_info, counts, load_run, summary
from flash_bench.store import atomic_write_bytes
from flash_bench.types import Clip, InputError, TestItem

ORACLE = "oracle"


# ----------------------------------------------------------------------------------------------
# The run, its references and ground truth
# ----------------------------------------------------------------------------------------------
@dataclass
class Truth:
    """Prompts, reference images and ground-truth videos for the run's test items."""

    prompts: dict[str, str]
    items: dict[tuple[str, str], TestItem]              # (action, item) -> reference + ground truth
    train: dict[str, tuple[Clip, ...]] = field(default_factory=dict)   # action -> training clips
    note: str = ""                                      # where they came from, shown on the pages


def clip_geometry(run: Run) -> tuple[int, int]:
    """(num_frames, size) the run used: from the manifest's config, else from its first record that has them."""
    cfg = run.manifest.get("config") or {}

    def recorded(col: str):
        values = run.table[col].dropna() if col in run.table.columns else ()
        return values.iloc[0] if len(values) else None

    return int(cfg.get("num_frames") or recorded("num_frames") or 16), int(cfg.get("size") or recorded("height") or 64)


def load_truth(run: Run) -> Truth:
    """Prompts, references and ground truth from the run dir's requests; from the oracle's videos where it has none."""
    import functools

    from flash_bench.requests import load_requests

    requests = load_requests(run.root)
    if not requests:
        return _oracle_truth(run, "the run dir holds no requests")
    items = {}
    for (a, i), req in requests.items.items():
        if req.get("reference"):
            truth = Clip(i, load=functools.partial(requests.truth, a, i)) if requests.has_truth(a, i) else None
            items[(a, i)] = TestItem(i, reference=functools.partial(requests.reference, a, i), ground_truth=truth)
    truth = Truth({a: v.get("prompt", a) for a, v in requests.actions.items()}, items,
                  {a: tuple(Clip(c, load=load) for c, load in requests.train(a)) for a in requests.actions},
                  "References and ground truth from the requests in the run dir (as the run sampled them).")
    missing = [(a, i) for a in run.actions for i in run.items[a] if (a, i) not in truth.items]
    if missing:
        extra = _oracle_truth(run, "")
        truth.items.update({k: extra.items[k] for k in missing if k in extra.items})
        truth.note += f" {len(missing)} test item(s) without a request: taken from the oracle's videos where present."
    return truth


def _oracle_truth(run: Run, why: str) -> Truth:
    items = {}
    for a in run.actions:
        for i in run.items[a]:
            path = run.video(ORACLE, a, i)
            if path is not None:
                items[(a, i)] = TestItem(i, reference=_first_frame_loader(path),
                                         ground_truth=Clip(i, load=_video_loader(path), path=path), path=path)
    source = ("ground truth = the oracle method's videos, reference = their first frame" if items
              else "no oracle videos either, so no references or ground truth are shown")
    return Truth({}, items, {}, f"{why}: {source}." if why else source)


def _video_loader(path: Path) -> Callable[[], np.ndarray]:
    from flash_bench.video_io import read_video

    return lambda: read_video(path)


def _first_frame_loader(path: Path) -> Callable[[], np.ndarray]:
    from flash_bench.video_io import read_video

    return lambda: read_video(path)[0]


# ----------------------------------------------------------------------------------------------
# Metric tables
# ----------------------------------------------------------------------------------------------
def fmt(value: float | None, decimals: int) -> str:
    return "–" if value is None or not math.isfinite(value) else f"{value:.{decimals}f}"


# ----------------------------------------------------------------------------------------------
# Media
# ----------------------------------------------------------------------------------------------
def run_media_path(method: str, action: str, item: str) -> str:
    return f"media/run/{method}/{action}/{item}"


def export_video(src: Path | None, frames: Callable[[], np.ndarray] | None, dest_stem: Path) -> None:
    """``dest_stem``.mp4 (copied when already browser-safe H.264 yuv420p, else re-encoded) + .gif."""
    from flash_bench.video_io import read_video, write_gif, write_video

    mp4, gif = dest_stem.with_suffix(".mp4"), dest_stem.with_suffix(".gif")
    if src is not None and _up_to_date(src, mp4) and _up_to_date(src, gif):
        return
    video = read_video(src) if src is not None else frames()
    if src is not None and _browser_safe(src):
        mp4.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, mp4)
    else:
        write_video(mp4, video)
    write_gif(gif, _shrink(video, GIF_MAX_SIDE))


GIF_MAX_SIDE = 256   # GIFs are a fallback; at 512² × 16 frames they would be megabytes each


def _shrink(video: np.ndarray, max_side: int) -> np.ndarray:
    """Downscale (T, H, W, 3) so its longer side is at most ``max_side`` (unchanged when it already is)."""
    from PIL import Image

    h, w = video.shape[1:3]
    scale = max_side / max(h, w)
    if scale >= 1:
        return video
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.stack([np.asarray(Image.fromarray(f).resize(size, Image.BILINEAR)) for f in video])  # (T, h', w', 3)


def _up_to_date(src: Path, dest: Path) -> bool:
    return dest.is_file() and dest.stat().st_mtime >= src.stat().st_mtime


def _browser_safe(path: Path) -> bool:
    import av

    try:
        with av.open(str(path)) as c:
            s = c.streams.video[0]
            return path.suffix == ".mp4" and s.codec_context.name == "h264" and s.codec_context.pix_fmt == "yuv420p"
    except (av.FFmpegError, IndexError, OSError):
        return False


def export_image(image: np.ndarray, dest: Path) -> None:
    from PIL import Image

    dest.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(dest, format="PNG")


def export_media(run: Run, truth: Truth, out: Path) -> dict[tuple[str, str], dict[str, bool]]:
    """Copy/transcode every video and reference into ``out/media``; per (action, item) what exists."""
    from tqdm import tqdm

    jobs = [(m, a, i) for a in run.actions for i in run.items[a] for m in run.methods]
    for m, a, i in tqdm(jobs, desc="gallery videos", leave=False, disable=None):
        src = run.video(m, a, i)
        if src is not None:
            export_video(src, None, out / run_media_path(m, a, i))
    return {(a, i): export_truth(truth.items.get((a, i)), out, a, i) for a in run.actions for i in run.items[a]}


def export_truth(item: TestItem | None, out: Path, action: str, item_id: str) -> dict[str, bool]:
    """Reference PNG and ground-truth video of one test item; an unreadable file is shown as missing."""
    present = {"reference": False, "truth": False}
    if item is None:
        return present
    try:
        export_image(item.reference(), out / f"media/reference/{action}/{item_id}.png")
        present["reference"] = True
        if item.ground_truth is not None:
            # the clip as the run saw it (sampled + resized), not the raw file
            export_video(None, item.ground_truth.load, out / f"media/truth/{action}/{item_id}")
            present["truth"] = True
    except InputError:
        pass
    return present


# ----------------------------------------------------------------------------------------------
# HTML
# ----------------------------------------------------------------------------------------------
def esc(text) -> str:
    return html.escape(str(text), quote=True)


def url(path: str) -> str:
    """A relative URL for a site path: labels such as ``flash#5@shots=8`` are percent-encoded."""
    return quote(path)


def asset(name: str) -> str:
    return importlib.resources.files("flash_bench.assets").joinpath(name).read_text(encoding="utf-8")


def page(title: str, body: str, tiny: bool) -> str:
    banner = ('<div class="tiny-banner">TINY backbones: these videos and numbers come from the reduced '
              '<code>tiny</code> profile (a smoke test of the code path), not from the paper\'s models.</div>'
              if tiny else "")
    return (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<link rel="icon" href="data:,"><title>{esc(title)}</title>'
            f'<style>{asset("gallery.css")}</style></head>\n<body>{banner}{body}\n'
            f'<script>{asset("gallery.js")}</script></body></html>\n')


def video_tag(stem: str, label: str) -> str:
    return (f'<video autoplay loop muted playsinline preload="auto" aria-label="{esc(label)}" '
            f'data-gif="{esc(url(stem + ".gif"))}"><source src="{esc(url(stem + ".mp4"))}" type="video/mp4" '
            f'onerror="this.parentNode.dataset.failed = 1">'
            f'<img src="{esc(url(stem + ".gif"))}" alt="{esc(label)}"></video>')


def metric_list(run: Run, metrics: dict) -> str:
    rows = "".join(f'<dt title="{esc(k)}">{esc(column_info(k, run.scoring)[0])}</dt>'
                   f'<dd>{fmt(v, column_info(k, run.scoring)[2])}</dd>' for k, v in metrics.items())
    return f'<dl class="metrics">{rows}</dl>' if rows else '<p class="metrics none">no metrics</p>'


def metrics_table(run: Run, action: str | None = None) -> str:
    """Per method: ok/failed counts and the mean of every metric (:func:`flash_bench.results.summary`, the
    report's numbers), over all of the run or over one action's items."""
    actions = {m: {action} for m in run.methods} if action is not None else None
    means, n = summary(run, actions=actions), counts(run, actions=actions)
    head = "".join(_metric_head(run, c) for c in run.metrics)
    body = ""
    for m in run.methods:
        cells = "".join(f'<td title="n = {n.loc[m, c]}">{fmt(means.loc[m, c], column_info(c, run.scoring)[2])}</td>'
                        for c in run.metrics)
        body += (f'<tr data-method="{esc(m)}"><th>{esc(m)}</th><td>{int(means.loc[m, "videos"])}</td>'
                 f'<td>{int(means.loc[m, "failed"])}</td>{cells}</tr>')
    return (f'<table class="metrics-table"><thead><tr><th>method</th><th>videos</th><th>failed</th>{head}'
            f'</tr></thead><tbody>{body}</tbody></table>')


def _metric_head(run: Run, metric_id: str) -> str:
    label, higher, _ = column_info(metric_id, run.scoring)
    arrow = "" if higher is None else (" ↑" if higher else " ↓")
    return f'<th title="{esc(metric_id)}">{esc(label)}{arrow}</th>'


def method_filter(methods: list[str]) -> str:
    boxes = "".join(f'<label><input type="checkbox" class="method-filter" value="{esc(m)}" checked> {esc(m)}</label>'
                    for m in methods)
    return f'<fieldset class="filters"><legend>Methods</legend>{boxes}</fieldset>'


def manifest_table(run: Run) -> str:
    m = run.manifest
    cmd = m.get("command")
    rows = {
        "run dir": run.root.name, "profile": m.get("profile"), "tiny backbones": m.get("tiny_backbones"),
        "dataset": m.get("dataset"), "dataset root": m.get("dataset_root"), "methods": ", ".join(run.methods),
        "command": " ".join(map(str, cmd)) if isinstance(cmd, list) else cmd, "git commit": m.get("git_commit"),
        "created": m.get("created"), "failures": len(m.get("failures") or []),
    }
    body = "".join(f"<tr><th>{esc(k)}</th><td>{esc('–' if v is None else v)}</td></tr>" for k, v in rows.items())
    fails = "".join(f"<li>{esc(json.dumps(f, sort_keys=True))}</li>" for f in m.get("failures") or [])
    return (f'<table class="manifest">{body}</table>'
            + (f'<details><summary>failures</summary><ul>{fails}</ul></details>' if fails else ""))


def index_page(run: Run, truth: Truth) -> str:
    actions = "".join(
        f'<li data-action="{esc(a)}" data-prompt="{esc(truth.prompts.get(a, ""))}">'
        f'<a href="{esc(url(f"action-{a}.html"))}">'
        f'{esc(a)}</a> <span class="prompt">{esc(truth.prompts.get(a, ""))}</span> '
        f'<span class="count">({len(run.items[a])} item(s))</span></li>' for a in run.actions)
    body = (f'<h1>flash-bench gallery: {esc(run.root.name)}</h1><p class="note">{esc(truth.note)}</p>'
            f'<h2>Run</h2>{manifest_table(run)}<h2>Metrics (mean over each method\'s videos)</h2>'
            f'{method_filter(run.methods)}{metrics_table(run)}'
            f'<h2>Actions</h2><fieldset class="filters"><legend>Actions</legend>'
            f'<input type="search" id="action-filter" placeholder="filter actions"></fieldset>'
            f'<ul class="actions">{actions}</ul>')
    return page(f"flash-bench gallery: {run.root.name}", body, run.tiny)


def card(run: Run, kind: str, label: str, stem: str | None, metrics: dict | None, is_image: bool = False,
         method: str | None = None) -> str:
    attr = f' data-method="{esc(method)}"' if method else ""
    if stem is None:
        media = '<div class="missing">failed or missing</div>'
    elif is_image:
        media = f'<img src="{esc(url(stem))}" alt="{esc(label)}">'
    else:
        media = video_tag(stem, label)
    extra = metric_list(run, metrics) if metrics is not None else ""
    return f'<figure class="card {kind}"{attr}>{media}<figcaption>{esc(label)}</figcaption>{extra}</figure>'


def item_row(run: Run, action: str, item: str, present: dict[str, bool]) -> str:
    cards = [card(run, "reference", "reference image", f"media/reference/{action}/{item}.png"
                  if present["reference"] else None, None, is_image=True)]
    if present["truth"]:
        cards.append(card(run, "truth", "ground truth", f"media/truth/{action}/{item}", None))
    for m in run.methods:
        rec = run.record(m, action, item)
        if rec is None:
            continue
        stem = run_media_path(m, action, item) if run.video(m, action, item) else None
        metrics = {k: rec[k] for k in run.item_metrics} if rec["status"] == "ok" else {}
        cards.append(card(run, "method", m, stem, metrics, method=m))
    return (f'<section class="item" id="item-{esc(item)}"><h3>{esc(item)}</h3>'
            f'<div class="row sync-group">{"".join(cards)}</div></section>')


def action_page(run: Run, truth: Truth, action: str, present: dict) -> str:
    options = "".join(f'<option value="{esc(url(f"action-{a}.html"))}"{" selected" if a == action else ""}>'
                      f'{esc(a)}</option>' for a in run.actions)
    prompt = truth.prompts.get(action, "")
    rows = "".join(item_row(run, action, i, present[(action, i)]) for i in run.items[action])
    body = (f'<nav><a href="index.html">← index</a> <label>action <select id="action-select">{options}'
            f'</select></label></nav><h1>{esc(action)}</h1><p class="prompt">{esc(prompt)}</p>'
            f'<p class="note">{esc(truth.note)} Videos of one item loop in sync; click one to pause or '
            f'resume its row.</p>{method_filter(run.methods)}<h2>Metrics for this action</h2>'
            f'{metrics_table(run, action)}<h2>Test items</h2>{rows}')
    return page(f"{action}: flash-bench gallery", body, run.tiny)


def build_gallery(run_dir: Path | str, out: Path | str | None = None) -> Path:
    """Write the gallery of ``run_dir`` into ``out`` (default ``RUN_DIR/gallery``); return index.html's path."""
    run = load_run(run_dir, need_items=True)
    out = Path(out) if out is not None else run.root / "gallery"
    truth = load_truth(run)
    present = export_media(run, truth, out)
    for a in run.actions:
        atomic_write_bytes(out / f"action-{a}.html", action_page(run, truth, a, present).encode())
    index = out / "index.html"
    atomic_write_bytes(index, index_page(run, truth).encode())
    return index


# ----------------------------------------------------------------------------------------------
# One comparison GIF (for READMEs and docs)
# ----------------------------------------------------------------------------------------------
def comparison_gif(run_dir: Path | str, out: Path | str, methods: list[str] | None = None,
                   items: list[str] | None = None, fps: int = 8, zoom: int = 1) -> list[str]:
    """Write one looping GIF: a row per test item (``action/item``), a column per video — the ground truth
    first, then ``methods`` in the given order (default: every method of the run). A missing or failed video
    is a black tile. ``zoom``: each pixel drawn as zoom × zoom pixels (no new values; the tiny world's 32² frames
    are small on a page). Returns the column labels (for the caption)."""
    if not isinstance(zoom, int) or zoom < 1:
        raise InputError(f"zoom {zoom!r}: expected a whole number ≥ 1")
    from flash_bench.video_io import read_video, write_gif

    run = load_run(run_dir, need_items=True)
    methods = methods or run.methods
    unknown = [m for m in methods if m not in run.methods]
    if unknown:
        raise InputError(f"{run.root}: no method(s) {', '.join(unknown)} in this run (it has: {', '.join(run.methods)})")
    keys = [tuple(s.split("/", 1)) for s in items] if items else [(a, run.items[a][0]) for a in run.actions]
    bad = [k for k in keys if len(k) != 2 or k[1] not in run.items.get(k[0], [])]
    if bad:
        raise InputError(f"{run.root}: unknown item(s) {', '.join('/'.join(k) for k in bad)} (use action/item)")
    truth = load_truth(run)
    num_frames, size = clip_geometry(run)
    blank = np.zeros((num_frames, size, size, 3), np.uint8)

    def fit(video: np.ndarray | None) -> np.ndarray:
        if video is None or video.shape[1:3] != (size, size):
            return blank
        return np.concatenate([video, np.repeat(video[-1:], max(0, num_frames - len(video)), 0)])[:num_frames]

    rows = []
    for action, item in keys:
        t = truth.items.get((action, item))
        gt = t.ground_truth.load() if t is not None and t.ground_truth is not None else None
        videos = [fit(gt)] + [fit(read_video(p) if (p := run.video(m, action, item)) else None) for m in methods]
        rows.append(np.concatenate(videos, axis=2))                 # side by side: (T, H, W·cols, 3)
    grid = np.concatenate(rows, axis=1)                             # rows stacked: (T, H·rows, W·cols, 3)
    write_gif(out, grid.repeat(zoom, axis=1).repeat(zoom, axis=2), fps=fps)
    return ["ground truth", *methods]
