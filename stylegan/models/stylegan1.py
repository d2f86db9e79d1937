"""StyleGAN1 (Karras et al. 2019): AdaIN generator with per-layer noise, and the progressive discriminator.

Computed as the TensorFlow original does: weights stored at unit scale and multiplied at run time by
gain / sqrt(fan_in) (gain sqrt(2), 1 for the style and ToRGB layers), pixel norm on z, a mapping MLP
with learning-rate multiplier 0.01, and per layer: convolution, [blur], noise scaled per channel, bias,
leaky ReLU, instance norm, style scale (1 + s) and bias. The 2x upsampling is nearest-neighbour followed
by the 3x3 convolution, then a [1, 2, 1] blur; at 128² and above the original fuses the two into one
transposed convolution, which applies the stored kernel flipped in space, and so do we.
The networks keep the progressive-growing state `lod` (0 for finished networks): at lod > 0 the output
blends the two current resolutions and is upscaled to full size, as the original's recursive graph does.
The mapping network and the dense layers are the shared ones (`models.mapping`, `ops.FullyConnectedLayer`)
with the gain in the weights; the convolutions stay here, for the original's nearest/box resampling and
its flipped fused upsampling.

`flavor='mmgen'` reproduces MMGeneration's re-implementation instead, which differs in three places:
z normalised as x / (||x|| / sqrt(C) + 1e-6), instance-norm epsilon 1e-5, and a leaky ReLU (with the
bias) between the upsampling convolution and the blur.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import InputError
from ..ops import FullyConnectedLayer
from .common import GeneratorBase, channels_table, check_resolution, check_ws, jsonable
from .discriminator import MinibatchStdLayer
from .noise import per_layer_noise

FLAVORS = {
    "nvidia": dict(latent_norm="rms", norm_eps=1e-8, up_activation=False),
    "mmgen": dict(latent_norm="l2", norm_eps=1e-5, up_activation=True),
}
ACTIVATIONS = ("lrelu", "relu")
SQRT2 = float(np.sqrt(2))


def activate(x: torch.Tensor, activation: str) -> torch.Tensor:
    """Leaky ReLU (slope 0.2) or ReLU, without gain: StyleGAN1 puts the gain into the weights."""
    return F.leaky_relu(x, 0.2) if activation == "lrelu" else F.relu(x)


def upscale2d(x: torch.Tensor, factor: int = 2) -> torch.Tensor:
    """Nearest-neighbour upsampling by an integer factor."""
    if factor == 1:
        return x
    return x.repeat_interleave(factor, dim=2).repeat_interleave(factor, dim=3)


def downscale2d(x: torch.Tensor, factor: int = 2) -> torch.Tensor:
    """Box-filter downsampling (mean of factor x factor pixels)."""
    return x if factor == 1 else F.avg_pool2d(x, factor)


def instance_norm(x: torch.Tensor, eps: float) -> torch.Tensor:
    """Subtract each feature map's mean, then divide by its root-mean-square (+ eps)."""
    x = x - x.mean(dim=[2, 3], keepdim=True)
    return x * (x.square().mean(dim=[2, 3], keepdim=True) + eps).rsqrt()


def fuse_kernel(w: torch.Tensor) -> torch.Tensor:
    """Sum of the kernel shifted by (0|1, 0|1): a 3x3 kernel becomes the 4x4 kernel of a 2x resampling conv."""
    w = F.pad(w, [1, 1, 1, 1])
    return w[:, :, 1:, 1:] + w[:, :, :-1, 1:] + w[:, :, 1:, :-1] + w[:, :, :-1, :-1]


class Blur(nn.Module):
    """Depthwise 2-D filter (outer product of the taps, normalised to sum 1), same-size output."""

    def __init__(self, taps=(1, 2, 1)):
        super().__init__()
        f = np.outer(taps, taps).astype(np.float32)
        self.register_buffer("filter", torch.from_numpy(f / f.sum()), persistent=False)
        self.taps = [float(t) for t in taps]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k = self.filter.to(x.dtype)
        w = k[None, None].expand(x.shape[1], 1, *k.shape)
        return F.conv2d(x, w, padding=k.shape[0] // 2, groups=x.shape[1])

    def extra_repr(self) -> str:
        return f"taps={self.taps}"


class EqualConv2d(nn.Module):
    """Same-padded convolution, weight [out, in, k, k] scaled at run time by gain / sqrt(in * k * k).

    `resample` is None, 'up' (2x: nearest-neighbour upsampling then the conv, or one transposed conv with
    the fused 4x4 kernel, which amounts to the upsampling then the conv with the kernel flipped) or 'down'
    (2x: the conv then 2x2 mean, or the same as one strided conv).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, gain: float = SQRT2,
                 bias: bool = False, resample: str | None = None, fused: bool = False):
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.resample = resample
        self.fused = fused
        self.weight = nn.Parameter(torch.randn([out_channels, in_channels, kernel_size, kernel_size]))
        self.bias = nn.Parameter(torch.zeros([out_channels])) if bias else None
        self.weight_gain = gain / np.sqrt(in_channels * kernel_size ** 2)
        self.padding = kernel_size // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight * self.weight_gain
        if self.resample == "up" and self.fused:
            x = F.conv_transpose2d(x, fuse_kernel(w).transpose(0, 1), stride=2, padding=1)
        elif self.resample == "down" and self.fused:
            x = F.conv2d(x, fuse_kernel(w) * 0.25, stride=2, padding=1)
        else:
            x = F.conv2d(upscale2d(x) if self.resample == "up" else x, w, padding=self.padding)
            if self.resample == "down":
                x = downscale2d(x)
        return x if self.bias is None else x + self.bias.reshape(1, -1, 1, 1)

    def extra_repr(self) -> str:
        return (f"in_channels={self.in_channels}, out_channels={self.out_channels}, resample={self.resample}, "
                f"fused={self.fused}")


class StyleLayer(nn.Module):
    """[conv (up x2 + blur)], noise with per-channel strength, bias, activation, instance norm, AdaIN style.

    Without a convolution (in_channels=0) the layer styles its input as is: the learned 4x4 constant.
    """

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, up: bool = False,
                 fused: bool = False, blur_filter=(1, 2, 1), use_noise: bool = True, activation: str = "lrelu",
                 norm_eps: float = 1e-8, up_activation: bool = False):
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.resolution = resolution
        self.up = up
        self.use_noise = use_noise
        self.activation = activation
        self.norm_eps = norm_eps
        self.up_activation = up_activation and up
        if in_channels > 0:
            self.conv = EqualConv2d(in_channels, out_channels, 3, resample="up" if up else None, fused=fused)
        self.blur = Blur(blur_filter) if up and blur_filter else None
        if use_noise:
            self.noise_strength = nn.Parameter(torch.zeros([out_channels]))
            self.register_buffer("noise_const", torch.randn([resolution, resolution]))
        self.bias = nn.Parameter(torch.zeros([out_channels]))
        self.style = FullyConnectedLayer(w_dim, out_channels * 2)

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise_mode: str = "const",
                noise: torch.Tensor | None = None) -> torch.Tensor:
        """`noise` (unit-variance, broadcastable to [N, 1, R, R]) replaces what noise_mode would draw."""
        bias = self.bias.reshape(1, -1, 1, 1)
        if self.in_channels > 0:
            x = self.conv(x)
        if self.up_activation:
            x = activate(x + bias, self.activation)
        if self.blur is not None:
            x = self.blur(x)
        if self.use_noise and (noise is not None or noise_mode != "none"):
            if noise is None:
                noise = (self.noise_const[None, None] if noise_mode == "const" else
                         torch.randn([x.shape[0], 1, self.resolution, self.resolution], device=x.device))
            x = x + noise.to(x.device) * self.noise_strength.reshape(1, -1, 1, 1)
        x = activate(x if self.up_activation else x + bias, self.activation)
        x = instance_norm(x, self.norm_eps)
        style = self.style(w).reshape(-1, 2, self.out_channels, 1, 1)
        return x * (style[:, 0] + 1) + style[:, 1]

    def extra_repr(self) -> str:
        return (f"in_channels={self.in_channels}, out_channels={self.out_channels}, resolution={self.resolution}, "
                f"up={self.up}")


class SynthesisBlock(nn.Module):
    """One resolution: (const, input layer | conv0 up x2), conv1, and its ToRGB."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, img_channels: int,
                 fused: bool, has_torgb: bool, **layer_kwargs):
        super().__init__()
        self.resolution = resolution
        if in_channels == 0:
            self.const = nn.Parameter(torch.ones([out_channels, resolution, resolution]))
            self.input = StyleLayer(0, out_channels, w_dim, resolution, **layer_kwargs)
        else:
            self.conv0 = StyleLayer(in_channels, out_channels, w_dim, resolution, up=True, fused=fused,
                                    **layer_kwargs)
        self.conv1 = StyleLayer(out_channels, out_channels, w_dim, resolution, **layer_kwargs)
        if has_torgb:
            self.torgb = EqualConv2d(out_channels, img_channels, 1, gain=1, bias=True)

    def forward(self, x: torch.Tensor | None, ws: torch.Tensor, noise_mode=("const", "const"),
                noise=(None, None)) -> torch.Tensor:
        """noise_mode (one mode, or one per layer) and noise (one entry per layer) for the block's two layers."""
        if isinstance(noise_mode, str):
            noise_mode = (noise_mode, noise_mode)
        if x is None:
            x = self.input(self.const.unsqueeze(0).repeat([ws.shape[0], 1, 1, 1]), ws[:, 0], noise_mode[0], noise[0])
        else:
            x = self.conv0(x, ws[:, 0], noise_mode[0], noise[0])
        return self.conv1(x, ws[:, 1], noise_mode[1], noise[1])

    def layers(self) -> list[StyleLayer]:
        """The block's two styled layers, in order."""
        return [self.input if hasattr(self, "input") else self.conv0, self.conv1]

    def extra_repr(self) -> str:
        return f"resolution={self.resolution}"


class SynthesisNetwork(nn.Module):
    """ws [N, num_ws, w_dim] -> image [N, img_channels, R, R]; two ws per resolution, none for ToRGB."""

    def __init__(self, w_dim: int, img_resolution: int, img_channels: int, channel_base: int = 16384,
                 channel_max: int = 512, channels: dict | None = None, fused_scale="auto", blur_filter=(1, 2, 1),
                 use_noise: bool = True, activation: str = "lrelu", progressive: bool = True,
                 flavor: str = "nvidia"):
        check_resolution(img_resolution)
        if flavor not in FLAVORS:
            raise InputError(f"flavor must be one of {tuple(FLAVORS)}, got {flavor!r}")
        if activation not in ACTIVATIONS:
            raise InputError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
        super().__init__()
        self.w_dim = w_dim
        self.img_resolution = img_resolution
        self.img_resolution_log2 = int(np.log2(img_resolution))
        self.img_channels = img_channels
        self.progressive = progressive
        self.block_resolutions = [2 ** i for i in range(2, self.img_resolution_log2 + 1)]
        self.channels = channels_table(img_resolution, channel_base, channel_max, channels)
        self.num_ws = 2 * len(self.block_resolutions)
        layer_kwargs = dict(blur_filter=blur_filter, use_noise=use_noise, activation=activation,
                            norm_eps=FLAVORS[flavor]["norm_eps"], up_activation=FLAVORS[flavor]["up_activation"])
        for res in self.block_resolutions:
            fused = res >= 128 if fused_scale == "auto" else bool(fused_scale)
            block = SynthesisBlock(self.channels[res // 2] if res > 4 else 0, self.channels[res], w_dim, res,
                                   img_channels, fused, has_torgb=progressive or res == img_resolution,
                                   **layer_kwargs)
            setattr(self, f"b{res}", block)
        self.register_buffer("lod", torch.zeros([]))

    def forward(self, ws: torch.Tensor, noise_mode="const", noise=None, **_ignored) -> torch.Tensor:
        """Render ws; noise_mode is 'const' (stored noise), 'random' (fresh noise) or 'none', or one mode per
        noise layer (see `noise_layers`); noise: optional per-layer unit-variance tensors.

        Other keyword arguments of the StyleGAN2/3 synthesis (force_fp32, update_emas) have no effect here.
        """
        modes, noise = per_layer_noise(noise_mode, noise, self.num_ws)
        ws = check_ws(ws, self.num_ws, self.w_dim).to(torch.float32)
        lod = float(self.lod) if self.progressive else 0.0  # without per-level ToRGB the original ignores lod
        # Progressive growing: stop `lod` levels below the top (never below 8x8, as the original's recursion)
        # and blend with the ToRGB of the level below, unclipped.
        top = self.img_resolution_log2
        stop_log2 = max(top - int(np.floor(max(lod, 0))), min(3, top))
        blend = lod - (top - stop_log2)
        x = prev = None
        for i, res in enumerate(self.block_resolutions[:stop_log2 - 1]):
            prev = x
            x = getattr(self, f"b{res}")(x, ws[:, 2 * i:2 * i + 2], modes[2 * i:2 * i + 2], noise[2 * i:2 * i + 2])
        res = 2 ** stop_log2
        img = getattr(self, f"b{res}").torgb(x)
        if blend > 0 and res > 4:
            low = upscale2d(getattr(self, f"b{res // 2}").torgb(prev))
            img = img + (low - img) * blend
        return upscale2d(img, self.img_resolution // res)

    def ws_resolutions(self) -> list[int]:
        """The resolution each w row controls (w i drives the layers at 4 * 2**(i // 2))."""
        return [4 * 2 ** (i // 2) for i in range(self.num_ws)]

    def noise_layers(self) -> list[StyleLayer]:
        """The styled layers in order; layer i takes w row i and noise input i."""
        return [layer for res in self.block_resolutions for layer in getattr(self, f"b{res}").layers()]

    def extra_repr(self) -> str:
        return (f"w_dim={self.w_dim}, num_ws={self.num_ws}, img_resolution={self.img_resolution}, "
                f"img_channels={self.img_channels}, lod={float(self.lod):g}")


class Generator(GeneratorBase):
    """StyleGAN1 generator: G(z, c) = G.synthesis(G.mapping(z, c)).

    `default_truncation` is (psi, cutoff) that the network's home code applies unless told otherwise: the
    TF original truncates the first 8 ws with psi 0.7. Calls here truncate only when asked, as for every
    other generation; pass `truncation_psi=0.7, truncation_cutoff=8` to reproduce the published images.
    """

    generation = 1
    synthesis_class = SynthesisNetwork

    def __init__(self, z_dim: int, c_dim: int, w_dim: int, img_resolution: int, img_channels: int,
                 mapping_kwargs: dict | None = None, default_truncation=(0.7, 8), flavor: str = "nvidia",
                 **synthesis_kwargs):
        default_truncation = (float(default_truncation[0]),
                              None if default_truncation[1] is None else int(default_truncation[1]))
        super().__init__(z_dim, c_dim, w_dim, img_resolution, img_channels, mapping_kwargs,
                         extra_config=dict(default_truncation=list(default_truncation)), flavor=flavor,
                         **synthesis_kwargs)
        self.default_truncation = default_truncation

    def mapping_options(self, mapping_kwargs: dict, z_dim: int, synthesis_kwargs: dict) -> dict:
        """StyleGAN1's mapping on the shared network: the label concatenated to z, the gain in the weights,
        w_avg decay 0.995 (None: w_avg stays as stored), latents normalised unless normalize_latents=False."""
        kwargs = {"w_avg_beta": 0.995, "activation": "lrelu", **mapping_kwargs}
        if kwargs["activation"] not in ACTIVATIONS:
            raise InputError(f"activation must be one of {ACTIVATIONS}, got {kwargs['activation']!r}")
        normalize = kwargs.pop("normalize_latents", True)
        latent_norm = FLAVORS[synthesis_kwargs["flavor"]]["latent_norm"] if normalize else None
        return dict(kwargs, w_avg_beta=1.0 if kwargs["w_avg_beta"] is None else kwargs["w_avg_beta"],
                    latent_norm=latent_norm, embed_features=z_dim, label_concat=True, gain_in_weights=True)

    def synthesis_config(self) -> dict:
        return {"channels": self.synthesis.channels}


class DiscriminatorBlock(nn.Module):
    """One resolution: [fromRGB], conv0, blur, conv1 with 2x downsampling (fused at 128² and above)."""

    def __init__(self, in_channels: int, out_channels: int, resolution: int, img_channels: int, fused: bool,
                 has_fromrgb: bool, blur_filter=(1, 2, 1), activation: str = "lrelu"):
        super().__init__()
        self.resolution = resolution
        self.activation = activation
        if has_fromrgb:
            self.fromrgb = EqualConv2d(img_channels, in_channels, 1, bias=True)
        self.conv0 = EqualConv2d(in_channels, in_channels, 3, bias=True)
        self.blur = Blur(blur_filter) if blur_filter else None
        self.conv1 = EqualConv2d(in_channels, out_channels, 3, bias=True, resample="down", fused=fused)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = activate(self.conv0(x), self.activation)
        x = self.blur(x) if self.blur is not None else x
        return activate(self.conv1(x), self.activation)

    def extra_repr(self) -> str:
        return f"resolution={self.resolution}"


class DiscriminatorEpilogue(nn.Module):
    """The 4x4 head: [fromRGB], minibatch stddev, conv, dense, output (one score per label)."""

    def __init__(self, in_channels: int, dense_features: int, out_features: int, img_channels: int,
                 has_fromrgb: bool, mbstd_group_size: int = 4, mbstd_num_features: int = 1,
                 activation: str = "lrelu"):
        super().__init__()
        self.resolution = 4
        self.activation = activation
        if has_fromrgb:
            self.fromrgb = EqualConv2d(img_channels, in_channels, 1, bias=True)
        mbstd = mbstd_group_size > 1
        self.mbstd = MinibatchStdLayer(mbstd_group_size, mbstd_num_features) if mbstd else None
        self.conv = EqualConv2d(in_channels + (mbstd_num_features if mbstd else 0), in_channels, 3, bias=True)
        self.fc = FullyConnectedLayer(in_channels * 16, dense_features, activation=activation, gain=SQRT2,
                                      act_gain=1.0)
        self.out = FullyConnectedLayer(dense_features, out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mbstd is not None:
            x = self.mbstd(x)
        x = activate(self.conv(x), self.activation)
        return self.out(self.fc(x.flatten(1)))


class Discriminator(nn.Module):
    """D(img, c) -> scores [N, 1]; conditional models return the score of the given label."""

    def __init__(self, c_dim: int, img_resolution: int, img_channels: int, channel_base: int = 16384,
                 channel_max: int = 512, channels: dict | None = None, fused_scale="auto", blur_filter=(1, 2, 1),
                 mbstd_group_size: int = 4, mbstd_num_features: int = 1, activation: str = "lrelu",
                 progressive: bool = True, dense_features: int | None = None):
        if activation not in ACTIVATIONS:
            raise InputError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
        super().__init__()
        self.c_dim = c_dim
        self.img_resolution = img_resolution
        self.img_resolution_log2 = int(np.log2(img_resolution))
        self.img_channels = img_channels
        self.architecture = "progressive" if progressive else "orig"
        # Channels at resolution r are those of the layers working at r (TF nf(log2(r) - 1)).
        self.channels = channels_table(img_resolution, channel_base, channel_max, channels)
        dense_features = dense_features if dense_features is not None else min(channel_base // 2, channel_max)
        self.block_resolutions = [2 ** i for i in range(self.img_resolution_log2, 2, -1)]
        for res in self.block_resolutions:
            fused = res >= 128 if fused_scale == "auto" else bool(fused_scale)
            setattr(self, f"b{res}", DiscriminatorBlock(
                self.channels[res], self.channels[res // 2], res, img_channels, fused,
                has_fromrgb=progressive or res == img_resolution, blur_filter=blur_filter, activation=activation))
        self.b4 = DiscriminatorEpilogue(self.channels[4], dense_features, max(c_dim, 1), img_channels,
                                        has_fromrgb=progressive or img_resolution == 4,
                                        mbstd_group_size=mbstd_group_size, mbstd_num_features=mbstd_num_features,
                                        activation=activation)
        self.register_buffer("lod", torch.zeros([]))
        self.config = jsonable(dict(c_dim=c_dim, img_resolution=img_resolution, img_channels=img_channels,
                                    channels=self.channels, fused_scale=fused_scale,
                                    blur_filter=list(blur_filter) if blur_filter else None,
                                    mbstd_group_size=mbstd_group_size, mbstd_num_features=mbstd_num_features,
                                    activation=activation, progressive=progressive, dense_features=dense_features))

    def forward(self, img: torch.Tensor, c: torch.Tensor | None = None, **_ignored) -> torch.Tensor:
        """Score images [N, C, R, R] (labels c [N, c_dim] for conditional models)."""
        if img.ndim != 4 or img.shape[1:] != (self.img_channels, self.img_resolution, self.img_resolution):
            raise InputError(f"images must have shape [N, {self.img_channels}, {self.img_resolution}, "
                             f"{self.img_resolution}], got {tuple(img.shape)}")
        if self.c_dim > 0 and (c is None or c.ndim != 2 or c.shape[1] != self.c_dim):
            raise InputError(f"this discriminator is conditional: c must have shape [N, {self.c_dim}]")
        img = img.to(torch.float32)
        lod = float(self.lod) if self.architecture == "progressive" else 0.0
        # Progressive growing: start at the resolution `lod` levels below the top, blending in the next.
        start_log2 = self.img_resolution_log2 - min(int(np.floor(max(lod, 0))), self.img_resolution_log2 - 2)
        blend = lod - (self.img_resolution_log2 - start_log2)
        start = 2 ** start_log2
        block = getattr(self, f"b{start}")
        x = activate(block.fromrgb(downscale2d(img, self.img_resolution // start)), block.activation)
        for res in [r for r in self.block_resolutions if r <= start]:
            x = getattr(self, f"b{res}")(x)
            if res == start and blend > 0:
                low = getattr(self, f"b{res // 2}")
                y = activate(low.fromrgb(downscale2d(img, 2 * self.img_resolution // start)), low.activation)
                x = x + (y - x) * blend
        x = self.b4(x)
        if self.c_dim > 0:
            x = (x * c.to(torch.float32)).sum(dim=1, keepdim=True)
        return x

    def extra_repr(self) -> str:
        return (f"c_dim={self.c_dim}, img_resolution={self.img_resolution}, img_channels={self.img_channels}, "
                f"lod={float(self.lod):g}")
