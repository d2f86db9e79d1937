"""The networks: StyleGAN1/2/3 generators, the discriminators and the shared mapping network, with the noise
interface (`noise`), the inference precision policy (`precision`) and the names the command line offers."""
from __future__ import annotations

from ..lazy import exports

# StyleGAN2 generator output architectures: RGB summed from every block (skip), or painted by the last block
# only (orig; resnet with residual blocks).
G_ARCHITECTURES = ("skip", "orig", "resnet")
# What the reduced-precision layers compute in (see `precision`).
PRECISIONS = ("auto", "official", "fp32", "fp16", "bf16")

__getattr__ = exports(__name__, {
    "Discriminator": "discriminator", "MappingNetwork": "mapping", "StyleGAN1Discriminator": "stylegan1:Discriminator",
    "StyleGAN1Generator": "stylegan1:Generator", "StyleGAN2Generator": "stylegan2:Generator",
    "StyleGAN3Generator": "stylegan3:Generator", "style_ranges": "common", "channels_table": "common",
    "configure": "precision", "choose_precision": "autoprecision:choose",
})

__all__ = ["G_ARCHITECTURES", "PRECISIONS", "Discriminator", "MappingNetwork", "StyleGAN1Discriminator",
           "StyleGAN1Generator", "StyleGAN2Generator", "StyleGAN3Generator", "style_ranges", "channels_table",
           "configure", "choose_precision"]
