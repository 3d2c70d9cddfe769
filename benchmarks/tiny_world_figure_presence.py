"""Figure presence (issue 17, "what a new user must see") validated on the `synthetic` (v2) world: the share of
frames that show the reference's figure (:mod:`flash_bench.metrics.figure_presence`), on the 48 test videos
(016-019) and on what must score high (static reference, drifting figure, blur, the tiny VAE's round trip)
or low (noise, figureless texture; a melting figure in its later frames). The junk is that of
``tiny_world_yardstick.py``. Printed per kind: the mean over videos of the percentage of frames that show the
figure, the share of videos where every frame does, and the mean frame score; ``--split validation``
(indices 5000-5003) is where the constants were chosen, with a sweep of the frame threshold.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/tiny_world_figure_presence.py --base-dir flash/weights/tiny_v2

``--run-dir DIR`` instead reads a run dir's videos and references (nothing else): per method the metric's value
(``figure_presence``), the share of videos where every frame shows the figure, the mean frame score of the
first and later frames, the share at other thresholds, and the foreground per frame over the reference's.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from tiny_world_yardstick import VALIDATION, junk, render_set  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--split", default="test", choices=["test", "validation"])
    parser.add_argument("--base-dir", default=None, help="a v2 tiny base: also its VAE round trip")
    parser.add_argument("--run-dir", default=None, help="a run dir: its methods' videos instead")
    args = parser.parse_args()
    if args.run_dir:
        return run_dir_table(Path(args.run_dir))
    from flash_bench import yardstick
    from flash_bench.metrics import figure_presence as fp

    videos, masks, labels = render_set(range(16, 20) if args.split == "test" else VALIDATION)
    kinds = {"ground truth": videos, **junk(videos, masks, np.random.default_rng(2))}
    kinds["blurred (sigma 1 px)"] = np.stack([yardstick.clip_to_uint8(yardstick._blur(yardstick.clip_to_unit(v), 1.0))
                                              for v in videos])
    if args.base_dir:
        kinds["tiny VAE round trip"] = np.stack(yardstick.vae_round_trip(list(videos), args.base_dir))
    refs = videos[:, 0]
    own = [fp.foreground(ref[None], fp.background(ref))[0] for ref in refs]
    iou = [(a & b).sum() / max((a | b).sum(), 1) for a, b in zip(own, masks[:, 0])]
    print(f"{args.split}: the reference's foreground against the renderer's figure mask: IoU mean {np.mean(iou):.2f}, "
          f"min {np.min(iou):.2f} (props count as foreground, not in the mask)")
    sweep = (0.3, 0.4, 0.5, 0.6) if args.split == "validation" else (fp.THRESHOLD,)
    print(f"{'videos':24s} {'% frames with figure':>21s} {'all frames':>11s} {'frame score':>12s}" +
          "".join(f" {'>= ' + str(t):>8s}" for t in sweep))
    for kind, vids in kinds.items():
        s = np.array([fp.frame_scores(r, v) for r, v in zip(refs, vids)])        # (N, T)
        shown = s >= fp.THRESHOLD
        print(f"{kind:24s} {100 * shown.mean():20.1f}% {100 * shown.all(1).mean():10.1f}% {s.mean():12.2f}" +
              "".join(f" {100 * (s >= t).mean():7.1f}%" for t in sweep))


def run_dir_table(root: Path) -> None:
    from collections import defaultdict

    from flash_bench.metrics import figure_presence as fp
    from flash_bench.requests import load_requests
    from flash_bench.store import RunStore
    from flash_bench.video_io import read_video

    store, requests = RunStore(root), load_requests(root)
    scores, fg = defaultdict(list), defaultdict(list)
    for e in store.read_index():
        if (store.record(e["key"]) or {}).get("status") != "ok":
            continue
        ref, video = requests.reference(e["action"], e["item"]), read_video(store.video_file(e["key"]))
        bg = fp.background(ref)
        scores[e["method"]].append(fp.frame_scores(ref, video))
        fg[e["method"]].append(fp.foreground(video, bg).mean(0).sum() / fp.foreground(ref[None], bg).sum())
    print(f"{'method':14s} {'n':>3s} {'% frames':>8s} {'all':>6s} {'1st':>5s} {'later':>5s} "
          f"{'>=0.3':>6s} {'>=0.35':>6s} {'>=0.5':>6s} {'fg/ref':>6s}")
    for m, s in scores.items():
        s = np.array(s)                                                                # (N, T)
        shown = s >= fp.THRESHOLD
        others = "".join(f" {100 * (s >= t).mean():6.1f}" for t in (0.3, 0.35, 0.5))
        print(f"{m:14s} {len(s):3d} {100 * shown.mean():7.1f}% {100 * shown.all(1).mean():5.1f}% "
              f"{s[:, 0].mean():5.2f} {s[:, 1:].mean():5.2f}{others} {np.mean(fg[m]):6.2f}")


if __name__ == "__main__":
    main()
