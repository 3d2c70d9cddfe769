"""Does the yardstick recognise a generated video by the figure or by the rest of the frame?

    .venv/bin/python benchmarks/tiny_scene_reading.py --run-dir results/runs/synthetic-tiny \
        [--method flash] [--actions canoeing_sprint,balance_beam_jump,hugging_human]

For each video of ``--method`` on ``--actions`` in a run dir on ``synthetic``: the yardstick's answer on the video;
with the reference's figure region (its foreground by the figure-presence rule — figure and props — dilated by 2 px)
filled with the reference's median background colour in every frame ("figure removed": only the scene's motion
is left); and with everything outside that region set to the reference's pixels ("scene frozen": only the
figure region moves). A video recognised with the scene frozen and refused with the figure removed is read from
the figure region. docs/tiny_world_v2.md has the figures.
"""
from __future__ import annotations

import argparse
import glob
import json
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run-dir", required=True)
    parser.add_argument("--method", default="flash")
    parser.add_argument("--actions", default="canoeing_sprint,balance_beam_jump,hugging_human")
    args = parser.parse_args()

    from scipy.ndimage import binary_dilation

    from flash_bench import video_io, yardstick
    from flash_bench.datasets.synthetic import SyntheticDataset
    from flash_bench.metrics import figure_presence as fp

    actions = {a.id: a for a in SyntheticDataset().actions()}
    wanted = args.actions.split(",")
    model, _ = yardstick.load()
    rows = []
    for path in sorted(glob.glob(str(Path(args.run_dir) / "items" / "*" / "record.json"))):
        record = json.loads(Path(path).read_text())
        if record["inputs"]["method"]["name"] != args.method or record["action"] not in wanted:
            continue
        video = video_io.read_video(Path(path).with_name("video.mp4"))
        item = next(i for i in actions[record["action"]].test if i.id == record["item"])
        ref = item.reference()
        region = binary_dilation(fp.foreground(ref[None], fp.background(ref))[0], iterations=2)
        removed = video.copy()
        removed[:, region] = np.median(ref[~region], axis=0).astype(np.uint8)
        frozen = video.copy()
        frozen[:, ~region] = ref[~region]
        answers = [yardstick.answer(lp) for lp in yardstick.log_probs(model, [video, removed, frozen])]
        rows.append((record["action"], record["item"], *answers))
    print("| action | item | video | figure removed | scene frozen |\n| --- | --- | --- | --- | --- |")
    for row in sorted(rows):
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
