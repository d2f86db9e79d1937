"""Straightforward reference formulations of the ops, written for clarity, computed in float64.

They follow the textbook definitions (zero insertion, explicit padding, full 2-D convolution,
per-sample loops) so that the fast implementations can be checked against them.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def upfirdn2d_ref(x, f, up=1, down=1, padding=(0, 0, 0, 0), flip_filter=False, gain=1.0):
    """Zero insertion, pad/crop, full 2-D convolution with f, keep every down-th pixel."""
    x = x.double()
    n, c, h, w = x.shape
    f = torch.ones(1, 1, dtype=torch.float64) if f is None else f.double()
    f = f * gain ** (f.ndim / 2)
    if f.ndim == 1:
        f = torch.outer(f, f)
    u = torch.zeros(n, c, h * up, w * up, dtype=torch.float64)
    u[:, :, ::up, ::up] = x
    px0, px1, py0, py1 = padding
    u = F.pad(u, [max(px0, 0), max(px1, 0), max(py0, 0), max(py1, 0)])
    u = u[:, :, max(-py0, 0):u.shape[2] - max(-py1, 0), max(-px0, 0):u.shape[3] - max(-px1, 0)]
    k = f if flip_filter else f.flip([0, 1])
    y = F.conv2d(u, k[None, None].repeat(c, 1, 1, 1), groups=c)
    return y[:, :, ::down, ::down]


def filtered_lrelu_ref(x, fu, fd, b, up, down, padding, gain, slope, clamp):
    """Bias, upsample (gain up^2), leaky ReLU, gain, clamp, downsample."""
    x = x.double()
    if b is not None:
        x = x + b.double().reshape(1, -1, 1, 1)
    x = upfirdn2d_ref(x, fu, up=up, padding=padding, gain=up ** 2)
    x = torch.where(x >= 0, x, x * slope) * gain
    if clamp is not None:
        x = x.clamp(-clamp, clamp)
    return upfirdn2d_ref(x, fd, down=down)


def conv2d_resample_ref(x, w, f, up=1, down=1, padding=0, groups=1, flip_weight=True):
    """Upsample with the filter (zero insertion + FIR), convolve, then FIR-downsample."""
    x, w = x.double(), w.double()
    kh, kw = w.shape[2:]
    fh = fw = 1 if f is None else f.shape[-1]
    px0 = px1 = py0 = py1 = padding
    if up > 1:
        px0, px1 = px0 + (fw + up - 1) // 2, px1 + (fw - up) // 2
        py0, py1 = py0 + (fh + up - 1) // 2, py1 + (fh - up) // 2
    if down > 1:
        px0, px1 = px0 + (fw - down + 1) // 2, px1 + (fw - down) // 2
        py0, py1 = py0 + (fh - down + 1) // 2, py1 + (fh - down) // 2
    x = upfirdn2d_ref(x, f if up > 1 else None, up=up, padding=(px0, px1, py0, py1), gain=up ** 2)
    x = F.conv2d(x, w if flip_weight else w.flip([2, 3]), groups=groups)
    if down > 1:
        x = upfirdn2d_ref(x, f, down=down)
    return x


def modulated_conv2d_ref(x, weight, styles, noise=None, up=1, padding=0, f=None, demodulate=True,
                         flip_weight=True):
    """One sample at a time: scale the weights by the styles, normalise each output filter, convolve."""
    outs = []
    for i in range(x.shape[0]):
        w = weight.double() * styles[i].double().reshape(1, -1, 1, 1)
        if demodulate:
            w = w / torch.sqrt(w.square().sum(dim=[1, 2, 3], keepdim=True) + 1e-8)
        outs.append(conv2d_resample_ref(x[i:i + 1], w, f, up=up, padding=padding, flip_weight=flip_weight))
    y = torch.cat(outs)
    return y + noise.double() if noise is not None else y


def np_lrelu(x: np.ndarray, slope: float = 0.2) -> np.ndarray:
    """Leaky ReLU in numpy."""
    return np.where(x >= 0, x, slope * x)
