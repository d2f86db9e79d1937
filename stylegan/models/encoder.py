"""An image encoder into W+ for one generator, with iterative refinement as in ReStyle (Alaluf et al. 2021):
it sees the target and the generator's current reconstruction of it and predicts a residual of the ws, so
that a few passes from the mean w converge on the target.

The trunk is the StyleGAN2 discriminator's (residual blocks that halve the resolution down to 4x4) on the
target and the reconstruction side by side (2 x img_channels); two dense layers then give the residual of
every w. The last layer starts near zero, so an untrained encoder returns the mean w. Every pass adds that
last layer's output, so the ws an encoder can give lie in an affine subspace of W+ of dimension `features`:
its width bounds the best reconstruction that any training can reach.
"""
from __future__ import annotations

import hashlib

import numpy as np
import torch
from torch import nn

from ..ops import Conv2dLayer, FullyConnectedLayer
from .common import channels_table, check_resolution, jsonable
from .discriminator import DiscriminatorBlock


class Encoder(nn.Module):
    """E(target, current) -> residual ws [N, num_ws, w_dim]; images in [-1, 1]. `generator` is the digest of
    the generator it was trained for (see `generator_digest`)."""

    def __init__(self, img_resolution: int, img_channels: int, num_ws: int, w_dim: int, channel_base: int = 4096,
                 channel_max: int = 128, features: int = 512, iterations: int = 3, generator: str = ""):
        super().__init__()
        check_resolution(img_resolution)
        self.img_resolution, self.img_channels, self.num_ws, self.w_dim = img_resolution, img_channels, num_ws, w_dim
        self.iterations, self.generator = iterations, generator
        self.channels = channels_table(img_resolution, channel_base, channel_max)
        self.block_resolutions = [2 ** i for i in range(int(np.log2(img_resolution)), 2, -1)]
        for res in self.block_resolutions:
            setattr(self, f"b{res}", DiscriminatorBlock(
                self.channels[res] if res < img_resolution else 0, self.channels[res], self.channels[res // 2],
                resolution=res, img_channels=2 * img_channels, first_layer_idx=0, architecture="resnet"))
        self.conv = Conv2dLayer(self.channels[4], self.channels[4], kernel_size=3, activation="lrelu")
        self.fc = FullyConnectedLayer(self.channels[4] * 16, features, activation="lrelu")
        self.out = FullyConnectedLayer(features, num_ws * w_dim, weight_init=0.01)
        self.config = jsonable(dict(img_resolution=img_resolution, img_channels=img_channels, num_ws=num_ws,
                                    w_dim=w_dim, channel_base=channel_base, channel_max=channel_max,
                                    features=features, iterations=iterations, generator=generator))

    def forward(self, target: torch.Tensor, current: torch.Tensor) -> torch.Tensor:
        """The residual of the ws that brings `current` (the generator's image of the ws so far) to `target`."""
        x, img = None, torch.cat([target, current], dim=1).to(torch.float32)
        for res in self.block_resolutions:
            x, img = getattr(self, f"b{res}")(x, img)
        x = self.conv(x.to(torch.float32))
        x = self.fc(x.flatten(1))
        return self.out(x).reshape(-1, self.num_ws, self.w_dim)

    def extra_repr(self) -> str:
        return (f"img_resolution={self.img_resolution}, img_channels={self.img_channels}, num_ws={self.num_ws}, "
                f"w_dim={self.w_dim}, iterations={self.iterations}")


def generator_digest(G: nn.Module) -> str:
    """A fingerprint of a generator's weights and buffers (SHA-256 of its state, in order, first 16 hex
    digits): an encoder is valid for exactly the generator it was trained for."""
    h = hashlib.sha256()
    for name, tensor in G.state_dict().items():
        h.update(name.encode())
        h.update(tensor.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def encode(E: Encoder, G: nn.Module, target: torch.Tensor, iterations: int | None = None,
           start: torch.Tensor | None = None) -> torch.Tensor:
    """ws [N, num_ws, w_dim] for target images (float [N, C, H, W] in [-1, 1]): from the mean w (or `start`),
    `iterations` passes (default: the encoder's own), each adding E's residual for the current image."""
    ws = start if start is not None else G.mapping.w_avg.reshape(1, 1, -1).expand(len(target), G.num_ws, -1)
    for _ in range(E.iterations if iterations is None else iterations):
        current = G.synthesis(ws, noise_mode="const")
        ws = ws + E(target, current)
    return ws


__all__ = ["Encoder", "encode", "generator_digest"]
