"""Generating images from seeds: labels, batching, and the official uint8 conversion."""
from __future__ import annotations

import math
import warnings
from typing import Iterator, Sequence

import numpy as np
import torch
from torch import nn

from .errors import InputError
from .io import to_uint8
from .latent import seeds_to_z


def class_label(G: nn.Module, class_idx: int | None, batch: int = 1,
                device: torch.device | str = "cpu") -> torch.Tensor:
    """One-hot labels c [batch, c_dim] for class `class_idx`; empty labels for unconditional models."""
    c = torch.zeros([batch, G.c_dim], device=device)
    if G.c_dim == 0:
        if class_idx is not None:
            warnings.warn("--class is ignored: this network is unconditional", stacklevel=2)
        return c
    if class_idx is None:
        raise InputError(f"this network is conditional ({G.c_dim} classes): choose a class with --class 0..{G.c_dim - 1}")
    if not 0 <= class_idx < G.c_dim:
        raise InputError(f"class {class_idx} is out of range: this network has classes 0..{G.c_dim - 1}")
    c[:, class_idx] = 1
    return c


def check_truncation(G: nn.Module, psi: float, cutoff: int | None) -> None:
    """Raise InputError for a non-finite psi or a cutoff outside [0, num_ws]."""
    if not math.isfinite(psi):
        raise InputError(f"truncation psi must be a finite number, got {psi}")
    if cutoff is not None and not 0 <= cutoff <= G.num_ws:
        raise InputError(f"truncation cutoff must be between 0 and num_ws={G.num_ws}, got {cutoff}")


def set_input_transform(G: nn.Module, translate: Sequence[float] = (0.0, 0.0), rotate: float = 0.0) -> None:
    """Make a StyleGAN3 generator translate (in image units) and rotate (degrees) its output, as the
    official tools do: build the 3x3 image transform, invert it, store it in the input layer."""
    if not hasattr(G.synthesis, "input"):
        if any(translate) or rotate:
            raise InputError("--translate/--rotate need a StyleGAN3 network; this one has no Fourier-feature input")
        return
    angle = rotate / 360.0 * np.pi * 2
    s, c = np.sin(angle), np.cos(angle)
    m = np.array([[c, s, translate[0]], [-s, c, translate[1]], [0, 0, 1]])
    G.synthesis.input.transform.copy_(torch.from_numpy(np.linalg.inv(m)))


@torch.no_grad()
def generate_for_seeds(G: nn.Module, seeds: Sequence[int], truncation_psi: float = 1.0,
                       truncation_cutoff: int | None = None, class_idx: int | None = None,
                       noise_mode: str = "const", batch_size: int = 4) -> Iterator[tuple[int, np.ndarray]]:
    """Yield (seed, uint8 image [H, W, C]) for each seed, rendering `batch_size` seeds at a time."""
    check_truncation(G, truncation_psi, truncation_cutoff)
    if batch_size < 1:
        raise InputError(f"batch size must be at least 1, got {batch_size}")
    device = next(G.parameters()).device
    label = class_label(G, class_idx, 1, device)
    for start in range(0, len(seeds), batch_size):
        chunk = list(seeds[start:start + batch_size])
        z = seeds_to_z(chunk, G.z_dim, device)
        img = G(z, label.expand(len(chunk), -1), truncation_psi=truncation_psi, truncation_cutoff=truncation_cutoff,
                noise_mode=noise_mode)
        yield from zip(chunk, to_uint8(img))
