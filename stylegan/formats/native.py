"""The native checkpoint: safetensors weights plus each network's architecture as JSON metadata.

Keys are `<network>.<parameter path>` (e.g. `G_ema.mapping.fc0.weight`); the metadata entry
`stylegan.networks` maps each network name to {"arch": ..., "config": {...}}, which is exactly what the
constructor needs to rebuild it. Nothing in the file is executed, and the config is checked against the
architecture's schema (`native_schema`) and the stored tensors before it is used.
"""
from __future__ import annotations

import json
from pathlib import Path

import safetensors
import safetensors.torch
import torch
from torch import nn

from ..errors import CheckpointError
from ..io.files import regular_file_size, write_atomic
from ..models import stylegan1, stylegan2, stylegan3
from ..models.discriminator import Discriminator
from ..models.encoder import Encoder
from .bounded_build import build_bounded
from .native_schema import check_config, check_stylegan3_filters

FORMAT_KEY = "stylegan.format"
FORMAT_VERSION = "1"
NETWORKS_KEY = "stylegan.networks"
EXTRA_KEY = "stylegan.extra"

# The architecture names native files store, and the classes they stand for.
ARCHITECTURES: dict[str, type[nn.Module]] = {
    "stylegan1.Generator": stylegan1.Generator,
    "stylegan1.Discriminator": stylegan1.Discriminator,
    "stylegan2.Generator": stylegan2.Generator,
    "stylegan3.Generator": stylegan3.Generator,
    "stylegan2.Discriminator": Discriminator,
    "encoder.Encoder": Encoder,
}


def arch_name(net: nn.Module) -> str:
    """The architecture name under which `net` is stored in native checkpoints."""
    for name, cls in ARCHITECTURES.items():
        if type(net) is cls:
            return name
    raise TypeError(f"{type(net).__name__} is not a network this package can save")


def save_networks(nets: dict[str, nn.Module], path: str | Path, extra: dict | None = None) -> None:
    """Write networks (name -> module) to `path` atomically, with their configs as metadata."""
    tensors: dict[str, torch.Tensor] = {}
    records = {}
    for name, net in nets.items():
        if "." in name:
            raise ValueError(f"network names cannot contain '.', got {name!r}")
        records[name] = {"arch": arch_name(net), "config": net.config}
        for key, value in net.state_dict().items():
            tensors[f"{name}.{key}"] = value.detach().to("cpu").contiguous().clone()
    metadata = {FORMAT_KEY: FORMAT_VERSION, NETWORKS_KEY: json.dumps(records),
                EXTRA_KEY: json.dumps(extra or {})}
    write_atomic(path, lambda f: f.write(safetensors.torch.save(tensors, metadata=metadata)))


def read_metadata(path: str | Path) -> dict:
    """The native metadata (networks and extra) without reading the tensors; each network's record is checked
    to name an architecture and hold a config record (the config itself is checked by `load_networks`)."""
    regular_file_size(path, "checkpoint", CheckpointError)
    try:
        with safetensors.safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
    except Exception as exc:  # safetensors raises its own error types for damaged headers (MemoryError too)
        raise CheckpointError(f"{path}: damaged safetensors file ({str(exc).splitlines()[0] if str(exc) else exc!r})"
                              ) from None
    if meta.get(FORMAT_KEY) is None or NETWORKS_KEY not in meta:
        raise CheckpointError(f"{path}: a safetensors file without stylegan metadata; it holds no network "
                              f"architecture (write it with stylegan.save or `stylegan convert`)")
    if meta[FORMAT_KEY] != FORMAT_VERSION:
        raise CheckpointError(f"{path}: native format version {meta[FORMAT_KEY]} is newer than this package "
                              f"reads ({FORMAT_VERSION}); upgrade stylegan")
    try:
        networks, extra = json.loads(meta[NETWORKS_KEY]), json.loads(meta.get(EXTRA_KEY, "{}"))
    except (ValueError, RecursionError) as exc:
        raise CheckpointError(f"{path}: damaged stylegan metadata ({exc})") from None
    if not isinstance(networks, dict) or not isinstance(extra, dict):
        raise CheckpointError(f"{path}: damaged stylegan metadata (its networks and extra entries must be records)")
    for name, record in networks.items():
        if not (isinstance(record, dict) and isinstance(record.get("arch"), str)
                and isinstance(record.get("config"), dict)) or "." in name:
            raise CheckpointError(f"{path}: damaged stylegan metadata (network '{name}' has no record of an "
                                  f"architecture name and a config)")
    return {"networks": networks, "extra": extra}


def load_networks(path: str | Path, which: tuple[str, ...] | None = None,
                  device: torch.device | str = "cpu") -> dict[str, nn.Module]:
    """Rebuild the networks named in `which` (all when None) from a native file.

    Each config is checked against its architecture's schema before anything is read or built, the build
    is bounded by the tensors the file stores for the network, and the tensors must then fit exactly.
    """
    meta = read_metadata(path)
    records = {n: r for n, r in meta["networks"].items() if which is None or n in which}
    for name, record in records.items():
        if record["arch"] not in ARCHITECTURES:
            raise CheckpointError(f"{path}: network '{name}' has architecture {record['arch']!r:.60}, which this "
                                  f"version of stylegan does not know; upgrade stylegan")
        try:
            check_config(record["arch"], record["config"])
        except CheckpointError as exc:
            raise CheckpointError(f"{path}: network '{name}': {exc}") from None
    try:
        tensors = safetensors.torch.load_file(str(path), device="cpu")
    except MemoryError:
        raise CheckpointError(f"{path}: not enough memory to read the tensors") from None
    except Exception as exc:
        raise CheckpointError(f"{path}: truncated or corrupt tensor data ({exc})") from None
    return {name: _rebuild(path, name, record, tensors).to(device) for name, record in records.items()}


def _rebuild(path: str | Path, name: str, record: dict, tensors: dict[str, torch.Tensor]) -> nn.Module:
    prefix = name + "."
    state = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
    shapes = {k: tuple(v.shape) for k, v in state.items()}
    what = f"{path}: network '{name}'"
    try:
        if record["arch"] == "stylegan3.Generator":
            check_stylegan3_filters(record["config"], shapes)
        net = build_bounded(ARCHITECTURES[record["arch"]], record["config"], shapes, what)
    except CheckpointError as exc:
        raise CheckpointError(str(exc) if str(exc).startswith(what) else f"{what}: {exc}") from None
    except MemoryError:
        raise CheckpointError(f"{what}: not enough memory to build it") from None
    except (ValueError, TypeError, KeyError, IndexError, RuntimeError, OverflowError, ZeroDivisionError) as exc:
        raise CheckpointError(f"{what}: its config does not describe a network this package can build "
                              f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})") from None
    try:
        net.load_state_dict(state)
    except RuntimeError as exc:
        raise CheckpointError(f"{path}: tensors of '{name}' do not match its architecture "
                              f"({str(exc).splitlines()[0]})") from None
    return net.eval().requires_grad_(False)
