import numpy as np
import pytest
from PIL import Image

from conftest import moving_square
from flash_bench.types import InputError
from flash_bench.video_io import (load_clip, read_image, read_video, resize_center_crop, sample_frames, write_gif,
                                  write_video)


def test_mp4_round_trip_within_codec_tolerance(tmp_path):
    video = moving_square(0, frames=10, size=32)
    write_video(tmp_path / "a.mp4", video)
    back = read_video(tmp_path / "a.mp4")
    assert back.shape == video.shape and back.dtype == np.uint8
    assert np.abs(back.astype(int) - video).mean() < 4.0   # H.264 yuv420p at crf 12


def test_gif_round_trip_and_odd_size_mp4(tmp_path):
    video = moving_square(1, frames=6, size=33)
    write_gif(tmp_path / "a.gif", video)
    assert read_video(tmp_path / "a.gif").shape == video.shape
    write_video(tmp_path / "odd.mp4", video)          # padded to even size for yuv420p
    assert read_video(tmp_path / "odd.mp4").shape == (6, 34, 34, 3)


def test_other_containers_and_frame_folders(tmp_path):
    import av

    video = moving_square(2, frames=8, size=32)
    for suffix, codec in ((".avi", "mpeg4"), (".webm", "libvpx")):
        if codec not in av.codecs_available:
            continue
        with av.open(str(tmp_path / f"v{suffix}"), "w") as c:
            s = c.add_stream(codec, rate=8)
            s.width = s.height = 32
            s.pix_fmt = "yuv420p"
            for f in video:
                c.mux(s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")))
            c.mux(s.encode())
        assert read_video(tmp_path / f"v{suffix}").shape == video.shape
    (tmp_path / "frames").mkdir()
    for i, f in enumerate(video):
        Image.fromarray(f).save(tmp_path / "frames" / f"{i:04d}.png")
    np.testing.assert_array_equal(read_video(tmp_path / "frames"), video)
    np.testing.assert_array_equal(read_video(tmp_path / "frames" / "0003.png")[0], video[3])


def test_sampling_rule_keeps_both_ends():
    video = np.arange(30)[:, None, None, None].repeat(3, -1).astype(np.uint8) * np.ones((1, 2, 2, 3), np.uint8)
    picked = sample_frames(video, 16)[:, 0, 0, 0]
    assert picked[0] == 0 and picked[-1] == 29 and len(picked) == 16
    assert np.all(np.diff(picked.astype(int)) >= 1)
    assert list(sample_frames(video[:4], 7)[:, 0, 0, 0]) == [0, 1, 1, 2, 2, 3, 3]  # short clips repeat frames


def test_resize_center_crop():
    frame = np.zeros((40, 80, 3), np.uint8)
    frame[:, 30:50] = 255                                 # a bright band in the middle
    out = resize_center_crop(frame, 20)
    assert out.shape == (20, 20, 3)
    assert out[:, 10].min() > 200 and out[:, 0].max() < 50  # centre kept, sides cropped


@pytest.mark.parametrize("content,expected", [
    (b"", "empty file"),
    (b"this is a text file, not a video", "not a decodable video"),
])
def test_bad_video_files_name_the_file(tmp_path, content, expected):
    p = tmp_path / "bad.mp4"
    p.write_bytes(content)
    with pytest.raises(InputError, match=expected) as e:
        read_video(p)
    assert str(p) in str(e.value)


def test_truncated_mp4(tmp_path):
    write_video(tmp_path / "ok.mp4", moving_square(3))
    data = (tmp_path / "ok.mp4").read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="cut.mp4"):
        read_video(tmp_path / "cut.mp4")


def test_one_frame_video_is_refused_for_clips(tmp_path):
    write_video(tmp_path / "one.mp4", moving_square(4, frames=1))
    with pytest.raises(InputError, match=r"one.mp4.*1 frame"):
        load_clip(tmp_path / "one.mp4", 16, 32)


def test_unsupported_suffix(tmp_path):
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(InputError, match="unsupported file type"):
        read_video(tmp_path / "x.txt")


@pytest.mark.parametrize("mode,array", [
    ("RGBA", np.zeros((8, 8, 4), np.uint8)),
    ("L", np.zeros((8, 8), np.uint8)),
    ("I;16", np.zeros((8, 8), np.uint16)),
])
def test_non_rgb_images_are_refused(tmp_path, mode, array):
    p = tmp_path / "img.png"
    Image.fromarray(array).save(p)
    assert Image.open(p).mode == mode
    with pytest.raises(InputError, match=r"img.png.*not 8-bit RGB"):
        read_image(p)


def test_dataset_clips_decode_streaming_memory_does_not_grow_with_length(tmp_path):
    """load_clip keeps only the sampled frames: its peak (numpy buffers, as tracemalloc sees them) is the same
    for a 40- and a 400-frame clip, and far below the 400 decoded frames (23 MB); the frames equal the
    decode-everything-then-sample path."""
    import tracemalloc

    from flash_bench.video_io import load_clip

    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)
    peaks = {}
    for n in (40, 400):
        video = np.stack([np.roll(base, 3 * t, axis=1) for t in range(n)])
        write_video(tmp_path / f"{n}.mp4", video, crf=28)
        del video
        tracemalloc.start()
        clip = load_clip(tmp_path / f"{n}.mp4", 16, 64)
        peaks[n] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        full = read_video(tmp_path / f"{n}.mp4")
        assert np.array_equal(clip, resize_center_crop(sample_frames(full, 16), 64))
    raw = 400 * 120 * 160 * 3
    assert peaks[400] < raw / 10, peaks
    assert peaks[400] < 1.5 * peaks[40] + 1_000_000, peaks


def test_the_same_frames_encode_to_the_same_bytes(tmp_path):
    """A run's metrics are read back from its mp4s, so writing must be deterministic. The clip is a dataset video
    as the suite loads it (decoded, resized to 32 px): x264's defaults gave 2 different files in 10 calls."""
    write_video(tmp_path / "src.mp4", moving_square(7))
    paths = [tmp_path / f"{i}.mp4" for i in range(16)]
    for p in paths:
        write_video(p, load_clip(tmp_path / "src.mp4", 8, 32))
    assert len({p.read_bytes() for p in paths}) == 1
