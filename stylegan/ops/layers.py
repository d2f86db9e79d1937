"""Equalized-learning-rate layers: weights are stored at unit scale and multiplied by their He gain at run time."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .bias_act import bias_act, default_gain, foldable_gain
from .resample_conv import conv2d_resample
from .upfirdn2d import setup_filter


class FullyConnectedLayer(nn.Module):
    """Linear layer with equalized learning rate, an lr multiplier, and a fused activation.

    `gain` multiplies the run-time weight scale and `act_gain` replaces the activation's default gain
    (StyleGAN1 puts the activation's gain into the weights: gain=sqrt(2), act_gain=1).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, activation: str = "linear",
                 lr_multiplier: float = 1.0, weight_init: float = 1.0, bias_init=0.0, gain: float = 1.0,
                 act_gain: float | None = None):
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.activation = activation
        self.act_gain = act_gain
        self.weight = nn.Parameter(torch.randn([out_features, in_features]) * (weight_init / lr_multiplier))
        bias_init = np.broadcast_to(np.asarray(bias_init, dtype=np.float32), [out_features])
        self.bias = nn.Parameter(torch.from_numpy(bias_init / lr_multiplier)) if bias else None
        self.weight_gain = gain * lr_multiplier / np.sqrt(in_features)
        self.bias_gain = lr_multiplier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight.to(x.dtype) * self.weight_gain
        b = self.bias
        if b is not None:
            b = b.to(x.dtype)
            if self.bias_gain != 1:
                b = b * self.bias_gain
        if self.activation == "linear" and b is not None and self.act_gain in (None, 1):
            return torch.addmm(b.unsqueeze(0), x, w.t())
        return bias_act(x.matmul(w.t()), b, act=self.activation, gain=self.act_gain)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, activation={self.activation}"


class Conv2dLayer(nn.Module):
    """Convolution with equalized learning rate, optional FIR up/down-sampling, activation and clamp."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, bias: bool = True,
                 activation: str = "linear", up: int = 1, down: int = 1, resample_filter=(1, 3, 3, 1),
                 conv_clamp: float | None = None, channels_last: bool = False, trainable: bool = True):
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.activation = activation
        self.up = up
        self.down = down
        self.conv_clamp = conv_clamp
        self.register_buffer("resample_filter", setup_filter(list(resample_filter)))
        self.padding = kernel_size // 2
        self.weight_gain = 1 / np.sqrt(in_channels * kernel_size ** 2)
        self.act_gain = default_gain(activation)
        memory_format = torch.channels_last if channels_last else torch.contiguous_format
        weight = torch.randn([out_channels, in_channels, kernel_size, kernel_size]).to(memory_format=memory_format)
        bias_t = torch.zeros([out_channels]) if bias else None
        if trainable:
            self.weight = nn.Parameter(weight)
            self.bias = nn.Parameter(bias_t) if bias_t is not None else None
        else:
            self.register_buffer("weight", weight)
            self.register_buffer("bias", bias_t)

    def forward(self, x: torch.Tensor, gain: float = 1) -> torch.Tensor:
        act_gain = self.act_gain * gain
        fold = foldable_gain(self.activation, act_gain)  # no pass over the activations for it
        w = (self.weight * (self.weight_gain * fold)).to(x.dtype)
        b = (self.bias * fold if fold != 1 else self.bias).to(x.dtype) if self.bias is not None else None
        x = conv2d_resample(x, w, f=self.resample_filter, up=self.up, down=self.down, padding=self.padding,
                            flip_weight=(self.up == 1), bias=b)
        clamp = self.conv_clamp * gain if self.conv_clamp is not None else None
        return bias_act(x, act=self.activation, gain=act_gain / fold, clamp=clamp, inplace=True)

    def extra_repr(self) -> str:
        return (f"in_channels={self.in_channels}, out_channels={self.out_channels}, activation={self.activation}, "
                f"up={self.up}, down={self.down}")
