"""Plain, slow formulations of the ops in float64, written from their textbook definitions (zero insertion,
full convolutions, per-sample loops): the fast ops are tested against them."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def upfirdn2d_ref(x: torch.Tensor, f: torch.Tensor | None, up: int = 1, down: int = 1, padding=(0, 0, 0, 0),
                  flip_filter: bool = False, gain: float = 1.0) -> torch.Tensor:
    """Zero insertion, pad/crop (x0, x1, y0, y1), full 2-D convolution with f, keep every down-th pixel."""
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


def filtered_lrelu_ref(x: torch.Tensor, fu: torch.Tensor | None, fd: torch.Tensor | None, b: torch.Tensor | None,
                       up: int, down: int, padding, gain: float, slope: float, clamp: float | None) -> torch.Tensor:
    """Bias, upsample (gain up^2), leaky ReLU, gain, clamp, downsample."""
    x = x.double()
    if b is not None:
        x = x + b.double().reshape(1, -1, 1, 1)
    x = upfirdn2d_ref(x, fu, up=up, padding=padding, gain=up ** 2)
    x = torch.where(x >= 0, x, x * slope) * gain
    if clamp is not None:
        x = x.clamp(-clamp, clamp)
    return upfirdn2d_ref(x, fd, down=down)


def conv2d_resample_ref(x: torch.Tensor, w: torch.Tensor, f: torch.Tensor | None, up: int = 1, down: int = 1,
                        padding: int = 0, groups: int = 1, flip_weight: bool = True) -> torch.Tensor:
    """Resampling convolution as one chain of full convolutions on the zero-extended image, then a crop.

    Chain: zero insertion and the FIR filter (gain up^2) when up > 1; the kernel w; the FIR filter when
    down > 1. Each full convolution delays its output by the taps before its centre, so the kept window
    starts at the sum of the delays: a filter of n taps applied after zero insertion by `up` centres on
    the inserted samples' pixel centres (delay floor((n - up) / 2)); before keeping every down-th pixel it
    centres on each kept pixel's footprint (delay floor((n + down - 2) / 2)); `padding` p pixels around
    the up-sampled image shift the kernel's delay to k - 1 - p. The output has (up*H + 2p - k + 1) // down
    rows (likewise columns).
    """
    x, w = x.double(), w.double()
    kh, kw = w.shape[2:]
    n = 1 if f is None else f.shape[-1]
    rows = (up * x.shape[2] + 2 * padding - kh + 1) // down
    cols = (up * x.shape[3] + 2 * padding - kw + 1) // down
    delay_h, delay_w = kh - 1 - padding, kw - 1 - padding
    if up > 1:
        x = upfirdn2d_ref(x, f, up=up, padding=[n - 1] * 4, gain=up ** 2)
        delay_h, delay_w = delay_h + (n - up) // 2, delay_w + (n - up) // 2
    x = F.conv2d(F.pad(x, [kw - 1, kw - 1, kh - 1, kh - 1]), w if flip_weight else w.flip([2, 3]), groups=groups)
    if down > 1:
        x = upfirdn2d_ref(x, f, padding=[n - 1] * 4)
        delay_h, delay_w = delay_h + (n + down - 2) // 2, delay_w + (n + down - 2) // 2
    return x[:, :, delay_h::down, delay_w::down][:, :, :rows, :cols]


def modulated_conv2d_ref(x: torch.Tensor, weight: torch.Tensor, styles: torch.Tensor,
                         noise: torch.Tensor | None = None, up: int = 1, padding: int = 0,
                         f: torch.Tensor | None = None, demodulate: bool = True,
                         flip_weight: bool = True) -> torch.Tensor:
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
