"""Files in and out: atomic writes, text and JSON records, and array bundles (`.npz` / `.npy`), each read
with one-line errors for missing or damaged files."""
from __future__ import annotations

import contextlib
import io
import json
import os
import secrets
import stat
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterator

import numpy as np

from ..errors import InputError


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


def write_atomic(path: str | Path, produce: Callable[[BinaryIO], Any]) -> None:
    """Write a file atomically with `produce(file)`, which writes the content to a file object. The content is
    made in memory first and then written by Python: writers implemented in C++ or Rust (torch.save,
    torch.jit.save, safetensors) abort the process or raise their own errors when the disk fills up; here a
    full disk is an OSError naming `path`, and no temporary file is left."""
    buffer = io.BytesIO()
    produce(buffer)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(buffer.getbuffer())


def _create_beside(path: Path) -> tuple[Path, int]:
    """A new empty file `.NAME.RANDOM.tmpSUFFIX` beside `path`, created with mode 0666 so that the kernel
    applies the umask (the process-wide umask is never changed: other threads may be writing)."""
    while True:
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp{path.suffix}")
        try:
            return tmp, os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue


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
