"""stylegan: StyleGAN 1, 2 and 3 in one package.

    import stylegan
    G = stylegan.load("ffhq.pkl")                # NVIDIA .pkl (PyTorch or TF era), rosinality .pt, MMGeneration
                                                 # .pth or native .safetensors; no code from the file runs
    z = stylegan.seed_to_z(42, G.z_dim)          # the official seed convention
    img = G(z, None, truncation_psi=0.7)         # [1, 3, R, R] in [-1, 1]
"""
from __future__ import annotations

import importlib
from typing import Any

from .errors import CheckpointError, InputError, StyleGANError

# The rest is imported on first use, so that `stylegan --help` and argument errors need no torch.
_LAZY = {
    "load": "formats", "load_networks": "formats", "save": "formats", "parse_seeds": "latent",
    "seed_to_z": "latent", "seeds_to_z": "latent", "Discriminator": "models", "StyleGAN1Discriminator": "models",
    "StyleGAN1Generator": "models", "StyleGAN2Generator": "models", "StyleGAN3Generator": "models",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__version__ = "0.1.0"

__all__ = [
    "load", "load_networks", "save", "seed_to_z", "seeds_to_z", "parse_seeds", "StyleGAN1Generator",
    "StyleGAN1Discriminator", "StyleGAN2Generator", "StyleGAN3Generator", "Discriminator", "StyleGANError",
    "CheckpointError", "InputError", "__version__",
]
