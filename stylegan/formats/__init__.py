"""Checkpoint reading and writing. `load` recognises a file by its content, never by its name."""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ..errors import CheckpointError
from ..models import Discriminator
from . import native, nvidia_pkl

NETWORK_NAMES = ("G_ema", "G", "D")

# Leading bytes of files people mistake for checkpoints.
_NOT_CHECKPOINTS = {
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"%PDF": "a PDF document",
    b"\x1f\x8b": "a gzip archive (unpack it first)",
}


def detect_format(path: str | Path) -> str:
    """Return 'nvidia-pkl', 'native' or 'torch-zip' from the file's leading bytes; raise for anything else."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: no such file")
    if path.is_dir():
        raise CheckpointError(f"{path}: is a directory, not a checkpoint file")
    size = path.stat().st_size
    if size == 0:
        raise CheckpointError(f"{path}: the file is empty")
    with open(path, "rb") as f:
        head = f.read(16)
    if head[:1] == b"\x80" and len(head) > 1 and 2 <= head[1] <= 5:
        return "nvidia-pkl"
    if head[:4] == b"PK\x03\x04":
        return "torch-zip"
    if len(head) >= 9 and head[8:9] == b"{":
        header_len = int.from_bytes(head[:8], "little")
        if header_len + 8 > size:
            raise CheckpointError(f"{path}: truncated safetensors file (header of {header_len} bytes, file of {size})")
        return "native"
    for magic, what in _NOT_CHECKPOINTS.items():
        if head.startswith(magic):
            raise CheckpointError(f"{path}: this is {what}, not a network checkpoint")
    raise CheckpointError(f"{path}: unknown file format; expected an NVIDIA network pickle (.pkl) or a "
                          f"stylegan native file (.safetensors)")


def load_networks(path: str | Path, which: tuple[str, ...] | None = None,
                  device: torch.device | str = "cpu") -> dict[str, nn.Module]:
    """Load the networks named in `which` (default: all of G, G_ema, D present) from any supported file."""
    fmt = detect_format(path)
    if fmt == "nvidia-pkl":
        with open(path, "rb") as f:
            try:
                nets = nvidia_pkl.load_networks(f, which or nvidia_pkl.NETWORK_KEYS)
            except CheckpointError as exc:
                raise type(exc)(f"{path}: {exc}") from None
        return {k: v.to(device) for k, v in nets.items()}
    if fmt == "native":
        return native.load_networks(path, which, device)
    raise CheckpointError(f"{path}: a PyTorch zip checkpoint (.pt/.pth); this version reads NVIDIA pickles and "
                          f"stylegan native files only")


def load(path: str | Path, device: torch.device | str = "cpu", which: str = "G_ema") -> nn.Module:
    """Load one network ('G_ema', 'G' or 'D') from a checkpoint, on `device`, in eval mode."""
    if which not in NETWORK_NAMES:
        raise CheckpointError(f"which must be one of {NETWORK_NAMES}, got {which!r}")
    nets = load_networks(path, (which,), device)
    if which not in nets:
        available = ", ".join(network_names(path)) or "none"
        raise CheckpointError(f"{path}: holds no '{which}' network (it has: {available})")
    return nets[which]


def network_names(path: str | Path) -> list[str]:
    """Names of the networks a checkpoint holds, without rebuilding them."""
    if detect_format(path) == "native":
        return list(native.read_metadata(path)["networks"])
    with open(path, "rb") as f:
        data = nvidia_pkl.read_pickle(f)
    return [k for k in nvidia_pkl.NETWORK_KEYS if data.get(k) is not None]


def save(nets: nn.Module | dict[str, nn.Module], path: str | Path, extra: dict | None = None) -> None:
    """Save a network (stored as 'G_ema' for generators, 'D' for discriminators) or a dict of them,
    in the native format, atomically."""
    if isinstance(nets, nn.Module):
        nets = {"D" if isinstance(nets, Discriminator) else "G_ema": nets}
    native.save_networks(nets, path, extra)
