"""The networks: StyleGAN1/2/3 generators, the discriminators, the shared mapping network, and their names."""
from torch import nn

from .discriminator import Discriminator
from .mapping import MappingNetwork
from .stylegan1 import Discriminator as StyleGAN1Discriminator
from .stylegan1 import Generator as StyleGAN1Generator
from .stylegan2 import Generator as StyleGAN2Generator
from .stylegan3 import Generator as StyleGAN3Generator

ARCHITECTURES: dict[str, type[nn.Module]] = {
    "stylegan1.Generator": StyleGAN1Generator,
    "stylegan1.Discriminator": StyleGAN1Discriminator,
    "stylegan2.Generator": StyleGAN2Generator,
    "stylegan3.Generator": StyleGAN3Generator,
    "stylegan2.Discriminator": Discriminator,
}


def arch_name(net: nn.Module) -> str:
    """The architecture name under which `net` is stored in native checkpoints."""
    for name, cls in ARCHITECTURES.items():
        if type(net) is cls:
            return name
    raise TypeError(f"{type(net).__name__} is not a network this package can save")


__all__ = ["ARCHITECTURES", "arch_name", "Discriminator", "MappingNetwork", "StyleGAN1Discriminator",
           "StyleGAN1Generator", "StyleGAN2Generator", "StyleGAN3Generator"]
