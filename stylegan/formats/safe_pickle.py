"""An allowlisted unpickler: reads network pickles as plain data and never runs code from the file.

NVIDIA's pickles store each network as `torch_utils.persistence._reconstruct_persistent_obj(meta)`,
where `meta` holds the class name, the module's source code and the object state. The official loader
`exec`s that source. Here the call only records the class name and state in a `PersistentObject`;
the source text is discarded unread. TF-era pickles hold `dnnlib.tflib.network.Network` objects whose
state also carries module source; they become `TFNetworkState` records of their variables, likewise.
Every other global a pickle may name must be on the allowlist below (tensor and array rebuilders,
ordered dicts); anything else is refused before it is imported.

A pickle cannot hold more data than its file: every allowlisted callable that allocates memory by a size it is
given, or copies a container it is given, draws from one budget of the file's size (`Budget`), so neither a
35-byte file asking for `bytearray(3 << 30)` nor a file that copies one container a million times through
the memo gets further than the file's own size. Each tensor storage (a legacy torch stream inside the pickle)
is checked the same way before torch reads it.
"""
from __future__ import annotations

import _compat_pickle
import collections
import io
import math
import os
import pickle
from typing import Any, BinaryIO, Callable

import numpy as np
import torch
import torch._tensor
import torch._utils

from ..errors import CheckpointError, UnsafePickleError
from .pickle_guard import check_pickle
from .torch_files import check_legacy_stream, torch_error_reason


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


class Budget:
    """What the callables a pickle names may allocate or copy: no single object larger than the file, and in
    all at most COPIES times the file (real pickles pass each byte through at most three such calls: protocol 2
    stores bytes as text, which becomes bytes, which become a tensor storage)."""

    COPIES = 4

    def __init__(self, limit: int):
        self.limit = limit
        self.left = self.COPIES * limit

    def spend(self, amount: int, what: str) -> None:
        """Take `amount` bytes for `what`, or refuse the pickle when that is more than the file or than is left."""
        if amount > self.limit:
            raise CheckpointError(f"the pickle asks for {what} of {amount} bytes, more than its {self.limit} bytes "
                                  f"can hold; the file is damaged or crafted")
        if amount > self.left:
            raise CheckpointError(f"the pickle asks for more than {self.COPIES} times its {self.limit} bytes in "
                                  f"copies of its data; the file is damaged or crafted")
        self.left -= amount


def _length(value: Any) -> int:
    try:
        return len(value)
    except TypeError:
        return 0


def _copies(func: Callable, budget: Budget, what: str) -> Callable:
    """`func`, charged for the length of each positional argument it copies."""
    def charged(*args: Any) -> Any:
        budget.spend(sum(map(_length, args)), what)
        return func(*args)
    return charged


def _refused(name: str) -> Callable:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise UnsafePickleError(f"the pickle calls {name}(...) directly to allocate an object of a given size, "
                                f"which network pickles never do; refusing to load it")
    return refuse


def shown(value: Any, width: int = 80) -> str:
    """A value from a pickle as one short line (the repr of an array found where a class belongs spans lines)."""
    return " ".join(repr(value).split())[:width]


# Stand in for torch.Tensor and numpy.ndarray, which pickles name as types (the class of a rebuilt tensor, the
# class `_reconstruct` makes) but never call: called, they would allocate any size asked for.
_TENSOR_TYPE = _refused("torch.Tensor")
_NDARRAY_TYPE = _refused("numpy.ndarray")


def _rebuild_from_type(func: Callable, new_type: Any, args: tuple, state: Any) -> torch.Tensor:
    new_type = torch.Tensor if new_type is _TENSOR_TYPE else new_type
    if not (isinstance(new_type, type) and issubclass(new_type, torch.Tensor)):
        raise UnsafePickleError(f"the pickle asks to rebuild a tensor as {shown(new_type)}; only tensor types are "
                                f"allowed")
    return torch._tensor._rebuild_from_type_v2(func, new_type, args, state)


def _bytearray(budget: Budget) -> Callable:
    def make(source: Any = b"", *args: Any) -> bytearray:
        size = source if isinstance(source, int) else _length(source)
        budget.spend(max(size, 0), "a bytearray")
        return bytearray(source, *args)
    return make


def _latin1_encode(budget: Budget) -> Callable:
    def encode(text: Any, encoding: str = "utf-8") -> bytes:
        if not isinstance(text, str) or encoding.replace("-", "").lower() != "latin1":
            raise UnsafePickleError("the pickle calls _codecs.encode other than on text as latin1 (the way "
                                    "pickles store bytes); refusing to load it")
        budget.spend(len(text), "bytes")
        return text.encode("latin1")
    return encode


def _storage_loader(budget: Budget) -> Callable:
    def load(blob: Any) -> Any:
        """A tensor storage that torch pickled as the bytes of a legacy torch stream, read with torch's
        weights-only loader once its claims are checked."""
        if not isinstance(blob, (bytes, bytearray)):
            raise CheckpointError("a tensor storage in the pickle is not stored as bytes")
        budget.spend(len(blob), "a tensor storage")
        stream = io.BytesIO(blob)
        check_legacy_stream(stream, len(blob))
        try:
            return torch.load(stream, map_location="cpu", weights_only=True)
        except MemoryError:
            raise
        except Exception as exc:  # torch.load raises many types for damaged data
            raise CheckpointError(f"a tensor storage in the pickle is damaged ({torch_error_reason(exc)})") from None
    return load


def _numpy_reconstruct(budget: Budget) -> Callable:
    def reconstruct(cls: Any, shape: Any, dtype_code: Any) -> np.ndarray:
        if cls is not _NDARRAY_TYPE:
            raise UnsafePickleError(f"the pickle asks to rebuild an array of class {shown(cls)}; only numpy.ndarray "
                                    f"is allowed")
        dims = tuple(shape) if isinstance(shape, (tuple, list)) else (shape,)
        if not all(isinstance(d, int) and d >= 0 for d in dims):
            raise CheckpointError(f"the pickle asks for an array of shape {shown(shape)}")
        budget.spend(math.prod(dims) * np.dtype(dtype_code).itemsize, "an array")
        return np.ndarray.__new__(np.ndarray, dims, dtype_code)
    return reconstruct


def _persistent_object(budget: Budget) -> Callable:
    def make(meta: Any) -> PersistentObject:
        state = meta.get("state") if isinstance(meta, dict) else None
        budget.spend(_length(meta) + _length(state), "a saved object")
        return PersistentObject(meta)
    return make


def _numpy_scalar(dtype, data=None):
    if dtype.hasobject:
        raise UnsafePickleError("the pickle holds a numpy object scalar, which could run code; refusing it")
    return np.frombuffer(data, dtype=dtype, count=1)[0] if data is not None else dtype.type()


def _numpy_frombuffer(buffer, dtype, shape, order):
    if np.dtype(dtype).hasobject:
        raise UnsafePickleError("the pickle holds a numpy object array, which could run code; refusing it")
    return np.frombuffer(buffer, dtype=dtype).reshape(shape, order=order)


def _charged_class(cls: type, budget: Budget) -> type:
    """A subclass of `cls` whose construction and state are charged to `budget` (classes pickles build with
    NEWOBJ and BUILD must stay classes)."""
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        budget.spend(sum(map(_length, args)) + len(kwargs), f"a {cls.__name__}")
        super(charged, self).__init__(*args, **kwargs)

    namespace: dict[str, Any] = {"__init__": __init__, "__module__": cls.__module__, "__qualname__": cls.__qualname__}
    if "__setstate__" in vars(cls):
        def __setstate__(self, state: Any) -> None:
            budget.spend(_length(state) + sum(map(_length, state.values())) if isinstance(state, dict) else 0,
                         f"a {cls.__name__}")
            cls.__setstate__(self, state)
        namespace["__setstate__"] = __setstate__
    charged = type(cls.__name__, (cls,), namespace)
    return charged


def allowlist(budget: Budget) -> dict[tuple[str, str], Any]:
    """The globals a pickle may name, as (module, name) -> what it stands for, drawing on `budget`."""
    allowed: dict[tuple[str, str], Any] = {
        ("collections", "OrderedDict"): _copies(collections.OrderedDict, budget, "an ordered dict"),
        ("builtins", "set"): _copies(set, budget, "a set"),
        ("builtins", "frozenset"): _copies(frozenset, budget, "a frozenset"),
        ("builtins", "bytearray"): _bytearray(budget),
        ("builtins", "slice"): slice,
        ("torch", "Size"): _copies(torch.Size, budget, "a torch.Size"),
        ("torch", "Tensor"): _TENSOR_TYPE,
        ("torch.nn.parameter", "Parameter"): torch.nn.Parameter,
        ("torch._tensor", "_rebuild_from_type_v2"): _rebuild_from_type,
        ("torch.storage", "_load_from_bytes"): _storage_loader(budget),
        ("numpy", "dtype"): np.dtype,
        ("numpy", "ndarray"): _NDARRAY_TYPE,
        ("torch_utils.persistence", "_reconstruct_persistent_obj"): _persistent_object(budget),
        ("dnnlib.tflib.network", "Network"): _charged_class(TFNetworkState, budget),
        ("dnnlib.util", "EasyDict"): _charged_class(AttrDict, budget),
        ("_codecs", "encode"): _latin1_encode(budget),  # how protocol-2 pickles store bytes
    }
    allowed[("dnnlib", "EasyDict")] = allowed[("dnnlib.util", "EasyDict")]
    for name in ("_rebuild_tensor", "_rebuild_tensor_v2", "_rebuild_tensor_v3", "_rebuild_parameter",
                 "_rebuild_parameter_with_state"):
        if hasattr(torch._utils, name):
            allowed[("torch._utils", name)] = getattr(torch._utils, name)
    for core in ("numpy.core", "numpy._core"):
        allowed[(f"{core}.multiarray", "_reconstruct")] = _numpy_reconstruct(budget)
        allowed[(f"{core}.multiarray", "scalar")] = _numpy_scalar
        allowed[(f"{core}.numeric", "_frombuffer")] = _numpy_frombuffer
    for dtype in (torch.float16, torch.bfloat16, torch.float32, torch.float64, torch.int8, torch.uint8,
                  torch.int16, torch.int32, torch.int64, torch.bool):
        allowed[("torch", str(dtype).split(".")[-1])] = dtype
    return allowed


def _remaining_size(file: BinaryIO) -> int:
    """The bytes from the file's position to its end."""
    try:
        return max(os.fstat(file.fileno()).st_size - file.tell(), 0)
    except (AttributeError, OSError, io.UnsupportedOperation):
        here = file.tell()
        end = file.seek(0, io.SEEK_END)
        file.seek(here)
        return end - here


class SafeUnpickler(pickle.Unpickler):
    """pickle.Unpickler that resolves globals only from the allowlist (plus `extra`), within a budget of the
    file's remaining size (or `limit`)."""

    def __init__(self, file: BinaryIO, extra: dict[tuple[str, str], Any] | None = None, limit: int | None = None):
        check_pickle(file)  # (memo indices and lengths the C unpickler would allocate by)
        super().__init__(file)
        self.budget = Budget(_remaining_size(file) if limit is None else limit)
        self._allowed = {**allowlist(self.budget), **(extra or {})}

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
    except MemoryError:
        raise CheckpointError("not enough memory to read the pickle") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError, IndexError, AttributeError,
            RuntimeError, OverflowError, UnicodeDecodeError, RecursionError) as exc:
        raise CheckpointError(f"the pickle is truncated or corrupt ({torch_error_reason(exc)})") from None
