"""StyleGAN2 generator (Karras et al. 2020): modulated convolutions, per-layer noise, orig/skip/resnet.

Parameter and buffer names follow the published checkpoints (b4.conv1.affine.weight, ...), so their
state dicts load directly.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..errors import InputError
from ..ops import Conv2dLayer, FullyConnectedLayer, bias_act, default_gain, modulated_conv2d, setup_filter, upsample2d
from ..ops.bias_act import foldable_gain
from . import G_ARCHITECTURES
from .common import GeneratorBase, channels_table, check_resolution, check_ws
from .noise import NOISE_MODES, per_layer_noise
from .precision import activation_format, layer_dtype, modconv_fused


class SynthesisLayer(nn.Module):
    """Modulated 3x3 convolution (optionally upsampling x2), noise, bias, leaky ReLU, clamp."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, kernel_size: int = 3,
                 up: int = 1, use_noise: bool = True, activation: str = "lrelu", resample_filter=(1, 3, 3, 1),
                 conv_clamp: float | None = None, channels_last: bool = False):
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.w_dim = w_dim
        self.resolution = resolution
        self.up = up
        self.use_noise = use_noise
        self.activation = activation
        self.conv_clamp = conv_clamp
        self.register_buffer("resample_filter", setup_filter(list(resample_filter)))
        self.padding = kernel_size // 2
        self.act_gain = default_gain(activation)
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.weight = nn.Parameter(torch.randn([out_channels, in_channels, kernel_size, kernel_size])
                                   .to(memory_format=memory_format))
        if use_noise:
            self.register_buffer("noise_const", torch.randn([resolution, resolution]))
            self.noise_strength = nn.Parameter(torch.zeros([]))
        self.bias = nn.Parameter(torch.zeros([out_channels]))

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise_mode: str = "const", fused_modconv: bool = True,
                gain: float = 1, noise: torch.Tensor | None = None) -> torch.Tensor:
        """`noise` (unit-variance, broadcastable to [N, 1, R, R]) replaces what noise_mode would draw."""
        if noise_mode not in NOISE_MODES:
            raise InputError(f"noise_mode must be one of {NOISE_MODES}, got {noise_mode!r}")
        styles = self.affine(w)
        # A ReLU-like activation's gain moves before it (into the demodulation, noise and bias).
        act_gain = self.act_gain * gain
        fold = foldable_gain(self.activation, act_gain)
        strength = self.noise_strength * fold if self.use_noise else None
        if not self.use_noise:
            noise = None
        elif noise is not None:
            noise = noise.to(x.device) * strength
        elif noise_mode == "random":
            noise = torch.randn([x.shape[0], 1, self.resolution, self.resolution], device=x.device) * strength
        elif noise_mode == "const":
            noise = self.noise_const * strength
        x = modulated_conv2d(x, self.weight, styles, noise=noise, up=self.up, padding=self.padding,
                             resample_filter=self.resample_filter, flip_weight=(self.up == 1),
                             fused_modconv=fused_modconv, gain=fold)
        clamp = self.conv_clamp * gain if self.conv_clamp is not None else None
        bias = self.bias * fold if fold != 1 else self.bias
        return bias_act(x, bias.to(x.dtype), act=self.activation, gain=act_gain / fold, clamp=clamp, inplace=True)

    def extra_repr(self) -> str:
        return (f"in_channels={self.in_channels}, out_channels={self.out_channels}, w_dim={self.w_dim}, "
                f"resolution={self.resolution}, up={self.up}, activation={self.activation}")


class ToRGBLayer(nn.Module):
    """Modulated 1x1 convolution to image channels, without demodulation."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, kernel_size: int = 1,
                 conv_clamp: float | None = None, channels_last: bool = False):
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.w_dim = w_dim
        self.conv_clamp = conv_clamp
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.weight = nn.Parameter(torch.randn([out_channels, in_channels, kernel_size, kernel_size])
                                   .to(memory_format=memory_format))
        self.bias = nn.Parameter(torch.zeros([out_channels]))
        self.weight_gain = 1 / np.sqrt(in_channels * kernel_size ** 2)

    def forward(self, x: torch.Tensor, w: torch.Tensor, fused_modconv: bool = True) -> torch.Tensor:
        styles = self.affine(w) * self.weight_gain
        x = modulated_conv2d(x, self.weight, styles, demodulate=False, fused_modconv=fused_modconv)
        return bias_act(x, self.bias.to(x.dtype), clamp=self.conv_clamp)

    def extra_repr(self) -> str:
        return f"in_channels={self.in_channels}, out_channels={self.out_channels}, w_dim={self.w_dim}"


class SynthesisBlock(nn.Module):
    """One resolution: [const input | conv0 (up x2)], conv1, and ToRGB (skip/last) or a skip conv (resnet)."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, img_channels: int,
                 is_last: bool, architecture: str = "skip", resample_filter=(1, 3, 3, 1),
                 conv_clamp: float | None = 256, use_fp16: bool = False, fp16_channels_last: bool = False,
                 fused_modconv_default=True, **layer_kwargs):
        if architecture not in G_ARCHITECTURES:
            raise InputError(f"architecture must be one of {', '.join(G_ARCHITECTURES)}, got {architecture!r}")
        super().__init__()
        self.in_channels = in_channels
        self.w_dim = w_dim
        self.resolution = resolution
        self.img_channels = img_channels
        self.is_last = is_last
        self.architecture = architecture
        self.use_fp16 = use_fp16
        self.channels_last = use_fp16 and fp16_channels_last
        self.fused_modconv_default = fused_modconv_default
        self.register_buffer("resample_filter", setup_filter(list(resample_filter)))
        self.num_conv = 0
        self.num_torgb = 0
        layer = dict(w_dim=w_dim, resolution=resolution, conv_clamp=conv_clamp, channels_last=self.channels_last,
                     **layer_kwargs)
        if in_channels == 0:
            self.const = nn.Parameter(torch.randn([out_channels, resolution, resolution]))
        else:
            self.conv0 = SynthesisLayer(in_channels, out_channels, up=2, resample_filter=resample_filter, **layer)
            self.num_conv += 1
        self.conv1 = SynthesisLayer(out_channels, out_channels, **layer)
        self.num_conv += 1
        if is_last or architecture == "skip":
            self.torgb = ToRGBLayer(out_channels, img_channels, w_dim=w_dim, conv_clamp=conv_clamp,
                                    channels_last=self.channels_last)
            self.num_torgb += 1
        if in_channels != 0 and architecture == "resnet":
            self.skip = Conv2dLayer(in_channels, out_channels, kernel_size=1, bias=False, up=2,
                                    resample_filter=resample_filter, channels_last=self.channels_last)

    def forward(self, x: torch.Tensor | None, img: torch.Tensor | None, ws: torch.Tensor, force_fp32: bool = False,
                fused_modconv=None, noise_mode="const", noise=None, update_emas: bool = False,
                precision: str = "official"):
        """`noise_mode` and `noise` are one value for all convolutions or a sequence, one per convolution;
        `precision` is the policy of `stylegan.precision` for blocks marked use_fp16."""
        w_iter = iter(ws.unbind(dim=1))
        modes = iter([noise_mode] * self.num_conv if isinstance(noise_mode, str) else noise_mode)
        noises = iter(noise if noise is not None else [None] * self.num_conv)
        dtype = layer_dtype(self.use_fp16, precision, ws.device, force_fp32)
        memory_format = activation_format(ws.device, dtype, self.channels_last)
        fused_modconv = modconv_fused(fused_modconv, self.fused_modconv_default, ws.device, self.training)

        def conv(layer: SynthesisLayer, x: torch.Tensor, gain: float = 1) -> torch.Tensor:
            return layer(x, next(w_iter), noise_mode=next(modes), noise=next(noises), fused_modconv=fused_modconv,
                         gain=gain)

        if self.in_channels == 0:
            x = self.const.to(dtype).unsqueeze(0).repeat([ws.shape[0], 1, 1, 1]).to(memory_format=memory_format)
            x = conv(self.conv1, x)
        elif self.architecture == "resnet":
            x = x.to(dtype=dtype, memory_format=memory_format)
            y = self.skip(x, gain=np.sqrt(0.5))
            x = conv(self.conv1, conv(self.conv0, x), gain=np.sqrt(0.5))
            x = y.add_(x)
        else:
            x = x.to(dtype=dtype, memory_format=memory_format)
            x = conv(self.conv1, conv(self.conv0, x))

        if img is not None:
            img = upsample2d(img, self.resample_filter)
        if self.is_last or self.architecture == "skip":
            y = self.torgb(x, next(w_iter), fused_modconv=fused_modconv)
            y = y.to(dtype=torch.float32, memory_format=torch.contiguous_format)
            img = img.add_(y) if img is not None else y
        return x, img

    def extra_repr(self) -> str:
        return f"resolution={self.resolution}, architecture={self.architecture}"


class SynthesisNetwork(nn.Module):
    """ws [N, num_ws, w_dim] -> image [N, img_channels, R, R] in about [-1, 1]."""

    def __init__(self, w_dim: int, img_resolution: int, img_channels: int, channel_base: int = 32768,
                 channel_max: int = 512, num_fp16_res: int = 4, channels: dict | None = None, **block_kwargs):
        check_resolution(img_resolution)
        super().__init__()
        self.w_dim = w_dim
        self.img_resolution = img_resolution
        self.img_resolution_log2 = int(np.log2(img_resolution))
        self.img_channels = img_channels
        self.num_fp16_res = num_fp16_res
        self.precision = "official"  # see models.precision
        self.block_resolutions = [2 ** i for i in range(2, self.img_resolution_log2 + 1)]
        self.channels = channels_table(img_resolution, channel_base, channel_max, channels)
        fp16_resolution = max(2 ** (self.img_resolution_log2 + 1 - num_fp16_res), 8)
        self.num_ws = 0
        for res in self.block_resolutions:
            block = SynthesisBlock(self.channels[res // 2] if res > 4 else 0, self.channels[res], w_dim=w_dim,
                                   resolution=res, img_channels=img_channels, is_last=(res == img_resolution),
                                   use_fp16=(res >= fp16_resolution), **block_kwargs)
            self.num_ws += block.num_conv + (block.num_torgb if res == img_resolution else 0)
            setattr(self, f"b{res}", block)

    def forward(self, ws: torch.Tensor, noise_mode="const", noise=None, **block_kwargs) -> torch.Tensor:
        """Render ws [N, num_ws, w_dim].

        noise_mode: 'const' (the stored noise), 'random' (fresh noise) or 'none', or a sequence with one
        mode per noise layer (see `noise_layers`). noise: optional sequence of per-layer unit-variance noise
        tensors ([N or 1, 1, R, R]; None entries follow noise_mode).
        """
        ws = check_ws(ws, self.num_ws, self.w_dim).to(torch.float32)
        modes, noise = per_layer_noise(noise_mode, noise, len(self.noise_layers()))
        block_kwargs.setdefault("precision", self.precision)
        x = img = None
        w_idx = 0
        for res in self.block_resolutions:
            block = getattr(self, f"b{res}")
            # ToRGB of one block shares its w with the first conv of the next.
            cur = ws.narrow(1, w_idx, block.num_conv + block.num_torgb)
            span = slice(w_idx, w_idx + block.num_conv)
            x, img = block(x, img, cur, noise_mode=modes[span], noise=noise[span], **block_kwargs)
            w_idx += block.num_conv
        return img

    def noise_layers(self) -> list[SynthesisLayer]:
        """The convolution layers in order; layer i takes w row i and noise input i."""
        layers = []
        for res in self.block_resolutions:
            block = getattr(self, f"b{res}")
            layers += [block.conv0, block.conv1] if hasattr(block, "conv0") else [block.conv1]
        return layers

    def ws_resolutions(self) -> list[int]:
        """The resolution each w row controls (w i drives the layers at 4 * 2**(i // 2))."""
        return [min(4 * 2 ** (i // 2), self.img_resolution) for i in range(self.num_ws)]

    def extra_repr(self) -> str:
        return (f"w_dim={self.w_dim}, num_ws={self.num_ws}, img_resolution={self.img_resolution}, "
                f"img_channels={self.img_channels}, num_fp16_res={self.num_fp16_res}")


class Generator(GeneratorBase):
    """StyleGAN2 generator: G(z, c) = G.synthesis(G.mapping(z, c))."""

    generation = 2
    synthesis_class = SynthesisNetwork

    def synthesis_config(self) -> dict:
        return {"channels": self.synthesis.channels}
