"""File output that never leaves a half-written file behind, and image conversion helpers."""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator

import numpy as np
import PIL.Image
import torch

from .errors import InputError


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success rename it to `path`, on failure delete it.

    The temporary name ends with the target's suffix, so tools that pick a format from it still work.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{path.suffix}", dir=path.parent)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes owner-only files; give the usual permissions
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def to_uint8(img: torch.Tensor) -> np.ndarray:
    """Images [N, C, H, W] in [-1, 1] -> uint8 [N, H, W, C], rounded as the official tools do."""
    img = (img.detach().to(torch.float32).permute(0, 2, 3, 1) * 127.5 + 128).clamp(0, 255).to(torch.uint8)
    return img.cpu().numpy()


def save_png(array: np.ndarray, path: str | Path) -> None:
    """Write one uint8 image [H, W, C] (C = 1 or 3) or [H, W] as PNG, atomically."""
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    image = PIL.Image.fromarray(array, "L" if array.ndim == 2 else "RGB")
    with atomic_path(path) as tmp:
        image.save(tmp, format="PNG")


def make_grid(images: np.ndarray, cols: int, rows: int | None = None, pad: int = 0) -> np.ndarray:
    """Tile uint8 images [N, H, W, C] into one [rows*H, cols*W, C] image (row-major, blank-filled)."""
    n, h, w, c = images.shape
    rows = rows if rows is not None else -(-n // cols)
    grid = np.zeros([rows * h + (rows - 1) * pad, cols * w + (cols - 1) * pad, c], dtype=images.dtype)
    for i in range(min(n, rows * cols)):
        r, q = divmod(i, cols)
        grid[r * (h + pad):r * (h + pad) + h, q * (w + pad):q * (w + pad) + w] = images[i]
    return grid


def read_image(path: str | Path, resolution: int | None = None, channels: int = 3) -> np.ndarray:
    """Read an image file as uint8 [H, W, C]: any mode (grayscale, RGBA, 16-bit, palette) is converted to
    `channels` (1 or 3); with `resolution`, centre-crop to a square and resize (Lanczos) to it."""
    path = Path(path)
    try:
        with PIL.Image.open(path) as image:
            image.load()
            if image.mode in ("I;16", "I;16B", "I;16L", "I"):
                array = np.asarray(image, dtype=np.float64)
                scale = 257.0 if array.max() > 255 else 1.0  # 16-bit range 0..65535 -> 0..255
                image = PIL.Image.fromarray((array / scale).round().clip(0, 255).astype(np.uint8))
            image = image.convert("L" if channels == 1 else "RGB")
    except FileNotFoundError:
        raise InputError(f"{path}: no such image file") from None
    except (PIL.UnidentifiedImageError, OSError, ValueError) as exc:
        raise InputError(f"{path}: not a readable image ({exc})") from None
    if resolution is not None:
        w, h = image.size
        s = min(w, h)
        image = image.crop(((w - s) // 2, (h - s) // 2, (w + s) // 2, (h + s) // 2))
        image = image.resize((resolution, resolution), PIL.Image.LANCZOS)
    array = np.asarray(image, dtype=np.uint8)
    return array[:, :, None] if array.ndim == 2 else array
