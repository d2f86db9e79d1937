"""Intermediate layers of G.synthesis: the layer table, and one layer's activations and spectrum as images."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from torch import nn

from ..errors import InputError


@dataclass
class LayerInfo:
    """One synthesis submodule whose output is a feature map [N, C, H, W]."""
    name: str
    resolution: int
    channels: int


def _feature_map(output) -> torch.Tensor | None:
    """The feature map a module returns (the first 4-D tensor of a tuple, e.g. a block's (x, img))."""
    items = output if isinstance(output, (tuple, list)) else (output,)
    for item in items:
        if isinstance(item, torch.Tensor) and item.ndim == 4:
            return item
    return None


def _candidates(G: nn.Module) -> dict[str, nn.Module]:
    return {name: m for name, m in G.synthesis.named_modules()
            if name and not name.split(".")[-1].startswith(("affine", "resample", "filter"))}


@torch.no_grad()
def layer_table(G: nn.Module, run: Callable[[], object]) -> list[LayerInfo]:
    """The submodules of G.synthesis that output feature maps, in execution order; `run()` renders once."""
    seen: dict[str, torch.Tensor | None] = {}

    def record(name: str):
        def hook(module, inputs, output) -> None:
            seen.setdefault(name, _feature_map(output))
        return hook
    hooks = [m.register_forward_hook(record(name)) for name, m in _candidates(G).items()]
    try:
        run()
    finally:
        for h in hooks:
            h.remove()
    return [LayerInfo(name, int(x.shape[-1]), int(x.shape[1])) for name, x in seen.items() if x is not None]


@torch.no_grad()
def capture(G: nn.Module, name: str, run: Callable[[], object]) -> torch.Tensor:
    """The feature map [C, H, W] of the first sample at layer `name` while `run()` renders."""
    module = _candidates(G).get(name)
    if module is None:
        raise InputError(f"no synthesis layer named {name!r}")
    seen: list[torch.Tensor | None] = []

    def record(module, inputs, output) -> None:
        seen.append(_feature_map(output))
    hook = module.register_forward_hook(record)
    try:
        run()
    finally:
        hook.remove()
    if not seen or seen[0] is None:
        raise InputError(f"layer {name!r} produced no feature map")
    return seen[0][0].float()


def _normalise(x: torch.Tensor) -> torch.Tensor:
    """Each channel to [0, 1] by its own minimum and maximum."""
    lo = x.amin(dim=(-2, -1), keepdim=True)
    hi = x.amax(dim=(-2, -1), keepdim=True)
    return (x - lo) / (hi - lo).clamp_min(1e-8)


def _select(features: torch.Tensor, channel: int, rgb: bool) -> torch.Tensor:
    count = features.shape[0]
    if not 0 <= channel < count:
        raise InputError(f"channel {channel} is out of range: this layer has channels 0..{count - 1}")
    picks = [(channel + k) % count for k in range(3)] if rgb else [channel]
    return features[picks]


def to_image(x: torch.Tensor) -> np.ndarray:
    """[1 or 3, H, W] in [0, 1] -> uint8 [H, W, 3]."""
    x = x.expand(3, -1, -1) if x.shape[0] == 1 else x
    return (x.clamp(0, 1) * 255 + 0.5).to(torch.uint8).permute(1, 2, 0).cpu().numpy()


def activation_image(features: torch.Tensor, channel: int = 0, rgb: bool = False) -> np.ndarray:
    """One channel (grey) or channels channel..channel+2 (RGB) of a feature map [C, H, W], normalised."""
    return to_image(_normalise(_select(features, channel, rgb)))


def spectrum_image(features: torch.Tensor, channel: int = 0, rgb: bool = False) -> np.ndarray:
    """The centred 2-D FFT magnitude (log scale, normalised) of the same channels."""
    x = _select(features, channel, rgb)
    x = x - x.mean(dim=(-2, -1), keepdim=True)
    magnitude = torch.fft.fftshift(torch.fft.fft2(x).abs(), dim=(-2, -1))
    return to_image(_normalise(torch.log1p(magnitude)))
