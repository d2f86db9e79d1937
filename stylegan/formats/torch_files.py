"""PyTorch files read as data, with every size they claim checked against their own size before torch reads them.

`torch.save` writes a zip (`<name>/data.pkl`, the object tree, and `<name>/data/<key>`, one raw storage each,
never compressed) or, before that, the legacy stream: pickles of a magic number, a protocol version and
system information, the object tree, the list of storage keys, then each storage's data. NVIDIA's network
pickles hold one legacy stream per tensor storage. In both, the object tree names each storage with an element
type and a number of elements, which torch allocates before it reads the data. Here the object tree is first
read dry (every global and object an inert stand-in; nothing is built or run) to collect those claims, and a
file whose storages claim more than it holds, whose zip members are compressed or overlap, or whose object tree
is longer than PICKLE_LIMIT is refused before torch allocates anything.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import pickle
import re
import zipfile
from pathlib import Path
from typing import Any, BinaryIO

import torch

from ..errors import CheckpointError
from ..io.files import open_regular
from .common import ZIP_MAGIC
from .pickle_guard import check_pickle

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
# The object tree of a checkpoint is small (names, shapes, options: about 100 bytes a tensor); a longer one
# would take minutes to unpickle and is refused.
PICKLE_LIMIT = 32 << 20
_ELEMENT_SIZES = {
    "DoubleStorage": 8, "FloatStorage": 4, "HalfStorage": 2, "BFloat16Storage": 2, "LongStorage": 8,
    "IntStorage": 4, "ShortStorage": 2, "CharStorage": 1, "ByteStorage": 1, "BoolStorage": 1,
    "ComplexFloatStorage": 8, "ComplexDoubleStorage": 16, "UntypedStorage": 1,
}
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


class _Inert:
    """Stands for every global and every object a dry read builds: takes any arguments, state and items, and
    keeps none of them."""

    def __init__(self, *args: Any, **kwargs: Any):
        pass

    def __call__(self, *args: Any, **kwargs: Any) -> _Inert:
        return _Inert()

    def __setstate__(self, state: Any) -> None:
        pass

    def __setitem__(self, key: Any, value: Any) -> None:
        pass

    def append(self, item: Any) -> None:
        pass

    def extend(self, items: Any) -> None:
        pass


class _StorageKind:
    """A storage class named in a pickle (torch.FloatStorage, ...), with the size of its elements."""

    def __init__(self, name: str):
        self.name = name
        self.element_size = _ELEMENT_SIZES[name]


class _DryUnpickler(pickle.Unpickler):
    """Reads a pickle without building anything from it, collecting its persistent ids (the storages)."""

    def __init__(self, file: BinaryIO, pids: list):
        check_pickle(file)  # (memo indices and lengths the C unpickler would allocate by)
        super().__init__(file)
        self._pids = pids

    def find_class(self, module: str, name: str) -> Any:
        if module == "torch" and name in _ELEMENT_SIZES:
            return _StorageKind(name)
        return _Inert

    def persistent_load(self, pid: Any) -> Any:
        self._pids.append(pid)
        return _Inert()


def _dry_load(file: BinaryIO, pids: list | None = None) -> Any:
    try:
        return _DryUnpickler(file, pids if pids is not None else []).load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError, IndexError, AttributeError,
            RecursionError, OverflowError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"damaged PyTorch data ({type(exc).__name__}: {exc})") from None


def _claimed_storages(pids: list) -> dict[str, int]:
    """Storage key -> the bytes its persistent ids claim (the largest claim for a key shared by views)."""
    claims: dict[str, int] = {}
    for pid in pids:
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"):
            continue  # legacy streams also record module sources ('module' ids), which hold no data
        kind, key, numel = pid[1], str(pid[2]), pid[4]
        if not isinstance(kind, _StorageKind):
            raise CheckpointError("damaged PyTorch data (a storage of an unknown element type)")
        if not isinstance(numel, int) or numel < 0:
            raise CheckpointError(f"damaged PyTorch data (a storage of {numel!r:.40} elements)")
        claims[key] = max(claims.get(key, 0), numel * kind.element_size)
    return claims


def check_legacy_stream(file: BinaryIO, size: int) -> None:
    """Refuse a legacy torch stream (from the file's position, `size` bytes) whose storages claim more bytes
    than follow its object tree; the position is restored. Read dry: nothing is built."""
    start = file.tell()
    if _dry_load(file) != LEGACY_MAGIC:
        raise CheckpointError("damaged PyTorch data (no legacy magic number)")
    _dry_load(file)  # protocol version
    _dry_load(file)  # system information
    pids: list = []
    _dry_load(file, pids)
    _dry_load(file)  # storage keys
    available = size - (file.tell() - start)
    claimed = sum(_claimed_storages(pids).values())
    if claimed > available:
        raise CheckpointError(f"its tensors claim {claimed} bytes of data, but only {available} bytes follow; the "
                              f"file is damaged")
    file.seek(start)


def check_zip_checkpoint(file: BinaryIO, size: int) -> None:
    """Refuse a torch.save zip whose members are compressed, add up to more than the file (overlapping
    entries), hold an object tree longer than PICKLE_LIMIT, or whose storages claim more than their entries."""
    try:
        with zipfile.ZipFile(file) as archive:
            infos = archive.infolist()
            compressed = [i.filename for i in infos if i.compress_type != zipfile.ZIP_STORED]
            if compressed:
                raise CheckpointError(f"the zip member {compressed[0]} is compressed, which torch.save never does; "
                                      f"refusing it (unpacking could take far more memory and time than the file "
                                      f"suggests)")
            unpacked = sum(i.file_size for i in infos)
            if unpacked > size:
                raise CheckpointError(f"its zip members add up to {unpacked} bytes in a file of {size}; the "
                                      f"archive is damaged or crafted")
            pkl = [i for i in infos if i.filename.endswith("data.pkl") and i.filename.count("/") <= 1]
            if not pkl:
                raise CheckpointError("a zip without data.pkl; not a torch.save file")
            if pkl[0].file_size > PICKLE_LIMIT:
                raise CheckpointError(f"its object tree (data.pkl) is {pkl[0].file_size} bytes, more than the "
                                      f"{PICKLE_LIMIT} a checkpoint needs; refusing it")
            prefix = pkl[0].filename[:-len("data.pkl")]
            pids: list = []
            _dry_load(io.BytesIO(archive.read(pkl[0])), pids)
            entries = {i.filename: i.file_size for i in infos}
            for key, claimed in _claimed_storages(pids).items():
                stored = entries.get(f"{prefix}data/{key}")
                if stored is None or claimed > stored:
                    found = "no entry" if stored is None else f"an entry of {stored} bytes"
                    raise CheckpointError(f"storage {key} claims {claimed} bytes but has {found}; the file is "
                                          f"damaged")
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
        raise CheckpointError(f"damaged zip archive ({type(exc).__name__}: {exc})") from None
    finally:
        file.seek(0)


def torch_error_reason(exc: BaseException) -> str:
    """One line saying why torch.load failed or refused a file. PyTorch's advice to load with
    weights_only=False (which runs code from the file) is never repeated."""
    lines = [_ANSI.sub("", line).strip() for line in str(exc).splitlines()]
    for line in lines:
        if "WeightsUnpickler error:" in line:
            reason = line.split("WeightsUnpickler error:", 1)[1].split(" Please use", 1)[0].strip()
            return f"it holds data a weights-only load does not allow ({reason})"[:300]
    first = next((line for line in lines if line), "")
    if "weights_only" in first or "Weights only" in first:
        return "it holds data a weights-only load does not allow"
    return f"{type(exc).__name__}: {first}"[:300] if first else type(exc).__name__


def read_torch_file(path: str | Path) -> Any:
    """torch.load a .pt/.pth file with weights_only=True (tensors and plain containers only), on the CPU,
    after the checks of this module.

    Training checkpoints may also hold an argparse.Namespace of options; it is allowed as plain data.
    """
    with open_regular(path, "checkpoint", CheckpointError) as (f, size):
        try:
            is_zip = f.read(4) == ZIP_MAGIC
            f.seek(0)
            (check_zip_checkpoint if is_zip else check_legacy_stream)(f, size)
        except CheckpointError as exc:
            raise CheckpointError(f"{path}: {exc}") from None
    allowed = getattr(torch.serialization, "safe_globals", None)
    context = allowed([argparse.Namespace]) if allowed is not None else contextlib.nullcontext()
    try:
        with context:
            return torch.load(str(path), map_location="cpu", weights_only=True, mmap=is_zip)
    except MemoryError:
        raise CheckpointError(f"{path}: not enough memory to read this file") from None
    except pickle.UnpicklingError as exc:
        raise CheckpointError(f"{path}: the file holds Python objects beyond tensors and plain containers, which "
                              f"could run code; refusing to load it ({torch_error_reason(exc)})") from None
    except Exception as exc:  # torch.load raises many types for damaged files
        raise CheckpointError(f"{path}: damaged or truncated PyTorch file ({torch_error_reason(exc)})") from None
