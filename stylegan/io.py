"""File output that never leaves a half-written file behind, and image conversion helpers."""
from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path
from typing import Iterator

import numpy as np
import PIL.Image
import torch

from .errors import InputError


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success flush it to disk and rename it to `path`, on failure
    delete it. The file gets the permissions of any new file (0666 less the umask).

    The temporary name ends with the target's suffix, so tools that pick a format from it still work. A
    file-system error names `path`, not the temporary file.
    """
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp, fd = _create_beside(path)
        mode = stat.S_IMODE(os.fstat(fd).st_mode)
        os.close(fd)
        yield tmp
        if stat.S_IMODE(os.stat(tmp).st_mode) != mode:
            os.chmod(tmp, mode)  # writers that make the file anew (safetensors: 0600) get the usual mode too
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException as exc:
        if tmp is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        if isinstance(exc, OSError) and (exc.filename is None or str(exc.filename) == str(tmp)):
            raise OSError(exc.errno, exc.strerror or str(exc), str(path)) from None
        raise


def _create_beside(path: Path) -> tuple[Path, int]:
    """A new empty file `.NAME.RANDOM.tmpSUFFIX` beside `path`, created with mode 0666 so that the kernel
    applies the umask (the process-wide umask is never changed: other threads may be writing)."""
    while True:
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp{path.suffix}")
        try:
            return tmp, os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue


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
