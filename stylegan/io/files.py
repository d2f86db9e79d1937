"""Files in and out: atomic writes, text and JSON records, and array bundles (`.npz` / `.npy`), each read
with one-line errors for missing or damaged files.

Every file the package reads from a path the user gives goes through `open_regular` (or `read_bytes`,
`regular_file_size`): anything but a regular file after following links (a directory, a device such as
/dev/zero, a FIFO, a socket) is refused before a byte is read, and reads never go past the file's size."""
from __future__ import annotations

import contextlib
import io
import json
import math
import os
import secrets
import stat
import zipfile
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterator

import numpy as np

from ..errors import InputError, StyleGANError
from .paths import special_kind


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


# Text files (settings, recipes, configs, label lists, score tables) are parsed into Python objects many times
# their size; larger ones are refused.
TEXT_LIMIT = 64 << 20


def _check_regular(path: Path, mode: int, kind: str, error: type[StyleGANError]) -> None:
    if stat.S_ISDIR(mode):
        raise error(f"{path}: is a directory, not a {kind} file")
    if not stat.S_ISREG(mode):
        raise error(f"{path}: is {special_kind(mode)}, not a regular {kind} file")


def regular_file_size(path: str | Path, kind: str = "input", error: type[StyleGANError] = InputError) -> int:
    """The size of `path` in bytes once it is known to be a regular file (links followed); otherwise `error`
    naming the file: missing, a directory, or a device, FIFO or socket (which could be read forever or block)."""
    path = Path(path)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise error(f"{path}: no such {kind} file") from None
    except (OSError, ValueError) as exc:  # ValueError: a path with a NUL byte
        raise error(f"{path}: cannot read this {kind} file ({getattr(exc, 'strerror', None) or exc})") from None
    _check_regular(path, info.st_mode, kind, error)
    return info.st_size


@contextlib.contextmanager
def open_regular(path: str | Path, kind: str = "input", error: type[StyleGANError] = InputError,
                 limit: int | None = None) -> Iterator[tuple[BinaryIO, int]]:
    """Open a regular file for binary reading and yield (file, size); `error` naming the file otherwise.

    The file is checked before it is opened (a FIFO would block the open) and again on the open descriptor
    (it may have been replaced in between); with `limit`, larger files are refused.
    """
    path = Path(path)
    regular_file_size(path, kind, error)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except OSError as exc:
        raise error(f"{path}: cannot read this {kind} file ({exc.strerror or exc})") from None
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(fd)
        _check_regular(path, info.st_mode, kind, error)
        if limit is not None and info.st_size > limit:
            raise error(f"{path}: {info.st_size} bytes, more than the {limit} this package reads for {kind} files")
        yield f, info.st_size


def read_bytes(path: str | Path, kind: str = "input", error: type[StyleGANError] = InputError,
               limit: int | None = None) -> bytes:
    """The bytes of a regular file (see `open_regular`), never more than its size; `error` naming it when it
    cannot be read."""
    with open_regular(path, kind, error, limit) as (f, size):
        try:
            return f.read(size)
        except MemoryError:
            raise error(f"{path}: not enough memory to read this {kind} file ({size} bytes)") from None
        except OSError as exc:
            raise error(f"{path}: cannot read this {kind} file ({exc.strerror or exc})") from None


def read_text(path: str | Path, kind: str = "text") -> str:
    """The UTF-8 text of a regular file of at most TEXT_LIMIT bytes; anything else is an InputError naming it."""
    data = read_bytes(path, kind, InputError, TEXT_LIMIT)
    try:
        return data.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not a {kind} file (not UTF-8 text at byte {exc.start})") from None


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


# A compressed `.npz` may unpack to at most this many times its size (arrays of numbers deflate by far less; a
# larger ratio is a decompression bomb).
NPZ_EXPANSION_LIMIT = 64


def _np_suffix(path: Path, kind: str, suffixes: tuple[str, ...] = (".npz", ".npy")) -> str:
    if path.suffix not in suffixes:
        raise InputError(f"{path}: {kind} files end in {' or '.join(suffixes)}")
    return path.suffix


def _check_npy_claim(stream: BinaryIO, size: int, what: str) -> None:
    """Refuse an .npy (`size` bytes from the stream's position) whose header claims more data than follows it:
    numpy allocates the claimed array before it reads. The position is restored; a header numpy cannot read
    is left for np.load to refuse."""
    start = stream.tell()
    try:
        major, _ = np.lib.format.read_magic(stream)
        header = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
        shape, _, dtype = header(stream)
        claimed = math.prod(shape) * dtype.itemsize
    except (ValueError, TypeError, OverflowError, SyntaxError, EOFError):
        claimed = 0
    follows = size - (stream.tell() - start)
    stream.seek(start)
    if claimed > follows:
        raise InputError(f"{what}: its header claims {claimed} bytes of array data, but {follows} follow; the file "
                         f"is damaged")


def load_arrays(path: str | Path, kind: str = "array") -> dict[str, np.ndarray]:
    """All arrays of an .npz (by name) or an .npy (under the name ''), read without pickle from a regular file;
    a damaged file, an array whose header claims more data than follows it, or an .npz whose members unpack to
    more than NPZ_EXPANSION_LIMIT times its size, is an InputError naming it."""
    path = Path(path)
    suffix = _np_suffix(path, kind)
    with open_regular(path, kind) as (f, size):
        try:
            if suffix == ".npy":
                _check_npy_claim(f, size, str(path))
                return {"": np.load(f, allow_pickle=False)}
            with zipfile.ZipFile(f) as archive:
                unpacked = sum(info.file_size for info in archive.infolist())
                if unpacked > NPZ_EXPANSION_LIMIT * size:
                    raise InputError(f"{path}: its arrays unpack to {unpacked} bytes from a file of {size} (more "
                                     f"than {NPZ_EXPANSION_LIMIT} times); refusing a likely decompression bomb")
                for info in archive.infolist():
                    with archive.open(info) as member:
                        _check_npy_claim(member, info.file_size, f"{path}: {info.filename}")
            f.seek(0)
            with np.load(f, allow_pickle=False) as data:
                arrays = {key: data[key] for key in data.files}
            stray = [key for key, value in arrays.items() if not isinstance(value, np.ndarray)]
            if stray:  # (numpy hands a member that is no .npy over as its bytes)
                raise InputError(f"{path}: its member {stray[0]!r:.60} is not an array")
            return arrays
        except InputError:
            raise
        except Exception as exc:  # zipfile, numpy and zlib each raise their own errors (MemoryError too)
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise InputError(f"{path}: not a readable {suffix} {kind} file ({reason})") from None


def save_arrays(path: str | Path, arrays: dict[str, np.ndarray] | np.ndarray) -> None:
    """Write named arrays as .npz, or one array as .npy, atomically."""
    path = Path(path)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            (np.savez(f, **arrays) if isinstance(arrays, dict) else np.save(f, arrays))
