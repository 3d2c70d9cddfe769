"""Video and image I/O: decode anything a user hands us into uint8 (T, H, W, 3), and write mp4/gif.

Readable: mp4 / avi / webm / mkv / mov / gif (PyAV), a folder of frames (sorted by name), or a single
image (one frame). Every problem raises one :class:`InputError` that names the file and says what is
wrong. Frame sampling rule (:func:`sample_frames`): N indices spread evenly over the clip with both
ends included, ``floor(linspace(0, T-1, N) + 0.5)`` — frame 0 is always kept, because the first frame is the
reference image of the paper's protocol; a clip shorter than N repeats frames by the same rule. Dataset
clips are decoded streaming (:func:`read_sampled`): only the sampled frames are kept.
"""
from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np

from flash_bench.types import ImageArray, InputError, VideoArray

VIDEO_SUFFIXES = {".mp4", ".avi", ".webm", ".mkv", ".mov", ".gif", ".m4v"}
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp"}


def read_image(path: Path | str) -> ImageArray:
    """An 8-bit RGB image as uint8 (H, W, 3). RGBA, grayscale and 16-bit images are refused by name."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such image file")
    try:
        with Image.open(path) as im:
            mode = im.mode
            if mode != "RGB":
                raise InputError(f"{path}: image mode {mode!r} is not 8-bit RGB "
                                 f"({_MODE_HINTS.get(mode, 'convert it to 8-bit RGB')})")
            return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()
    except Image.DecompressionBombError as e:
        raise InputError(f"{path}: refused as a possible decompression bomb ({e})") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise InputError(f"{path}: not a readable image ({type(e).__name__}: {e})") from None


_MODE_HINTS = {
    "RGBA": "it has an alpha channel; flatten it onto a background first",
    "LA": "grayscale with alpha; convert to RGB first",
    "L": "grayscale; convert to RGB first",
    "1": "1-bit; convert to RGB first",
    "P": "palette image; convert to RGB first",
    "I;16": "16-bit; convert to 8-bit RGB first",
    "I": "32-bit integer; convert to 8-bit RGB first",
    "F": "floating point; convert to 8-bit RGB first",
}


def read_video(path: Path | str) -> VideoArray:
    """Decode a video file, a folder of frames or a single image into uint8 (T, H, W, 3)."""
    path = Path(path)
    if path.is_dir():
        return _read_frame_folder(path)
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return read_image(path)[None]
    _check_video_file(path)
    frames, n = _decode(path)
    if not n:
        raise InputError(f"{path}: no decodable video frames")
    return np.stack([frames[i] for i in range(n)])


def read_sampled(path: Path | str, num_frames: int, *, min_frames: int = 2) -> VideoArray:
    """``num_frames`` frames of a clip by the :func:`sample_frames` rule, streamed: only those frames are
    kept (converted to RGB), so memory does not grow with the clip's length."""
    path = Path(path)
    if path.is_dir():
        return _read_frame_folder(path, num_frames, min_frames)
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return sample_frames(read_image(path)[None], num_frames, min_frames=min_frames, source=path)
    _check_video_file(path)
    count = _packet_count(path)
    if count < min_frames:            # a container whose packets are not its frames: count by decoding
        count = _decode(path, set())[1]
    idx = sample_indices(count, num_frames, min_frames, path)
    frames, n = _decode(path, set(idx))
    if n != count:
        idx = sample_indices(n, num_frames, min_frames, path)
        frames, n = _decode(path, set(idx))
    return np.stack([frames[i] for i in idx])


def _check_video_file(path: Path) -> None:
    if path.suffix.lower() not in VIDEO_SUFFIXES:
        raise InputError(f"{path}: unsupported file type {path.suffix!r} "
                         f"(videos: {sorted(VIDEO_SUFFIXES)}, images: {sorted(IMAGE_SUFFIXES)})")
    if not path.is_file():
        raise InputError(f"{path}: no such video file")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: empty file (0 bytes)")


@contextlib.contextmanager
def _opened(path: Path, progress: list[int]):
    """The container, with PyAV's errors turned into one InputError naming the file (``progress[0]``: frames
    decoded so far, so a truncated file is told apart from an undecodable one)."""
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise InputError(f"{path}: no video stream")
            yield container
    except InputError:
        raise
    except (av.FFmpegError, UnicodeDecodeError, ValueError, IndexError) as e:
        if progress[0]:  # a truncated file is refused rather than silently shortened
            raise InputError(f"{path}: truncated or corrupt video after {progress[0]} frames ({e})") from None
        raise InputError(f"{path}: not a decodable video ({type(e).__name__}: {e})") from None


def _packet_count(path: Path) -> int:
    """Video packets in the container (demuxed, not decoded): the frame count for the usual codecs."""
    with _opened(path, [0]) as container:
        return sum(1 for packet in container.demux(video=0) if packet.size)


def _decode(path: Path, wanted: set[int] | None = None) -> tuple[dict[int, np.ndarray], int]:
    """Frames whose index is in ``wanted`` (all when None) as RGB arrays, and how many frames were decoded."""
    kept, n = {}, [0]
    with _opened(path, n) as container:
        for frame in container.decode(video=0):
            if wanted is None or n[0] in wanted:
                kept[n[0]] = frame.to_ndarray(format="rgb24")
            n[0] += 1
    return kept, n[0]


def _read_frame_folder(path: Path, num_frames: int | None = None, min_frames: int = 1) -> VideoArray:
    files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise InputError(f"{path}: folder holds no frames ({sorted(IMAGE_SUFFIXES)})")
    if num_frames is not None:
        files = [files[i] for i in sample_indices(len(files), num_frames, min_frames, path)]
    frames = [read_image(p) for p in files]
    shapes = {f.shape for f in frames}
    if len(shapes) > 1:
        raise InputError(f"{path}: frames differ in size {sorted(shapes)}")
    return np.stack(frames)


def sample_indices(t: int, num_frames: int, min_frames: int = 2, source: Path | str | None = None) -> np.ndarray:
    """Indices of ``num_frames`` frames spread evenly over ``t`` (both ends kept; see the module docstring)."""
    if t < min_frames:
        raise InputError(f"{source or 'video'}: has {t} frame(s); at least {min_frames} are needed")
    return np.floor(np.linspace(0, t - 1, num_frames) + 0.5).astype(int)  # round half up


def sample_frames(video: VideoArray, num_frames: int, *, min_frames: int = 2,
                  source: Path | str | None = None) -> VideoArray:
    """``num_frames`` frames spread evenly over ``video`` (both ends kept; see the module docstring)."""
    return video[sample_indices(len(video), num_frames, min_frames, source)]


def resize_center_crop(frames: np.ndarray, size: int | tuple[int, int]) -> np.ndarray:
    """Resize so the shorter side fits, then centre-crop to ``size`` (int → square). Works on (H,W,3) or (T,H,W,3)."""
    from PIL import Image

    out_h, out_w = (size, size) if isinstance(size, int) else size
    single = frames.ndim == 3
    clip = frames[None] if single else frames
    h, w = clip.shape[1:3]
    scale = max(out_h / h, out_w / w)
    new_h, new_w = max(out_h, round(h * scale)), max(out_w, round(w * scale))
    top, left = (new_h - out_h) // 2, (new_w - out_w) // 2
    out = np.empty((len(clip), out_h, out_w, 3), dtype=np.uint8)
    for i, f in enumerate(clip):
        if (new_h, new_w) != (h, w):
            f = np.asarray(Image.fromarray(f).resize((new_w, new_h), Image.BICUBIC))
        out[i] = f[top:top + out_h, left:left + out_w]
    return out[0] if single else out


def load_clip(path: Path | str, num_frames: int, size: int) -> VideoArray:
    """Read (streamed), sample to ``num_frames`` and resize + centre-crop: how every dataset video enters the
    suite."""
    return resize_center_crop(read_sampled(path, num_frames), size)


def write_video(path: Path | str, frames: VideoArray, fps: int = 8, crf: int = 12) -> None:
    """Write H.264 mp4 (yuv420p, near-lossless ``crf``) atomically. Odd sizes are padded by one pixel. The same
    frames give the same bytes: one encoder thread and x264's ``cpu-independent`` (its asm otherwise picks
    algorithms by CPU, and on a 2-core AVX-512 Xeon, 2026-12-02, 32-pixel frames encoded to 2-7 different files
    in 10-12 calls), since every metric is read back from these files."""
    import av

    from flash_bench.store import atomic_path

    frames = _check_frames(frames, path)
    pad_h, pad_w = frames.shape[1] % 2, frames.shape[2] % 2
    if pad_h or pad_w:
        frames = np.pad(frames, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="edge")
    with atomic_path(Path(path)) as tmp:
        with av.open(str(tmp), mode="w", format="mp4") as container:
            stream = container.add_stream("libx264", rate=fps)
            stream.height, stream.width = frames.shape[1:3]
            stream.pix_fmt = "yuv420p"
            stream.codec_context.thread_count = 1
            stream.options = {"crf": str(crf), "preset": "medium", "x264-params": "cpu-independent=1"}
            for f in frames:
                for packet in stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)


def write_gif(path: Path | str, frames: VideoArray, fps: int = 8) -> None:
    """Write a looping GIF atomically."""
    from PIL import Image

    from flash_bench.store import atomic_path

    frames = _check_frames(frames, path)
    images = [Image.fromarray(f) for f in frames]
    with atomic_path(Path(path)) as tmp:
        images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:],
                       duration=round(1000 / fps), loop=0)


def _check_frames(frames, path) -> np.ndarray:
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or len(frames) == 0:
        raise InputError(f"{path}: frames must be uint8 (T,H,W,3) with T>0, got {frames.dtype} {frames.shape}")
    return frames


with contextlib.suppress(ImportError):  # keep PyAV's logging quiet: errors reach the user as InputError
    import av.logging

    av.logging.set_level(av.logging.PANIC)
