"""Does the yardstick recognise a generated video by the figure or by the rest of the frame?

    .venv/bin/python benchmarks/tiny_scene_reading.py --run-dir results/runs/synthetic-tiny \
        [--method flash,pia] [--actions canoeing_sprint,balance_beam_jump] [--weights a.safetensors,b.safetensors] \
        [--region ground-truth] [--videos]

For each video of ``--method`` (default: every method of the run dir) on ``--actions`` (default: all) in a run
dir on ``synthetic``: the yardstick's answer on the video; with the reference's figure region (its foreground by
the figure-presence rule — figure and props — dilated by 2 px) filled with the reference's median background
colour in every frame ("figure removed": only the scene's motion is left); and with everything outside that
region set to the reference's pixels ("scene frozen": only the figure region moves). With ``--region
ground-truth`` the figure region is instead everything the ground truth's figure and props ever cover
(:func:`flash_bench.yardstick.figure_region`, renderer mask included): the reference's region misses where the
figure goes later (a jump, an axe, a ball), so the ground truth's own "figure removed" copies still show some of
the action; with the ground truth's region they are the still scene. A video recognised with the
scene frozen is readable from the figure region alone; one recognised with the figure removed, from the scene
alone. Printed per yardstick (``--weights``, default the shipped one) and method: videos recognised, of them
readable from the figure / from the scene alone, and over all videos the share of "figure removed" copies refused
and of "scene frozen" copies recognised; ``--videos`` adds one row per recognised video.
docs/tiny_world_v2.md has the figures.
"""
from __future__ import annotations

import argparse
import glob
import json
from collections import defaultdict
from pathlib import Path

import numpy as np


def reference_region(reference: np.ndarray) -> np.ndarray:
    """bool (H, W): the reference's foreground by the figure-presence rule, dilated by 2 px."""
    from scipy.ndimage import binary_dilation

    from flash_bench.metrics import figure_presence as fp

    return binary_dilation(fp.foreground(reference[None], fp.background(reference))[0], iterations=2)


def ground_truth_region(record: dict, video: np.ndarray) -> np.ndarray:
    """bool (H, W): the figure region of the item's ground truth over the whole clip, rendered at the video's
    geometry (:func:`flash_bench.yardstick.figure_region`)."""
    from flash_bench import yardstick
    from flash_bench.datasets.synthetic import render

    gt, mask = render(record["action"], int(record["item"]), num_frames=len(video), size=video.shape[1],
                      seed=record["inputs"]["dataset"]["seed"])
    return yardstick.figure_region(gt, mask)


def copies(video: np.ndarray, reference: np.ndarray, region: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(figure removed, scene frozen) copies of a uint8 (T, H, W, 3) video of this reference (module docstring)."""
    removed = video.copy()
    removed[:, region] = np.median(reference[~region], axis=0).astype(np.uint8)
    frozen = video.copy()
    frozen[:, ~region] = reference[~region]
    return removed, frozen


def read_run(run_dir: str, methods: set[str] | None, actions: set[str] | None, region: str = "reference"
             ) -> list[tuple]:
    """(method, action, item, video, removed, frozen) of every wanted video in the run dir."""
    from flash_bench import video_io
    from flash_bench.datasets.synthetic import SyntheticDataset

    items = {(a.id, i.id): i for a in SyntheticDataset().actions() for i in a.test}
    rows = []
    for path in sorted(glob.glob(str(Path(run_dir) / "items" / "*" / "record.json"))):
        record = json.loads(Path(path).read_text())
        method, action = record["inputs"]["method"]["name"], record["action"]
        if (methods and method not in methods) or (actions and action not in actions):
            continue
        video = video_io.read_video(Path(path).with_name("video.mp4"))
        reference = items[(action, record["item"])].reference()
        where = reference_region(reference) if region == "reference" else ground_truth_region(record, video)
        rows.append((method, action, record["item"], video, *copies(video, reference, where)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run-dir", required=True)
    parser.add_argument("--method", default="", help="comma-separated methods (default: all in the run dir)")
    parser.add_argument("--actions", default="", help="comma-separated actions (default: all)")
    parser.add_argument("--weights", default="", help="comma-separated yardstick weights (default: the shipped)")
    parser.add_argument("--region", default="reference", choices=["reference", "ground-truth"],
                        help="the figure region: the reference's foreground, or the ground truth's over the clip")
    parser.add_argument("--videos", action="store_true", help="also one row per recognised video")
    args = parser.parse_args()

    from flash_bench import yardstick

    split = lambda s: set(s.split(",")) if s else None  # noqa: E731
    rows = read_run(args.run_dir, split(args.method), split(args.actions), args.region)
    if not rows:
        raise SystemExit(f"no wanted videos in {args.run_dir}")
    for weights in (args.weights.split(",") if args.weights else [None]):
        model, info = yardstick.load(weights)
        print(f"\nyardstick {weights or yardstick.WEIGHTS_PATH} (sha256 {info['sha256'][:12]})\n")
        table, recognised = defaultdict(lambda: np.zeros(7, int)), []
        for method, action, item, *videos in rows:
            video, removed, frozen = (yardstick.answer(lp) for lp in yardstick.log_probs(model, videos))
            hit = video == action
            table[method] += [1, hit, hit and frozen == action, hit and removed == action,
                              removed == yardstick.NO_ACTION, removed == action, frozen == action]
            if hit:
                recognised.append((method, action, item, video, removed, frozen))
        print(f"figure region: {args.region}\n\n| method | videos | recognised | of them from the figure alone | "
              "from the scene alone | figure removed: refused | figure removed: recognised | scene frozen: "
              "recognised |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for method, (n, hit, fig, scene, refused, scene_hit, kept) in sorted(table.items()):
            print(f"| {method} | {n} | {hit} | {fig} | {scene} | {100 * refused / n:.1f}% | {100 * scene_hit / n:.1f}% "
                  f"| {100 * kept / n:.1f}% |")
        if args.videos:
            print("\n| method | action | item | video | figure removed | scene frozen |\n"
                  "| --- | --- | --- | --- | --- | --- |")
            for row in sorted(recognised):
                print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
