"""The one reader and writer of each file kind the package exchanges with users, and atomic file output.

ws files (`.npz` key `w` / `.npy`), direction files (`.npz` / `.npy`, addressed as `file:N`), noise files
(`.npz` keyed by buffer name), JSON records (studio settings), array bundles (metric statistics) and
images: each is read here with shape checks against a network and one-line errors for damaged files, and
written here atomically.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import secrets
import stat
import warnings
from pathlib import Path
from typing import Any, Iterator

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


def decode_image(source: str | Path | bytes, channels: int | None = 3) -> tuple[PIL.Image.Image, str | None]:
    """Decode an image file (a path or its bytes) completely into 8-bit 'L' (channels 1) or 'RGB' (3).

    The one rule for every reader in the package: 16-bit and 32-bit integer images are scaled to 8 bits
    (÷257 when values exceed 255), images with transparency (RGBA, LA, palette with a transparent colour)
    are composited onto white, other modes are converted. Decoder errors and decoder warnings (a truncated
    or garbled file, bad metadata) are damage: an InputError naming the file. Returns the image and a note
    saying what was converted ("RGBA -> RGB (alpha flattened onto white)"), or None when nothing was.
    `channels=None` keeps the image's own kind (1 for grayscale modes, else 3).
    """
    name = "image data" if isinstance(source, bytes) else str(source)
    try:
        data = source if isinstance(source, bytes) else Path(source).read_bytes()
    except FileNotFoundError:
        raise InputError(f"{name}: no such image file") from None
    except OSError as exc:
        raise InputError(f"{name}: cannot read this file ({exc.strerror or exc})") from None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with PIL.Image.open(io.BytesIO(data)) as image:
                image.load()
                if image.format == "JPEG":
                    damage = _jpeg_damage(data)
                    if damage is not None:
                        raise InputError(f"{name}: not a readable image, damaged JPEG: {damage}")
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


def _np_file(path: str | Path, kind: str, suffixes: tuple[str, ...] = (".npz", ".npy")) -> Path:
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such {kind} file")
    if path.suffix not in suffixes:
        raise InputError(f"{path}: {kind} files end in {' or '.join(suffixes)}")
    return path


def load_arrays(path: str | Path, kind: str = "array") -> dict[str, np.ndarray]:
    """All arrays of an .npz (by name) or an .npy (under the name ''), read without pickle; a damaged file is
    an InputError naming it."""
    path = _np_file(path, kind)
    try:
        if path.suffix == ".npy":
            return {"": np.load(path, allow_pickle=False)}
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    except Exception as exc:  # zipfile, numpy and zlib each raise their own errors for damaged files
        raise InputError(f"{path}: not a readable {path.suffix} {kind} file ({str(exc) or type(exc).__name__})") from None


def save_arrays(path: str | Path, arrays: dict[str, np.ndarray] | np.ndarray) -> None:
    """Write named arrays as .npz, or one array as .npy, atomically."""
    path = Path(path)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            (np.savez(f, **arrays) if isinstance(arrays, dict) else np.save(f, arrays))


def save_ws(path: str | Path, ws: torch.Tensor) -> None:
    """Write ws [N, num_ws, w_dim] atomically: .npz with key 'w' (as the official projector), or .npy."""
    path = Path(path)
    if path.suffix not in (".npz", ".npy"):
        raise InputError(f"ws files end in .npz or .npy, got {path.name}")
    array = ws.detach().cpu().numpy().astype(np.float32)
    save_arrays(path, {"w": array} if path.suffix == ".npz" else array)


def load_ws(path: str | Path, G=None, device: torch.device | str | None = None) -> torch.Tensor:
    """Read ws from .npz (key 'w', or the only array) or .npy as [N, num_ws, w_dim].

    A single w ([w_dim] or [1, w_dim]) is broadcast to all rows. With G, the shape is checked against it.
    """
    arrays = load_arrays(path, "ws")
    key = "w" if "w" in arrays else (next(iter(arrays)) if len(arrays) == 1 else None)
    if key is None:
        raise InputError(f"{path}: expected an array named 'w', found {sorted(arrays)}")
    array = arrays[key]
    if not np.issubdtype(array.dtype, np.number):
        raise InputError(f"{path}: holds {array.dtype} values, not numbers")
    ws = torch.from_numpy(np.asarray(array, dtype=np.float32))
    if G is not None:
        if ws.ndim == 1 or (ws.ndim == 2 and ws.shape[0] == 1 and ws.shape[1] == G.w_dim):
            ws = ws.reshape(1, 1, -1).repeat(1, G.num_ws, 1)
        elif ws.ndim == 2:
            ws = ws.unsqueeze(0)
        if ws.ndim != 3 or ws.shape[1:] != (G.num_ws, G.w_dim):
            raise InputError(f"{path}: ws of shape {tuple(array.shape)} do not fit this network, which takes "
                             f"[N, {G.num_ws}, {G.w_dim}] (or a single w of size {G.w_dim})")
        device = device or next(G.parameters()).device
    return ws.to(device or "cpu")


def split_index(spec: str | Path) -> tuple[str, int | None]:
    """'dirs.npz:3' -> ('dirs.npz', 3); a spec without a ':N' suffix -> (spec, None)."""
    head, sep, tail = str(spec).rpartition(":")
    return (head, int(tail)) if sep and head and tail.isdigit() else (str(spec), None)


def load_directions(path: str | Path, w_dim: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """All directions [K, w_dim] of a direction file and their strength units [K] (ones when not stored).

    `.npz` holds `directions` (and `scales`); `.npy` holds vectors [..., w_dim] (an InterFaceGAN boundary is
    [1, w_dim]). With `w_dim`, the size is checked against the network's w.
    """
    arrays = load_arrays(path, "direction")
    directions = arrays.get("directions" if Path(path).suffix == ".npz" else "")
    if directions is None:
        raise InputError(f"{path}: expected an array named 'directions', found {sorted(arrays)}")
    if directions.ndim == 0 or not np.issubdtype(directions.dtype, np.number):
        raise InputError(f"{path}: holds no direction vectors")
    directions = directions.reshape(-1, directions.shape[-1]).astype(np.float32)
    scales = arrays.get("scales", np.ones(len(directions), np.float32)).reshape(-1)
    if len(scales) != len(directions):
        raise InputError(f"{path}: holds {len(directions)} directions but {len(scales)} scales")
    if w_dim is not None and directions.shape[-1] != w_dim:
        raise InputError(f"{path}: directions have {directions.shape[-1]} values, this network's w has {w_dim}")
    return directions, scales.astype(np.float32)


def load_direction(spec: str | Path, w_dim: int) -> tuple[np.ndarray, float]:
    """One direction and its strength unit from 'file.npz:index', 'file.npz' (index 0) or 'boundary.npy'."""
    name, index = split_index(spec)
    path = Path(name)
    directions, scales = load_directions(path, w_dim)
    index = index or 0
    if not 0 <= index < len(directions):
        raise InputError(f"{path}: holds {len(directions)} directions, index {index} is out of range")
    return directions[index], float(scales[index])


def save_directions(path: str | Path, directions: np.ndarray, scales: np.ndarray, values: np.ndarray,
                    method: str) -> None:
    """Write directions atomically: .npz (all fields) or, for one direction, .npy [1, w_dim]."""
    path = Path(path)
    if path.suffix == ".npy":
        save_arrays(path, np.asarray(directions[:1], np.float32))
    elif path.suffix == ".npz":
        save_arrays(path, dict(directions=directions, scales=scales, values=values, method=np.array(method)))
    else:
        raise InputError(f"direction files end in .npz or .npy, got {path.name}")


def noise_names(G) -> list[str]:
    """The buffer names of G's per-layer noise inputs, in the order of `G.synthesis.noise_layers()`."""
    layers = G.synthesis.noise_layers()
    found = {id(module): name for name, module in G.synthesis.named_modules()}
    return [f"{found[id(layer)]}.noise_const" for layer in layers]


def save_noise(path: str | Path, G, noise: list[torch.Tensor]) -> None:
    """Write per-layer noise maps (sample 0 of each) as .npz keyed by buffer name, atomically."""
    save_arrays(path, {name: n[0, 0].detach().cpu().numpy() for name, n in zip(noise_names(G), noise)})


def load_noise(path: str | Path, G) -> list[torch.Tensor]:
    """Per-layer noise [1, 1, H, W] from a noise file, checked against G's noise layers (for `noise=`)."""
    arrays = load_arrays(path, "noise")
    device = next(G.parameters()).device
    out = []
    for name, layer in zip(noise_names(G), G.synthesis.noise_layers()):
        array = arrays.get(name)
        size = (layer.resolution, layer.resolution)
        if array is None or array.shape != size:
            found = "missing" if array is None else f"of shape {array.shape}"
            raise InputError(f"{path}: noise {name} is {found}; this network needs {size[0]}x{size[1]} maps")
        out.append(torch.from_numpy(array.astype(np.float32))[None, None].to(device))
    return out


def read_text(path: str | Path, kind: str = "text") -> str:
    """The UTF-8 text of a file; a missing, unreadable or non-UTF-8 file is an InputError naming it."""
    path = Path(path)
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: no such {kind} file") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not a {kind} file (not UTF-8 text at byte {exc.start})") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read this {kind} file ({exc.strerror or exc})") from None


def read_json(path: str | Path, kind: str = "JSON") -> Any:
    """The value of a JSON file; a missing or damaged file is an InputError naming it."""
    text = read_text(path, kind)
    try:
        return json.loads(text)
    except ValueError as exc:
        raise InputError(f"{path}: not a readable {kind} file ({exc})") from None


def write_json(path: str | Path, value: Any) -> None:
    """Write a JSON file (indented, newline-terminated), atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(value, indent=2, default=str) + "\n", encoding="utf-8")
