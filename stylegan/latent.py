"""Latent-space helpers: seeds -> z with the official convention, seed lists."""
from __future__ import annotations

import re
from typing import Iterable

import numpy as np
import torch

from .errors import InputError

MAX_SEED = 2 ** 32 - 1


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


STYLE_BANDS = {"coarse": (0, 8), "middle": (16, 32), "fine": (64, 1 << 30)}


def style_ranges(G) -> dict[str, list[int]]:
    """The ws indices of the coarse (4²-8²), middle (16²-32²) and fine (64²+) styles of a generator.

    StyleGAN1/2 map w i to resolution 4 * 2**(i // 2); StyleGAN3 uses each layer's sampling rate.
    """
    resolutions = G.synthesis.ws_resolutions()
    return {band: [i for i, r in enumerate(resolutions) if lo <= r <= hi] for band, (lo, hi) in STYLE_BANDS.items()}
