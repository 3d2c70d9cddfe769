"""`synthetic`: 12 few-shot human actions rendered procedurally, shipped as code (no download, no ``--root``) — the
tiny world (issue 17, docs/tiny_world_v2.md), drawn so that CPU-scale models can master the appearance and the
motion is the only hard part.

Articulated 2-D figures (:mod:`flash_bench.datasets.figures`: bodies, the 12 choreographies, props) in a flat
two-tone scene (wall and floor, a faint vertical gradient on the wall), a static camera (no pan, no zoom; actions
that travel run on the spot), a large figure with thick limbs, solid clothes from a small palette, solid props.
Appearance changes from video to video (palette colours, skin tone, hair, proportions, position, mirror, light or
dark scene), so the few-shot problem is motion versus appearance. The renderer also returns the figure's
foreground mask (coverage >= 0.5 after occlusion by props in front), for figure-only PSNR and figure presence.

Videos ``000``-``015`` of an action train (``--shots`` keeps a seeded subset), ``016``-``019`` are test items
(reference = first frame, ground truth = the video). Everything is seeded from (dataset seed, action id, video
index): the same seed gives byte-identical videos. The default geometry is the tiny profile's
(:data:`flash_bench.tiny_world.SIZE`, :data:`~flash_bench.tiny_world.NUM_FRAMES`); any size and length render
natively.

Pretraining data (never the 12 few-shot actions): the 10 ``PRETRAIN_ACTIONS`` plus procedurally random
choreographies (``RANDOM_ACTION``: smooth random joint trajectories of the same bodies, one per index), also in
the few-shot actions' poses, props, scenes and company (``VARIANT_ACTIONS``, ``RANDOM_VARIANTS``); for the metric
CLIP's caption pool only, the hand-held props also over the arm's whole reach (``REACH_ACTIONS``) and two people
also near each other (``NEAR_ACTIONS``).

Public API:
  * ``render(action_id, index, *, num_frames, size, seed=0)`` -> (uint8 video (T, H, W, 3), bool mask (T, H, W)).
  * ``render_video(...)`` -- the video alone.
  * ``pretrain_pool(num_videos=50, num_random=0, num_frames, size, seed=0, num_variants=0)`` -- lazy (action id,
    prompt, Clip).
    A function rather than a ``split="pretrain"``: the pool has no test items and no few-shot split.
  * ``SyntheticDataset`` -- the 12 few-shot actions.
"""
from __future__ import annotations

import functools
import zlib

import numpy as np

from flash_bench.datasets import figures as fg
from flash_bench.datasets.base import FewShotDataset, select_shots
from flash_bench.tiny_world import NUM_FRAMES, SIZE
from flash_bench.types import Action, Clip, InputError, TestItem

VERSION = "2"          # bump when the rendering changes: results record it (1: textured scenes, camera pan/zoom)
ACTIONS, PRETRAIN_ACTIONS, PI = fg.ACTIONS, fg.PRETRAIN_ACTIONS, fg.PI
NUM_VIDEOS, NUM_TRAIN = fg.NUM_VIDEOS, fg.NUM_TRAIN
RANDOM_ACTION, RANDOM_PROMPT = "random_motion", "a person is moving."

# Figure scale: thick limbs and trunk, a slightly bigger head (multipliers on the figures' body proportions).
THICKNESS = dict(limb_r=1.8, torso_r=1.35, head_r=1.15)
CYCLE_SCALE = 0.5       # half the choreographies' action time per clip: at 8 frames a cycle spans >= 4 frames
MIN_PROP_R = 0.05       # props are at least this thick (body heights)

# A few solid clothing colours (and hair colours); each video draws from them.
PALETTE = np.array([[0.85, 0.15, 0.15], [0.15, 0.35, 0.85], [0.15, 0.65, 0.25], [0.95, 0.8, 0.15],
                    [0.95, 0.5, 0.1], [0.55, 0.2, 0.7], [0.1, 0.7, 0.75], [0.95, 0.95, 0.95],
                    [0.12, 0.12, 0.14], [0.9, 0.4, 0.6]])
HAIR = np.array([[0.08, 0.06, 0.05], [0.35, 0.2, 0.1], [0.85, 0.7, 0.35], [0.55, 0.55, 0.55]])


# ----------------------------------------------------------------------------- random choreographies

# Degrees of freedom of a random choreography: (lo, hi) per view; elbows and knees are bends relative to
# the upper limb, so a forearm never folds backwards and a shin never kicks forwards through the knee.
_SIDE_DOF = dict(torso=(PI - 0.45, PI + 0.1), head=(-0.3, 0.3), ua_l=(-0.9, 2.9), ua_r=(-0.9, 2.9),
                 bend_l=(0.0, 2.0), bend_r=(0.0, 2.0), th_l=(-0.6, 1.3), th_r=(-0.6, 1.3),
                 flex_l=(0.0, 1.6), flex_r=(0.0, 1.6))
_FRONT_DOF = dict(torso=(PI - 0.15, PI + 0.15), head=(-0.25, 0.25), ua_l=(0.0, 3.0), ua_r=(0.0, 3.0),
                  bend_l=(-0.8, 1.5), bend_r=(-0.8, 1.5), th_l=(-0.05, 0.5), th_r=(-0.05, 0.5),
                  flex_l=(0.0, 0.3), flex_r=(0.0, 0.3))


def _smooth(rng, t: np.ndarray) -> np.ndarray:
    """A smooth random signal in [-1, 1] over clip time t in [0, 1]: three sinusoids of 0.3-1.5 cycles."""
    amp = rng.uniform(0.0, 1.0, 3)
    out = sum(a * np.sin(2 * PI * rng.uniform(0.3, 1.5) * t + rng.uniform(0, 2 * PI)) for a in amp)
    return out / max(amp.sum(), 1e-6)


def _random_pose(ph, v, b):
    """A pose dict with every degree of freedom on its own smooth random trajectory (within its range); the
    degrees of freedom named in ``v["still"]`` (if any) hold their centre value."""
    rng = np.random.default_rng(v["drop_seed"])
    dof, still = {}, v.get("still", ())
    for name, (lo, hi) in (_FRONT_DOF if v["front"] else _SIDE_DOF).items():
        centre, swing = rng.uniform(0.25, 0.75), rng.uniform(0.1, 0.5)
        dof[name] = lo + (hi - lo) * np.clip(centre + (0.0 if name in still else swing) * _smooth(rng, ph), 0, 1)
    out = dict(torso=dof["torso"], head=dof["torso"] + dof["head"])
    for s in ("l", "r"):
        out.update({f"ua_{s}": dof[f"ua_{s}"], f"la_{s}": dof[f"ua_{s}"] + dof[f"bend_{s}"],
                    f"th_{s}": dof[f"th_{s}"], f"sh_{s}": dof[f"th_{s}"] - dof[f"flex_{s}"]})
    return out


def _random_spec(rng) -> fg.ActionSpec:
    return fg.ActionSpec(RANDOM_PROMPT, _random_pose, cycles=None, front=bool(rng.random() < 0.4), top=1.5,
                         width=1.3)


# Random choreographies in the poses, props, scenes and company of the 12 few-shot actions — never their motions:
# the base's pretraining pool needs them (a base that never drew a lying body, a cup or a second person cannot
# carry them over from a reference image; docs/tiny_world_v2.md), and so does the metric CLIP's caption pool
# (their prompts name what is drawn). kind -> (prompt, ActionSpec change); the props are the renderer's own
# drawings in figures.py. A variant is an action id of its own, ``random_motion+<kind>`` (VARIANT_ACTIONS), so each
# has its own random stream. Each also comes **sparse**, ``...+sparse`` (SPARSE_ACTIONS, with the plain random
# choreography's ``random_motion+sparse``): only 1-3 of the body's degrees of freedom move and the rest of the body
# holds still, as in a delicate action (a base that only saw whole bodies in motion predicts every body part as
# uncertain, so it blurs the parts of a reference that should stay put).
SPARSE, SPARSE_ACTIVE = "+sparse", (1, 3)
KNEEL = dict(th_r=0.2, sh_r=-1.45, th_l=1.4, sh_l=0.1, y=0.1)   # legs folded in a canoe


def _ranged(rng, ph, lo, hi):
    """A smooth random trajectory in [lo, hi] over the clip's phase."""
    return lo + (hi - lo) * (0.5 + 0.5 * _smooth(rng, ph))


def _prop_pose(ph, v, b, scene: str = "ground"):
    """A random choreography's pose plus the smooth random prop angles and paddle positions the props read."""
    rng = np.random.default_rng(v["drop_seed"] + 1)
    low = (_ranged(rng, ph, -0.3, 0.5), _ranged(rng, ph, 0.12, 0.42))
    return {**_random_pose(ph, v, b), **(KNEEL if scene == "water" else {}), "cup_tilt": _ranged(rng, ph, 0.0, 1.7),
            "tilt": _ranged(rng, ph, -0.3, 2.0) * v["side"], "paddle_low": low,
            "paddle_high": (low[0] - 0.08, low[1] + 0.45)}


def _two_pose(ph, v, bodies):
    """Two random choreographies side by side, facing each other."""
    return [{**_random_pose(ph, {**v, "drop_seed": v["drop_seed"] + j}, b), "x": sign * 0.4, "yaw": yaw}
            for j, (b, sign, yaw) in enumerate(zip(bodies, (-1.0, 1.0), (0.0, PI)))]


def _lying_pose(ph, v, b):
    """A random choreography lying face down: the trunk near horizontal (0.05-0.5 rad above it, as a plank or a
    raised chest), legs along it with small random bends, head and arms on their own random paths; the toes on
    the floor."""
    rng = np.random.default_rng(v["drop_seed"] + 2)
    torso = PI / 2 + _ranged(rng, ph, 0.05, 0.5)
    out = {**_random_pose(ph, v, b), "torso": torso, "head": torso + _ranged(rng, ph, 0.0, 0.6)}
    for s in ("l", "r"):
        th = torso - PI + _ranged(rng, ph, -0.1, 0.3)
        out.update({f"th_{s}": th, f"sh_{s}": th - _ranged(rng, ph, 0.0, 0.5)})
    return out


def _sparse(pose, ph, v, b):
    """``pose`` with all but 1-3 random degrees of freedom still."""
    rng = np.random.default_rng(v["drop_seed"] + 3)
    names = list(_FRONT_DOF if v["front"] else _SIDE_DOF)
    active = rng.choice(names, rng.integers(SPARSE_ACTIVE[0], SPARSE_ACTIVE[1] + 1), replace=False)
    return pose(ph, {**v, "still": frozenset(names) - set(active)}, b)


RANDOM_VARIANTS = {
    "ball": ("a person is moving, with a soccer ball.", dict(props=fg._ball_props)),
    "cup": ("a person is holding a cup.", dict(props=fg._cup_props)),
    "axe": ("a person is holding an axe, by a block of wood.", dict(props=fg._axe_props)),
    "bucket": ("a person is holding a bucket of water.", dict(props=fg._bucket_props, front=True)),
    "canoe": ("a person is sitting in a canoe, with a paddle.", dict(props=fg._canoe_props, scene="water")),
    "beam": ("a person is standing on a balance beam.", dict(props=fg._beam_props, scene="beam")),
    "two": ("two people are moving.", dict(pose=_two_pose, figures=2, front=False, width=1.7)),
    "lying": ("a person is lying face down.", dict(pose=_lying_pose, front=False, top=0.7, width=1.2)),
}
VARIANT_ACTIONS = tuple(f"{RANDOM_ACTION}+{kind}" for kind in RANDOM_VARIANTS)
SPARSE_ACTIONS = tuple(a + SPARSE for a in (RANDOM_ACTION, *VARIANT_ACTIONS))

# The hand-held props also come **over the arm's whole reach**, ``random_motion+<kind>+reach`` (REACH_ACTIONS): the
# holding hand (both hands in a frontal view) on a smooth random path from the hip to over the head and from
# folded at the chest to the arm's full length — where the few-shot actions hold them (the cup at the mouth, the
# axe and the bucket over the head) and the random joint angles above rarely do. Not in ``pretrain_pool``: the
# metric CLIP's caption pool draws them (backbones_train.render_caption_pool).
REACH, REACH_KINDS = "+reach", ("cup", "axe", "bucket")
REACH_ANGLE, REACH_SHARE = (-0.3, 3.4), (0.3, 1.0)   # hand direction from the shoulder (0 down, pi up); share of reach
REACH_ACTIONS = tuple(f"{RANDOM_ACTION}+{kind}{REACH}" for kind in REACH_KINDS)


def _reach(pose, ph, v, b):
    """``pose`` with the right hand (both hands in a frontal view) on a smooth random path over the arm's reach
    (:data:`REACH_ANGLE`, :data:`REACH_SHARE`), the elbow bending the natural way (inverse kinematics)."""
    rng = np.random.default_rng(v["drop_seed"] + 4)
    path = []
    for lo, hi in (REACH_ANGLE, REACH_SHARE):
        centre, swing = rng.uniform(0.0, 1.0), rng.uniform(0.1, 0.4)
        path.append(lo + (hi - lo) * np.clip(centre + swing * _smooth(rng, ph), 0, 1))
    ang, dist = path[0], path[1] * (b["upper_arm"] + b["forearm"])
    ua, la = fg._ik((0.0, 0.0), (dist * np.sin(ang), -dist * np.cos(ang)), b["upper_arm"], b["forearm"], bend=-1)
    return {**pose(ph, v, b), **{f"{k}_{s}": a for s in (("r", "l") if v["front"] else ("r",))
                                  for k, a in (("ua", ua), ("la", la))}}


# Two people also come **near each other**, ``random_motion+two+near`` (NEAR_ACTIONS): their gap on a smooth random
# path from apart to touching (:data:`NEAR_GAP`, body heights from the middle) — as a hugging pair comes together and
# the plain variant's pair, at +-0.4, never does. Not in ``pretrain_pool``: the metric CLIP's caption pool only.
NEAR, NEAR_GAP = "+near", (0.12, 0.62)
NEAR_ACTIONS = (f"{RANDOM_ACTION}+two{NEAR}",)


def _near(pose, ph, v, bodies):
    """``pose`` (two figures) with each figure's distance from the middle on a smooth random path over NEAR_GAP."""
    rng = np.random.default_rng(v["drop_seed"] + 5)
    gap = _ranged(rng, ph, *NEAR_GAP)
    return [{**p, "x": np.sign(p["x"]) * gap} for p in pose(ph, v, bodies)]


def _variant_spec(kind: str, rng) -> fg.ActionSpec:
    change = dict(RANDOM_VARIANTS[kind][1])
    if "props" in change:            # a prop reads its own random angles from the pose
        change["pose"] = functools.partial(_prop_pose, scene=change.get("scene", "ground"))
    return _random_spec(rng)._replace(prompt=RANDOM_VARIANTS[kind][0], **change)


# ----------------------------------------------------------------------------- look, scene, camera

def _sample_body(rng) -> dict:
    body = fg._sample_body(rng)
    return {k: val * THICKNESS.get(k, 1.0) for k, val in body.items()}


def _distinct(rng, avoid: list, k: int) -> list:
    """``k`` palette colours, each far from the colours in ``avoid`` (and from each other's picks)."""
    out = []
    for i in rng.permutation(len(PALETTE)):
        if all(np.abs(PALETTE[i] - c).sum() > 0.6 for c in avoid + out):
            out.append(PALETTE[i])
        if len(out) == k:
            return out
    return out + [PALETTE[rng.integers(len(PALETTE))] for _ in range(k - len(out))]


def _sample_scene(rng, scene: str) -> dict:
    light = rng.random() < 0.6
    lo, hi = (0.6, 0.92) if light else (0.1, 0.35)
    wall = fg._color(rng, lo, hi, (0.05, 0.4))
    floor = (np.array([0.2, 0.4, 0.65]) if scene == "water" else fg._color(rng, lo * 0.8, hi * 0.85, (0.05, 0.4)))
    return dict(wall=wall, floor=floor, grad=rng.uniform(-0.06, 0.06))


def _sample_look(rng, scene: dict) -> dict:
    skin = fg.SKIN_LIGHT + (fg.SKIN_DARK - fg.SKIN_LIGHT) * rng.uniform()
    shirt, pants, shoes = _distinct(rng, [scene["wall"], scene["floor"], skin], 3)
    sleeve = shirt if rng.random() < 0.5 else skin
    return dict(skin=skin, shirt=shirt, shirt2=shirt, stripes=0.0, pants=pants, shoes=shoes, sleeve=sleeve,
                hair=HAIR[rng.integers(len(HAIR))])


def _camera(rng, spec, figs, T: int, size: int) -> dict:
    """A static camera framing the figures' joints over the whole clip (so every action fills most of the
    frame, whatever its travel or reach), at a random position within the room left and a random mirror."""
    floor = fg.FLOOR[spec.scene]
    pts = np.concatenate([val.reshape(-1, 2) for J in figs for val in J.values()
                          if isinstance(val, np.ndarray) and val.ndim == 2 and val.shape[-1] == 2])
    margin = max(J["body"]["head_r"] for J in figs) * 1.2
    x0, x1 = pts[:, 0].min() - margin, pts[:, 0].max() + margin
    bottom = max(floor, min(pts[:, 1].min() - margin, 0.0))      # a figure on a beam: the floor may be out of view
    top = max(pts[:, 1].max() + margin, bottom + 0.5)
    ground = size * rng.uniform(0.9, 0.95)                        # pixel row of ``bottom``
    k = rng.uniform(0.88, 1.0) * min((ground - 0.04 * size) / (top - bottom), 0.94 * size / (x1 - x0))
    m = float(rng.choice([-1.0, 1.0]))
    slack = max(0.0, (0.96 * size - k * (x1 - x0)) / 2)
    cx = size / 2 + rng.uniform(-0.8, 0.8) * slack - m * k * (x0 + x1) / 2
    return dict(k=np.full(T, k), cx=np.full(T, cx), gy=np.full(T, ground + bottom * k), camx=np.zeros(T), m=m)


def _background(cv, spec, scene: dict) -> None:
    """Wall (with a faint vertical gradient) above the floor line, a flat floor below it."""
    floor = fg.FLOOR[spec.scene]
    wall = scene["wall"] + scene["grad"] * np.clip(cv.Y - floor, 0, 2)[..., None]
    gcov = np.clip((floor - cv.Y) / cv.px + 0.5, 0, 1)[..., None]
    cv.img[:] = wall * (1 - gcov) + scene["floor"] * gcov


def _solid(shape: dict) -> dict:
    """A prop made solid (no stripes) and at least MIN_PROP_R thick."""
    r = np.asarray(shape["r"], float)
    return {**shape, "stripes": 0.0, "color2": None, "r": np.where(r > 0, np.maximum(r, MIN_PROP_R), 0.0)}


# ----------------------------------------------------------------------------- rendering entry points

def _spec(action_id: str, rng) -> fg.ActionSpec:
    if action_id in SPARSE_ACTIONS:
        spec = _spec(action_id[:-len(SPARSE)], rng)
        return spec._replace(pose=functools.partial(_sparse, spec.pose))
    if action_id in REACH_ACTIONS:
        spec = _spec(action_id[:-len(REACH)], rng)
        return spec._replace(pose=functools.partial(_reach, spec.pose))
    if action_id in NEAR_ACTIONS:
        spec = _spec(action_id[:-len(NEAR)], rng)
        return spec._replace(pose=functools.partial(_near, spec.pose))
    if action_id == RANDOM_ACTION:
        return _random_spec(rng)
    if action_id in VARIANT_ACTIONS:
        return _variant_spec(action_id.split("+", 1)[1], rng)
    return fg._spec(action_id)


def pool_class(action_id: str) -> str:
    """The pretraining class of a pool action id: a random-choreography variant is a random choreography."""
    return RANDOM_ACTION if action_id in VARIANT_ACTIONS + SPARSE_ACTIONS + REACH_ACTIONS + NEAR_ACTIONS else action_id


def pool_prompt(action_id: str) -> str:
    """The prompt of a pool action id (a sparse, reach or near one has its plain twin's)."""
    base = next((action_id[:-len(end)] for ids, end in ((SPARSE_ACTIONS, SPARSE), (REACH_ACTIONS, REACH),
                                                         (NEAR_ACTIONS, NEAR))
                 if action_id in ids), action_id)
    if base == RANDOM_ACTION:
        return RANDOM_PROMPT
    if base in VARIANT_ACTIONS:
        return RANDOM_VARIANTS[base.split("+", 1)[1]][0]
    return PRETRAIN_ACTIONS[base].prompt


def _phases(spec, rng, T):
    if spec.cycles is not None:
        lo, hi = spec.cycles
        spec = spec._replace(cycles=(max(1.0, lo * CYCLE_SCALE), max(1.25, hi * CYCLE_SCALE)))
    return fg._phases(spec, rng, T)


def render(action_id: str, index: int, *, num_frames: int = NUM_FRAMES, size: int = SIZE,
           seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """One video, uint8 (T, H, W, 3), and its figure mask, bool (T, H, W); determined by (seed, action_id, index).
    ``action_id``: one of ``ACTIONS``, ``PRETRAIN_ACTIONS``, ``RANDOM_ACTION``, ``VARIANT_ACTIONS``,
    ``SPARSE_ACTIONS``, ``REACH_ACTIONS`` or ``NEAR_ACTIONS``."""
    rng = np.random.default_rng([int(seed), zlib.crc32(action_id.encode()), int(index), 2])
    spec = _spec(action_id, rng)
    T = int(num_frames)
    ph = _phases(spec, rng, T)
    bodies = [_sample_body(rng) for _ in range(spec.figures)]
    v = dict(amp=rng.uniform(0.8, 1.15), side=float(rng.choice([-1.0, 1.0])), tint=PALETTE[rng.integers(7)],
             drop_seed=int(rng.integers(2 ** 31)), front=spec.front)
    poses = spec.pose(ph, v, bodies[0] if spec.figures == 1 else bodies)
    poses = [poses] if isinstance(poses, dict) else poses
    if spec.follow:                  # no camera to follow a travelling figure: it moves on the spot
        poses = [{**p, "x": np.zeros(T)} for p in poses]
    figs = [fg._pose_joints(p, b, spec.front, rng.uniform(-0.3, 0.3), T) for p, b in zip(poses, bodies)]
    scene = _sample_scene(rng, spec.scene)
    looks = [_sample_look(rng, scene) for _ in figs]
    cv = fg._Canvas(_camera(rng, spec, figs, T, int(size)), int(size), T)
    _background(cv, spec, scene)
    props = [(layer, _solid(s)) for layer, s in (spec.props(figs, ph, v) if spec.props else [])]
    cv.mask = np.zeros((T, int(size), int(size)), np.float32)
    for shape in (s for layer, s in props if layer == "back"):
        cv.capsule(**shape)
    cv.mask_value = 1.0
    for J, look in zip(figs, looks):
        fg._draw_figure(cv, J, look)
    cv.mask_value = 0.0              # props in front occlude the figure in its mask too
    for shape in (s for layer, s in props if layer == "front"):
        cv.capsule(**shape)
    return np.round(np.clip(cv.img, 0, 1) * 255).astype(np.uint8), cv.mask >= 0.5


def render_video(action_id: str, index: int, *, num_frames: int = NUM_FRAMES, size: int = SIZE,
                 seed: int = 0) -> np.ndarray:
    """One video, uint8 (T, H, W, 3), of any action :func:`render` draws, at any index (e.g. 1000+ for extra
    data)."""
    return render(action_id, index, num_frames=num_frames, size=size, seed=seed)[0]


@functools.lru_cache(maxsize=32)   # one action's 20 videos fit; ~0.5 MB at 32 px x 8 frames, ~50 MB at 256 px x 16
def _render_cached(action_id, index, num_frames, size, seed):
    video = render_video(action_id, index, num_frames=num_frames, size=size, seed=seed)
    video.flags.writeable = False
    return video


def _load(action_id, index, num_frames, size, seed) -> np.ndarray:
    return _render_cached(action_id, index, num_frames, size, seed).copy()   # callers may write


def _first_frame(clip: Clip) -> np.ndarray:
    return clip.load()[0]


def _clip(action_id, index, num_frames, size, seed) -> Clip:
    """A lazy, cached Clip of ``render_video(action_id, index, ...)``."""
    return Clip(f"{index:03d}", functools.partial(_load, action_id, index, num_frames, size, seed))


def pretrain_pool(num_videos: int = 50, num_random: int = 0, num_frames: int = NUM_FRAMES, size: int = SIZE,
                  seed: int = 0, num_variants: int = 0) -> list[tuple[str, str, Clip]]:
    """(action id, prompt, lazy Clip): ``num_videos`` of each pretraining action, then ``num_random`` random
    choreographies, then ``num_variants`` of each random-choreography variant (``VARIANT_ACTIONS``: the few-shot
    actions' poses, props, scenes and company) and of each sparse one (``SPARSE_ACTIONS``: 1-3 joints move); none
    of the 12 few-shot actions."""
    pool = [(a, spec.prompt, _clip(a, i, num_frames, size, seed))
            for a, spec in PRETRAIN_ACTIONS.items() for i in range(num_videos)]
    pool += [(RANDOM_ACTION, RANDOM_PROMPT, _clip(RANDOM_ACTION, i, num_frames, size, seed))
             for i in range(num_random)]
    return pool + [(a, pool_prompt(a), _clip(a, i, num_frames, size, seed))
                   for a in VARIANT_ACTIONS + SPARSE_ACTIONS for i in range(num_variants)]


MAX_TEST_ITEMS = 500    # test videos 016-515 at most: indices 1000+ are the yardstick's extra training videos


class SyntheticDataset(FewShotDataset):
    """The 12 few-shot actions: videos 000-015 train (``shots`` keeps a seeded subset), 016-019 test — or
    016 onwards, ``test_items`` of them (at most :data:`MAX_TEST_ITEMS`), the first four the same."""

    name = "synthetic"
    needs_root = False
    more_test_items = True
    version = VERSION

    @classmethod
    def check_test_items(cls, test_items: int | None) -> int | None:
        if super().check_test_items(test_items) is not None and test_items > MAX_TEST_ITEMS:
            raise InputError(f"--test-items {test_items}: synthetic renders at most {MAX_TEST_ITEMS} test items "
                             "per action (videos 016 onwards; 1000+ train the yardstick)")
        return test_items

    def actions(self) -> list[Action]:
        return [self._action(a) for a in ACTIONS]

    def _action(self, action_id: str) -> Action:
        count = NUM_TRAIN + (self.test_items or NUM_VIDEOS - NUM_TRAIN)
        clips = [_clip(action_id, i, self.num_frames, self.size, self.seed) for i in range(count)]
        test = tuple(TestItem(c.id, functools.partial(_first_frame, c), c) for c in clips[NUM_TRAIN:])
        return Action(action_id, ACTIONS[action_id].prompt, select_shots(tuple(clips[:NUM_TRAIN]), self.shots,
                                                                          self.seed), test)

    def describe(self) -> dict:
        return {**super().describe(), "version": self.version}
