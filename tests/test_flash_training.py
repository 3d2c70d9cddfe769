"""FLASH training, sampling and the benchmark method on a tiny *random* base saved to a temp folder."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from flash.config import variant
from flash_bench.types import MethodContext


@pytest.fixture(scope="module")
def base_dir(tmp_path_factory):
    from flash_bench.tiny_world import COMPONENTS, build_tiny_components, save_tiny_base

    folder = tmp_path_factory.mktemp("tiny_base")
    save_tiny_base(build_tiny_components(seed=0), folder, COMPONENTS)
    return folder


@pytest.fixture(scope="module")
def videos():
    from flash_bench.datasets.synthetic import render_video

    return [render_video("arm_wave", i, num_frames=6, size=64) for i in range(2)]


def _base(base_dir):
    from flash_bench.tiny_world import load_tiny_base
    from flash_bench.cross_frame_attention import apply_cross_frame_attention

    b = load_tiny_base(base_dir)
    apply_cross_frame_attention(b.unet)
    return b


def test_short_training_lowers_the_loss(base_dir, videos):
    from flash.train import FlashTrainer, TrainingVideo

    data = [TrainingVideo(v, "a person is waving their arm.") for v in videos]
    trainer = FlashTrainer(_base(base_dir), variant(5, steps=0, lr=2e-3, batch=1))

    def held_out_loss() -> float:              # same pairs, noise and timesteps every time
        trainer.gen.manual_seed(123)
        with torch.no_grad():
            return float(np.mean([trainer.loss([d]).item() for d in data for _ in range(2)]))

    before = held_out_loss()
    trainer.gen.manual_seed(0)
    for _ in range(25):
        trainer.step(data)
    after = held_out_loss()
    assert after < 0.8 * before, (before, after)


def test_first_frame_is_the_reference_and_seed_fixes_the_video(base_dir):
    from flash.sampling import SamplingConfig, animate, sample_latents
    from flash_bench.tiny_world import SIZE, to_uint8, to_unit

    base = _base(base_dir)
    g = np.random.default_rng(0)
    image = g.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)
    cfg = SamplingConfig(steps=3, guidance=7.5)
    ref = base.encode_frames(to_unit(image))
    lat = sample_latents(base, ref, "a person is waving.", 5, seed=1, cfg=cfg)
    torch.testing.assert_close(lat[:, :, 0], ref, rtol=1e-4, atol=1e-4)     # AdaIN keeps frame 1 too
    video = animate(base, image, "a person is waving.", 5, seed=1, cfg=cfg)
    decoded = to_uint8(base.decode_latents(ref))[0]
    assert video.shape == (5, SIZE, SIZE, 3) and video.dtype == np.uint8
    assert np.abs(video[0].astype(int) - decoded.astype(int)).max() <= 1
    again = animate(base, image, "a person is waving.", 5, seed=1, cfg=cfg)
    other = animate(base, image, "a person is waving.", 5, seed=2, cfg=cfg)
    np.testing.assert_array_equal(video, again)
    assert np.abs(video[1:].astype(int) - other[1:].astype(int)).max() > 0


def test_method_fits_caches_and_animates_at_the_requested_size(base_dir, videos, tmp_path):
    from flash.method import FlashMethod
    from flash_bench.types import Action, Clip

    ctx = MethodContext(profile="tiny", size=48, num_frames=6, cache_dir=tmp_path,
                        options={"variant": 5, "steps": 2, "sample_steps": 2, "base_dir": str(base_dir)})
    action = Action("arm_wave", "a person is waving their arm.",
                    tuple(Clip(str(i), lambda v=v: v) for i, v in enumerate(videos)), ())
    method = FlashMethod(ctx)
    method.fit(action, videos, action.prompt)
    assert method.last_fit["cached"] is False
    trained = {n: p.clone() for n, p in method.base.unet.named_parameters()}
    out = method.animate(videos[0][0], action.prompt, 6, seed=0)
    assert out.shape == (6, 48, 48, 3) and out.dtype == np.uint8
    again = FlashMethod(ctx)
    again.fit(action, videos, action.prompt)
    assert again.last_fit["cached"] is True and again.last_fit["path"] == method.last_fit["path"]
    for n, p in again.base.unet.named_parameters():
        torch.testing.assert_close(p, trained[n], msg=n)
    np.testing.assert_array_equal(again.animate(videos[0][0], action.prompt, 6, seed=0), out)



def _one_backward(number: int, checkpointing: bool, diffusers_only: bool = False):
    """One training step's backward of variant ``number`` on a fresh shipped tiny base (4 frames, 32²): the
    gradients, the bytes autograd saved for backward (parameters excluded) and the motion modules' call count."""
    from flash.base_model import load_base
    from flash_bench.cross_frame_attention import apply_cross_frame_attention
    from flash.motion_alignment import temporal_modules
    from flash.train import FlashTrainer, TrainingVideo
    from flash_bench.datasets.synthetic import render_video

    data = [TrainingVideo(render_video("arm_wave", 0, num_frames=4, size=32), "a person is waving their arm.")]
    base = load_base("tiny", "cpu")                         # the shipped tiny base, fresh each time
    apply_cross_frame_attention(base.unet)
    cfg = variant(number, grad_checkpointing=checkpointing, **({"decoder": "sampling-only"} if number == 6 else {}))
    trainer = FlashTrainer(base, cfg)
    if diffusers_only:                                        # diffusers' own switch alone
        base.unet.enable_gradient_checkpointing()
    assert base.unet.is_gradient_checkpointing is (checkpointing or diffusers_only)
    params = {p.untyped_storage().data_ptr() for p in base.unet.parameters()}
    saved, calls = {}, []
    for _, m in temporal_modules(base.unet):
        m.register_forward_pre_hook(lambda *_: calls.append(torch.is_grad_enabled()))

    def pack(t):
        if t.untyped_storage().data_ptr() not in params:
            saved[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t
    base.unet.train()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        trainer.backward(data)
    grads = {n: p.grad.clone() for n, p in base.unet.named_parameters() if p.grad is not None}
    return grads, sum(saved.values()), len(calls) // len(temporal_modules(base.unet))


@pytest.mark.parametrize("number", [1, 2, 3, 4, 5, 6])
def test_gradient_checkpointing_gives_the_same_gradients(number):
    """The paper profile trains with gradient checkpointing of every ResNet, spatial transformer and motion module
    (AnimateDiff's granularity): backward recomputes each, and must see this step's alignment switches (once it saw
    them off: #3/#5/#6 raised CheckpointError, #4 differed by 2e-4)."""
    grads, passes = {}, {}
    for checkpointing in (False, True):
        grads[checkpointing], _, passes[checkpointing] = _one_backward(number, checkpointing)
    assert passes == {False: 1, True: 2}          # with checkpointing the motion modules ran again in backward
    assert grads[False] and set(grads[False]) == set(grads[True])
    for name, g in grads[False].items():
        torch.testing.assert_close(grads[True][name], g, rtol=1e-5, atol=1e-7, msg=name)


def test_gradient_checkpointing_saves_less_than_diffusers_own():
    """diffusers' ``enable_gradient_checkpointing()`` keeps the motion modules' activations (but the mid block's)
    and the spatial transformers' norm/projections; FLASH's recomputes those too, so far fewer bytes wait for
    backward."""
    _, off, _ = _one_backward(6, False)
    _, diffusers, _ = _one_backward(6, False, diffusers_only=True)
    _, blocks, _ = _one_backward(6, True)
    assert diffusers < 0.7 * off, (off, diffusers)
    assert blocks < 0.3 * diffusers, (diffusers, blocks)


def test_gradient_checkpointing_switches_on_and_off_on_one_unet():
    """Fits reuse the base's UNet: switching on twice wraps each module once; switching off restores every class."""
    from flash.base_model import load_base
    from flash.train import checkpointed_modules, set_gradient_checkpointing

    unet = load_base("tiny", "cpu").unet
    modules = checkpointed_modules(unet)
    classes = [type(m) for m in modules]
    assert modules and {c.__name__ for c in classes} == {"Transformer2DModel", "AnimateDiffTransformer3D"}
    for _ in range(2):
        set_gradient_checkpointing(unet, True)
        assert [type(m).__base__ for m in modules] == classes and unet.is_gradient_checkpointing
    set_gradient_checkpointing(unet, False)
    assert [type(m) for m in modules] == classes and not unet.is_gradient_checkpointing


def test_refitting_one_unet_keeps_one_set_of_alignment_hooks(base_dir, videos, tmp_path):
    """Every fit of a method reuses the base's UNet: the motion-alignment hooks are installed once, not per fit."""
    from flash.method import FlashMethod
    from flash.motion_alignment import temporal_modules

    ctx = MethodContext(profile="tiny", size=64, num_frames=6, cache_dir=tmp_path,
                        options={"variant": 5, "steps": 1, "base_dir": str(base_dir)})
    method = FlashMethod(ctx)
    for i, prompt in enumerate(("a person is waving their arm.", "a person is doing push-ups.")):
        method.fit_many([(videos, prompt)])
    modules = temporal_modules(method.base.unet)
    assert modules and all(len(m._forward_hooks) == 1 for _, m in modules), \
        [len(m._forward_hooks) for _, m in modules]


def test_a_pickled_optimizer_state_is_refused_naming_the_file(base_dir, videos, tmp_path):
    """Resuming a fit never unpickles: a pickle payload in the optimizer file is one error that names it."""
    import pickle

    from flash.train import TrainingVideo, optimizer_path, train_flash
    from flash_bench.types import InputError

    out = tmp_path / "fit.safetensors"
    data = [TrainingVideo(v, "a person is waving their arm.") for v in videos]
    train_flash(_base(base_dir), data, variant(1, steps=1), out=out, progress=False)
    ran = tmp_path / "payload-ran"

    class Payload:
        def __reduce__(self):
            return (open, (str(ran), "w"))

    optimizer_path(out).write_bytes(pickle.dumps({"optimizer": Payload()}))
    with pytest.raises(InputError, match=r"fit\.optim\.pt: not a FLASH optimizer state") as err:
        train_flash(_base(base_dir), data, variant(1, steps=2), out=out, progress=False)
    assert "weights_only=False" not in str(err.value) and not ran.exists()


def test_describe_names_the_shipped_decoder_by_its_place_in_the_project(tmp_path):
    """Item keys hold describe(): two checkouts at different paths must give FLASH's items the same keys."""
    from flash.method import TINY_DECODER_DIR, FlashMethod

    ctx = MethodContext(profile="tiny", size=32, num_frames=8, cache_dir=tmp_path, options={})
    described = FlashMethod(ctx).describe()["config"]["decoder"]
    assert described == "flash/weights/tiny_decoder/both.safetensors"
    assert FlashMethod(ctx).cfg.decoder == str(TINY_DECODER_DIR / "both.safetensors")   # loading keeps the full path
    user = tmp_path / "mine.safetensors"
    ctx2 = MethodContext(profile="tiny", size=32, num_frames=8, cache_dir=tmp_path, options={"decoder": str(user)})
    assert FlashMethod(ctx2).describe()["config"]["decoder"] == str(user)               # outside the project: as given
