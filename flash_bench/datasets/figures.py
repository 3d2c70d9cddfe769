"""The figures of the `synthetic` world (:mod:`flash_bench.datasets.synthetic`): articulated 2-D bodies, the 12
few-shot choreographies and the 10 pretraining ones, their props, and the anti-aliased canvas they are drawn on.

A small kinematic tree (torso, head, upper/lower arms, upper/lower legs, feet) performs the paper's 12 HAA500
actions as closely as 2-D drawing allows, with simple props (ball, cup, axe + block, bucket + water, canoe +
paddle + water, beam). Figures are drawn natively at any size with anti-aliased capsules (distance fields over the
pixel grid, vectorised over frames). The scene, the camera, the looks and the rendering entry points are the
world's (:mod:`flash_bench.datasets.synthetic`); this module only knows bodies, motions and drawing.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np

NUM_VIDEOS, NUM_TRAIN = 20, 16
PI = np.pi
# Limb angles: 0 = pointing down, +pi/2 = pointing forward (or outward in a frontal pose), pi = up.


class ActionSpec(NamedTuple):
    prompt: str
    pose: Callable            # (phase (T,), motion params, body or [bodies]) -> pose dict or [pose dicts]
    props: Callable | None = None   # (joints per figure, phase, params) -> [(layer, shape kwargs)]
    cycles: tuple | None = (1.5, 2.5)  # repetitions per video (None: a one-off action, phase runs 0 -> 1)
    front: bool = False       # frontal view (limbs swing sideways) instead of a side view
    figures: int = 1
    top: float = 1.3          # highest point (body heights) the action reaches, for framing
    width: float = 1.0        # horizontal extent (body heights), for framing
    scene: str = "ground"     # "ground" | "beam" | "water"
    follow: bool = False      # the figure travels (``x``); the synthetic world keeps it on the spot


# ----------------------------------------------------------------------------- small maths helpers

def _dir(a, length=1.0):
    """A limb of ``length`` at angle ``a`` -> (horizontal, up) offset."""
    return length * np.sin(a), -length * np.cos(a)


def _kf(u, knots, values):
    """Keyframe interpolation with smoothstep easing, so one-off motions start and stop softly."""
    idx = np.interp(u, knots, np.arange(len(knots)))
    i0 = np.minimum(np.floor(idx).astype(int), len(knots) - 2)
    f = idx - i0
    f = f * f * (3 - 2 * f)
    v = np.asarray(values, dtype=float)
    return v[i0] * (1 - f) + v[i0 + 1] * f


def _ik(root, target, l1, l2, bend=1.0):
    """Two-link inverse kinematics in the limb plane: absolute angles (upper, lower) reaching ``target``."""
    dx, dy = target[0] - root[0], target[1] - root[1]
    dist = np.clip(np.hypot(dx, dy), 1e-6, (l1 + l2) * 0.999)
    base = np.arctan2(dx, -dy)
    beta = np.arccos(np.clip((l1 * l1 + dist * dist - l2 * l2) / (2 * l1 * dist), -1, 1))
    a1 = base + bend * beta
    ex, ey = root[0] + l1 * np.sin(a1), root[1] - l1 * np.cos(a1)
    return a1, np.arctan2(target[0] - ex, -(target[1] - ey))


def _shoulder(b, torso):
    """Shoulder position (horizontal, up) relative to the hip centre, for IK targets."""
    return _dir(torso, 0.88 * b["torso"])


def _wave(ph, k=1.0, off=0.0):
    return np.sin(2 * PI * (k * ph + off))


STAND = dict(torso=PI, head=PI, ua_l=0.12, la_l=0.3, ua_r=0.08, la_r=0.25,
             th_l=0.03, sh_l=-0.02, th_r=-0.03, sh_r=-0.06)


# ----------------------------------------------------------------------------- the 12 few-shot actions

def _push_up(ph, v, b):
    # A rigid plank pivoting on the toes; hands stay planted (IK) so only the elbows fold.
    up = 0.5 + 0.5 * np.cos(2 * PI * ph)
    alpha = 0.06 + 0.24 * v["amp"] * up                       # plank angle above horizontal
    torso = PI / 2 + alpha
    leg = b["thigh"] + b["shin"]
    ank_f, ank_u = _dir(torso - PI, leg)
    ground = ank_u - b["foot"] * np.cos(alpha) - b["limb_r"]
    top_f = (leg + 0.88 * b["torso"]) * np.cos(0.06 + 0.24 * v["amp"])
    hand = (top_f + ank_f, ground + b["limb_r"] * 1.3)         # same world spot every frame
    ua, la = _ik(_shoulder(b, torso), hand, b["upper_arm"], b["forearm"], bend=-1)
    return dict(torso=torso, head=torso + 0.3, th_l=torso - PI, sh_l=torso - PI, th_r=torso - PI,
                sh_r=torso - PI, ua_l=ua, la_l=la, ua_r=ua, la_r=la, x=-ank_f - 0.45)


def _arm_wave(ph, v, b):
    # Frontal: upper arm raised out, forearm swinging side to side above the shoulder.
    s = _wave(ph)
    return dict(torso=PI - 0.04 * s, head=PI + 0.06 * s, ua_r=2.15, la_r=2.95 + 0.5 * v["amp"] * s,
                ua_l=0.1, la_l=0.08, th_l=0.07, sh_l=0.05, th_r=0.07, sh_r=0.05)


def _shoot_dance(ph, v, b):
    # The "shoot": hop while one straight leg kicks forward and the arms swing, alternating sides.
    k = _wave(ph)
    kp, kn = np.maximum(k, 0), np.maximum(-k, 0)
    a = v["amp"]
    return dict(torso=PI + 0.18 * np.abs(k) - 0.05, head=PI + 0.1 * np.abs(k),
                th_r=0.05 + 1.05 * a * kp, sh_r=0.05 + 0.85 * a * kp, th_l=0.05 + 1.05 * a * kn,
                sh_l=0.05 + 0.85 * a * kn, ua_r=0.2 + 1.1 * a * k, la_r=0.6 + 1.1 * a * k,
                ua_l=0.2 - 1.1 * a * k, la_l=0.6 - 1.1 * a * k, lift=0.06 * a * np.abs(k))


def _run_in_place(ph, v, b):
    # High knees with the shin hanging, elbows bent at 90 degrees pumping against the legs; no travel.
    k = _wave(ph)
    kp, kn = np.maximum(k, 0), np.maximum(-k, 0)
    a = v["amp"]
    return dict(torso=PI - 0.08, th_r=0.1 + 1.2 * a * kp, sh_r=-0.05 - 0.35 * kp,
                th_l=0.1 + 1.2 * a * kn, sh_l=-0.05 - 0.35 * kn, ua_r=-0.6 * a * k, la_r=1.6 - 0.6 * a * k,
                ua_l=0.6 * a * k, la_l=1.6 + 0.6 * a * k, lift=0.04 * a * np.abs(k))


def _gait(ph, amp, lean, stride, knee, arm_bend):
    """Walking/running legs and counter-swinging arms; the camera follows the body (``x`` travels)."""
    phi = 2 * PI * ph
    out = dict(torso=PI - lean, head=PI - lean / 2, x=stride * ph)
    for side, off in (("r", 0.0), ("l", PI)):
        th = 0.15 * amp + 0.8 * amp * np.sin(phi + off)
        flex = 0.15 + knee * np.maximum(0, np.cos(phi + off))      # knee folds while the leg swings forward
        ua = -0.85 * amp * np.sin(phi + off)
        out.update({f"th_{side}": th, f"sh_{side}": th - flex, f"ua_{side}": ua, f"la_{side}": ua + arm_bend})
    return out


def _sprint(ph, v, b):
    out = _gait(ph, v["amp"], 0.35, 1.8, 1.5, 1.5)
    out["lift"] = 0.05 * np.abs(np.sin(2 * PI * ph))
    return out


SOCCER_KNOTS = [0, 0.18, 0.36, 0.5, 0.6, 0.72, 0.86, 1.0]
SOCCER_STRIKE = 0.6


def _soccer_shoot(ph, v, b):
    # Run-up of two steps, the kicking leg cocks back, swings through the ball (u=0.6), follows through.
    k = SOCCER_KNOTS
    lean = _kf(ph, k, [0.15, 0.15, 0.15, -0.05, -0.15, -0.05, 0.0, 0.0])
    ua_l = _kf(ph, k, [0.5, -0.4, 0.5, 1.1, 1.3, 1.0, 0.5, 0.15])
    ua_r = _kf(ph, k, [-0.4, 0.5, -0.4, -0.6, -0.7, -0.4, -0.1, 0.05])
    return dict(torso=PI - lean, x=_kf(ph, k, [-0.6, -0.42, -0.24, -0.1, -0.05, 0, 0.02, 0.02]),
                th_r=_kf(ph, k, [0.5, -0.3, 0.45, -0.6, 0.25, 1.2, 0.7, 0.1]),
                sh_r=_kf(ph, k, [0.1, -1.0, 0.05, -1.8, 0.1, 1.1, 0.4, 0.0]),
                th_l=_kf(ph, k, [-0.3, 0.5, -0.25, 0.15, 0.0, -0.1, 0.0, 0.0]),
                sh_l=_kf(ph, k, [-0.9, 0.1, -0.6, -0.1, -0.05, -0.1, 0.0, 0.0]),
                ua_l=ua_l, la_l=ua_l + 0.4, ua_r=ua_r, la_r=ua_r + 0.4)


DRINK_KNOTS = [0, 0.25, 0.4, 0.65, 0.8, 1.0]


def _drinking(ph, v, b):
    # Raise the cup to the mouth, tip head and cup back, lower it again.
    k = DRINK_KNOTS
    return dict(ua_r=_kf(ph, k, [0.15, 0.55, 0.6, 0.5, 0.5, 0.15]),
                la_r=_kf(ph, k, [1.45, 2.7, 2.85, 2.95, 2.7, 1.45]),
                head=PI + _kf(ph, k, [0, 0, 0.25, 0.45, 0.1, 0]),
                torso=PI + _kf(ph, k, [0, 0, 0.05, 0.1, 0.03, 0]),
                cup_tilt=_kf(ph, k, [0, 0.2, 1.0, 1.7, 0.6, 0.0]))


def _beam_jump(ph, v, b):
    # On the beam: crouch, split leap with arms up, land in a crouch; feet stand on the beam top.
    u = np.mod(ph, 1.0)
    k = [0, 0.2, 0.35, 0.5, 0.65, 0.8, 1.0]
    split = _kf(u, k, [0, 0, 0.3, 1.0, 0.3, 0, 0]) * v["amp"]
    crouch = _kf(u, k, [0.1, 1.0, 0.2, 0, 0.2, 1.0, 0.1])
    arms = _kf(u, k, [0.2, -0.6, 2.2, 2.7, 2.0, 0.4, 0.2])
    return dict(torso=PI - 0.05 - 0.4 * crouch, head=PI - 0.1 * crouch,
                th_r=0.1 + 0.8 * crouch + 1.0 * split, sh_r=-0.05 - 0.6 * crouch + 1.05 * split,
                th_l=0.1 + 0.8 * crouch - 0.9 * split, sh_l=-0.05 - 0.6 * crouch - 0.85 * split,
                ua_r=arms, la_r=arms + 0.2, ua_l=arms - 0.1, la_l=arms + 0.1,
                lift=0.3 * v["amp"] * np.clip(np.sin(PI * (u - 0.3) / 0.4), 0, None) * ((u > 0.3) & (u < 0.7)))


def _canoe(ph, v, b):
    # Kneeling in a canoe: the lower hand reaches forward (catch), pulls back to the hip, lifts and returns.
    c, s = np.cos(2 * PI * ph), np.sin(2 * PI * ph)
    lean = 0.3 + 0.2 * c * v["amp"]
    low = (0.1 + 0.4 * c * v["amp"], 0.12 + 0.3 * np.maximum(0, -s))
    high = (low[0] - 0.08 - 0.1 * c, low[1] + 0.45)
    ua_r, la_r = _ik(_shoulder(b, PI - lean), low, b["upper_arm"], b["forearm"], bend=-1)
    ua_l, la_l = _ik(_shoulder(b, PI - lean), high, b["upper_arm"], b["forearm"], bend=-1)
    return dict(torso=PI - lean, head=PI - 0.1, ua_r=ua_r, la_r=la_r, ua_l=ua_l, la_l=la_l,
                th_r=0.2, sh_r=-1.45, th_l=1.4, sh_l=0.1, y=0.1, x=0.6 * ph,
                paddle_low=low, paddle_high=high)


CHOP_KNOTS = [0, 0.35, 0.5, 0.6, 0.75, 1.0]


def _chopping(ph, v, b):
    # Raise the axe overhead, swing it down onto the block (u=0.6), rest, raise again.
    u = np.mod(ph, 1.0)
    ua = _kf(u, CHOP_KNOTS, [0.8, 2.9, 3.0, 0.75, 0.75, 0.8])
    la = _kf(u, CHOP_KNOTS, [0.5, 3.4, 3.5, 0.35, 0.35, 0.5])
    lean = _kf(u, CHOP_KNOTS, [0.5, -0.05, -0.1, 0.55, 0.55, 0.5]) * v["amp"]
    knee = _kf(u, CHOP_KNOTS, [0.2, 0, 0, 0.25, 0.2, 0.2])
    return dict(torso=PI - lean, head=PI - lean * 0.6, ua_r=ua, la_r=la, ua_l=ua - 0.05, la_l=la - 0.1,
                th_r=0.2 + knee, sh_r=0.1 - knee, th_l=-0.15 + knee, sh_l=-0.25 - knee)


BUCKET_KNOTS = [0, 0.3, 0.45, 0.6, 1.0]


def _ice_bucket(ph, v, b):
    # Frontal: lift the bucket overhead with both hands, tip it over the head (water falls, props).
    k = BUCKET_KNOTS
    up = _kf(ph, k, [0.15, 1.0, 1.0, 1.0, 0.97])
    hand = (0.1, up * (b["torso"] + b["neck"] + 2 * b["head_r"] + 0.05))   # lateral, up from the hip
    ua, la = _ik(_shoulder(b, PI), (hand[0] - b["shoulder_w"], hand[1]), b["upper_arm"], b["forearm"], bend=-1)
    flinch = _kf(ph, k, [0, 0, 0, 0.15, 0.1])
    return dict(ua_r=ua, la_r=la, ua_l=ua, la_l=la, th_l=0.08 + flinch, sh_l=0.04 - flinch,
                th_r=0.08 + flinch, sh_r=0.04 - flinch, tilt=_kf(ph, k, [0, 0, 0.3, 2.0, 2.3]) * v["side"])


def _hugging(ph, v, bodies):
    # Two people walk up to each other (their gap closes), open their arms and wrap them around.
    k = [0, 0.4, 0.55, 0.8, 1.0]
    walk = np.clip(1 - ph / 0.45, 0, 1) * v["amp"]
    gap = _kf(ph, k, [0.62, 0.24, 0.15, 0.14, 0.15])
    lean = _kf(ph, k, [0, 0.05, 0.2, 0.22, 0.2]) + 0.05 * np.sin(2 * PI * 1.5 * ph) * (ph > 0.55)
    figs = []
    for j, sign in ((0, -1), (1, 1)):
        lag = 0.04 * j
        ua = _kf(ph - lag, k, [0.1, 0.9, 1.5, 1.55, 1.5])
        la = _kf(ph - lag, k, [0.3, 1.4, 2.3, 2.45, 2.3])
        step = 0.35 * walk * np.sin(2 * PI * (2.2 * ph + 0.5 * j))
        figs.append(dict(torso=PI - lean, head=PI - lean - 0.1, ua_r=ua, la_r=la, ua_l=ua + 0.1, la_l=la,
                         th_r=step, sh_r=step - 0.2 * walk, th_l=-step, sh_l=-step - 0.2 * walk,
                         x=sign * gap, yaw=0.0 if j == 0 else PI))
    return figs


# ----------------------------------------------------------------------------- pretraining actions

def _walking(ph, v, b):
    return _gait(ph, 0.5 * v["amp"], 0.04, 1.1, 0.6, 0.3)


def _clapping(ph, v, b):
    # Frontal: both hands meet in front of the chest and part again.
    gap = 0.0 + 0.17 * v["amp"] * (0.5 + 0.5 * np.cos(2 * PI * ph))
    ua, la = _ik(_shoulder(b, PI), (gap - b["shoulder_w"], 0.62 * b["torso"]), b["upper_arm"], b["forearm"], -1)
    return dict(ua_r=ua, la_r=la, ua_l=ua, la_l=la, th_l=0.06, sh_l=0.04, th_r=0.06, sh_r=0.04)


def _bowing(ph, v, b):
    o = 0.5 - 0.5 * np.cos(2 * PI * ph)
    lean = 1.15 * v["amp"] * o
    return dict(torso=PI - lean, head=PI - 1.2 * lean, ua_r=0.1 + 0.3 * o, la_r=0.15 + 0.3 * o,
                ua_l=0.05 + 0.3 * o, la_l=0.1 + 0.3 * o, x=-0.12 * o)


def _jumping_jacks(ph, v, b):
    o = 0.5 - 0.5 * np.cos(2 * PI * ph)
    ua = 0.15 + 2.7 * o * min(v["amp"], 1.05)
    return dict(ua_r=ua, la_r=ua + 0.15, ua_l=ua, la_l=ua + 0.15, th_r=0.04 + 0.32 * o, sh_r=0.04 + 0.32 * o,
                th_l=0.04 + 0.32 * o, sh_l=0.04 + 0.32 * o, lift=0.07 * np.abs(np.sin(2 * PI * ph)))


def _pin_feet(p, b):
    """Horizontal hip offset that keeps the ankles still while the legs bend (squats, sitting)."""
    ank = b["thigh"] * np.sin(p["th_r"]) + b["shin"] * np.sin(p["sh_r"])
    return -ank + 0.05


def _squats(ph, v, b):
    o = 0.5 - 0.5 * np.cos(2 * PI * ph)
    p = dict(th_r=0.05 + 1.35 * o * v["amp"], sh_r=-0.05 - 0.5 * o, torso=PI - 0.1 - 0.5 * o,
             ua_r=0.1 + 1.4 * o, la_r=0.15 + 1.4 * o, ua_l=0.15 + 1.4 * o, la_l=0.2 + 1.4 * o)
    p.update(th_l=p["th_r"] - 0.05, sh_l=p["sh_r"] - 0.05, x=_pin_feet(p, b))
    return p


def _waving_both(ph, v, b):
    s = 0.35 * v["amp"] * _wave(ph)
    return dict(ua_r=2.5 + s, la_r=2.8 + 2 * s, ua_l=2.5 - s, la_l=2.8 - 2 * s, th_l=0.06, sh_l=0.04,
                th_r=0.06, sh_r=0.04)


def _punching(ph, v, b):
    k = _wave(ph)
    er, el = np.maximum(k, 0) ** 0.7, np.maximum(-k, 0) ** 0.7
    return dict(torso=PI - 0.1 - 0.1 * np.abs(k), ua_r=0.55 + 1.0 * er, la_r=2.6 - 1.0 * er,
                ua_l=0.55 + 1.0 * el, la_l=2.6 - 1.0 * el, th_l=0.3, sh_l=0.2, th_r=-0.25, sh_r=-0.3)


def _kicking(ph, v, b):
    kp = np.maximum(_wave(ph), 0)
    th = 0.05 + 1.4 * kp * v["amp"]
    return dict(torso=PI + 0.15 * kp, th_r=th, sh_r=th - 1.4 * np.sin(PI * kp), th_l=-0.05, sh_l=-0.15,
                ua_r=0.5, la_r=2.5, ua_l=0.6, la_l=2.6)


def _sitting_down(ph, v, b):
    o = _kf(ph, [0, 0.2, 0.75, 1.0], [0, 0, 1, 1])
    p = dict(th_r=1.5 * o, sh_r=-0.1 * o, torso=PI - 0.05 - 0.55 * np.sin(PI * o),
             ua_r=0.1 + 0.9 * np.sin(PI * o), la_r=0.2 + 0.9 * np.sin(PI * o) + 0.6 * o, ua_l=0.1, la_l=0.3 + 0.6 * o)
    p.update(th_l=p["th_r"] + 0.05, sh_l=p["sh_r"], x=_pin_feet(p, b))
    return p


def _turning(ph, v, b):
    turn = _kf(ph, [0, 0.2, 0.8, 1.0], [0, 0, 1, 1])
    step = 0.25 * np.sin(PI * turn) * np.sin(2 * PI * 2 * ph)
    return dict(yaw=PI * turn, th_r=step, sh_r=step - 0.1, th_l=-step, sh_l=-step - 0.1)


# ----------------------------------------------------------------------------- props

def _fwd(J, ang, length):
    """Screen offset of a prop segment at angle ``ang`` in the figure's own forward/up plane."""
    h, u = _dir(ang, length)
    return np.stack([J["fwd"] * h, np.broadcast_to(u, J["fwd"].shape)], -1)


def _ball_props(figs, ph, v):
    J = figs[0]
    r = 0.065
    toe_x = np.interp(SOCCER_STRIKE, ph, J["toe_r"][:, 0])
    fwd = np.interp(SOCCER_STRIKE, ph, J["fwd"])
    t = np.maximum(ph - SOCCER_STRIKE, 0)                        # flight time since the kick
    c = np.stack([toe_x + fwd * (r * 1.1 + 3.2 * t * v["amp"]), r + 1.7 * t - 1.5 * t * t], -1)
    spin = np.stack([np.cos(12 * t), np.sin(12 * t)], -1) * 0.025
    return [("front", dict(a=c - spin, b=c + spin, r=r - 0.025, color=(0.96, 0.96, 0.96),
                           color2=(0.1, 0.1, 0.1), stripes=2.0))]


def _cup_props(figs, ph, v):
    J = figs[0]
    ang = PI + J["pose"]["cup_tilt"]
    base = J["wrist_r"] + _fwd(J, PI / 2, 0.02)
    return [("front", dict(a=base, b=base + _fwd(J, ang, 0.06), r=0.028, color=v["tint"], color2=(1, 1, 1),
                           stripes=1.5))]


def _beam_props(figs, ph, v):
    x0 = figs[0]["hip"][0, 0]
    beam = dict(a=(x0 - 3, -0.05), b=(x0 + 3, -0.05), r=0.05, color=(0.75, 0.55, 0.35))
    legs = [dict(a=(x0 + dx, -0.32), b=(x0 + dx, -0.05), r=0.025, color=(0.35, 0.35, 0.4)) for dx in (-0.7, 0.75)]
    return [("back", s) for s in legs + [beam]]


def _canoe_props(figs, ph, v):
    J = figs[0]
    hip = J["hip"]
    low = np.stack([hip[:, 0] + J["fwd"] * J["pose"]["paddle_low"][0], hip[:, 1] + J["pose"]["paddle_low"][1]], -1)
    high = np.stack([hip[:, 0] + J["fwd"] * J["pose"]["paddle_high"][0], hip[:, 1] + J["pose"]["paddle_high"][1]], -1)
    axis = (low - high) / np.linalg.norm(low - high, axis=-1, keepdims=True)
    blade = low + 0.5 * axis
    hull = dict(a=hip + [-0.6, -0.08], b=hip + [0.6, -0.08], r=0.1, color=v["tint"] * 0.8, color2=v["tint"],
                stripes=0.0)
    water = dict(a=(hip[0, 0] - 8, -0.6), b=(hip[0, 0] + 8, -0.6), r=0.6, color=(0.2, 0.4, 0.65),
                 color2=(0.28, 0.5, 0.75), stripes=60.0)
    return [("front", hull), ("front", dict(a=high, b=blade, r=0.014, color=(0.3, 0.2, 0.1))),
            ("front", dict(a=blade - 0.12 * axis, b=blade, r=0.035, color=(0.85, 0.8, 0.2))), ("front", water)]


def _axe_props(figs, ph, v):
    J = figs[0]
    ang = J["pose"]["la_r"] + 0.35
    grip = J["wrist_r"] - _fwd(J, ang, 0.04)
    tip = grip + _fwd(J, ang, 0.36)
    head = dict(a=tip - _fwd(J, ang + PI / 2, 0.05), b=tip + _fwd(J, ang + PI / 2, 0.02), r=0.025,
                color=(0.6, 0.62, 0.66))
    i = int(np.argmin(np.abs(np.mod(ph, 1.0) - 0.68)))           # a frame on the block sets where it is
    bx, top = tip[i, 0], max(tip[i, 1] - 0.05, 0.08)
    block = dict(a=(bx, 0.06), b=(bx, top - 0.06), r=0.07, color=(0.45, 0.3, 0.18))
    log = dict(a=(bx - 0.02, top - 0.02), b=(bx + 0.02, top - 0.02), r=0.035, color=(0.8, 0.65, 0.45))
    return [("back", block), ("back", log), ("front", dict(a=grip, b=tip, r=0.014, color=(0.55, 0.35, 0.15))),
            ("front", head)]


def _bucket_props(figs, ph, v):
    J = figs[0]
    tilt = J["pose"]["tilt"]
    mid = 0.5 * (J["wrist_l"] + J["wrist_r"]) + [0, 0.03]
    axis = np.stack([np.sin(tilt), np.cos(tilt)], -1)             # bucket bottom -> rim
    out = [("front", dict(a=mid - 0.02 * axis, b=mid + 0.08 * axis, r=0.075, color=(0.55, 0.6, 0.68),
                          color2=(0.8, 0.85, 0.9), stripes=1.0))]
    rng = np.random.default_rng(v["drop_seed"])
    rim = np.interp(0.5, ph, mid[:, 0]), np.interp(0.5, ph, mid[:, 1])
    for t0, dx, vx in zip(rng.uniform(0.48, 0.8, 18), rng.uniform(-0.12, 0.12, 18), rng.uniform(-0.4, 0.4, 18)):
        t = np.maximum(ph - t0, 0)
        c = np.stack([rim[0] + dx + vx * t, rim[1] + 0.05 - 12 * t * t], -1)
        r = np.where((ph > t0) & (c[:, 1] > 0), 0.028, 0.0)
        out.append(("front", dict(a=c, b=c + [0, 0.05], r=r, color=(0.55, 0.8, 1.0), alpha=0.85)))
    return out


def _chair_props(figs, ph, v):
    J = figs[0]
    i = int(np.argmin(J["hip"][:, 1]))
    hx, hy = J["hip"][i]
    back = hx - J["fwd"][i] * 0.12
    col = v["tint"] * 0.7
    seat = dict(a=(back, hy - 0.05), b=(back + J["fwd"][i] * 0.3, hy - 0.05), r=0.025, color=col)
    legs = [dict(a=(x, 0.0), b=(x, hy - 0.05), r=0.018, color=col) for x in (back, back + J["fwd"][i] * 0.3)]
    rest = dict(a=(back, hy - 0.05), b=(back, hy + 0.35), r=0.02, color=col)
    return [("back", s) for s in legs + [seat, rest]]


# ----------------------------------------------------------------------------- the action tables

ACTIONS: dict[str, ActionSpec] = {
    "push_up": ActionSpec("a person is doing push-ups.", _push_up, cycles=(1.2, 2.2), top=0.7, width=1.2),
    "arm_wave": ActionSpec("a person is waving their arm.", _arm_wave, cycles=(2.0, 3.5), front=True),
    "shoot_dance": ActionSpec("a person is doing the shoot dance.", _shoot_dance, cycles=(1.5, 2.5)),
    "running_in_place": ActionSpec("a person is running in place.", _run_in_place, cycles=(2.0, 3.2)),
    "sprint_run": ActionSpec("a person is sprinting.", _sprint, cycles=(1.5, 2.2), width=1.2,
                             follow=True),
    "soccer_shoot": ActionSpec("a person is shooting a soccer ball.", _soccer_shoot, _ball_props, cycles=None,
                               width=1.6),
    "drinking_from_cup": ActionSpec("a person is drinking from a cup.", _drinking, _cup_props, cycles=None),
    "balance_beam_jump": ActionSpec("a person is jumping on a balance beam.", _beam_jump, _beam_props,
                                    cycles=(1.0, 1.8), top=1.55, width=1.3, scene="beam"),
    "canoeing_sprint": ActionSpec("a person is paddling a canoe.", _canoe, _canoe_props, cycles=(1.5, 2.5),
                                  top=1.1, width=1.4, scene="water", follow=True),
    "chopping_wood": ActionSpec("a person is chopping wood with an axe.", _chopping, _axe_props,
                                cycles=(1.0, 1.8), top=1.55, width=1.2),
    "ice_bucket_challenge": ActionSpec("a person is pouring a bucket of water over their head.", _ice_bucket,
                                       _bucket_props, cycles=None, front=True, top=1.45),
    "hugging_human": ActionSpec("two people are hugging each other.", _hugging, cycles=None, figures=2, width=1.7),
}

PRETRAIN_ACTIONS: dict[str, ActionSpec] = {
    "walking": ActionSpec("a person is walking.", _walking, cycles=(1.0, 1.6), follow=True),
    "clapping": ActionSpec("a person is clapping their hands.", _clapping, cycles=(3.0, 5.0), front=True),
    "bowing": ActionSpec("a person is bowing.", _bowing, cycles=(1.0, 1.6), width=1.2),
    "jumping_jacks": ActionSpec("a person is doing jumping jacks.", _jumping_jacks, cycles=(2.0, 3.0),
                                front=True, top=1.5),
    "squats": ActionSpec("a person is doing squats.", _squats, cycles=(1.5, 2.5)),
    "waving_both_arms": ActionSpec("a person is waving both arms over their head.", _waving_both,
                                   cycles=(2.0, 3.0), front=True, top=1.5),
    "punching": ActionSpec("a person is punching.", _punching, cycles=(2.0, 3.0)),
    "kicking_in_place": ActionSpec("a person is kicking in place.", _kicking, cycles=(1.5, 2.5)),
    "sitting_down": ActionSpec("a person is sitting down on a chair.", _sitting_down, _chair_props, cycles=None,
                               width=1.2),
    "turning_around": ActionSpec("a person is turning around.", _turning, cycles=None),
}


# ----------------------------------------------------------------------------- bodies and looks

SKIN_LIGHT, SKIN_DARK = np.array([0.98, 0.84, 0.72]), np.array([0.32, 0.2, 0.13])


def _sample_body(rng) -> dict:
    """Segment lengths and thicknesses in body heights: an overall size, each part varied on top."""
    h = rng.uniform(0.92, 1.08)
    names = ("torso", "neck", "head_r", "upper_arm", "forearm", "thigh", "shin", "foot", "limb_r", "torso_r",
             "shoulder_w", "hip_w")
    lo = (0.27, 0.03, 0.062, 0.15, 0.14, 0.22, 0.21, 0.06, 0.034, 0.062, 0.07, 0.04)
    hi = (0.33, 0.05, 0.078, 0.18, 0.17, 0.26, 0.25, 0.08, 0.046, 0.088, 0.1, 0.06)
    return {n: h * rng.uniform(a, b) for n, a, b in zip(names, lo, hi)}


def _color(rng, lo, hi, sat=(0.2, 0.9)) -> np.ndarray:
    """A random colour of brightness in [lo, hi]: a random hue mixed with grey."""
    hue = rng.uniform(0, 1, 3)
    hue /= hue.max()
    s = rng.uniform(*sat)
    return rng.uniform(lo, hi) * ((1 - s) + s * hue)


# ----------------------------------------------------------------------------- kinematics

def _skeleton(p, b, front) -> dict:
    """Joint positions (forward, lateral, up), hip centre at the origin. In a frontal pose the
    limbs' horizontal swing goes sideways (outward), in a side pose forward."""
    def seg(start, ang, length, side):
        h, u = _dir(ang, length)
        if front:
            return (start[0], start[1] + side * h, start[2] + u)
        return (start[0] + h, start[1], start[2] + u)

    J = {"hip": (0.0, 0.0, 0.0)}
    J["neck"] = seg(J["hip"], p["torso"], b["torso"], 1)
    J["head"] = seg(J["neck"], p["head"], b["neck"] + b["head_r"], 1)
    sho = seg(J["hip"], p["torso"], 0.88 * b["torso"], 1)
    for s, sign in (("l", -1), ("r", 1)):
        J[f"shoulder_{s}"] = (sho[0], sho[1] + sign * b["shoulder_w"], sho[2])
        J[f"elbow_{s}"] = seg(J[f"shoulder_{s}"], p[f"ua_{s}"], b["upper_arm"], sign)
        J[f"wrist_{s}"] = seg(J[f"elbow_{s}"], p[f"la_{s}"], b["forearm"], sign)
        J[f"hip_{s}"] = (0.0, sign * b["hip_w"], 0.0)
        J[f"knee_{s}"] = seg(J[f"hip_{s}"], p[f"th_{s}"], b["thigh"], sign)
        ank = J[f"ankle_{s}"] = seg(J[f"knee_{s}"], p[f"sh_{s}"], b["shin"], sign)
        J[f"toe_{s}"] = ((ank[0] + b["foot"], ank[1], ank[2]) if front
                         else seg(ank, p[f"sh_{s}"] + PI / 2, b["foot"], sign))
    return J


def _hair(J, b, front):
    """Hair sits at the back-top of the head (behind the face along the head axis)."""
    ax = [J["head"][i] - J["neck"][i] for i in range(3)]
    n = np.sqrt(ax[0] ** 2 + ax[1] ** 2 + ax[2] ** 2) + 1e-9
    back = (-1.0, 0.0, 0.0) if front else (-ax[2] / n, 0.0, ax[0] / n)
    return tuple(J["head"][i] + b["head_r"] * (0.3 * ax[i] / n + 0.35 * back[i]) for i in range(3))


def _pose_joints(p, b, front, yaw0, T) -> dict:
    """Screen-world (x, y) of every joint per frame: ground the feet (or use ``y``), add ``lift``/``x``,
    turn by the yaw (0 = facing +x, pi/2 = facing the camera) and project."""
    p = {k: np.broadcast_to(np.asarray(val, float), (T,)) if np.ndim(val) <= 1 else val
         for k, val in {**STAND, **p}.items()}
    J3 = _skeleton(p, b, front)
    J3["hair"] = _hair(J3, b, front)
    J3 = {k: tuple(np.broadcast_to(np.asarray(c, float), (T,)) for c in xyz) for k, xyz in J3.items()}
    if "y" in p:
        root_y = p["y"]
    else:  # feet (not hands) touch the ground; a jump lifts them off it
        feet = [J3[k][2] for k in ("ankle_l", "ankle_r", "toe_l", "toe_r")]
        root_y = b["limb_r"] - np.min(feet, axis=0) + p.get("lift", 0.0)
    yaw = (PI / 2 if front else 0.0) + yaw0 + p.get("yaw", np.zeros(T))
    cy, sy = np.cos(yaw), np.sin(yaw)
    x = p.get("x", np.zeros(T))
    out = {k: np.stack([x + f * cy + l * sy, root_y + u], -1) for k, (f, l, u) in J3.items()}
    out.update(fwd=np.sign(cy) + (cy == 0), near_r=cy >= 0, pose=p, body=b, x=x)
    return out


# ----------------------------------------------------------------------------- drawing

def _pts(a, T):
    return np.broadcast_to(np.asarray(a, np.float32), (T, 2))


class _Canvas:
    """The frames being drawn, and the world coordinates of each pixel column (T,1,W) and row (T,H,1).
    World: body heights, y up, ground at 0; the camera maps it with a per-frame pan/zoom and a mirror."""

    def __init__(self, cam: dict, size: int, T: int):
        c = np.arange(size) + 0.5
        self.cam, self.size, self.T = cam, size, T
        self.X = (cam["m"] * (c[None] - cam["cx"][:, None]) / cam["k"][:, None] + cam["camx"][:, None])[:, None, :]
        self.Y = ((cam["gy"][:, None] - c[None]) / cam["k"][:, None])[:, :, None]
        self.X, self.Y = self.X.astype(np.float32), self.Y.astype(np.float32)
        self.px = (1.0 / cam["k"]).astype(np.float32)[:, None, None]   # world size of one pixel
        self.img = np.zeros((T, size, size, 3), np.float32)
        # Optional coverage channel (the figure mask of synthetic.render): shapes blend ``mask_value`` into it as they
        # blend their colour into ``img``, so later shapes occlude earlier ones in the mask too.
        self.mask, self.mask_value = None, 0.0

    def _window(self, a, b, r):
        """Pixel rows/columns that the shape can touch in any frame, so we only shade those."""
        cam = self.cam
        xs = np.concatenate([a[:, 0], b[:, 0]]) - np.tile(cam["camx"], 2)
        us = np.tile(cam["cx"], 2) + cam["m"] * np.tile(cam["k"], 2) * xs
        vs = np.tile(cam["gy"], 2) - np.tile(cam["k"], 2) * np.concatenate([a[:, 1], b[:, 1]])
        pad = float(r.max() * cam["k"].max()) + 2
        c0, c1 = max(int(us.min() - pad), 0), min(int(us.max() + pad) + 1, self.size)
        r0, r1 = max(int(vs.min() - pad), 0), min(int(vs.max() + pad) + 1, self.size)
        return slice(r0, r1), slice(c0, c1), c0 < c1 and r0 < r1

    def capsule(self, a, b, r, color, color2=None, stripes=0.0, alpha=1.0, vis=None):
        """Anti-aliased capsule (a disc when a == b) per frame; ``stripes`` bands along its axis."""
        T = self.T
        a, b = _pts(a, T), _pts(b, T)
        r = np.broadcast_to(np.asarray(r, np.float32), (T,)) * (1.0 if vis is None else vis)
        if not r.any():
            return
        rows, cols, ok = self._window(a, b, r)
        if not ok:
            return
        X, Y = self.X[:, :, cols], self.Y[:, rows, :]
        ax, ay, bx, by = (z[:, None, None] for z in (a[:, 0], a[:, 1], b[:, 0] - a[:, 0], b[:, 1] - a[:, 1]))
        h = np.clip(((X - ax) * bx + (Y - ay) * by) / np.maximum(bx * bx + by * by, 1e-12), 0, 1)
        d = np.hypot(X - ax - bx * h, Y - ay - by * h)                 # distance to the segment
        rr = r[:, None, None]
        cov = (np.clip((rr - d) / self.px + 0.5, 0, 1) * (rr > 0) * alpha)[..., None]
        col = np.asarray(color, np.float32)
        if stripes:
            col = np.where((np.mod(h * stripes, 1.0) < 0.5)[..., None], col, np.asarray(color2, np.float32))
        sub = self.img[:, rows, cols]
        sub += cov * (col - sub)
        if self.mask is not None:
            m = self.mask[:, rows, cols]
            m += cov[..., 0] * (self.mask_value - m)


def _draw_limbs(cv, J, look, s, vis, shade):
    if not vis.any():
        return
    lr, c = J["body"]["limb_r"], (lambda col: np.asarray(col) * shade)
    cv.capsule(J[f"hip_{s}"], J[f"knee_{s}"], lr * 1.25, c(look["pants"]), vis=vis)
    cv.capsule(J[f"knee_{s}"], J[f"ankle_{s}"], lr * 1.1, c(look["pants"]), vis=vis)
    cv.capsule(J[f"ankle_{s}"], J[f"toe_{s}"], lr * 0.9, c(look["shoes"]), vis=vis)
    cv.capsule(J[f"shoulder_{s}"], J[f"elbow_{s}"], lr * 1.1, c(look["shirt"]), vis=vis)
    cv.capsule(J[f"elbow_{s}"], J[f"wrist_{s}"], lr, c(look["sleeve"]), vis=vis)
    cv.capsule(J[f"wrist_{s}"], J[f"wrist_{s}"], lr * 1.3, c(look["skin"]), vis=vis)


def _draw_figure(cv, J, look):
    """Far limbs (darker) first, then trunk and head, then near limbs; near side flips with the yaw."""
    b, near_r = J["body"], J["near_r"]
    for s, near in (("l", ~near_r), ("r", near_r)):
        _draw_limbs(cv, J, look, s, ~near, 0.72)
    cv.capsule(J["hip_l"], J["hip_r"], b["torso_r"] * 0.85, look["pants"])
    cv.capsule(J["hip"], J["neck"], b["torso_r"], look["shirt"], look["shirt2"], look["stripes"])
    cv.capsule(J["shoulder_l"], J["shoulder_r"], b["torso_r"] * 0.8, look["shirt"])
    cv.capsule(J["neck"], J["head"], b["limb_r"], look["skin"])
    cv.capsule(J["hair"], J["hair"], b["head_r"] * 1.02, look["hair"])
    cv.capsule(J["head"], J["head"], b["head_r"], look["skin"])
    for s, near in (("l", ~near_r), ("r", near_r)):
        _draw_limbs(cv, J, look, s, near, 1.0)


FLOOR = {"ground": 0.0, "beam": -0.32, "water": -0.25}


# ----------------------------------------------------------------------------- choreography lookup

def _spec(action_id: str) -> ActionSpec:
    spec = ACTIONS.get(action_id) or PRETRAIN_ACTIONS.get(action_id)
    if spec is None:
        raise KeyError(f"unknown synthetic action {action_id!r}; known: {', '.join([*ACTIONS, *PRETRAIN_ACTIONS])}")
    return spec


def _phases(spec, rng, T):
    """Action phase per frame. A clip spans the same action time at any frame count (more frames =
    a higher frame rate); speed (cycles, or the start/end of a one-off action) and phase vary."""
    t = np.linspace(0.0, 1.0, T) if T > 1 else np.zeros(1)
    if spec.cycles is None:
        start, end = rng.uniform(0.0, 0.08), rng.uniform(0.92, 1.0)
        return start + (end - start) * t
    return rng.uniform(0, 1) + rng.uniform(*spec.cycles) * t
