"""The native checkpoint: safetensors weights plus each network's architecture as JSON metadata.

Keys are `<network>.<parameter path>` (e.g. `G_ema.mapping.fc0.weight`); the metadata entry
`stylegan.networks` maps each network name to {"arch": ..., "config": {...}}, which is exactly what the
constructor needs to rebuild it. Nothing in the file is executed.
"""
from __future__ import annotations

import json
from pathlib import Path

import safetensors
import safetensors.torch
import torch
from torch import nn

from ..errors import CheckpointError
from ..io.files import write_atomic
from ..models import stylegan1, stylegan2, stylegan3
from ..models.discriminator import Discriminator
from ..models.encoder import Encoder

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
    """The native metadata (networks and extra) without reading the tensors."""
    try:
        with safetensors.safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
    except Exception as exc:  # safetensors raises its own error types for damaged headers
        raise CheckpointError(f"{path}: damaged safetensors file ({exc})") from None
    if meta.get(FORMAT_KEY) is None or NETWORKS_KEY not in meta:
        raise CheckpointError(f"{path}: a safetensors file without stylegan metadata; it holds no network "
                              f"architecture (write it with stylegan.save or `stylegan convert`)")
    if meta[FORMAT_KEY] != FORMAT_VERSION:
        raise CheckpointError(f"{path}: native format version {meta[FORMAT_KEY]} is newer than this package "
                              f"reads ({FORMAT_VERSION}); upgrade stylegan")
    try:
        return {"networks": json.loads(meta[NETWORKS_KEY]), "extra": json.loads(meta.get(EXTRA_KEY, "{}"))}
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{path}: damaged stylegan metadata ({exc})") from None


def load_networks(path: str | Path, which: tuple[str, ...] | None = None,
                  device: torch.device | str = "cpu") -> dict[str, nn.Module]:
    """Rebuild the networks named in `which` (all when None) from a native file."""
    meta = read_metadata(path)
    names = [n for n in meta["networks"] if which is None or n in which]
    try:
        tensors = safetensors.torch.load_file(str(path), device="cpu")
    except Exception as exc:
        raise CheckpointError(f"{path}: truncated or corrupt tensor data ({exc})") from None
    nets = {}
    for name in names:
        record = meta["networks"][name]
        cls = ARCHITECTURES.get(record.get("arch"))
        if cls is None:
            raise CheckpointError(f"{path}: network '{name}' has architecture {record.get('arch')!r}, which this "
                                  f"version of stylegan does not know; upgrade stylegan")
        net = cls(**record["config"])
        prefix = name + "."
        state = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
        try:
            net.load_state_dict(state)
        except RuntimeError as exc:
            raise CheckpointError(f"{path}: tensors of '{name}' do not match its architecture "
                                  f"({str(exc).splitlines()[0]})") from None
        nets[name] = net.eval().requires_grad_(False).to(device)
    return nets
