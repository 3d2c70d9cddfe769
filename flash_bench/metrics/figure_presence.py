"""Figure presence (a tiny-world diagnostic, not one of the paper's six metrics): does a generated video show
the reference's figure in every frame?

Needs only the reference image and the generated video (no renderer mask, no model), and assumes only what
the synthetic worlds' scenes satisfy: a background that is flat or constant along rows (wall, floor, their
boundary), seen at the reference's border.

* Background colours, from the reference alone: its border pixels' colours that at least
  :data:`MIN_SUPPORT` border pixels share within :data:`TAU` (the scene, not a limb touching the edge), and,
  per row, the row's two end pixels (a scene constant along rows: the wall's vertical gradient, the
  anti-aliased wall/floor boundary).
* Foreground of a frame: its pixels farther than :data:`TAU` (Euclidean RGB, 0-255) from every background
  colour of their row. The reference's figure is the reference's foreground, by the same rule (props such as
  a cup or a canoe count with it: they are what the reference shows).
* A frame shows the figure when its foreground has the figure's colours in the figure's amounts: the IoU of
  the two colour histograms of pixel counts (soft, trilinear, :data:`BINS` levels per channel),
  ``sum(min) / max(sum)``, is at least :data:`THRESHOLD`. Where the foreground lies is ignored on purpose:
  the figure moves (a hug brings two figures together, a shot has a run-up), and on ground truth a
  location overlap with the reference's mask fails for such actions (docs/tiny_world_v2.md, G3). Noise makes
  the foreground the whole frame in random colours, figureless texture makes it scene-coloured, a
  melting figure's colours smear into the scene's: all score low.

:func:`figure_presence` gives a video's value: the percentage of its frames that show the figure (None when
the reference has no foreground). Constants chosen on validation videos (indices 5000-5003 of
``synthetic`` (v2)), measured on the test videos in ``tests/test_figure_presence.py`` and docs/tiny_world_v2.md.

:class:`FigurePresence` is the registered metric ``figure_presence`` (per video, 0-100, higher is better). It
reads the generated frames and the run dir's reference image (``pixels``), no feature. It is defined only on
:data:`DATASETS`, whose scenes satisfy the background rule by construction, in any profile (it has no
backbone); elsewhere (HAA500's real scenes, a user's folder) every value is missing (None, never 0) and
:attr:`~FigurePresence.unavailable` says why. Every report table that shows it says it is a diagnostic, not
one of the paper's six metrics (:attr:`~FigurePresence.note`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from flash_bench.metrics.base import Metric, Sample
from flash_bench.types import InputError

DATASETS = ("synthetic",)   # where the background rule holds (flat or row-constant scene, static camera)

TAU = 40.0          # colour distance (RGB, 0-255) beyond which a pixel is foreground
MIN_SUPPORT = 4     # border pixels that must share a colour (within TAU) for it to be a background colour
BINS = 6            # histogram levels per colour channel
THRESHOLD = 0.4     # colour-histogram IoU at which a frame shows the figure


@dataclass(frozen=True)
class Background:
    common: np.ndarray   # (K, 3) float colours of the scene seen along the border
    rows: np.ndarray     # (H, 2, 3) float: each row's first and last pixel


def background(reference: np.ndarray) -> Background:
    """The background colours of a uint8 (H, W, 3) reference image (module docstring)."""
    ref = _image(reference, "reference")
    border = np.concatenate([ref[0], ref[-1], ref[1:-1, 0], ref[1:-1, -1]]).astype(np.float64)
    colours, counts = np.unique(border, axis=0, return_counts=True)
    near = np.linalg.norm(colours[:, None] - colours[None], axis=-1) <= TAU
    support = near.astype(np.int64) @ counts
    return Background(colours[support >= MIN_SUPPORT], ref[:, [0, -1]].astype(np.float64))


def foreground(frames: np.ndarray, bg: Background) -> np.ndarray:
    """uint8 (T, H, W, 3) frames → bool (T, H, W): pixels farther than TAU from every background colour."""
    x = np.asarray(frames, np.float64)
    if x.shape[-3] != bg.rows.shape[0]:
        raise InputError(f"figure presence: frames of height {x.shape[-3]} against a reference of height "
                         f"{bg.rows.shape[0]}")
    d = np.linalg.norm(x[..., None, :] - bg.rows[:, None], axis=-1).min(-1)       # (T, H, W) to the row's ends
    for c in bg.common:                                                             # and to the border's scene
        d = np.minimum(d, np.linalg.norm(x - c, axis=-1))
    return d > TAU


def colour_histogram(pixels: np.ndarray) -> np.ndarray:
    """(N, 3) colours in 0-255 → (BINS³,) soft pixel counts: each pixel split trilinearly over its 8 nearest bins."""
    x = np.asarray(pixels, np.float64).reshape(-1, 3) / 255 * (BINS - 1)
    lo = np.clip(np.floor(x).astype(np.int64), 0, BINS - 2)
    w = x - lo
    hist = np.zeros(BINS ** 3)
    for corner in np.ndindex(2, 2, 2):
        o = np.array(corner)
        idx = lo + o
        np.add.at(hist, (idx[:, 0] * BINS + idx[:, 1]) * BINS + idx[:, 2], np.prod(np.where(o, w, 1 - w), axis=1))
    return hist


def frame_scores(reference: np.ndarray, video: np.ndarray) -> np.ndarray | None:
    """(T,) colour-histogram IoU of each frame's foreground with the reference's figure; None when the
    reference has no foreground."""
    ref = _image(reference, "reference")
    video = np.asarray(video)
    if video.ndim != 4 or video.shape[1:] != ref.shape or video.dtype != np.uint8:
        raise InputError(f"figure presence: video {video.dtype} {video.shape} does not match the reference "
                         f"{ref.shape} (expected uint8 (T, H, W, 3) of the reference's size)")
    bg = background(ref)
    figure = colour_histogram(ref[foreground(ref[None], bg)[0]])
    if figure.sum() == 0:
        return None
    masks = foreground(video, bg)
    out = np.empty(len(video))
    for t, (frame, mask) in enumerate(zip(video, masks)):
        h = colour_histogram(frame[mask])
        out[t] = np.minimum(h, figure).sum() / max(h.sum(), figure.sum())
    return out


def figure_presence(reference: np.ndarray, video: np.ndarray) -> float | None:
    """Percentage of the video's frames that show the reference's figure (module docstring); None when the
    reference has no foreground."""
    s = frame_scores(reference, video)
    return None if s is None else 100.0 * float(np.mean(s >= THRESHOLD))


def _image(image: np.ndarray, what: str) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[-1] != 3 or image.dtype != np.uint8 or min(image.shape[:2]) < 3:
        raise InputError(f"figure presence: {what} must be a uint8 (H, W, 3) image (H, W >= 3), got "
                         f"{image.dtype} {image.shape}")
    return image


class FigurePresence(Metric):
    name = "figure_presence"
    label = "Figure Presence"
    higher_is_better = True
    decimals = 1
    scale = ("percent of frames that show the reference's figure (foreground against the reference's flat "
             "background with the figure's colours)")
    note = ("Figure Presence is a tiny-world diagnostic, not one of the paper's six metrics: the share of frames "
            "whose foreground, against the reference's flat background, has the reference figure's colours; "
            f"defined on {', '.join(DATASETS)} only.")
    version = "1"                        # bump with TAU, MIN_SUPPORT, BINS or THRESHOLD
    pixels = True
    datasets = DATASETS

    def __init__(self, backbone: dict | None = None, dataset: str | None = None):
        super().__init__(backbone)
        self.dataset = dataset
        self.unavailable = None if dataset in DATASETS else (
            f"figure_presence is unavailable on dataset {dataset!r}: its background rule (a flat scene seen at the "
            f"reference's border) holds on {', '.join(DATASETS)} only (values are missing, not zero)")

    def _value(self, sample: Sample) -> float | None:
        if self.unavailable or sample.frames is None or sample.reference_image is None:
            return None
        return figure_presence(sample.reference_image, _at_size(sample.frames, sample.reference_image.shape[:2]))


def _at_size(frames: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(T, h, w, 3) frames at the reference's (H, W): nearest neighbour, so no colour is invented."""
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[1:3] == tuple(size):
        return frames
    rows = (np.arange(size[0]) + 0.5) * frames.shape[1] // size[0]
    cols = (np.arange(size[1]) + 0.5) * frames.shape[2] // size[1]
    return frames[:, rows.astype(int)][:, :, cols.astype(int)]
