"""StyleGAN3's filtered leaky ReLU: bias, FIR upsample, leaky ReLU (gain, clamp), FIR downsample.

The nonlinearity runs at a higher sampling rate between a low-pass upsampling and a low-pass
downsampling filter so that it introduces no aliasing. Both resampling steps run through `upfirdn2d`,
which upsamples with transposed convolutions and downsamples with strided convolutions: the
zero-stuffed image is never built and the discarded pixels are never computed, and separable
(Kaiser) filters run as two 1-D passes. That is the whole speed-up over the plain formulation.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .upfirdn2d import Padding, filter_size, parse_padding, upfirdn2d


def filtered_lrelu(
    x: torch.Tensor,
    fu: torch.Tensor | None = None,
    fd: torch.Tensor | None = None,
    b: torch.Tensor | None = None,
    up: int = 1,
    down: int = 1,
    padding: Padding = 0,
    gain: float = float(np.sqrt(2)),
    slope: float = 0.2,
    clamp: float | None = None,
    flip_filter: bool = False,
) -> torch.Tensor:
    """Add bias b, upsample by `up` with fu (padding relative to the upsampled image), apply
    leaky ReLU with `slope`, multiply by `gain`, clamp to +-clamp, then filter with fd and keep every
    down-th pixel. Output size: (in * up + pad_total - (fu_taps - 1) - (fd_taps - 1) + down - 1) // down.
    """
    if x.ndim != 4:
        raise ValueError(f"filtered_lrelu expects [N, C, H, W], got shape {tuple(x.shape)}")
    px0, px1, py0, py1 = parse_padding(padding)
    fu_w, fu_h = filter_size(fu)
    if x.shape[3] * up + px0 + px1 < fu_w or x.shape[2] * up + py0 + py1 < fu_h:
        raise ValueError("filtered_lrelu: the padded, upsampled input is smaller than the upsampling filter")
    if b is not None:
        x = x + b.to(x.dtype).reshape(1, -1, 1, 1)
    # leaky_relu(v) * gain == leaky_relu(v * gain) for gain > 0, so the gain rides on the upsampling
    # filter's taps and the activation and clamp run in place on the upsampled tensor.
    x = upfirdn2d(x, fu, up=up, padding=[px0, px1, py0, py1], gain=up ** 2 * gain, flip_filter=flip_filter)
    tracked = torch.is_grad_enabled() and x.requires_grad
    if slope != 1:
        x = F.leaky_relu(x, slope) if tracked else F.leaky_relu_(x, slope)
    if clamp is not None:
        x = x.clamp(-clamp, clamp) if tracked else x.clamp_(-clamp, clamp)
    return upfirdn2d(x, fd, down=down, flip_filter=flip_filter)
