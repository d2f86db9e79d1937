"""Generating images from seeds: labels, batching, and the official uint8 conversion."""
from __future__ import annotations

from typing import Iterator, Sequence

import numpy as np
import torch
from torch import nn

from ..errors import InputError
from ..io.images import to_uint8
from .space import check_truncation, class_label, device_of, seeds_to_z


def input_transform(translate: Sequence[float] = (0.0, 0.0), rotate: float = 0.0) -> np.ndarray:
    """The 3x3 matrix a StyleGAN3 input layer stores to translate (image units) and rotate (degrees) the
    output: the inverse of the image transform, as the official tools build it."""
    angle = rotate / 360.0 * np.pi * 2
    s, c = np.sin(angle), np.cos(angle)
    m = np.array([[c, s, translate[0]], [-s, c, translate[1]], [0, 0, 1]])
    return np.linalg.inv(m)


def set_input_transform(G: nn.Module, translate: Sequence[float] = (0.0, 0.0), rotate: float = 0.0) -> None:
    """Make a StyleGAN3 generator translate (in image units) and rotate (degrees) its output, as the
    official tools do (see `input_transform`)."""
    if not hasattr(G.synthesis, "input"):
        if any(translate) or rotate:
            raise InputError("--translate/--rotate need a StyleGAN3 network; this one has no Fourier-feature input")
        return
    G.synthesis.input.transform.copy_(torch.from_numpy(input_transform(translate, rotate)))


@torch.no_grad()
def generate_for_seeds(G: nn.Module, seeds: Sequence[int], truncation_psi: float = 1.0,
                       truncation_cutoff: int | None = None, class_idx: int | None = None,
                       noise_mode: str = "const", batch_size: int = 4) -> Iterator[tuple[int, np.ndarray]]:
    """Yield (seed, uint8 image [H, W, C]) for each seed, rendering `batch_size` seeds at a time."""
    check_truncation(G, truncation_psi, truncation_cutoff)
    if batch_size < 1:
        raise InputError(f"batch size must be at least 1, got {batch_size}")
    device = device_of(G)
    label = class_label(G, class_idx)
    for start in range(0, len(seeds), batch_size):
        chunk = list(seeds[start:start + batch_size])
        z = seeds_to_z(chunk, G.z_dim, device)
        img = G(z, label.expand(len(chunk), -1), truncation_psi=truncation_psi, truncation_cutoff=truncation_cutoff,
                noise_mode=noise_mode)
        yield from zip(chunk, to_uint8(img))


@torch.no_grad()
def render(G: nn.Module, ws: torch.Tensor, noise_mode="const", noise=None, batch_size: int = 8) -> np.ndarray:
    """Synthesise ws [N, num_ws, w_dim] in batches; returns uint8 images [N, H, W, C].

    `noise_mode`/`noise` as in G.synthesis; per-layer noise tensors may have batch N (sliced) or 1.
    """
    out = []
    device = device_of(G)
    for start in range(0, len(ws), batch_size):
        chunk = ws[start:start + batch_size].to(device)
        kwargs = {"noise_mode": noise_mode}
        if noise is not None:
            kwargs["noise"] = [None if n is None else (n[start:start + batch_size] if n.shape[0] > 1 else n)
                               for n in noise]
        out.append(to_uint8(G.synthesis(chunk, **kwargs)))
    return np.concatenate(out) if out else np.zeros([0, G.img_resolution, G.img_resolution, G.img_channels],
                                                    np.uint8)


