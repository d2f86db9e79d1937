"""An allowlisted unpickler: reads network pickles as plain data and never runs code from the file.

NVIDIA's pickles store each network as `torch_utils.persistence._reconstruct_persistent_obj(meta)`,
where `meta` holds the class name, the module's source code and the object state. The official loader
`exec`s that source. Here the call only records the class name and state in a `PersistentObject`;
the source text is discarded unread. TF-era pickles hold `dnnlib.tflib.network.Network` objects whose
state also carries module source; they become `TFNetworkState` records of their variables, likewise.
Every other global a pickle may name must be on the allowlist below (tensor and array rebuilders,
ordered dicts); anything else is refused before it is imported.
"""
from __future__ import annotations

import _compat_pickle
import codecs
import collections
import io
import pickle
from typing import Any, BinaryIO

import numpy as np
import torch
import torch._tensor
import torch._utils

from ..errors import CheckpointError, UnsafePickleError


class PersistentObject:
    """What a pickled persistent network object holds: its class name and its state, as data."""

    def __init__(self, meta: dict):
        if not isinstance(meta, dict) or "class_name" not in meta or "state" not in meta:
            raise CheckpointError("a persistent object in the pickle has no class_name/state record")
        self.class_name: str = str(meta["class_name"])
        self.version = meta.get("version")
        self.state: dict = dict(meta["state"] or {})

    def __repr__(self) -> str:
        return f"PersistentObject({self.class_name})"

    @property
    def attrs(self) -> dict:
        """Plain attributes of the object (everything but parameters, buffers and submodules)."""
        return {k: v for k, v in self.state.items() if not k.startswith("_")}

    @property
    def init_kwargs(self) -> dict:
        """The keyword arguments the object was constructed with, when recorded."""
        return dict(self.state.get("_init_kwargs") or {})

    @property
    def init_args(self) -> tuple:
        """The positional arguments the object was constructed with, when recorded."""
        return tuple(self.state.get("_init_args") or ())

    @property
    def modules(self) -> dict:
        """Direct submodules by name (None entries dropped)."""
        return {k: v for k, v in (self.state.get("_modules") or {}).items() if v is not None}

    @property
    def params(self) -> dict:
        """Own parameters by name (None entries dropped)."""
        return {k: v for k, v in (self.state.get("_parameters") or {}).items() if v is not None}

    @property
    def buffers(self) -> dict:
        """Own persistent buffers by name (None entries and non-persistent buffers dropped)."""
        skip = set(self.state.get("_non_persistent_buffers_set") or ())
        return {k: v for k, v in (self.state.get("_buffers") or {}).items() if v is not None and k not in skip}

    def get(self, name: str, default: Any = None) -> Any:
        """An attribute, parameter, buffer or submodule by name."""
        for table in (self.attrs, self.modules, self.params, self.buffers):
            if name in table:
                return table[name]
        return default

    def state_dict(self, prefix: str = "") -> dict[str, torch.Tensor]:
        """All parameters and buffers of this object and its submodules, keyed by dotted path."""
        out = {prefix + k: torch.as_tensor(v).detach() for k, v in {**self.params, **self.buffers}.items()}
        for name, sub in self.modules.items():
            if isinstance(sub, PersistentObject):
                out.update(sub.state_dict(prefix + name + "."))
        return out


class TFNetworkState:
    """Stand-in for a TF-era `dnnlib.tflib.network.Network`: keeps what its pickled state holds, as data.

    The official class `exec`s the state's `build_module_src` and rebuilds a TensorFlow graph; here the
    source text is dropped unread and only the name, build function name, static kwargs, sub-networks
    and the (variable name, array) list are kept.
    """

    def __setstate__(self, state: dict) -> None:
        if not isinstance(state, dict) or "variables" not in state or "build_func_name" not in state:
            raise CheckpointError("a TensorFlow network in the pickle has no variables/build_func_name record")
        self.name = str(state.get("name"))
        self.version = state.get("version")
        self.build_func_name = str(state["build_func_name"])
        self.static_kwargs = dict(state.get("static_kwargs") or {})
        self.components = dict(state.get("components") or {})
        self.variables = {str(name): np.asarray(value) for name, value in state["variables"]}

    def __repr__(self) -> str:
        return f"TFNetworkState({self.name}: {self.build_func_name})"


class AttrDict(dict):
    """Stand-in for dnnlib's EasyDict: a dict whose keys also read as attributes."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def _load_storage_bytes(b: bytes):
    """Rebuild a tensor storage that torch pickled as bytes, with torch's weights-only loader."""
    return torch.load(io.BytesIO(b), map_location="cpu", weights_only=True)


def _numpy_reconstruct(cls, shape, dtype_code):
    if cls is not np.ndarray:
        raise UnsafePickleError(f"the pickle asks to rebuild an array of class {cls!r}; only numpy.ndarray is allowed")
    return np.ndarray.__new__(np.ndarray, shape, dtype_code)


def _numpy_scalar(dtype, data=None):
    if dtype.hasobject:
        raise UnsafePickleError("the pickle holds a numpy object scalar, which could run code; refusing it")
    return np.frombuffer(data, dtype=dtype, count=1)[0] if data is not None else dtype.type()


def _numpy_frombuffer(buffer, dtype, shape, order):
    if np.dtype(dtype).hasobject:
        raise UnsafePickleError("the pickle holds a numpy object array, which could run code; refusing it")
    return np.frombuffer(buffer, dtype=dtype).reshape(shape, order=order)


def _allowlist() -> dict[tuple[str, str], Any]:
    allowed: dict[tuple[str, str], Any] = {
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("builtins", "set"): set,
        ("builtins", "frozenset"): frozenset,
        ("builtins", "bytearray"): bytearray,
        ("builtins", "slice"): slice,
        ("torch", "Size"): torch.Size,
        ("torch", "Tensor"): torch.Tensor,
        ("torch.nn.parameter", "Parameter"): torch.nn.Parameter,
        ("torch._tensor", "_rebuild_from_type_v2"): torch._tensor._rebuild_from_type_v2,
        ("torch.storage", "_load_from_bytes"): _load_storage_bytes,
        ("numpy", "dtype"): np.dtype,
        ("numpy", "ndarray"): np.ndarray,
        ("torch_utils.persistence", "_reconstruct_persistent_obj"): PersistentObject,
        ("dnnlib.tflib.network", "Network"): TFNetworkState,
        ("dnnlib.util", "EasyDict"): AttrDict,
        ("dnnlib", "EasyDict"): AttrDict,
    }
    for name in ("_rebuild_tensor", "_rebuild_tensor_v2", "_rebuild_tensor_v3", "_rebuild_parameter",
                 "_rebuild_parameter_with_state"):
        if hasattr(torch._utils, name):
            allowed[("torch._utils", name)] = getattr(torch._utils, name)
    for core in ("numpy.core", "numpy._core"):
        allowed[(f"{core}.multiarray", "_reconstruct")] = _numpy_reconstruct
        allowed[(f"{core}.multiarray", "scalar")] = _numpy_scalar
        allowed[(f"{core}.numeric", "_frombuffer")] = _numpy_frombuffer
    allowed[("_codecs", "encode")] = codecs.encode  # how protocol-2 pickles store bytes
    for dtype in (torch.float16, torch.bfloat16, torch.float32, torch.float64, torch.int8, torch.uint8,
                  torch.int16, torch.int32, torch.int64, torch.bool):
        allowed[("torch", str(dtype).split(".")[-1])] = dtype
    return allowed


ALLOWED_GLOBALS = _allowlist()


class SafeUnpickler(pickle.Unpickler):
    """pickle.Unpickler that resolves globals only from ALLOWED_GLOBALS (plus `extra`)."""

    def __init__(self, file: BinaryIO, extra: dict[tuple[str, str], Any] | None = None):
        super().__init__(file)
        self._allowed = {**ALLOWED_GLOBALS, **(extra or {})}

    def find_class(self, module: str, name: str) -> Any:
        # Protocol 0-2 pickles name some globals as Python 2 did (__builtin__.set, copy_reg, ...).
        module, name = _compat_pickle.NAME_MAPPING.get((module, name), (module, name))
        module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        try:
            return self._allowed[(module, name)]
        except KeyError:
            raise UnsafePickleError(
                f"the pickle asks for the Python global '{module}.{name}', which is not on the allowlist of "
                f"data types (loading it could run code); refusing to load it") from None

    def persistent_load(self, pid: Any) -> Any:
        raise CheckpointError("the pickle refers to external storage (persistent id); it is not a network pickle")


def safe_load(file: BinaryIO, extra: dict[tuple[str, str], Any] | None = None) -> Any:
    """Unpickle `file` with the allowlist; raise CheckpointError for damaged data."""
    try:
        return SafeUnpickler(file, extra).load()
    except (UnsafePickleError, CheckpointError):
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError, IndexError, AttributeError,
            RuntimeError, MemoryError, OverflowError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"the pickle is truncated or corrupt ({type(exc).__name__}: {exc})") from None
