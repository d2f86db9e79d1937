"""stylegan: StyleGAN 1, 2 and 3 in one package.

    import stylegan
    G = stylegan.load("ffhq.pkl")                # NVIDIA .pkl (PyTorch or TF era), rosinality .pt, MMGeneration
                                                 # .pth or native .safetensors; no code from the file runs
    z = stylegan.seed_to_z(42, G.z_dim)          # the official seed convention
    img = G(z, None, truncation_psi=0.7)         # [1, 3, R, R] in [-1, 1]

The data flows one way: a name or URL (`hub`) -> a local checkpoint (`formats`) -> a network (`models`) ->
latent operations, generation, projection and editing (`latent`) -> pictures and videos (`media`) -> files
(`io`). Names are imported on first use, so that `import stylegan` and `stylegan --help` need no torch.
"""
from __future__ import annotations

from .errors import CheckpointError, InputError, StyleGANError
from .lazy import exports

__version__ = "0.1.0"

__getattr__ = exports(__name__, {
    "load": "hub", "load_networks": "hub", "save": "formats", "parse_seeds": "latent.seeds",
    "seed_to_z": "latent.space", "seeds_to_z": "latent.space", "Discriminator": "models.discriminator",
    "StyleGAN1Discriminator": "models.stylegan1:Discriminator", "StyleGAN1Generator": "models.stylegan1:Generator",
    "StyleGAN2Generator": "models.stylegan2:Generator", "StyleGAN3Generator": "models.stylegan3:Generator",
})

__all__ = [
    "load", "load_networks", "save", "seed_to_z", "seeds_to_z", "parse_seeds", "StyleGAN1Generator",
    "StyleGAN1Discriminator", "StyleGAN2Generator", "StyleGAN3Generator", "Discriminator", "StyleGANError",
    "CheckpointError", "InputError", "__version__",
]
