"""Latent-space operations: seeds, style mixing, blending, arithmetic, interpolation, seed and ws-file lists.

All functions work on ws tensors [N, num_ws, w_dim] (W+ when rows differ) and on any generation.
"""
from __future__ import annotations

import math
import re
import warnings
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import scipy.interpolate
import torch

from ..errors import InputError
from ..io.latents import load_ws
from ..models.common import style_ranges
from .seeds import MAX_SEED, parse_seeds


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


def device_of(G: torch.nn.Module) -> torch.device:
    """The device a network's weights live on."""
    return next(G.parameters()).device


# The largest float32: a psi or weight beyond it overflows the float32 ws it multiplies.
FLOAT32_MAX = float(np.finfo(np.float32).max)


def check_truncation(G: torch.nn.Module, psi: float, cutoff: int | None) -> None:
    """Raise InputError for a psi that is not a finite float32 number or a cutoff outside [0, num_ws]."""
    if not math.isfinite(psi) or abs(psi) > FLOAT32_MAX:
        raise InputError(f"truncation psi must be a finite number, got {psi}")
    if cutoff is not None and not 0 <= cutoff <= G.num_ws:
        raise InputError(f"truncation cutoff must be between 0 and num_ws={G.num_ws}, got {cutoff}")


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
    check_truncation(G, truncation_psi, truncation_cutoff)
    z = seeds_to_z(seeds, G.z_dim, device_of(G))
    return G.mapping(z, class_label(G, class_idx, len(seeds)), truncation_psi=truncation_psi,
                     truncation_cutoff=truncation_cutoff)


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
    if not math.isfinite(weight) or abs(weight) > FLOAT32_MAX:
        raise InputError(f"the mixing weight must be a finite number, got {weight}")
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


SEED_ITEM = re.compile(r"\s*\d+\s*(-\s*\d+\s*)?")


def sources_to_ws(G: torch.nn.Module, text: str, psi: float = 1.0, cutoff: int | None = None,
                  class_idx: int | None = None) -> tuple[torch.Tensor, list[str]]:
    """ws and one label per row for a comma-separated list of seeds/ranges and .npz/.npy ws files
    ('0-3,me.npz'); seeds are truncated by psi (and cutoff), ws files are used as stored."""
    ws, labels = [], []
    for item in text.split(","):
        if SEED_ITEM.fullmatch(item):
            seeds = parse_seeds(item)
            ws.append(seeds_to_ws(G, seeds, psi, cutoff, class_idx))
            labels += [str(s) for s in seeds]
        else:
            loaded = load_ws(item.strip(), G)
            ws.append(loaded)
            stem = Path(item.strip()).stem
            labels += [stem] if len(loaded) == 1 else [f"{stem}[{i}]" for i in range(len(loaded))]
    if not ws:
        raise InputError("no seeds or ws files given")
    return torch.cat(ws), labels
