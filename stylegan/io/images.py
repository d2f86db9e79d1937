"""Images in and out: one decoding rule for every reader (any mode to 8-bit RGB or L, alpha onto white,
damage as an error naming the file), the official float -> uint8 conversion, grids and PNG output."""
from __future__ import annotations

import io
import warnings
import zlib
from pathlib import Path

import numpy as np
import PIL.Image
import simplejpeg
import torch

from ..errors import InputError
from .files import atomic_path, read_bytes


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


ALPHA_MODES = ("RGBA", "LA", "PA", "La", "RGBa")


SIXTEEN_BIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N")


def _jpeg_damage(data: bytes) -> str | None:
    """Why a JPEG stream is damaged (its marker structure is broken or it ends early), or None.

    Pillow decodes a JPEG whose entropy-coded data is garbled or cut without an error (libjpeg's warnings
    are not passed on) and fills the rest grey; walking the markers finds such damage at byte speed.
    """
    if not data.startswith(b"\xff\xd8"):
        return "not a JPEG stream"
    pos, size = 2, len(data)
    while pos < size:
        if data[pos] != 0xFF:
            return f"stray bytes where a marker belongs (offset {pos})"
        while pos < size and data[pos] == 0xFF:
            pos += 1
        if pos >= size:
            break
        marker = data[pos]
        pos += 1
        if marker == 0xD9:
            return None
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            continue
        if not (0xC0 <= marker <= 0xFE) or pos + 2 > size:
            return f"invalid marker 0xFF{marker:02X} (offset {pos - 2})"
        pos += int.from_bytes(data[pos:pos + 2], "big")
        if marker != 0xDA:
            continue
        while True:  # entropy-coded data: 0xFF only as 0xFF00 (a stuffed byte) or a restart marker
            pos = data.find(b"\xff", pos)
            if pos < 0 or pos + 1 >= size:
                return "truncated (the image data ends early)"
            follower = data[pos + 1]
            if follower == 0x00 or 0xD0 <= follower <= 0xD7:
                pos += 2
                continue
            if not (0xC0 <= follower <= 0xFE) or follower in (0xD8, 0xF0):
                return f"corrupt image data (invalid marker 0xFF{follower:02X} at offset {pos})"
            break
    return "truncated or corrupt (it ends without an end-of-image marker)"


def _png_damage(data: bytes) -> str | None:
    """Why a PNG stream is damaged (a chunk whose CRC-32 does not match, or no IEND chunk), or None.

    Pillow checks the CRCs of the chunks it reads while opening, not of the image data (IDAT) nor of what
    follows it; a changed byte in the compressed data often still inflates to a picture.
    """
    pos, size = 8, len(data)
    while pos + 12 <= size:
        length = int.from_bytes(data[pos:pos + 4], "big")
        kind = data[pos + 4:pos + 8]
        end = pos + 8 + length
        if end + 4 > size:
            break
        if zlib.crc32(data[pos + 4:end]) != int.from_bytes(data[end:end + 4], "big"):
            return f"the checksum (CRC) of its {kind.decode('latin-1')!r} chunk does not match (offset {pos})"
        if kind == b"IEND":
            return None
        pos = end + 4
    return "truncated (it ends without an IEND chunk)"


def _strict_jpeg_damage(data: bytes) -> str | None:
    """What libjpeg reports about a JPEG it decodes, warnings included (corrupt entropy-coded data, data that
    ends before the picture the header announces, extraneous bytes), or None. Pillow's decoder drops
    libjpeg's warnings, so the picture is decoded a second time by a strict decoder."""
    try:
        simplejpeg.decode_jpeg(data)
    except ValueError as exc:
        return str(exc).strip().splitlines()[0] if str(exc).strip() else "rejected by libjpeg"
    return None


def decode_image(source: str | Path | bytes, channels: int | None = 3) -> tuple[PIL.Image.Image, str | None]:
    """Decode an image file (a path or its bytes) completely into 8-bit 'L' (channels 1) or 'RGB' (3).

    The one rule for every reader in the package: 16-bit and 32-bit integer images are scaled to 8 bits
    (÷257 when values exceed 255), images with transparency (RGBA, LA, palette with a transparent colour)
    are composited onto white, other modes are converted. Decoder errors and decoder warnings (a truncated
    or garbled file, bad metadata, more pixels than Pillow's decompression-bomb limit), a PNG chunk whose
    CRC does not match and a JPEG that libjpeg decodes only with warnings are damage: an InputError naming
    the file. A path must name a regular file (see `stylegan.io.files.read_bytes`). Returns the image and a note
    saying what was converted ("RGBA -> RGB (alpha flattened onto white)"), or None when nothing was.
    `channels=None` keeps the image's own kind (1 for grayscale modes, else 3).
    """
    name = "image data" if isinstance(source, bytes) else str(source)
    data = source if isinstance(source, bytes) else read_bytes(source, "image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with PIL.Image.open(io.BytesIO(data)) as image:
                image.load()
                checks = {"JPEG": (_jpeg_damage, _strict_jpeg_damage), "PNG": (_png_damage,)}
                for check in checks.get(image.format, ()):
                    damage = check(data)
                    if damage is not None:
                        raise InputError(f"{name}: not a readable image, damaged {image.format}: {damage}")
                return _to_8bit(image, channels)
    except InputError:
        raise
    except PIL.UnidentifiedImageError:
        raise InputError(f"{name}: not a readable image (not an image, or a damaged one)") from None
    except Exception as exc:  # damaged data surfaces from the decoders as many exception types and warnings
        raise InputError(f"{name}: not a readable image, damaged ({str(exc) or type(exc).__name__})") from None


def _to_8bit(image: PIL.Image.Image, channels: int | None) -> tuple[PIL.Image.Image, str | None]:
    mode = image.mode
    if channels is None:
        channels = 1 if mode in ("1", "L", "LA", "I", "F") + SIXTEEN_BIT_MODES else 3
    target = "L" if channels == 1 else "RGB"
    note = None
    if mode in SIXTEEN_BIT_MODES or mode == "I":
        array = np.asarray(image, dtype=np.float64)
        scale = 257.0 if mode in SIXTEEN_BIT_MODES or array.max() > 255 else 1.0  # 0..65535 -> 0..255
        image = PIL.Image.fromarray((array / scale).round().clip(0, 255).astype(np.uint8), "L")
        note = f"{mode} -> {target} (16-bit scaled to 8 bits)" if scale > 1 else f"{mode} -> {target}"
    elif mode in ALPHA_MODES or (mode == "P" and "transparency" in image.info):
        background = PIL.Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = PIL.Image.alpha_composite(background, image.convert("RGBA")).convert("RGB")
        note = f"{mode} -> {target} (alpha flattened onto white)"
    elif mode != target:
        note = f"{mode} -> {target}"
    return image.convert(target), note


def fit_image(image: np.ndarray | PIL.Image.Image, resolution: int | None = None, channels: int = 3) -> np.ndarray:
    """A picture as uint8 [H, W, channels]; with `resolution`, centre-cropped to a square and resized (Lanczos)."""
    if isinstance(image, np.ndarray):
        image = PIL.Image.fromarray(image[:, :, 0] if image.ndim == 3 and image.shape[2] == 1 else image)
    image = image.convert("L" if channels == 1 else "RGB")
    if resolution is not None:
        w, h = image.size
        s = min(w, h)
        image = image.crop(((w - s) // 2, (h - s) // 2, (w + s) // 2, (h + s) // 2))
        image = image.resize((resolution, resolution), PIL.Image.LANCZOS)
    array = np.asarray(image, dtype=np.uint8)
    return array[:, :, None] if array.ndim == 2 else array


def read_image(path: str | Path, resolution: int | None = None, channels: int = 3) -> np.ndarray:
    """Read an image file as uint8 [H, W, C] by the rule of `decode_image` (any mode; alpha composited onto
    white; damage is an InputError); with `resolution`, centre-crop to a square and resize (Lanczos) to it."""
    return fit_image(decode_image(path, channels)[0], resolution, channels)
