"""Small helpers shared by the network definitions."""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import InputError
from .mapping import MappingNetwork


def check_ws(ws: torch.Tensor, num_ws: int, w_dim: int) -> torch.Tensor:
    """Return ws if it has shape [N, num_ws, w_dim], else raise an InputError that says what was expected."""
    if not isinstance(ws, torch.Tensor) or ws.ndim != 3 or ws.shape[1] != num_ws or ws.shape[2] != w_dim:
        got = tuple(ws.shape) if isinstance(ws, torch.Tensor) else type(ws).__name__
        raise InputError(f"ws must have shape [N, {num_ws}, {w_dim}] for this network, got {got}")
    return ws


def channels_table(img_resolution: int, channel_base: int, channel_max: int,
                   channels: dict | None = None, lowest: int = 4) -> dict[int, int]:
    """Channels per resolution: min(channel_base // res, channel_max), unless given explicitly."""
    resolutions = [2 ** i for i in range(int(np.log2(lowest)), int(np.log2(img_resolution)) + 1)]
    if channels is not None:
        table = {int(k): int(v) for k, v in channels.items()}
        missing = [r for r in resolutions if r not in table]
        if missing:
            raise InputError(f"channels table lacks resolutions {missing}")
        table = {r: table[r] for r in resolutions}
    else:
        table = {r: min(channel_base // r, channel_max) for r in resolutions}
    empty = [r for r, c in table.items() if c < 1]
    if empty:
        raise InputError(f"no channels at resolutions {empty}: raise channel_base (now {channel_base}) to at least "
                         f"{max(empty)} or give an explicit channels table")
    return table


STYLE_BANDS = {"coarse": (0, 8), "middle": (16, 32), "fine": (64, 1 << 30)}


def style_ranges(G) -> dict[str, list[int]]:
    """The ws indices of the coarse (4²-8²), middle (16²-32²) and fine (64²+) styles of a generator.

    StyleGAN1/2 map w i to resolution 4 * 2**(i // 2); StyleGAN3 uses each layer's cutoff frequency.
    """
    resolutions = G.synthesis.ws_resolutions()
    return {band: [i for i, r in enumerate(resolutions) if lo <= r <= hi] for band, (lo, hi) in STYLE_BANDS.items()}


def jsonable(obj: Any) -> Any:
    """Convert numpy scalars/arrays, tuples and int-keyed dicts into plain JSON-compatible values."""
    if isinstance(obj, dict):
        return {str(k) if not isinstance(k, str) else k: jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, torch.Tensor):
        return jsonable(obj.tolist())
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"cannot store {type(obj).__name__} in a model config")


def check_resolution(img_resolution: int) -> None:
    """Raise InputError unless img_resolution is a power of two of at least 4."""
    if img_resolution < 4 or img_resolution & (img_resolution - 1):
        raise InputError(f"img_resolution must be a power of two >= 4, got {img_resolution}")


class GeneratorBase(nn.Module):
    """The official generator interface shared by every generation: G(z, c) = G.synthesis(G.mapping(z, c)),
    the attributes z_dim c_dim w_dim num_ws img_resolution img_channels, and a JSON `config` that rebuilds
    the network.

    Subclasses name their `synthesis_class`, the defaults of their mapping options, and may translate
    mapping options (`mapping_options`) and add to the config (`synthesis_config`); `extra_config` entries
    are stored before the synthesis options.
    """

    generation = 0
    synthesis_class: type[nn.Module]
    mapping_defaults: dict = {}

    def __init__(self, z_dim: int, c_dim: int, w_dim: int, img_resolution: int, img_channels: int,
                 mapping_kwargs: dict | None = None, extra_config: dict | None = None, **synthesis_kwargs):
        super().__init__()
        synthesis_kwargs = {**synthesis_kwargs.pop("synthesis_kwargs", {}), **synthesis_kwargs}
        mapping_kwargs = {**self.mapping_defaults, **(mapping_kwargs or {})}
        self.synthesis = self.synthesis_class(w_dim=w_dim, img_resolution=img_resolution,
                                              img_channels=img_channels, **synthesis_kwargs)
        self.mapping = MappingNetwork(z_dim=z_dim, c_dim=c_dim, w_dim=w_dim, num_ws=self.synthesis.num_ws,
                                      **self.mapping_options(mapping_kwargs, z_dim, synthesis_kwargs))
        self.z_dim, self.c_dim, self.w_dim = z_dim, c_dim, w_dim
        self.img_resolution, self.img_channels = img_resolution, img_channels
        self.num_ws = self.synthesis.num_ws
        self.config = jsonable(dict(z_dim=z_dim, c_dim=c_dim, w_dim=w_dim, img_resolution=img_resolution,
                                    img_channels=img_channels, mapping_kwargs=mapping_kwargs, **(extra_config or {}),
                                    **{**synthesis_kwargs, **self.synthesis_config()}))

    def mapping_options(self, mapping_kwargs: dict, z_dim: int, synthesis_kwargs: dict) -> dict:
        """The MappingNetwork options for the stored mapping options (here: the same)."""
        return mapping_kwargs

    def synthesis_config(self) -> dict:
        """Config entries the built synthesis network settles (such as its channel table)."""
        return {}

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None, truncation_psi: float = 1,
                truncation_cutoff: int | None = None, update_emas: bool = False, **synthesis_kwargs) -> torch.Tensor:
        """Generate images [N, C, R, R] in about [-1, 1] from z [N, z_dim] and labels c [N, c_dim]."""
        ws = self.mapping(z, c, truncation_psi=truncation_psi, truncation_cutoff=truncation_cutoff,
                          update_emas=update_emas)
        return self.synthesis(ws, update_emas=update_emas, **synthesis_kwargs)
