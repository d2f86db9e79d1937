"""Perceptual path length (Karras et al. 2019): the LPIPS distance between images from two latents a
small step `epsilon` apart, divided by epsilon^2, averaged over random pairs after dropping values
below the 1st and above the 99th percentile.

`space` 'w' interpolates linearly between mapped latents, 'z' spherically between input latents;
`sampling` 'end' measures at the start of the path (t = 0), 'full' at a uniform random t. Images are
center-cropped with `crop`, box-filtered down to 256x256 when larger, and fed to LPIPS at that size.
Noise inputs are redrawn for every batch and shared by the two images of a pair.
"""
from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from ..errors import InputError
from .distributed import gather_rows
from .options import MetricOptions


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation between the directions of a and b (unit-length result)."""
    a = a / a.norm(dim=-1, keepdim=True)
    b = b / b.norm(dim=-1, keepdim=True)
    cos = (a * b).sum(dim=-1, keepdim=True)
    angle = t * torch.acos(cos)
    ortho = b - cos * a
    ortho = ortho / ortho.norm(dim=-1, keepdim=True)
    out = a * torch.cos(angle) + ortho * torch.sin(angle)
    return out / out.norm(dim=-1, keepdim=True)


def randomize_noise(G: nn.Module, gen: torch.Generator) -> None:
    """Redraw every stored noise input (`*.noise_const`) of G from `gen`."""
    for name, buf in G.named_buffers():
        if name.endswith(".noise_const"):
            buf.copy_(torch.randn(buf.shape, generator=gen).to(buf.device))


def path_lengths(G: nn.Module, lpips: nn.Module, c: torch.Tensor, gen: torch.Generator, epsilon: float = 1e-4,
                 space: str = "w", sampling: str = "end", crop: bool = False, G_kwargs: dict | None = None
                 ) -> torch.Tensor:
    """Squared LPIPS distance / epsilon^2 for one batch of random pairs (one value per label row of c).

    `lpips` maps images in [0, 255] to vectors whose squared distance is their LPIPS distance.
    """
    n, device = c.shape[0], c.device
    t = torch.rand([n], generator=gen).to(device) * (1 if sampling == "full" else 0)
    z0, z1 = torch.randn([n * 2, G.z_dim], generator=gen).to(device).chunk(2)
    if space == "w":
        w0, w1 = G.mapping(torch.cat([z0, z1]), torch.cat([c, c])).chunk(2)
        t = t[:, None, None].to(w0.dtype)
        ws = torch.cat([w0.lerp(w1, t), w0.lerp(w1, t + epsilon)])
    else:
        t = t[:, None]
        ws = G.mapping(torch.cat([slerp(z0, z1, t), slerp(z0, z1, t + epsilon)]), torch.cat([c, c]))
    randomize_noise(G, gen)
    img = G.synthesis(ws, noise_mode="const", force_fp32=True, **(G_kwargs or {}))
    if crop:
        q = img.shape[2] // 8
        img = img[:, :, q * 3:q * 7, q * 2:q * 6]
    factor = G.img_resolution // 256
    if factor > 1:
        img = img.reshape([-1, img.shape[1], img.shape[2] // factor, factor, img.shape[3] // factor, factor])
        img = img.mean([3, 5])
    img = (img + 1) * (255 / 2)
    if img.shape[1] == 1:
        img = img.repeat([1, 3, 1, 1])
    f0, f1 = lpips(img).chunk(2)
    return (f0 - f1).square().sum(1) / epsilon ** 2


def trimmed_mean(dist: np.ndarray) -> float:
    """Mean of the values between the 1st (rounded down) and 99th (rounded up) percentiles."""
    lo = np.percentile(dist, 1, method="lower")
    hi = np.percentile(dist, 99, method="higher")
    return float(dist[(dist >= lo) & (dist <= hi)].mean())


def compute_ppl(opts: MetricOptions, num_samples: int, epsilon: float, space: str, sampling: str, crop: bool,
                batch_size: int) -> dict:
    """PPL over `num_samples` random pairs."""
    if space not in ("w", "z") or sampling not in ("end", "full"):
        raise InputError(f"PPL space must be 'w' or 'z' and sampling 'end' or 'full', got {space!r}, {sampling!r}")
    G = copy.deepcopy(opts.G).eval().requires_grad_(False).to(opts.device)
    vgg = opts.vgg16_net()
    labels = opts.label_sampler(batch_size)
    gen = opts.torch_generator()
    dist = []
    with torch.no_grad(), tqdm(total=num_samples, desc="ppl sampling", unit="pair",
                               disable=not (opts.progress and opts.rank == 0)) as bar:
        for _ in range(0, num_samples, batch_size * opts.num_gpus):
            d = path_lengths(G, vgg.lpips_features, next(labels), gen, epsilon, space, sampling, crop, opts.G_kwargs)
            dist.append(gather_rows(d, opts.num_gpus).cpu())
            bar.update(min(len(d) * opts.num_gpus, num_samples - bar.n))
    return {"": trimmed_mean(torch.cat(dist)[:num_samples].numpy())}
