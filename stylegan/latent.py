"""Latent-space operations: seeds, truncation, style mixing, blending, arithmetic, interpolation, ws files.

All functions work on ws tensors [N, num_ws, w_dim] (W+ when rows differ) and on any generation.
"""
from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import scipy.interpolate
import torch

from .errors import InputError
from .io import atomic_path
from .models.mapping import truncate  # noqa: F401 (stylegan.latent.truncate, the public name)

MAX_SEED = 2 ** 32 - 1
STYLE_BANDS = {"coarse": (0, 8), "middle": (16, 32), "fine": (64, 1 << 30)}


def seed_to_z(seed: int, z_dim: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """z [1, z_dim] for `seed`: np.random.RandomState(seed).randn(1, z_dim), cast to float32."""
    if not 0 <= int(seed) <= MAX_SEED:
        raise InputError(f"seed must be between 0 and {MAX_SEED}, got {seed}")
    return torch.from_numpy(np.random.RandomState(int(seed)).randn(1, z_dim)).to(torch.float32).to(device)


def seeds_to_z(seeds: Iterable[int], z_dim: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """Stack seed_to_z for several seeds into z [len(seeds), z_dim]."""
    seeds = list(seeds)
    if not seeds:
        return torch.zeros([0, z_dim], device=device)
    return torch.cat([seed_to_z(s, z_dim, device) for s in seeds])


def parse_seeds(text: str | Iterable[int]) -> list[int]:
    """Parse '0-3,7' into [0, 1, 2, 3, 7] (the official --seeds syntax); ranges are inclusive."""
    if not isinstance(text, str):
        return [int(s) for s in text]
    seeds: list[int] = []
    for part in text.split(","):
        part = part.strip()
        m = re.fullmatch(r"(\d+)\s*-\s*(\d+)", part) or re.fullmatch(r"(\d+)", part)
        if m is None:
            raise InputError(f"cannot parse seeds {text!r}: each item must be a number or a range like 0-15")
        lo, hi = int(m.group(1)), int(m.group(m.lastindex))
        if hi < lo:
            raise InputError(f"seed range {part!r} runs backwards; write it as {hi}-{lo}")
        if hi > MAX_SEED:
            raise InputError(f"seed {hi} is too large; seeds go up to {MAX_SEED}")
        seeds.extend(range(lo, hi + 1))
    return seeds


def device_of(G: torch.nn.Module) -> torch.device:
    """The device a network's weights live on."""
    return next(G.parameters()).device


def class_label(G: torch.nn.Module, class_idx: int | None, batch: int = 1) -> torch.Tensor:
    """One-hot labels c [batch, c_dim] for `class_idx`; an empty label for unconditional networks."""
    c = torch.zeros([batch, G.c_dim], device=device_of(G))
    if G.c_dim == 0:
        if class_idx is not None:
            warnings.warn("--class is ignored: this network is unconditional", stacklevel=2)
        return c
    if class_idx is None:
        raise InputError(f"this network is conditional ({G.c_dim} classes): choose a class with --class "
                         f"0..{G.c_dim - 1}")
    if not 0 <= class_idx < G.c_dim:
        raise InputError(f"class {class_idx} is out of range: this network has classes 0..{G.c_dim - 1}")
    c[:, class_idx] = 1
    return c


@torch.no_grad()
def seeds_to_ws(G: torch.nn.Module, seeds: Sequence[int], truncation_psi: float = 1.0,
                truncation_cutoff: int | None = None, class_idx: int | None = None) -> torch.Tensor:
    """ws [len(seeds), num_ws, w_dim] for seeds (official z convention), truncated toward w_avg."""
    z = seeds_to_z(seeds, G.z_dim, device_of(G))
    return G.mapping(z, class_label(G, class_idx, len(seeds)), truncation_psi=truncation_psi,
                     truncation_cutoff=truncation_cutoff)


def style_ranges(G) -> dict[str, list[int]]:
    """The ws indices of the coarse (4²-8²), middle (16²-32²) and fine (64²+) styles of a generator.

    StyleGAN1/2 map w i to resolution 4 * 2**(i // 2); StyleGAN3 uses each layer's cutoff frequency.
    """
    resolutions = G.synthesis.ws_resolutions()
    return {band: [i for i, r in enumerate(resolutions) if lo <= r <= hi] for band, (lo, hi) in STYLE_BANDS.items()}


def resolve_layers(G, spec: str | int | Iterable[int] | None) -> list[int]:
    """ws row indices from a layer spec: None/'all', 'coarse'/'middle'/'fine', '0-6', '0,2,4-5', or ints.

    Combinations like 'coarse,fine' are allowed; indices are checked against G.num_ws.
    """
    if spec is None or (isinstance(spec, str) and spec.strip().lower() == "all"):
        return list(range(G.num_ws))
    if isinstance(spec, int):
        spec = [spec]
    if isinstance(spec, str):
        bands = style_ranges(G)
        out: list[int] = []
        for part in spec.split(","):
            part = part.strip().lower()
            if part in bands:
                out += bands[part]
            else:
                try:
                    out += parse_seeds(part)
                except InputError:
                    raise InputError(f"cannot parse layers {spec!r}: use numbers, ranges like 0-6, or "
                                     f"coarse/middle/fine") from None
        spec = out
    layers = sorted(set(int(i) for i in spec))
    bad = [i for i in layers if not 0 <= i < G.num_ws]
    if bad:
        raise InputError(f"layer indices {bad} are out of range: this network has ws rows 0..{G.num_ws - 1}")
    return layers


def mix(ws_a: torch.Tensor, ws_b: torch.Tensor, layers: Sequence[int]) -> torch.Tensor:
    """Style mixing: ws_a with the rows `layers` taken from ws_b (batches broadcast)."""
    return blend(ws_a, ws_b, layers, 1.0)


def blend(ws_a: torch.Tensor, ws_b: torch.Tensor, layers: Sequence[int], weight: float = 0.5) -> torch.Tensor:
    """ws_a with rows `layers` moved toward ws_b: (1 - weight) * a + weight * b (weight 0.5 = average)."""
    if ws_a.shape[1:] != ws_b.shape[1:]:
        raise InputError(f"cannot mix ws of shapes {tuple(ws_a.shape)} and {tuple(ws_b.shape)}")
    batch = max(ws_a.shape[0], ws_b.shape[0])
    out = ws_a.expand(batch, -1, -1).clone()
    idx = list(layers)
    if idx:
        b = ws_b.expand(batch, -1, -1)[:, idx]
        out[:, idx] = b if weight == 1 else out[:, idx].lerp(b, weight)
    return out


def crossover(content: torch.Tensor, style: torch.Tensor, split: int) -> torch.Tensor:
    """Layer crossover: rows [0, split) from the content ws, rows [split, num_ws) from the style ws."""
    return mix(content, style, range(split, content.shape[1]))


def expression(target: torch.Tensor, neutral: torch.Tensor, expressive: torch.Tensor,
               strength: float = 1.0) -> torch.Tensor:
    """Expression transfer by arithmetic: target + strength * (expressive - neutral)."""
    return target + strength * (expressive - neutral)


def lerp(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    """Linear interpolation (the right path in W)."""
    return a + (b - a) * t


def slerp(a: torch.Tensor, b: torch.Tensor, t: float, eps: float = 1e-7) -> torch.Tensor:
    """Spherical interpolation over the last dim (the right path in Z): the direction moves along the
    great circle and the norm is interpolated linearly, so equal-norm endpoints keep their norm."""
    na, nb = a.norm(dim=-1, keepdim=True), b.norm(dim=-1, keepdim=True)
    ua, ub = a / (na + eps), b / (nb + eps)
    cos = (ua * ub).sum(dim=-1, keepdim=True).clamp(-1, 1)
    theta = torch.acos(cos)
    sin = torch.sin(theta)
    small = sin.abs() < 1e-6  # (anti)parallel: fall back to linear interpolation of directions
    safe = torch.where(small, torch.ones_like(sin), sin)
    wa = torch.where(small, torch.full_like(sin, 1 - t), torch.sin((1 - t) * theta) / safe)
    wb = torch.where(small, torch.full_like(sin, t), torch.sin(t * theta) / safe)
    direction = wa * ua + wb * ub
    direction = direction / (direction.norm(dim=-1, keepdim=True) + eps)
    return direction * (na + (nb - na) * t)


def interpolate(keys: torch.Tensor, frames_per_step: int, kind: str = "linear", loop: bool = False) -> torch.Tensor:
    """A path through keyframes keys [K, ...]: `frames_per_step` frames per segment.

    kind: 'linear' (lerp), 'slerp' (great circle, for Z) or 'cubic' (a C2 spline through the keys,
    periodic when looping). Returns [F, ...] with F = segments * frames_per_step (+1 closing frame
    when not looping).
    """
    if frames_per_step < 1:
        raise InputError(f"frames per step must be at least 1, got {frames_per_step}")
    if kind not in ("linear", "slerp", "cubic"):
        raise InputError(f"interpolation kind must be linear, slerp or cubic, got {kind!r}")
    if len(keys) < 2:
        raise InputError("interpolation needs at least two keyframes (seeds or ws)")
    points = torch.cat([keys, keys[:1]]) if loop else keys
    segments = len(points) - 1
    times = torch.arange(segments * frames_per_step + (0 if loop else 1), dtype=torch.float64) / frames_per_step
    if kind == "cubic":
        flat = points.reshape(len(points), -1).double().cpu().numpy()
        spline = scipy.interpolate.CubicSpline(np.arange(len(points)), flat, axis=0,
                                               bc_type="periodic" if loop else "natural")
        out = torch.from_numpy(spline(times.numpy())).to(keys.dtype).to(keys.device)
        return out.reshape(len(times), *keys.shape[1:])
    frames = []
    for t in times.tolist():
        i = min(int(t), segments - 1)
        step = slerp if kind == "slerp" else lerp
        frames.append(step(points[i], points[i + 1], t - i))
    return torch.stack(frames)


def noise_modes(G, layers: Sequence[int], inside: str, outside: str) -> list[str]:
    """Per-noise-layer modes: `inside` for noise layers whose w row is in `layers`, `outside` elsewhere."""
    if not hasattr(G.synthesis, "noise_layers"):
        raise InputError(f"StyleGAN{G.generation} networks have no per-layer noise inputs")
    chosen = set(layers)
    return [inside if i in chosen else outside for i in range(len(G.synthesis.noise_layers()))]


def save_ws(path: str | Path, ws: torch.Tensor) -> None:
    """Write ws [N, num_ws, w_dim] atomically: .npz with key 'w' (as the official projector), or .npy."""
    path = Path(path)
    array = ws.detach().cpu().numpy().astype(np.float32)
    if path.suffix not in (".npz", ".npy"):
        raise InputError(f"ws files end in .npz or .npy, got {path.name}")
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            (np.savez(f, w=array) if path.suffix == ".npz" else np.save(f, array))


def load_ws(path: str | Path, G=None, device: torch.device | str | None = None) -> torch.Tensor:
    """Read ws from .npz (key 'w', or the only array) or .npy as [N, num_ws, w_dim].

    A single w ([w_dim] or [1, w_dim]) is broadcast to all rows. With G, the shape is checked against it.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such ws file")
    try:
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as data:
                keys = list(data.keys())
                key = "w" if "w" in keys else (keys[0] if len(keys) == 1 else None)
                if key is None:
                    raise InputError(f"{path}: expected an array named 'w', found {keys}")
                array = data[key]
        else:
            array = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise InputError(f"{path}: not a readable .npz/.npy ws file ({exc})") from None
    ws = torch.from_numpy(np.asarray(array, dtype=np.float32))
    if G is not None:
        if ws.ndim == 1 or (ws.ndim == 2 and ws.shape[0] == 1 and ws.shape[1] == G.w_dim):
            ws = ws.reshape(1, 1, -1).repeat(1, G.num_ws, 1)
        elif ws.ndim == 2:
            ws = ws.unsqueeze(0)
        if ws.ndim != 3 or ws.shape[1:] != (G.num_ws, G.w_dim):
            raise InputError(f"{path}: ws of shape {tuple(array.shape)} do not fit this network, which takes "
                             f"[N, {G.num_ws}, {G.w_dim}] (or a single w of size {G.w_dim})")
        device = device or device_of(G)
    return ws.to(device or "cpu")
