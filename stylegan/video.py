"""Latent walks and noise loops written as MP4 (imageio-ffmpeg) or GIF (Pillow), frame by frame."""
from __future__ import annotations

import contextlib
import math
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np
import PIL.Image
import torch
from torch import nn
from tqdm import tqdm

from .errors import InputError
from .generate import random_noise, render
from .io import atomic_path, make_grid
from .latent import class_label, device_of, interpolate, seeds_to_z

VIDEO_SUFFIXES = (".mp4", ".gif")


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
    if fps <= 0:
        raise InputError(f"fps must be positive, got {fps}")
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


def walk_ws(G: nn.Module, seeds: Sequence[int], frames_per_step: int, space: str = "w", kind: str | None = None,
            loop: bool = False, truncation_psi: float = 1.0, truncation_cutoff: int | None = None,
            class_idx: int | None = None) -> torch.Tensor:
    """ws for every frame of a walk through seeds: lerp/cubic in W (after truncation) or slerp in Z."""
    if space not in ("w", "z"):
        raise InputError(f"space must be 'w' or 'z', got {space!r}")
    kind = kind or ("slerp" if space == "z" else "cubic")
    z = seeds_to_z(seeds, G.z_dim, device_of(G))
    with torch.no_grad():
        if space == "z":
            path = interpolate(z, frames_per_step, kind, loop)
            return G.mapping(path, class_label(G, class_idx, len(path)), truncation_psi=truncation_psi,
                             truncation_cutoff=truncation_cutoff)
        keys = G.mapping(z, class_label(G, class_idx, len(z)), truncation_psi=truncation_psi,
                         truncation_cutoff=truncation_cutoff)
        return interpolate(keys, frames_per_step, kind, loop)


def walk_frames(G: nn.Module, walks: Sequence[torch.Tensor], grid: tuple[int, int] = (1, 1),
                noise_mode="const", batch_size: int = 8) -> Iterator[np.ndarray]:
    """Frames of one or several walks (ws [F, num_ws, w_dim] each) tiled cols x rows, rendered lazily."""
    frames = min(len(w) for w in walks)
    for start in range(0, frames, batch_size):
        stop = min(start + batch_size, frames)
        tiles = [render(G, w[start:stop], noise_mode, batch_size=batch_size) for w in walks]
        for f in range(stop - start):
            yield make_grid(np.stack([t[f] for t in tiles]), *grid)


def noise_loop_frames(G: nn.Module, ws: torch.Tensor, num_frames: int, noise_seed: int = 0,
                      batch_size: int = 8) -> Iterator[np.ndarray]:
    """A seamless loop in which only the noise moves: n(t) = cos(2 pi t) n1 + sin(2 pi t) n2 keeps unit
    variance in every layer, so the image stays in distribution while details drift and return."""
    generator = torch.Generator().manual_seed(noise_seed)
    n1, n2 = random_noise(G, 1, generator), random_noise(G, 1, generator)
    for start in range(0, num_frames, batch_size):
        t = torch.arange(start, min(start + batch_size, num_frames), dtype=torch.float32) / num_frames
        c = torch.cos(2 * math.pi * t).reshape(-1, 1, 1, 1).to(device_of(G))
        s = torch.sin(2 * math.pi * t).reshape(-1, 1, 1, 1).to(device_of(G))
        noise = [c * a + s * b for a, b in zip(n1, n2)]
        yield from render(G, ws[:1].expand(len(t), -1, -1), noise=noise, batch_size=batch_size)
