"""Latent files: ws (`.npz` key `w` / `.npy`), editing directions (`.npz` / `.npy`, addressed as `file:N`) and
per-layer noise (`.npz` keyed by buffer name), each checked against the network it is used with."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..errors import InputError
from ..models.noise import noise_inputs
from .files import load_arrays, save_arrays


def save_ws(path: str | Path, ws: torch.Tensor) -> None:
    """Write ws [N, num_ws, w_dim] atomically: .npz with key 'w' (as the official projector), or .npy."""
    path = Path(path)
    if path.suffix not in (".npz", ".npy"):
        raise InputError(f"ws files end in .npz or .npy, got {path.name}")
    array = ws.detach().cpu().numpy().astype(np.float32)
    save_arrays(path, {"w": array} if path.suffix == ".npz" else array)


def load_ws(path: str | Path, G=None, device: torch.device | str | None = None) -> torch.Tensor:
    """Read ws from .npz (key 'w', or the only array) or .npy as [N, num_ws, w_dim].

    A single w ([w_dim] or [1, w_dim]) is broadcast to all rows. With G, the shape is checked against it.
    """
    arrays = load_arrays(path, "ws")
    key = "w" if "w" in arrays else (next(iter(arrays)) if len(arrays) == 1 else None)
    if key is None:
        raise InputError(f"{path}: expected an array named 'w', found {sorted(arrays)}")
    array = arrays[key]
    if not np.issubdtype(array.dtype, np.number):
        raise InputError(f"{path}: holds {array.dtype} values, not numbers")
    ws = torch.from_numpy(np.asarray(array, dtype=np.float32))
    if G is not None:
        if ws.ndim == 1 or (ws.ndim == 2 and ws.shape[0] == 1 and ws.shape[1] == G.w_dim):
            ws = ws.reshape(1, 1, -1).repeat(1, G.num_ws, 1)
        elif ws.ndim == 2:
            ws = ws.unsqueeze(0)
        if ws.ndim != 3 or ws.shape[1:] != (G.num_ws, G.w_dim):
            raise InputError(f"{path}: ws of shape {tuple(array.shape)} do not fit this network, which takes "
                             f"[N, {G.num_ws}, {G.w_dim}] (or a single w of size {G.w_dim})")
        device = device or next(G.parameters()).device
    return ws.to(device or "cpu")


def split_index(spec: str | Path) -> tuple[str, int | None]:
    """'dirs.npz:3' -> ('dirs.npz', 3); a spec without a ':N' suffix -> (spec, None)."""
    head, sep, tail = str(spec).rpartition(":")
    is_index = sep and head and tail.isascii() and tail.isdigit() and len(tail) <= 18
    return (head, int(tail)) if is_index else (str(spec), None)


def load_directions(path: str | Path, w_dim: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """All directions [K, w_dim] of a direction file and their strength units [K] (ones when not stored).

    `.npz` holds `directions` (and `scales`); `.npy` holds vectors [..., w_dim] (an InterFaceGAN boundary is
    [1, w_dim]). With `w_dim`, the size is checked against the network's w.
    """
    arrays = load_arrays(path, "direction")
    directions = arrays.get("directions" if Path(path).suffix == ".npz" else "")
    if directions is None:
        raise InputError(f"{path}: expected an array named 'directions', found {sorted(arrays)}")
    if directions.ndim == 0 or directions.size == 0 or not np.issubdtype(directions.dtype, np.number):
        raise InputError(f"{path}: holds no direction vectors")
    directions = directions.reshape(-1, directions.shape[-1]).astype(np.float32)
    scales = arrays.get("scales", np.ones(len(directions), np.float32)).reshape(-1)
    if not np.issubdtype(scales.dtype, np.number):
        raise InputError(f"{path}: holds {scales.dtype} scales, not numbers")
    if len(scales) != len(directions):
        raise InputError(f"{path}: holds {len(directions)} directions but {len(scales)} scales")
    if w_dim is not None and directions.shape[-1] != w_dim:
        raise InputError(f"{path}: directions have {directions.shape[-1]} values, this network's w has {w_dim}")
    return directions, scales.astype(np.float32)


def load_direction(spec: str | Path, w_dim: int) -> tuple[np.ndarray, float]:
    """One direction and its strength unit from 'file.npz:index', 'file.npz' (index 0) or 'boundary.npy'."""
    name, index = split_index(spec)
    path = Path(name)
    directions, scales = load_directions(path, w_dim)
    index = index or 0
    if not 0 <= index < len(directions):
        raise InputError(f"{path}: holds {len(directions)} directions, index {index} is out of range")
    return directions[index], float(scales[index])


def save_directions(path: str | Path, directions: np.ndarray, scales: np.ndarray, values: np.ndarray,
                    method: str) -> None:
    """Write directions atomically: .npz (all fields) or, for one direction, .npy [1, w_dim]."""
    path = Path(path)
    if path.suffix == ".npy":
        save_arrays(path, np.asarray(directions[:1], np.float32))
    elif path.suffix == ".npz":
        save_arrays(path, dict(directions=directions, scales=scales, values=values, method=np.array(method)))
    else:
        raise InputError(f"direction files end in .npz or .npy, got {path.name}")


def save_noise(path: str | Path, G, noise: list[torch.Tensor]) -> None:
    """Write per-layer noise maps (sample 0 of each) as .npz keyed by buffer name, atomically."""
    names = [name for name, _ in noise_inputs(G)]
    save_arrays(path, {name: n[0, 0].detach().cpu().numpy() for name, n in zip(names, noise)})


def load_noise(path: str | Path, G) -> list[torch.Tensor]:
    """Per-layer noise [1, 1, H, W] from a noise file, checked against G's noise layers (for `noise=`)."""
    arrays = load_arrays(path, "noise")
    device = next(G.parameters()).device
    out = []
    for name, resolution in noise_inputs(G):
        array = arrays.get(name)
        size = (resolution, resolution)
        if array is None or array.shape != size or not np.issubdtype(array.dtype, np.number):
            found = "missing" if array is None else f"of shape {array.shape}" if array.shape != size else \
                f"of {array.dtype} values, not numbers"
            raise InputError(f"{path}: noise {name} is {found}; this network needs {size[0]}x{size[1]} maps")
        out.append(torch.from_numpy(array.astype(np.float32))[None, None].to(device))
    return out


def projection_noise(ws_path: str | Path, G) -> list[torch.Tensor] | None:
    """The per-layer noise a projection optimised along with its ws: `noise.npz` beside the ws file (as
    `stylegan project` writes them), when there is one and G has noise inputs; None otherwise."""
    path = Path(ws_path).with_name("noise.npz")
    if not G.synthesis.noise_layers() or not path.is_file():
        return None
    return load_noise(path, G)
