"""Latent walks and noise loops, rendered frame by frame (written by `stylegan.io.video`)."""
from __future__ import annotations

import math
from typing import Iterator, Sequence

import numpy as np
import torch
from torch import nn

from ..errors import InputError
from ..io.images import make_grid
from ..latent.generate import render
from ..latent.space import class_label, device_of, interpolate, seeds_to_z
from ..models.noise import random_noise


def walk_ws(G: nn.Module, seeds: Sequence[int], frames_per_step: int, space: str = "w", kind: str | None = None,
            loop: bool = False, truncation_psi: float = 1.0, truncation_cutoff: int | None = None,
            class_idx: int | None = None) -> torch.Tensor:
    """ws for every frame of a walk through seeds: lerp/cubic in W (after truncation) or slerp in Z."""
    if space not in ("w", "z"):
        raise InputError(f"space must be 'w' or 'z', got {space!r}")
    kind = kind or ("slerp" if space == "z" else "cubic")
    z = seeds_to_z(seeds, G.z_dim, device_of(G))
    with torch.no_grad():
        if space == "z":
            path = interpolate(z, frames_per_step, kind, loop)
            return G.mapping(path, class_label(G, class_idx, len(path)), truncation_psi=truncation_psi,
                             truncation_cutoff=truncation_cutoff)
        keys = G.mapping(z, class_label(G, class_idx, len(z)), truncation_psi=truncation_psi,
                         truncation_cutoff=truncation_cutoff)
        return interpolate(keys, frames_per_step, kind, loop)


def walk_frames(G: nn.Module, walks: Sequence[torch.Tensor], grid: tuple[int, int] = (1, 1),
                noise_mode="const", batch_size: int = 8) -> Iterator[np.ndarray]:
    """Frames of one or several walks (ws [F, num_ws, w_dim] each) tiled cols x rows, rendered lazily."""
    frames = min(len(w) for w in walks)
    for start in range(0, frames, batch_size):
        stop = min(start + batch_size, frames)
        tiles = [render(G, w[start:stop], noise_mode, batch_size=batch_size) for w in walks]
        for f in range(stop - start):
            yield make_grid(np.stack([t[f] for t in tiles]), *grid)


def noise_loop_frames(G: nn.Module, ws: torch.Tensor, num_frames: int, noise_seed: int = 0,
                      batch_size: int = 8) -> Iterator[np.ndarray]:
    """A seamless loop in which only the noise moves: n(t) = cos(2 pi t) n1 + sin(2 pi t) n2 keeps unit
    variance in every layer, so the image stays in distribution while details drift and return."""
    generator = torch.Generator().manual_seed(noise_seed)
    n1, n2 = random_noise(G, 1, generator), random_noise(G, 1, generator)
    for start in range(0, num_frames, batch_size):
        t = torch.arange(start, min(start + batch_size, num_frames), dtype=torch.float32) / num_frames
        c = torch.cos(2 * math.pi * t).reshape(-1, 1, 1, 1).to(device_of(G))
        s = torch.sin(2 * math.pi * t).reshape(-1, 1, 1, 1).to(device_of(G))
        noise = [c * a + s * b for a, b in zip(n1, n2)]
        yield from render(G, ws[:1].expand(len(t), -1, -1), noise=noise, batch_size=batch_size)
