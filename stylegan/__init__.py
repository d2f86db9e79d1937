"""stylegan: StyleGAN 1, 2 and 3 in one package.

    import stylegan
    G = stylegan.load("ffhq.pkl")                # NVIDIA .pkl (PyTorch or TF era), rosinality .pt, MMGeneration
                                                 # .pth or native .safetensors; no code from the file runs
    z = stylegan.seed_to_z(42, G.z_dim)          # the official seed convention
    img = G(z, None, truncation_psi=0.7)         # [1, 3, R, R] in [-1, 1]
"""
from .errors import CheckpointError, InputError, StyleGANError
from .formats import load, load_networks, save
from .latent import parse_seeds, seed_to_z, seeds_to_z
from .models import Discriminator, StyleGAN1Discriminator, StyleGAN1Generator, StyleGAN2Generator, StyleGAN3Generator

__version__ = "0.1.0"

__all__ = [
    "load", "load_networks", "save", "seed_to_z", "seeds_to_z", "parse_seeds", "StyleGAN1Generator",
    "StyleGAN1Discriminator", "StyleGAN2Generator", "StyleGAN3Generator", "Discriminator", "StyleGANError",
    "CheckpointError", "InputError", "__version__",
]
