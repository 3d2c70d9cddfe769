"""Mixed noise prior (flash_bench.tiny_world.video_noise): closed-form statistics, i.i.d. at s = 0, and carried by the base."""
import pytest
import torch

from flash_bench.tiny_world import COMPONENTS, NOISE_SHARED, build_tiny_components, load_tiny_base, save_tiny_base
from flash_bench.tiny_world import video_noise


def test_no_shared_noise_is_plain_randn():
    a = video_noise((2, 4, 5, 3, 3), torch.Generator().manual_seed(3), 0.0)
    b = torch.randn((2, 4, 5, 3, 3), generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)


@pytest.mark.parametrize("shared", [0.0, 0.5, 0.8])
def test_frames_correlate_by_the_shared_fraction_and_stay_standard_normal(shared):
    n = video_noise((4000, 1, 3, 4, 4), torch.Generator().manual_seed(0), shared)   # (B, C, F, h, w)
    x = n.permute(2, 0, 1, 3, 4).reshape(3, -1)                                    # (F, samples)
    assert x.mean().abs() < 0.01
    assert torch.allclose(x.var(dim=1), torch.ones(3), atol=0.02)
    corr = torch.corrcoef(x)
    off = corr[~torch.eye(3, dtype=torch.bool)]
    assert torch.allclose(off, torch.full_like(off, shared), atol=0.02)


def test_shared_fraction_out_of_range_is_refused():
    with pytest.raises(ValueError, match="shared noise fraction"):
        video_noise((1, 1, 2, 1, 1), None, 1.0)


def test_the_tiny_base_is_sampled_from_the_tiny_prior(tmp_path):
    base = build_tiny_components(0)
    save_tiny_base(base, tmp_path, COMPONENTS)
    loaded = load_tiny_base(tmp_path)
    assert base.noise_shared == loaded.noise_shared == NOISE_SHARED
    g1, g2 = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    assert torch.equal(loaded.noise((1, 4, 6, 2, 2), g1), video_noise((1, 4, 6, 2, 2), g2, NOISE_SHARED))


def _first_unet_input(unet, run) -> torch.Tensor:
    """The ``sample`` (B, C, F, h, w) of the first UNet call made by ``run()``."""
    seen = []

    def keep(module, args, kwargs):
        if not seen:
            seen.append((args[0] if args else kwargs["sample"]).detach().clone())

    handle = unet.register_forward_pre_hook(keep, with_kwargs=True)
    try:
        run()
    finally:
        handle.remove()
    return seen[0]


def _frame_correlation(latents: torch.Tensor) -> float:
    """Mean correlation between frames 2..F of the first video's 4 latent channels (frame 1 may be the image)."""
    x = latents[0, :4, 1:].transpose(0, 1).reshape(latents.shape[2] - 1, -1)       # (F-1, C*h*w)
    corr = torch.corrcoef(x)
    return float(corr[~torch.eye(len(corr), dtype=torch.bool)].mean())


# every method that samples the tiny base's video UNet from noise; LAMP samples the base's *image* UNet with
# its own shared noise (its paper's), TI2V-Zero starts from the noised repeated image
UNET = {"flash": lambda m: m._load_base().unet, "pia": lambda m: m.pipe.unet, "sparsectrl": lambda m: m.pipe.unet,
        "dynamicrafter": lambda m: m.model.unet, "dreamvideo": lambda m: m.parts[0].unet}
STEPS = {"flash": {"sample_steps": 1}, "dreamvideo": {"sample_steps": 1}}


@pytest.mark.parametrize("shared", [NOISE_SHARED, 0.8])      # the shipped prior, and a mixed one
@pytest.mark.parametrize("name", sorted(UNET))
def test_sampling_starts_from_the_tiny_bases_noise_prior(name, shared, monkeypatch):
    import numpy as np

    from flash_bench import tiny_world
    from flash_bench.registry import METHODS
    from flash_bench.types import MethodContext

    monkeypatch.setattr(tiny_world, "NOISE_SHARED", shared)      # what every tiny base is built with
    torch.set_num_threads(1)
    ctx = MethodContext(profile="tiny", size=64, num_frames=16, options=STEPS.get(name, {"steps": 1}))
    method = METHODS.get(name)(ctx)
    image = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    latents = _first_unet_input(UNET[name](method), lambda: method.animate(image, "a person is waving.", 16, seed=0))
    assert abs(_frame_correlation(latents) - shared) < 0.12, name
