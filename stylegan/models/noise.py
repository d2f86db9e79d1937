"""Per-layer noise, one interface for every generator: `G.synthesis.noise_layers()` lists the layers that take
a noise input, in the order of the `noise` and per-layer `noise_mode` arguments of `G.synthesis` (StyleGAN3
has none: an empty list). These helpers expand modes, draw noise and name the stored noise buffers."""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from ..errors import InputError

NOISE_MODES = ("const", "random", "none")


def per_layer_noise(noise_mode, noise, count: int) -> tuple[list[str], list]:
    """Expand `noise_mode` (one mode or one per layer) and `noise` (None or one tensor/None per layer) to
    lists of `count` entries, checking them."""
    modes = [noise_mode] * count if isinstance(noise_mode, str) else list(noise_mode)
    tensors = [None] * count if noise is None else list(noise)
    if len(modes) != count or len(tensors) != count:
        raise InputError(f"per-layer noise settings need one entry per noise layer ({count}), "
                         f"got {len(modes)} modes and {len(tensors)} noise tensors")
    bad = [m for m in modes if m not in NOISE_MODES]
    if bad:
        raise InputError(f"noise_mode must be one of {NOISE_MODES}, got {bad[0]!r}")
    return modes, tensors


def require_noise(G: nn.Module, what: str) -> list[nn.Module]:
    """G's noise layers; an InputError naming `what` (the feature that needs them) when G has none."""
    layers = G.synthesis.noise_layers()
    if not layers:
        raise InputError(f"{what}: StyleGAN{G.generation} networks have no noise inputs; use a StyleGAN1/2 network")
    return layers


def noise_inputs(G: nn.Module) -> list[tuple[str, int]]:
    """(buffer name of the stored noise, resolution) of each noise layer, in the order of `noise_layers()`."""
    names = {id(module): name for name, module in G.synthesis.named_modules()}
    return [(f"{names[id(layer)]}.noise_const", layer.resolution) for layer in G.synthesis.noise_layers()]


def random_noise(G: nn.Module, batch: int, generator: torch.Generator) -> list[torch.Tensor]:
    """Unit-variance noise [batch, 1, R, R] for every noise layer of G, drawn from `generator` on the CPU (so
    that a seed gives the same noise on every device) and moved to G's device."""
    device = next(G.parameters()).device
    return [torch.randn([batch, 1, layer.resolution, layer.resolution], generator=generator).to(device)
            for layer in G.synthesis.noise_layers()]


def noise_modes(G: nn.Module, layers: Sequence[int], inside: str, outside: str) -> list[str]:
    """Per-noise-layer modes: `inside` for noise layers whose w row is in `layers`, `outside` elsewhere."""
    chosen = set(layers)
    return [inside if i in chosen else outside for i in range(len(require_noise(G, "per-layer noise modes")))]
