"""Checkpoint reading and writing; `load` recognises a file by its content, never by its name.

Formats read: NVIDIA network pickles of the PyTorch era ('nvidia-pkl') and of the TensorFlow era
('nvidia-tf', StyleGAN1 and StyleGAN2), stylegan native files ('native'), rosinality/stylegan2-pytorch
checkpoints ('rosinality') and MMGeneration checkpoints ('mmgen'). Formats written: native, rosinality.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import CheckpointError, StyleGANError
from ..io.files import open_regular
from . import mmgen, mmgen_config, native, nvidia_pkl, nvidia_tf, rosinality
from .common import TORCH_LEGACY_MAGIC, ZIP_MAGIC, listing
from .torch_files import read_torch_file

NETWORK_NAMES = ("G_ema", "G", "D")
FORMAT_NAMES = {
    "nvidia-pkl": "NVIDIA network pickle (PyTorch)",
    "nvidia-tf": "NVIDIA network pickle (TensorFlow era)",
    "native": "stylegan native (safetensors + JSON)",
    "rosinality": "rosinality/stylegan2-pytorch checkpoint",
    "mmgen": "MMGeneration checkpoint",
}

# Leading bytes of files people mistake for checkpoints.
_NOT_CHECKPOINTS = {
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"%PDF": "a PDF document",
    b"\x1f\x8b": "a gzip archive (unpack it first)",
}
# TF-era pickles name their network class within the first bytes (the top-level tuple's first object).
_TF_MARKER = b"dnnlib.tflib.network"


def _inspect(path: str | Path) -> tuple[str, Any]:
    """The format of a file from its content, and for torch files the loaded object (read once)."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: no such file")
    with _open(path) as (f, size):
        head = f.read(4096)
    if size == 0:
        raise CheckpointError(f"{path}: the file is empty")
    if head.startswith(ZIP_MAGIC) or head.startswith(TORCH_LEGACY_MAGIC):
        obj = read_torch_file(path)
        if rosinality.is_rosinality(obj):
            return "rosinality", obj
        if mmgen.is_mmgen(obj):
            return "mmgen", obj
        keys = listing(list(obj)) if isinstance(obj, dict) else type(obj).__name__
        raise CheckpointError(f"{path}: a PyTorch file, but neither a rosinality (g_ema/g/d) nor an MMGeneration "
                              f"(state_dict with generator.*) checkpoint; it holds: {keys}")
    if head[:1] == b"\x80" and len(head) > 1 and 2 <= head[1] <= 5:
        return ("nvidia-tf" if _TF_MARKER in head else "nvidia-pkl"), None
    if len(head) >= 9 and head[8:9] == b"{":
        header_len = int.from_bytes(head[:8], "little")
        if header_len + 8 > size:
            raise CheckpointError(f"{path}: truncated safetensors file (header of {header_len} bytes, file of {size})")
        return "native", None
    for magic, what in _NOT_CHECKPOINTS.items():
        if head.startswith(magic):
            raise CheckpointError(f"{path}: this is {what}, not a network checkpoint")
    raise CheckpointError(f"{path}: unknown file format; expected an NVIDIA network pickle (.pkl), a rosinality or "
                          f"MMGeneration PyTorch checkpoint (.pt/.pth) or a stylegan native file (.safetensors)")


def _open(path: str | Path):
    """A checkpoint opened for reading (file, size), after checking it is a regular file."""
    return open_regular(path, "checkpoint", CheckpointError)


def detect_format(path: str | Path) -> str:
    """'nvidia-pkl', 'nvidia-tf', 'native', 'rosinality' or 'mmgen', from the file's content; raise otherwise."""
    return _inspect(path)[0]


def load_networks(path: str | Path, which: tuple[str, ...] | None = None, device: torch.device | str = "cpu",
                  config: str | Path | dict | None = None) -> dict[str, nn.Module]:
    """Load the networks named in `which` (default: all of G, G_ema, D present) from any supported file.

    `path` is a local file (`stylegan.load_networks` also takes URLs and published names, see `stylegan.hub`).

    `config` matters for MMGeneration checkpoints only: their config file, model-zoo config name or
    `model` dict (it says whether the weights are RGB or BGR and, for StyleGAN3, the layer schedule).
    """
    fmt, obj = _inspect(path)
    try:
        if fmt in ("nvidia-pkl", "nvidia-tf"):
            module = nvidia_pkl if fmt == "nvidia-pkl" else nvidia_tf
            with _open(path) as (f, _):
                nets = module.load_networks(f, which or module.NETWORK_KEYS)
        elif fmt == "native":
            return native.load_networks(path, which, device)
        elif fmt == "rosinality":
            nets = rosinality.load_networks(obj, which or NETWORK_NAMES)
        else:
            model_cfg = mmgen_config.model_config(config) if config is not None else None
            nets = mmgen.load_networks(obj, which or NETWORK_NAMES, model_cfg)
    except StyleGANError as exc:
        message = str(exc)
        raise type(exc)(message if message.startswith(str(path)) else f"{path}: {message}") from None
    except MemoryError:
        raise CheckpointError(f"{path}: not enough memory to load these networks") from None
    except (KeyError, IndexError, TypeError, ValueError, AttributeError, RuntimeError) as exc:
        if fmt not in ("rosinality", "mmgen"):
            raise
        # Their state dicts are read as data (names, shapes); a damaged one fails where a tensor is looked up.
        reason = str(exc).splitlines()[0][:200] if str(exc) else ""
        raise CheckpointError(f"{path}: a {FORMAT_NAMES[fmt]} whose tensors do not make a network "
                              f"({type(exc).__name__}: {reason})") from None
    return {k: v.to(device) for k, v in nets.items()}


def load(path: str | Path, device: torch.device | str = "cpu", which: str = "G_ema",
         config: str | Path | dict | None = None) -> nn.Module:
    """Load one network ('G_ema', 'G' or 'D') from a local checkpoint file, on `device`, in eval mode.

    `config`: for MMGeneration checkpoints, see `load_networks`.
    """
    if which not in NETWORK_NAMES:
        raise CheckpointError(f"which must be one of {NETWORK_NAMES}, got {which!r}")
    nets = load_networks(path, (which,), device, config)
    if which not in nets:
        available = ", ".join(network_names(path)) or "none"
        raise CheckpointError(f"{path}: holds no '{which}' network (it has: {available})")
    return nets[which]


def network_names(path: str | Path) -> list[str]:
    """Names of the networks a checkpoint holds (in a form this package rebuilds), without rebuilding them."""
    fmt, obj = _inspect(path)
    if fmt == "native":
        return list(native.read_metadata(path)["networks"])
    if fmt == "rosinality":
        return [k for k, key in rosinality.KEYS.items() if obj.get(key) is not None]
    if fmt == "mmgen":
        return mmgen.network_names(obj)
    with _open(path) as (f, _):
        if fmt == "nvidia-tf":
            return list(nvidia_tf.read_pickle(f))
        data = nvidia_pkl.read_pickle(f)
    return [k for k in nvidia_pkl.NETWORK_KEYS if data.get(k) is not None]


def recorded_training_set(path: str | Path) -> dict | None:
    """The dataset options (`training_set_kwargs`) an official training snapshot recorded; None for files
    that record none."""
    if detect_format(path) != "nvidia-pkl":
        return None
    with _open(path) as (f, _):
        recorded = nvidia_pkl.read_pickle(f).get("training_set_kwargs")
    return dict(recorded) if isinstance(recorded, dict) else None


def save(nets: nn.Module | dict[str, nn.Module], path: str | Path, extra: dict | None = None) -> None:
    """Save a network (stored as 'G_ema' for generators, 'D' for discriminators) or a dict of them,
    in the native format, atomically."""
    if isinstance(nets, nn.Module):
        nets = {"G_ema" if hasattr(nets, "synthesis") else "D": nets}
    native.save_networks(nets, path, extra)


def export(nets: dict[str, nn.Module], path: str | Path, to: str = "native", extra: dict | None = None) -> list[str]:
    """Write networks in the format `to` ('native' or 'rosinality'); return the names written."""
    if to == "native":
        save(nets, path, extra)
        return list(nets)
    if to == "rosinality":
        return rosinality.export(nets, path)
    raise CheckpointError(f"cannot write the format {to!r}; this package writes 'native' and 'rosinality'")
