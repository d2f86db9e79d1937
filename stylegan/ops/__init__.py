"""Differentiable building blocks in plain PyTorch (no compiled extension), with their plain reference forms."""
from .bias_act import bias_act, default_gain
from .layers import Conv2dLayer, FullyConnectedLayer
from .modulated_conv import modulated_conv2d, normalized_modulated_conv2d
from .resample_conv import conv2d_resample
from .upfirdn2d import downsample2d, filter2d, setup_filter, upfirdn2d, upsample2d

__all__ = [
    "bias_act", "default_gain", "conv2d_resample", "modulated_conv2d", "normalized_modulated_conv2d", "Conv2dLayer",
    "FullyConnectedLayer",
    "downsample2d", "filter2d", "setup_filter", "upfirdn2d", "upsample2d",
]
