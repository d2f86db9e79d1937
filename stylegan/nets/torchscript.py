"""Read the weights of a TorchScript archive (`torch.jit.save` output) without running its code.

A TorchScript file is a zip holding `<name>/data.pkl` (the module tree: objects of `__torch__.*`
classes whose state holds parameters, buffers, submodules and plain attributes), `<name>/data/<key>`
(raw tensor storages) and `<name>/code/` (the TorchScript source, which is never read here). The
pickle is read with the allowlisted unpickler: `__torch__` classes become inert records, storages come
from the zip's entries, and any other global is refused.
"""
from __future__ import annotations

import io
import posixpath
import sys
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import CheckpointError
from ..formats.safe_pickle import SafeUnpickler

_STORAGE_DTYPES = {
    "FloatStorage": torch.float32, "DoubleStorage": torch.float64, "HalfStorage": torch.float16,
    "BFloat16Storage": torch.bfloat16, "LongStorage": torch.int64, "IntStorage": torch.int32,
    "ShortStorage": torch.int16, "CharStorage": torch.int8, "ByteStorage": torch.uint8, "BoolStorage": torch.bool,
}


class ScriptRecord:
    """A `__torch__` object read as data: its class name and its attributes."""

    class_name = ""

    def __setstate__(self, state: Any) -> None:
        self.state = state if isinstance(state, dict) else {}

    def __repr__(self) -> str:
        return f"ScriptRecord({self.class_name})"


class _StorageType:
    def __init__(self, dtype: torch.dtype):
        self.dtype = dtype


def _rebuild_tensor(storage: torch.Tensor, offset: int, size, stride, *_ignored) -> torch.Tensor:
    if not size:
        return storage[offset].clone()
    return torch.as_strided(storage, tuple(size), tuple(stride), offset).clone()


def _identity(value, *_ignored):
    return value


def _extra_globals() -> dict[tuple[str, str], Any]:
    extra: dict[tuple[str, str], Any] = {("torch", name): _StorageType(dtype) for name, dtype in _STORAGE_DTYPES.items()}
    for name in ("_rebuild_tensor", "_rebuild_tensor_v2", "_rebuild_tensor_v3"):
        extra[("torch._utils", name)] = _rebuild_tensor
    extra[("torch._utils", "_rebuild_parameter")] = _identity
    for name in ("build_intlist", "build_tensorlist", "build_doublelist", "build_boollist", "restore_type_tag"):
        extra[("torch.jit._pickle", name)] = _identity
    return extra


class _ArchiveUnpickler(SafeUnpickler):
    def __init__(self, file, archive: zipfile.ZipFile, prefix: str):
        super().__init__(file, _extra_globals())
        self._archive = archive
        self._prefix = prefix
        self._storages: dict[str, torch.Tensor] = {}

    def find_class(self, module: str, name: str) -> Any:
        if module == "__torch__" or module.startswith("__torch__."):
            return type(name, (ScriptRecord,), {"class_name": f"{module}.{name}"})
        return super().find_class(module, name)

    def persistent_load(self, pid: Any) -> Any:
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"
                and isinstance(pid[1], _StorageType)):
            raise CheckpointError(f"the TorchScript archive refers to an unknown kind of storage {pid!r:.80}")
        key = str(pid[2])
        if key not in self._storages:
            entry = posixpath.join(self._prefix, "data", key)
            try:
                raw = bytearray(self._archive.read(entry))
            except KeyError:
                raise CheckpointError(f"the TorchScript archive has no storage entry {entry}") from None
            flat = torch.frombuffer(raw, dtype=pid[1].dtype) if raw else torch.empty(0, dtype=pid[1].dtype)
            self._storages[key] = flat
        return self._storages[key]


def is_torchscript(path: str | Path) -> bool:
    """True for a zip that holds TorchScript code next to its data.pkl."""
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
    return any(n.endswith("/data.pkl") for n in names) and any("/code/" in n for n in names)


def read_torchscript_state(path: str | Path) -> dict[str, torch.Tensor]:
    """Every tensor attribute of a TorchScript module tree, keyed by dotted path (a state dict)."""
    path = Path(path)
    with zipfile.ZipFile(path) as archive:
        pkl = [n for n in archive.namelist() if n.endswith("/data.pkl") and n.count("/") == 1]
        if not pkl:
            raise CheckpointError(f"{path}: not a TorchScript archive (no data.pkl)")
        prefix = posixpath.dirname(pkl[0])
        order = archive.read(posixpath.join(prefix, "byteorder")).decode().strip() \
            if posixpath.join(prefix, "byteorder") in archive.namelist() else "little"
        if order != sys.byteorder:
            raise CheckpointError(f"{path}: tensors are stored {order}-endian; this machine is {sys.byteorder}-endian")
        try:
            root = _ArchiveUnpickler(io.BytesIO(archive.read(pkl[0])), archive, prefix).load()
        except CheckpointError as exc:
            raise type(exc)(f"{path}: {exc}") from None
        except Exception as exc:  # a damaged pickle can fail in many ways
            raise CheckpointError(f"{path}: damaged TorchScript data ({type(exc).__name__}: {exc})") from None
    if not isinstance(root, ScriptRecord):
        raise CheckpointError(f"{path}: the TorchScript archive does not hold a module")
    return _flatten(root, "")


def _flatten(record: ScriptRecord, prefix: str) -> dict[str, torch.Tensor]:
    out: dict[str, torch.Tensor] = {}
    for name, value in getattr(record, "state", {}).items():
        if isinstance(value, torch.Tensor):
            out[prefix + name] = value
        elif isinstance(value, np.ndarray) and value.dtype != object:
            out[prefix + name] = torch.from_numpy(value)
        elif isinstance(value, ScriptRecord):
            out.update(_flatten(value, f"{prefix}{name}."))
    return out
