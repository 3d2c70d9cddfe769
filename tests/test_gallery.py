"""The HTML gallery: its files and numbers, and the pages as a real headless Chromium renders them.

The browser checks need Debian's ``chromium`` (``apt-get install -y chromium``); they skip with that reason
when the binary is absent. Chromium is driven over ``--remote-debugging-pipe`` (the DevTools protocol on
file descriptors 3/4), so no extra Python package is needed; networking is off (``--host-resolver-rules``).
"""
from __future__ import annotations

import base64
import html.parser
import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import make_folder_dataset, put_requests, write_item, write_manifest
from test_results import gallery_table

from flash_bench.gallery import build_gallery
from flash_bench.store import RunStore
from flash_bench.video_io import read_image, read_video, write_video

METHODS = ("alpha", "flash#5@shots=8", "oracle")


def make_run(tmp: Path, methods=METHODS, actions=("wave", "jump"), n_test=3, with_requests=True) -> Path:
    """A finished tiny run on a folder dataset: every method's video is a recoloured ground truth; the run dir holds
    the requests (references, ground truth) as a run writes them, unless ``with_requests`` is False."""
    from flash_bench.datasets.folder import FolderDataset

    data = make_folder_dataset(tmp / "data", actions=actions, n_test=n_test)
    store = RunStore(tmp / "run")
    if with_requests:
        put_requests(store, FolderDataset(data, num_frames=12, size=48).actions())
    for m_i, method in enumerate(methods):
        for action in actions:
            for i in range(n_test):
                item, gt = f"t{i}", read_video(data / action / "test" / f"t{i}.mp4")
                video = gt if method == "oracle" else (gt // 2 + 40 * m_i).astype(np.uint8)  # one tint per method
                failed = m_i == 0 and action == "jump" and i == 1      # the first method failed once
                write_item(store, {"method": method, "action": action, "item": item,
                                   "status": "failed" if failed else "ok", "seconds": 0.1, "num_frames": 12,
                                   "height": 48, "width": 48, "seed": i,
                                   "metrics": {"text_alignment": None if failed else 10.0 * m_i + i,
                                               "image_alignment": None}})
                if not failed:
                    write_video(store.video_path(method, action, item), video)
    store.write_set_metrics("alpha", {"cd_fvd": 123.5})
    write_manifest(store, {"profile": "tiny", "tiny_backbones": True, "dataset": "folder",
                           "dataset_root": str(data), "methods": list(methods),
                           "command": ["flash-bench", "run"], "git_commit": "abc123", "created": "2026-11-24",
                           "failures": [], "config": {"num_frames": 12, "size": 48}})
    return store.root


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("gallery")
    index = build_gallery(make_run(tmp), tmp / "site")
    assert index == tmp / "site" / "index.html"
    return tmp / "site"


class _Links(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.links, self.tags = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self.links += [v for k, v in attrs if k in ("src", "href", "data-gif") and v is not None]


def parse(path: Path) -> _Links:
    p = _Links()
    p.feed(path.read_text())
    return p


def test_metric_tables_are_the_hand_computed_means(site):
    index = gallery_table(site / "index.html")
    # alpha (m_i = 0): text_alignment = i over ok videos: wave 0,1,2 and jump 0,2 -> mean 1.0 over 5 videos
    assert index["alpha"] == {"videos": "5", "failed": "1", "Text Alignment ↑": "1.00",
                              "Image Alignment ↑": "–", "CD-FVD ↓": "123.50"}   # all null -> missing, never zero
    # flash#5@shots=8 (m_i = 1) on jump: 10 + 0, 10 + 1, 10 + 2 -> 11.0; its set is not jump's only: no CD-FVD
    assert gallery_table(site / "action-jump.html")["flash#5@shots=8"] == {
        "videos": "3", "failed": "0", "Text Alignment ↑": "11.00", "Image Alignment ↑": "–", "CD-FVD ↓": "–"}


def test_site_is_self_contained_and_complete(site):
    pages = sorted(site.glob("*.html"))
    assert [p.name for p in pages] == ["action-jump.html", "action-wave.html", "index.html"]
    for page in pages:
        parsed = parse(page)
        for link in parsed.links:
            assert "://" not in link or link.startswith("data:"), f"{page.name}: external link {link}"
            if not link.startswith("data:"):
                from urllib.parse import unquote

                assert (site / unquote(link)).is_file(), f"{page.name}: broken link {link}"
        assert not any(t == "script" and "src" in a for t, a in parsed.tags)   # JS is inlined
        assert "TINY backbones" in page.read_text()
    videos = [a for t, a in parse(site / "action-wave.html").tags if t == "video"]
    assert len(videos) == 3 * (1 + len(METHODS))                # ground truth + every method, per item
    jump = parse(site / "action-jump.html")
    assert sum(t == "video" for t, _ in jump.tags) == 3 * (1 + len(METHODS)) - 1   # alpha failed once
    assert "failed or missing" in (site / "action-jump.html").read_text()


def test_media_match_the_run(site, tmp_path):
    data = site.parent / "data"
    ref = read_image(site / "media/reference/wave/t1.png")
    assert np.array_equal(ref, read_image(data / "wave/test/t1.png"))
    gt = read_video(data / "wave/test/t1.mp4")
    shown = read_video(site / "media/truth/wave/t1.mp4")
    assert shown.shape == gt.shape and np.abs(shown.astype(int) - gt).mean() < 3
    gif = read_video(site / "media/run/flash#5@shots=8/wave/t1.gif")
    assert len(gif) == len(gt)


def test_the_gallery_reads_only_the_run_dir(tmp_path, monkeypatch):
    """References and ground truth come from the run dir's requests: the dataset may be gone."""
    from flash_bench.registry import DATASETS

    run = make_run(tmp_path)
    ref, gt = read_image(tmp_path / "data/wave/test/t1.png"), read_video(tmp_path / "data/wave/test/t1.mp4")
    shutil.rmtree(tmp_path / "data")
    monkeypatch.setattr(DATASETS, "get", lambda name: pytest.fail(f"the gallery opened dataset {name!r}"))
    index = build_gallery(run, tmp_path / "site")
    assert np.array_equal(read_image(index.parent / "media/reference/wave/t1.png"), ref)
    assert np.abs(read_video(index.parent / "media/truth/wave/t1.mp4").astype(int) - gt).mean() < 3
    assert "from the requests in the run dir" in (index.parent / "action-wave.html").read_text()


def test_oracle_fallback_when_the_run_dir_holds_no_requests(tmp_path):
    run = make_run(tmp_path, with_requests=False)
    index = build_gallery(run, tmp_path / "site")
    page = (index.parent / "action-wave.html").read_text()
    assert "holds no requests" in page and "oracle" in page
    ref = read_image(index.parent / "media/reference/wave/t0.png")
    first = read_video(RunStore(run).video_path("oracle", "wave", "t0"))[0]
    assert np.array_equal(ref, first)


# ----------------------------------------------------------------------------------------------
# A real browser
# ----------------------------------------------------------------------------------------------
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--host-resolver-rules=MAP * ~NOTFOUND", "--autoplay-policy=no-user-gesture-required",
         "--remote-debugging-pipe"]


class Chromium:
    """Headless Chromium over the DevTools pipe: we write NUL-terminated JSON to its fd 3, read its fd 4."""

    def __init__(self, profile_dir: Path):
        to_child_r, self._w = os.pipe()
        self._r, from_child_w = os.pipe()

        def wire_fds():  # in the child, before exec
            a, b = os.dup(to_child_r), os.dup(from_child_w)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.proc = subprocess.Popen([CHROMIUM, *FLAGS, f"--user-data-dir={profile_dir}", "about:blank"],
                                     preexec_fn=wire_fds, pass_fds=(3, 4), stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        os.close(to_child_r)
        os.close(from_child_w)
        self._buf, self._id, self.events = b"", 0, []

    def _next(self, deadline: float) -> dict:
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._r], [], [], left)[0]:
                raise TimeoutError("chromium did not answer in time")
            chunk = os.read(self._r, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium exited")
            self._buf += chunk
        msg, self._buf = self._buf.split(b"\0", 1)
        return json.loads(msg)

    def send(self, method: str, params: dict | None = None, session: str | None = None, timeout=60) -> dict:
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            m = self._next(deadline)
            if m.get("id") == self._id:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m["result"]
            self.events.append(m)

    def wait_event(self, name: str, timeout=60) -> dict:
        deadline = time.monotonic() + timeout
        while not any(e.get("method") == name for e in self.events):
            self.events.append(self._next(deadline))
        return next(e for e in self.events if e.get("method") == name)

    def open(self, page_url: str) -> tuple[str, str]:
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.send(f"{domain}.enable", session=session)
        self.send("Emulation.setDeviceMetricsOverride",
                  {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False}, session=session)
        self.send("Page.navigate", {"url": page_url}, session=session)
        self.wait_event("Page.loadEventFired")
        return target, session

    def evaluate(self, session: str, expression: str):
        r = self.send("Runtime.evaluate", {"expression": expression, "awaitPromise": True,
                                           "returnByValue": True}, session=session)
        assert "exceptionDetails" not in r, r
        return r["result"]["value"]

    def errors(self) -> list[str]:
        out = []
        for e in self.events:
            p = e.get("params", {})
            if e.get("method") == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                out.append(" ".join(str(a.get("value", a.get("description"))) for a in p.get("args", [])))
            elif e.get("method") == "Runtime.exceptionThrown":
                out.append(json.dumps(p.get("exceptionDetails"))[:500])
            elif e.get("method") == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                out.append(f"{p['entry'].get('text')} {p['entry'].get('url', '')}")
        return out

    def close(self):
        try:
            self.send("Browser.close", timeout=10)
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._w)
        os.close(self._r)


# After every group has settled: per <video> its state, and the spread of playback positions per row.
VIDEO_STATE = """new Promise(done => setTimeout(() => done({
  videos: Array.from(document.querySelectorAll('video')).map(v => ({
    src: v.currentSrc, ready: v.readyState, error: v.error && v.error.code, duration: v.duration,
    paused: v.paused, time: v.currentTime, w: v.videoWidth})),
  gifs: document.querySelectorAll('img.gif-fallback').length,
  brokenImages: Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src),
  spreads: Array.from(document.querySelectorAll('.sync-group')).map(g => {
    const t = Array.from(g.querySelectorAll('video')).map(v => v.currentTime);
    return t.length ? Math.max(...t) - Math.min(...t) : 0; }),
}), 2500))"""


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (Debian: apt-get install -y chromium); browser checks skipped")
    b = Chromium(tmp_path_factory.mktemp("chromium-profile"))
    yield b
    b.close()


@pytest.mark.parametrize("page_name", ["index.html", "action-wave.html", "action-jump.html"])
def test_pages_in_headless_chromium(browser, site, page_name):
    browser.events.clear()
    target, session = browser.open((site / page_name).as_uri())
    state = browser.evaluate(session, VIDEO_STATE)
    shot = base64.b64decode(browser.send("Page.captureScreenshot", {"format": "png"}, session=session)["data"])
    (site.parent / f"screenshot-{page_name}.png").write_bytes(shot)
    browser.send("Target.closeTarget", {"targetId": target})
    assert browser.errors() == []
    assert state["brokenImages"] == [] and state["gifs"] == 0
    for v in state["videos"]:
        assert v["src"].endswith(".mp4") and v["error"] is None and v["ready"] >= 2, v
        assert v["duration"] == pytest.approx(12 / 8, abs=0.2) and v["w"] == 48 and not v["paused"], v
    if page_name != "index.html":
        assert len(state["videos"]) >= 3 * len(METHODS)
        # every row started together: positions agree to within a few frames (clips are 1.5 s long)
        assert max(state["spreads"]) < 0.4, state["spreads"]
    from PIL import Image

    image = np.asarray(Image.open(site.parent / f"screenshot-{page_name}.png").convert("RGB"))
    assert image.shape == (900, 1280, 3) and image.std() > 10       # a rendered page, not a blank one


def test_method_filter_hides_a_method_everywhere(browser, site):
    browser.events.clear()
    target, session = browser.open((site / "action-wave.html").as_uri())
    state = browser.evaluate(session, """new Promise(done => {
      const visible = m => Array.from(document.querySelectorAll(`[data-method="${m}"]`))
                               .filter(e => e.offsetParent !== null).length;
      const before = [visible('alpha'), visible('oracle')];
      document.querySelector('input.method-filter[value="alpha"]').click();
      const after = [visible('alpha'), visible('oracle')];
      document.querySelector('input.method-filter[value="alpha"]').click();   // restore for the other tests
      done({before, after, restored: visible('alpha')});
    })""")
    browser.send("Target.closeTarget", {"targetId": target})
    assert browser.errors() == []
    # 3 item cards + 1 metrics-table row per method
    assert state == {"before": [4, 4], "after": [0, 4], "restored": 4}


def test_undecodable_mp4_falls_back_to_its_gif(browser, site, tmp_path):
    copy = tmp_path / "site"
    shutil.copytree(site, copy)
    (copy / "media/run/alpha/wave/t0.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 this is not a video" * 20)
    browser.events.clear()
    target, session = browser.open((copy / "action-wave.html").as_uri())
    state = browser.evaluate(session, VIDEO_STATE)
    browser.send("Target.closeTarget", {"targetId": target})
    assert state["gifs"] == 1 and state["brokenImages"] == []
    assert len(state["videos"]) == 3 * (1 + len(METHODS)) - 1
    assert all(v["ready"] >= 2 and not v["paused"] for v in state["videos"])   # the rest of the row still plays


def test_gallery_cli(tmp_path):
    import typer
    from typer.testing import CliRunner

    from flash_bench.cli.gallery import gallery

    app = typer.Typer()
    app.command()(gallery)
    run = make_run(tmp_path, methods=("alpha", "oracle"), actions=("wave",), n_test=1)
    res = CliRunner().invoke(app, [str(run), "--out", str(tmp_path / "g")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "g" / "index.html").is_file() and (tmp_path / "g" / "action-wave.html").is_file()
    res = CliRunner().invoke(app, [str(tmp_path / "nope")])
    assert res.exit_code == 2 and "run dir not found" in res.output


def test_comparison_gif_tiles_ground_truth_then_methods(tmp_path):
    import typer
    from typer.testing import CliRunner

    from flash_bench.cli.gallery import gallery

    run = make_run(tmp_path)
    app = typer.Typer()
    app.command()(gallery)
    gif = tmp_path / "cmp.gif"
    res = CliRunner().invoke(app, [str(run), "--gif", str(gif), "--methods", "oracle,alpha",
                                   "--items", "wave/t0,jump/t1"])
    assert res.exit_code == 0, res.output
    frames = read_video(gif)
    assert frames.shape == (12, 2 * 48, 3 * 48, 3)                     # rows: 2 items; columns: gt + 2 methods
    gt = read_video(run.parent / "data" / "wave" / "test" / "t0.mp4")
    tile = lambda r, c: frames[:, r * 48:(r + 1) * 48, c * 48:(c + 1) * 48].astype(int)  # noqa: E731
    assert np.abs(tile(0, 0) - gt.astype(int)).mean() < 12             # GIF palette + codec, not another video
    assert np.abs(tile(0, 1) - tile(0, 0)).mean() < 12                  # the oracle is the ground truth
    assert tile(1, 2).max() == 0                                        # alpha failed on jump/t1: black tile
    assert tile(0, 2).max() > 0
    res = CliRunner().invoke(app, [str(run), "--gif", str(gif), "--methods", "nobody"])
    assert res.exit_code == 2 and "nobody" in res.output


def test_comparison_gif_zoom_repeats_each_pixel(tmp_path):
    import typer
    from typer.testing import CliRunner

    from flash_bench.cli.gallery import gallery

    run = make_run(tmp_path)
    app = typer.Typer()
    app.command()(gallery)
    plain, big = tmp_path / "plain.gif", tmp_path / "big.gif"
    args = [str(run), "--methods", "oracle", "--items", "wave/t0"]
    assert CliRunner().invoke(app, [*args, "--gif", str(plain)]).exit_code == 0
    res = CliRunner().invoke(app, [*args, "--gif", str(big), "--zoom", "3"])
    assert res.exit_code == 0, res.output
    small, large = read_video(plain), read_video(big)
    assert large.shape == (small.shape[0], 3 * small.shape[1], 3 * small.shape[2], 3)
    blocks = large.reshape(large.shape[0], small.shape[1], 3, small.shape[2], 3, 3).astype(int)
    assert np.abs(blocks - blocks[:, :, :1, :, :1]).max() <= 8           # each 3×3 block is one pixel (GIF codec)
    assert np.abs(blocks[:, :, 0, :, 0] - small.astype(int)).mean() < 4
    res = CliRunner().invoke(app, [*args, "--gif", str(big), "--zoom", "0"])
    assert res.exit_code == 2 and "zoom 0" in res.output
