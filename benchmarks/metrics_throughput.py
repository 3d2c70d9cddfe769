"""Metrics engine vs the reference route: same numbers, speed ratio, peak memory (tiny backbones, CPU).

    .venv/bin/python benchmarks/metrics_throughput.py [--sizes 24 96] [--methods 3]

N synthetic 16×64×64 videos (``--methods`` methods × N/methods test items, each item with a ground-truth
video) are scored with all six metrics twice, each route in its own fresh process:

- engine: :func:`flash_bench.scoring.score_run` on a run dir (one decode per video, one CLIP pass for the
  three CLIP metrics, ground-truth features computed once for all methods, cold feature cache);
- reference: each metric on its own library path, decoding the videos again every time — an open_clip
  loop per CLIP metric, cd-fvd's ``compute_fvd`` on stacked uint8 arrays per method (with the tiny profile's
  CD-FVD featuriser, RAFT then I3D-flow), RAFT then I3D per (generated, ground truth) pair.

It checks both give the same numbers and prints seconds, the speed ratio and each route's peak RSS. Each child
imports the libraries both routes use (open_clip, torchvision, cd-fvd) before its clock starts:
a cold ``import open_clip`` alone takes seconds and is not scoring work.
Targets (issue #3): engine ≥ 2× faster; engine peak RSS at the largest N within 10% of the smallest N.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FRAMES, SIZE = 16, 64


def synthetic_video(seed: int) -> np.ndarray:
    """A textured background with a coloured square moving along a seeded path: uint8 (16, 64, 64, 3)."""
    rng = np.random.default_rng(seed)
    base = rng.integers(30, 220, size=(8, 8, 3)).repeat(8, 0).repeat(8, 1).astype(np.uint8)  # (64, 64, 3)
    video = np.repeat(base[None], FRAMES, axis=0)
    color, (y, x), (vy, vx) = rng.integers(0, 255, 3), rng.integers(8, 40, 2), rng.integers(-2, 3, 2)
    for t in range(FRAMES):
        top, left = int(np.clip(y + vy * t, 0, 48)), int(np.clip(x + vx * t + t, 0, 48))
        video[t, top:top + 16, left:left + 16] = color
    return video


def make_data(work: Path, n: int, methods: int) -> dict:
    from flash_bench.video_io import write_video

    per = n // methods
    for i in range(per):
        write_video(work / "gt" / f"i{i:03d}.mp4", synthetic_video(i))
    for m in range(methods):
        for i in range(per):
            write_video(work / "gen" / f"m{m}" / f"i{i:03d}.mp4", synthetic_video(1000 * (m + 1) + i))
    return {"items": per, "methods": methods}


def load_actions(work: Path):
    from flash_bench.types import Action, Clip, TestItem
    from flash_bench.video_io import read_video

    items = tuple(TestItem(p.stem, reference=lambda p=p: read_video(p)[0],
                           ground_truth=Clip(p.stem, load=lambda p=p: read_video(p), path=p), path=p)
                  for p in sorted((work / "gt").glob("*.mp4")))
    return [Action("demo", "a person moves a coloured square.", (), items)]


# --------------------------------------------------------------------------------------------------
def route_engine(work: Path, workers: int | None = None) -> dict:
    import shutil

    from flash_bench.requests import write_requests
    from flash_bench.scoring import score_run
    from flash_bench.store import RunStore, content_key

    store = RunStore(work / "run-engine")
    write_requests(store, load_actions(work), lambda a, i: None, {"name": "demo"})
    entries = []
    for video in sorted((work / "gen").glob("*/*.mp4")):
        key = content_key({"benchmark": [video.parent.name, video.stem]})
        store.item_dir(key).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(video, store.video_file(key))
        store.write_record({"key": key, "action": "demo", "item": video.stem, "status": "ok"})
        entries.append({"method": video.parent.name, "action": "demo", "item": video.stem, "key": key})
    store.update_index(entries)
    start = time.perf_counter()
    score_run(store, None, "tiny", "cpu", work / "cache-engine", progress=False, workers=workers)
    seconds = time.perf_counter() - start
    values = {f"{r['method']}/{r['item']}": store.scores(r["key"]) for r in store.records()}
    return {"seconds": seconds, "values": values, "sets": store.set_metrics()}


def route_reference(work: Path) -> dict:
    actions = load_actions(work)
    gen = sorted((work / "gen").glob("*/*.mp4"))
    start = time.perf_counter()
    values = {f"{p.parent.name}/{p.stem}": {} for p in gen}
    _reference_clip(actions[0], gen, values)
    _reference_i3d(work, gen, values)
    sets = _reference_fvd(work, gen)
    return {"seconds": time.perf_counter() - start, "values": values, "sets": sets}


def _reference_clip(action, gen, values) -> None:
    """open_clip directly, one loop per metric (each decodes and encodes the frames again)."""
    import torch
    from PIL import Image

    from flash_bench.features.clip import build
    from flash_bench.video_io import read_video

    b = build("tiny")
    model, preprocess, tokenizer = b.model, b.preprocess, b.tokenizer

    def frames_emb(path):
        with torch.no_grad():
            e = model.encode_image(torch.stack([preprocess(Image.fromarray(f)) for f in read_video(path)]))
        return e / e.norm(dim=-1, keepdim=True)

    with torch.no_grad():
        text = model.encode_text(tokenizer([action.prompt]))[0]
    text = text / text.norm()
    for p in gen:
        values[f"{p.parent.name}/{p.stem}"]["text_alignment"] = float(100 * (frames_emb(p) @ text).mean())
    for p in gen:
        gt = p.parents[2] / "gt" / f"{p.stem}.mp4"  # the reference image is the ground truth's frame 0
        with torch.no_grad():
            r = model.encode_image(preprocess(Image.fromarray(read_video(gt)[0]))[None])[0]
        values[f"{p.parent.name}/{p.stem}"]["image_alignment"] = float(100 * (frames_emb(p) @ (r / r.norm())).mean())
    for p in gen:
        e = frames_emb(p)
        values[f"{p.parent.name}/{p.stem}"]["temporal_consistency"] = float(100 * (e[:-1] * e[1:]).sum(-1).mean())


def _reference_i3d(work, gen, values) -> None:
    """I3D-RGB, then RAFT → I3D-flow, per (generated, ground-truth) pair, decoding both each time."""
    import torch

    from flash_bench.features import i3d, raft_flow
    from flash_bench.video_io import read_video

    rgb, _ = i3d.build("rgb", "tiny")
    flow, _ = i3d.build("flow", "tiny")
    raft, info = raft_flow.build("tiny", share_frames=False)  # torchvision's RAFT as it comes
    cos = torch.nn.functional.cosine_similarity
    with torch.no_grad():
        for p in gen:
            a, b = read_video(p), read_video(work / "gt" / f"{p.stem}.mp4")
            fa, fb = (rgb.features(i3d.rgb_input(v, i3d.TINY_SIZE)) for v in (a, b))
            values[f"{p.parent.name}/{p.stem}"]["cosine_rgb"] = float(cos(fa.double(), fb.double())[0])
        for p in gen:
            a, b = read_video(p), read_video(work / "gt" / f"{p.stem}.mp4")
            fa, fb = (flow.features(raft_flow.i3d_flow_input(raft, v, info["size"], info["updates"])) for v in (a, b))
            values[f"{p.parent.name}/{p.stem}"]["cosine_flow"] = float(cos(fa.double(), fb.double())[0])


def _reference_fvd(work, gen) -> dict:
    """cd-fvd's own route: stacked uint8 arrays → compute_fvd, per method (the real set re-featurised each time), on
    the features of the tiny profile's CD-FVD featuriser (:data:`flash_bench.metrics.cd_fvd.FEATURISER`)."""
    import torch
    from cdfvd.fvd import cdfvd, get_videomae_features
    from cdfvd.utils.metric_utils import FeatureStats

    from flash_bench.features import i3d, raft_flow, videomae
    from flash_bench.metrics.cd_fvd import FEATURISER
    from flash_bench.types import Profile
    from flash_bench.video_io import read_video

    if FEATURISER[Profile.TINY] == "videomae":
        model, feature_fn = videomae.build("tiny")[0], get_videomae_features
    else:  # i3d_flow: RAFT → I3D-flow per video, as the reference Cosine Flow computes it
        flow, _ = i3d.build("flow", "tiny")
        raft, info = raft_flow.build("tiny", share_frames=False)
        model = (raft, flow)

        def feature_fn(stats, model, videos, **_):
            with torch.no_grad():
                for v in videos:
                    x = raft_flow.i3d_flow_input(model[0], v, info["size"], info["updates"])
                    stats.append_torch(model[1].features(x), num_gpus=1, rank=0)
            return stats
    out = {}
    for method in sorted({p.parent.name for p in gen}):
        scorer = cdfvd.__new__(cdfvd)  # cd-fvd's class around our tiny featuriser (its __init__ would download)
        scorer.model, scorer.feature_fn, scorer.device, scorer.model_dtype = model, feature_fn, "cpu", torch.float32
        scorer.real_stats, scorer.fake_stats = FeatureStats(capture_mean_cov=True), FeatureStats(capture_mean_cov=True)
        real = np.stack([read_video(p) for p in sorted((work / "gt").glob("*.mp4"))])
        fake = np.stack([read_video(p) for p in gen if p.parent.name == method])
        out[method] = {"cd_fvd": float(scorer.compute_fvd(real, fake))}
    return out


# --------------------------------------------------------------------------------------------------
def run_child(route: str, work: Path, workers: int | None = None) -> dict:
    out = work / f"{route}.json"
    extra = ["--workers", str(workers)] if workers else []
    subprocess.run([sys.executable, __file__, "--route", route, "--work", str(work), *extra], check=True)
    return json.loads(out.read_text())


def compare(engine: dict, reference: dict) -> float:
    """Largest relative difference between the two routes' numbers."""
    worst = 0.0
    for key, vals in reference["values"].items():
        for metric, ref in vals.items():
            ours = engine["values"][key][metric]
            worst = max(worst, abs(ours - ref) / max(abs(ref), 1e-9))
    for method, vals in reference["sets"].items():
        ours, ref = engine["sets"][method]["cd_fvd"], vals["cd_fvd"]
        worst = max(worst, abs(ours - ref) / max(abs(ref), 1e-9))
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[24, 96])
    parser.add_argument("--methods", type=int, default=3)
    parser.add_argument("--route", choices=["engine", "reference"])
    parser.add_argument("--work", type=Path)
    parser.add_argument("--workers", type=int, default=None,
                        help="engine featurising threads (default: the engine's own, min(4, CPUs) on the CPU)")
    args = parser.parse_args()
    if args.route:  # child process: one route, report seconds + peak RSS
        import cdfvd.fvd  # noqa: F401 — imports are not what is measured (see the module docstring)
        import open_clip  # noqa: F401
        import torchvision.models.optical_flow  # noqa: F401

        result = route_engine(args.work, args.workers) if args.route == "engine" else route_reference(args.work)
        result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        (args.work / f"{args.route}.json").write_text(json.dumps(result))
        return
    rows = []
    for n in args.sizes:
        with tempfile.TemporaryDirectory() as d:
            work = Path(d)
            make_data(work, n, args.methods)
            engine, reference = run_child("engine", work, args.workers), run_child("reference", work)
        rows.append((n, engine, reference, compare(engine, reference)))
        print(f"N={n:>3}: engine {engine['seconds']:7.1f} s, {engine['peak_rss_mb']:6.0f} MB peak | reference "
              f"{reference['seconds']:7.1f} s, {reference['peak_rss_mb']:6.0f} MB peak | speed-up "
              f"{reference['seconds'] / engine['seconds']:4.2f}x | max rel. difference {rows[-1][3]:.2e}", flush=True)
    if len(rows) > 1:
        growth = rows[-1][1]["peak_rss_mb"] / rows[0][1]["peak_rss_mb"] - 1
        print(f"engine peak RSS N={rows[-1][0]} vs N={rows[0][0]}: {growth:+.1%} (target within 10%)")


if __name__ == "__main__":
    main()
