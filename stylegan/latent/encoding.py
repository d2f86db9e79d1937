"""Encoders in files: an encoder (`models.encoder`) is stored in the native format under the name 'E', with the
fingerprint of the generator it was trained for, and is refused for any other generator."""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ..errors import CheckpointError
from ..formats import native
from ..hub import builtin
from ..models.encoder import Encoder, generator_digest

ENCODER_FILE = "encoder.safetensors"


def load_encoder(path: str | Path, G: nn.Module | None = None, device: torch.device | str = "cpu") -> Encoder:
    """An encoder from its file or run folder, or `builtin:demo` (the demo model's, shipped with the package);
    with G, an encoder trained for another generator is refused."""
    if str(path) == builtin.DEMO:
        path = builtin.demo_encoder_path()
        if not path.is_file():
            raise CheckpointError(f"{builtin.DEMO}: the demo model's encoder is missing from this installation; "
                                  f"train one with `stylegan encoder train --out FOLDER`")
    path = Path(path)
    if path.is_dir():
        path = path / ENCODER_FILE
    nets = native.load_networks(path, device=device)
    E = nets.get("E")
    if not isinstance(E, Encoder):
        raise CheckpointError(f"{path}: holds no encoder (it has: {', '.join(nets) or 'nothing'})")
    if G is not None:
        if (E.num_ws, E.w_dim, E.img_resolution, E.img_channels) != (G.num_ws, G.w_dim, G.img_resolution,
                                                                      G.img_channels) \
                or E.generator != generator_digest(G):
            raise CheckpointError(f"{path}: this encoder was trained for another generator (fingerprint "
                                  f"{E.generator}, this one's is {generator_digest(G)}); train one for it with "
                                  f"`stylegan encoder train`")
    return E


__all__ = ["ENCODER_FILE", "load_encoder"]
