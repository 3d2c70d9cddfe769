"""Backbones (tiny profile, no downloads): I3D state-dict compatibility, flow conventions, input dependence."""
import numpy as np
import pytest
import torch

from flash_bench.features import clip, i3d, raft_flow, videomae
from tests.conftest import moving_square


def _reference_i3d(in_channels):
    """piergiaj's InceptionI3d as cd-fvd ships it (its BatchNorm eps differs: set it back to piergiaj's 1e-3)."""
    from cdfvd.third_party.i3d.pytorch_i3d import InceptionI3d as Reference

    ref = Reference(400, in_channels=in_channels).eval()
    for m in ref.modules():
        if isinstance(m, torch.nn.BatchNorm3d):
            m.eps = 1e-3
    return ref


@pytest.mark.parametrize("in_channels", [3, 2])
def test_i3d_loads_piergiaj_state_dict_and_computes_the_same(in_channels):
    ref = _reference_i3d(in_channels)
    torch.manual_seed(0)
    for m in ref.modules():  # non-trivial BN statistics so a mis-wired layer shows
        if isinstance(m, torch.nn.BatchNorm3d):
            m.running_mean.normal_(0, 0.1)
            m.running_var.uniform_(0.5, 2.0)
    state = ref.state_dict()
    ours = i3d.InceptionI3d(400, in_channels=in_channels).eval()
    assert {k: v.shape for k, v in ours.state_dict().items()} == {k: v.shape for k, v in state.items()}
    old_style = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}  # as in rgb_imagenet.pt
    i3d.load_piergiaj_state(ours, old_style)
    x = torch.randn(1, in_channels, 8, 64, 64)
    with torch.inference_mode():
        np.testing.assert_allclose(ours.forward_features(x), ref.extract_pre_pool_features(x), rtol=1e-4, atol=1e-5)
    assert ours.features(x).shape == (1, 1024)


def test_i3d_refuses_a_state_dict_of_another_architecture():
    ours = i3d.InceptionI3d(400, in_channels=3, width=0.125)
    with pytest.raises(ValueError, match="does not match"):
        i3d.load_piergiaj_state(ours, {"Conv3d_1a_7x7.conv3d.weight": torch.zeros(1)})


def test_flow_preprocessing_clips_to_20_pixels_and_scales_to_one():
    flow = torch.tensor([-45.0, -20.0, -10.0, 0.0, 5.0, 20.0, 33.0])
    expected = torch.tensor([-1.0, -1.0, -0.5, 0.0, 0.25, 1.0, 1.0])
    torch.testing.assert_close(raft_flow.to_i3d_range(flow), expected)


def test_rgb_input_is_in_minus_one_one_and_centre_cropped():
    frames = np.zeros((4, 40, 80, 3), np.uint8)
    frames[:, :, 36:44] = 255  # bright centre band, dark sides
    x = i3d.rgb_input(frames, 32)
    assert x.shape == (1, 3, 4, 32, 32)
    assert x.min() == -1 and x.max() == 1
    assert x[..., 16].mean() == pytest.approx(1.0) and x[..., 0].mean() == pytest.approx(-1.0)


def _videos():
    return np.stack([moving_square(s, frames=16, size=64) for s in range(4)])


def test_tiny_backbones_give_input_dependent_features():
    videos = _videos()
    with torch.inference_mode():
        rgb, _ = i3d.build("rgb", "tiny")
        f_rgb = torch.cat([rgb.features(i3d.rgb_input(v, i3d.TINY_SIZE)) for v in videos]).numpy()
        mae, _ = videomae.build("tiny")
        f_mae = videomae.video_features(mae, videos)
    backbone = clip.build("tiny")
    f_clip = np.stack([backbone.encode_frames(v).mean(0) for v in videos])
    for name, f in [("i3d", f_rgb), ("videomae", f_mae), ("clip", f_clip)]:
        spread = f.std(axis=0).mean() / (np.abs(f).mean() + 1e-12)
        assert spread > 0.01, f"{name} features barely depend on the input (relative spread {spread:.2e})"


def test_i3d_cosines_of_a_video_with_itself_are_one():
    from flash_bench.metrics.cosine_flow import CosineFlow
    from flash_bench.metrics.cosine_rgb import CosineRGB
    from flash_bench.metrics.base import Sample

    video = moving_square(3, frames=8, size=64)
    other = moving_square(9, frames=8, size=64)[:, ::-1].copy()
    with torch.inference_mode():
        rgb, _ = i3d.build("rgb", "tiny")
        flow_i3d, _ = i3d.build("flow", "tiny")
        raft, info = raft_flow.build("tiny")
        feat = lambda v: {  # noqa: E731
            "i3d_rgb": rgb.features(i3d.rgb_input(v, i3d.TINY_SIZE))[0].numpy(),
            "i3d_flow": flow_i3d.features(raft_flow.i3d_flow_input(raft, v, info["size"], info["updates"]))[0].numpy()}
        a, a_again, b = feat(video), feat(video.copy()), feat(other)
    for metric in (CosineRGB(), CosineFlow()):
        assert metric.update(Sample("same", a, ground_truth=a_again)) == pytest.approx(1.0, abs=1e-6)
        assert metric.update(Sample("other", a, ground_truth=b)) < 0.999999


def test_clip_tiny_matches_a_direct_open_clip_computation():
    import json
    import tempfile
    from pathlib import Path

    import open_clip
    from PIL import Image

    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as d:
        (Path(d) / "open_clip_config.json").write_text(json.dumps({"model_cfg": clip.TINY_CFG}))
        model, _, preprocess = open_clip.create_model_and_transforms(f"local-dir:{d}")
    model.eval()
    tokenizer = open_clip.get_tokenizer("ViT-B-32")
    frames = moving_square(1, frames=5, size=64)
    with torch.inference_mode():
        img = model.encode_image(torch.stack([preprocess(Image.fromarray(f)) for f in frames]))
        txt = model.encode_text(tokenizer(["a person waves."]))
    img, txt = img / img.norm(dim=-1, keepdim=True), txt / txt.norm(dim=-1, keepdim=True)
    backbone = clip.build("tiny", seed=0)
    np.testing.assert_allclose(backbone.encode_frames(frames), img.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(backbone.encode_texts(["a person waves."]), txt.numpy(), rtol=1e-5, atol=1e-6)


def test_raft_encodes_each_frame_once_and_gives_torchvision_flow():
    frames = np.random.default_rng(3).integers(0, 256, (6, 64, 64, 3), dtype=np.uint8)
    shared, info = raft_flow.build("tiny")
    plain, _ = raft_flow.build("tiny", share_frames=False)
    seen = []
    shared.feature_encoder.encoder.register_forward_hook(lambda m, i, o: seen.append(i[0].shape[0]))
    a = raft_flow.flow_fields(shared, frames, info["size"], info["updates"])
    b = raft_flow.flow_fields(plain, frames, info["size"], info["updates"])
    assert seen == [6]                      # 6 distinct frames, not 2 × 5 pair images
    torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)
    x = torch.randn(4, 3, 64, 64)           # not consecutive pairs: passes through unchanged
    torch.testing.assert_close(shared.feature_encoder(x), plain.feature_encoder(x))
