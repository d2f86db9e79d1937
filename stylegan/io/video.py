"""Videos out: frames written as MP4 (imageio-ffmpeg, streamed) or GIF (Pillow), atomically."""
from __future__ import annotations

import contextlib
import math
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import PIL.Image
from tqdm import tqdm

from ..errors import InputError
from .files import atomic_path

VIDEO_SUFFIXES = (".mp4", ".gif")
MIN_FPS, MAX_FPS = 0.01, 1000


class _GifWriter:
    """Collects palette frames (1 byte per pixel) and writes an animated GIF at close."""

    def __init__(self, path: Path, fps: float):
        self.path, self.fps, self.frames, self.count = path, fps, [], 0

    def write(self, frame: np.ndarray) -> None:
        image = PIL.Image.fromarray(frame[:, :, 0] if frame.shape[2] == 1 else frame)
        self.frames.append(image.convert("RGB").quantize(colors=256, method=PIL.Image.Quantize.MEDIANCUT))
        self.count += 1

    def close(self) -> None:
        if self.frames:
            self.frames[0].save(self.path, format="GIF", save_all=True, append_images=self.frames[1:], loop=0,
                                duration=max(int(round(1000 / self.fps)), 20))


class _Mp4Writer:
    """Streams RGB frames to ffmpeg (H.264, yuv420p); memory stays flat however long the video is."""

    def __init__(self, path: Path, fps: float):
        try:
            import imageio_ffmpeg
        except ImportError:
            raise InputError("MP4 output needs imageio-ffmpeg: pip install 'stylegan[video]' "
                             "(or write a .gif)") from None
        self.path, self.fps, self.pipe, self.module, self.count = path, fps, None, imageio_ffmpeg, 0

    def write(self, frame: np.ndarray) -> None:
        frame = np.ascontiguousarray(np.repeat(frame, 3, axis=2) if frame.shape[2] == 1 else frame)
        h, w = frame.shape[:2]
        if self.pipe is None:
            self.size = (w + w % 2, h + h % 2)  # yuv420p needs even sizes
            self.pipe = self.module.write_frames(str(self.path), self.size, fps=self.fps, codec="libx264",
                                                 pix_fmt_out="yuv420p", macro_block_size=1,
                                                 output_params=["-crf", "18"], ffmpeg_log_level="error")
            self.pipe.send(None)
        if (w, h) != self.size:
            frame = np.pad(frame, [(0, self.size[1] - h), (0, self.size[0] - w), (0, 0)], mode="edge")
        self.pipe.send(frame)
        self.count += 1

    def close(self) -> None:
        if self.pipe is not None:
            self.pipe.close()


@contextlib.contextmanager
def open_video(path: str | Path, fps: float = 30) -> Iterator:
    """A writer with .write(uint8 frame [H, W, C]); the file appears (atomically) only when all frames are in."""
    path = Path(path)
    if path.suffix.lower() not in VIDEO_SUFFIXES:
        raise InputError(f"video output must end in .mp4 or .gif, got {path.name}")
    if not (math.isfinite(fps) and MIN_FPS <= fps <= MAX_FPS):  # (a GIF stores each frame's duration in 16 bits)
        raise InputError(f"fps must be a number from {MIN_FPS} to {MAX_FPS}, got {fps}")
    with atomic_path(path) as tmp:
        writer = (_Mp4Writer if path.suffix.lower() == ".mp4" else _GifWriter)(tmp, fps)
        try:
            yield writer
        finally:
            writer.close()
        if writer.count == 0:
            raise InputError("no frames to write")


def write_video(frames: Iterable[np.ndarray], path: str | Path, fps: float = 30, total: int | None = None) -> int:
    """Write frames to `path` with a progress bar; returns the number of frames."""
    with open_video(path, fps) as writer:
        for frame in tqdm(frames, total=total, desc=Path(path).name, unit="frame", leave=False):
            writer.write(frame)
    return writer.count
