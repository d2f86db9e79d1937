"""FIR filtering with integer up/down-sampling (upfirdn2d), written with depthwise convolutions.

Semantics (per channel): insert up-1 zeros after each pixel, pad (negative = crop), convolve with the
filter `f` keeping only outputs whose footprint lies inside the padded image, keep every down-th pixel.
Up-sampling uses a transposed convolution, so the zero-inserted image is never materialised, and
down-sampling uses a strided convolution, so discarded pixels are never computed.
"""
from __future__ import annotations

from typing import Sequence, Union

import numpy as np
import torch
import torch.nn.functional as F

Padding = Union[int, Sequence[int]]
Scaling = Union[int, Sequence[int]]


def parse_scaling(s: Scaling) -> tuple[int, int]:
    """Return (sx, sy) from an int or an [x, y] pair."""
    sx, sy = (s, s) if isinstance(s, (int, np.integer)) else s
    if int(sx) < 1 or int(sy) < 1:
        raise ValueError(f"scaling factors must be >= 1, got {s}")
    return int(sx), int(sy)


def parse_padding(p: Padding) -> tuple[int, int, int, int]:
    """Return (x0, x1, y0, y1) from an int, an [x, y] pair, or an [x0, x1, y0, y1] list."""
    if isinstance(p, (int, np.integer)):
        p = [p, p]
    p = [int(v) for v in p]
    if len(p) == 2:
        p = [p[0], p[0], p[1], p[1]]
    if len(p) != 4:
        raise ValueError(f"padding must have 1, 2 or 4 values, got {p}")
    return p[0], p[1], p[2], p[3]


def filter_size(f: torch.Tensor | None) -> tuple[int, int]:
    """Return (width, height) of a 1-D (separable) or 2-D filter; (1, 1) for None."""
    if f is None:
        return 1, 1
    return int(f.shape[-1]), int(f.shape[0])


def setup_filter(
    f,
    device: torch.device | str = "cpu",
    normalize: bool = True,
    flip_filter: bool = False,
    gain: float = 1,
    separable: bool | None = None,
) -> torch.Tensor:
    """Make a float32 FIR filter from taps: 1-D taps become a 2-D outer product unless `separable`.

    By default 1-D filters of 8 or more taps stay separable. `normalize` gives unit DC gain, and `gain`
    scales the overall signal magnitude.
    """
    f = torch.as_tensor(1 if f is None else f, dtype=torch.float32)
    if f.ndim == 0:
        f = f[None]
    if f.ndim not in (1, 2) or f.numel() == 0:
        raise ValueError(f"filter must be a non-empty 1-D or 2-D array, got shape {tuple(f.shape)}")
    if separable is None:
        separable = f.ndim == 1 and f.numel() >= 8
    if f.ndim == 1 and not separable:
        f = torch.outer(f, f)
    if normalize:
        f = f / f.sum()
    if flip_filter:
        f = f.flip(list(range(f.ndim)))
    f = f * (gain ** (f.ndim / 2))
    return f.to(device=device)


def pad_or_crop(x: torch.Tensor, left: int, right: int, top: int, bottom: int) -> torch.Tensor:
    """Zero-pad (positive) or crop (negative) the last two dims; crops are views, not copies."""
    x = x[:, :, max(-top, 0):x.shape[2] - max(-bottom, 0), max(-left, 0):x.shape[3] - max(-right, 0)]
    if left > 0 or right > 0 or top > 0 or bottom > 0:
        x = F.pad(x, [max(left, 0), max(right, 0), max(top, 0), max(bottom, 0)])
    return x


class _FixedDepthwise(torch.autograd.Function):
    """A depthwise (transposed) convolution with a constant filter, whose backward is the adjoint operation
    written the same way. Autograd's generic double backward of a grouped convolution loops over the groups
    (one small convolution per channel); a linear map whose gradient is again such a map needs none of that,
    so the path-length and R1 penalties differentiate the FIR filters at the cost of the filters themselves."""

    @staticmethod
    def forward(ctx, x, w, stride, padding, transpose, output_padding):
        w = w.to(x.dtype)  # the backward pass sees gradients in the forward's (possibly autocast) dtype
        ctx.save_for_backward(w)
        ctx.config = (stride, padding, transpose, tuple(x.shape[2:]))
        if transpose:
            return F.conv_transpose2d(x, w, stride=stride, padding=padding, output_padding=output_padding,
                                      groups=x.shape[1])
        return F.conv2d(x, w, stride=stride, padding=padding, groups=x.shape[1])

    @staticmethod
    def backward(ctx, grad):
        (w,) = ctx.saved_tensors
        stride, padding, transpose, size = ctx.config
        if transpose:
            return _FixedDepthwise.apply(grad, w, stride, padding, False, (0, 0)), None, None, None, None, None
        extra = tuple(size[i] - ((grad.shape[2 + i] - 1) * stride[i] - 2 * padding[i] + w.shape[2 + i])
                      for i in range(2))
        return _FixedDepthwise.apply(grad, w, stride, padding, True, extra), None, None, None, None, None


def _depthwise(x: torch.Tensor, w: torch.Tensor, stride: tuple[int, int], padding: tuple[int, int],
               transpose: bool = False) -> torch.Tensor:
    """Depthwise convolution (or transposed convolution) of x [N, C, H, W] with w [C, 1, kh, kw]."""
    if w.requires_grad or not (torch.is_grad_enabled() and x.requires_grad):  # inference and export: plain ops
        if transpose:
            return F.conv_transpose2d(x, w, stride=stride, padding=padding, groups=x.shape[1])
        return F.conv2d(x, w, stride=stride, padding=padding, groups=x.shape[1])
    return _FixedDepthwise.apply(x, w, stride, padding, transpose, (0, 0))


def _fir(x: torch.Tensor, k: torch.Tensor, up: tuple[int, int], down: tuple[int, int],
         pad: tuple[int, int, int, int], flip_filter: bool) -> torch.Tensor:
    """upfirdn2d with a 2-D kernel k [kh, kw] (already scaled by the gain)."""
    channels = x.shape[1]
    kh, kw = k.shape
    (ux, uy), (dx, dy), (px0, px1, py0, py1) = up, down, pad
    if ux == 1 and uy == 1:
        # Correlation with the flipped filter == convolution with the filter.
        w = k if flip_filter else k.flip([0, 1])
        w = w[None, None].expand(channels, 1, kh, kw).contiguous()
        if px0 == px1 >= 0 and py0 == py1 >= 0:
            return _depthwise(x, w, (dy, dx), (py0, px0))
        return _depthwise(pad_or_crop(x, px0, px1, py0, py1), w, (dy, dx), (0, 0))
    # A transposed convolution is zero insertion followed by a full convolution with the filter;
    # the result is then shifted/cropped to the requested padding. The symmetric part of the crop is
    # left to the transposed convolution itself, so those pixels are never computed.
    w = k.flip([0, 1]) if flip_filter else k
    w = w[None, None].expand(channels, 1, kh, kw).contiguous()
    left, right, top, bottom = px0 - (kw - 1), px1 + ux - kw, py0 - (kh - 1), py1 + uy - kh
    cx, cy = max(min(-left, -right), 0), max(min(-top, -bottom), 0)
    x = _depthwise(x, w, (uy, ux), (cy, cx), transpose=True)
    x = pad_or_crop(x, left + cx, right + cx, top + cy, bottom + cy)
    if dx > 1 or dy > 1:
        x = x[:, :, ::dy, ::dx]
    return x


def upfirdn2d(
    x: torch.Tensor,
    f: torch.Tensor | None,
    up: Scaling = 1,
    down: Scaling = 1,
    padding: Padding = 0,
    flip_filter: bool = False,
    gain: float = 1,
) -> torch.Tensor:
    """Upsample (zero insertion), pad, FIR-filter and downsample a batch of images [N, C, H, W].

    `f` is a 2-D filter [fh, fw], a 1-D separable filter [taps], or None (identity); `padding` is relative
    to the upsampled image; `flip_filter=True` means correlation instead of convolution.
    """
    if x.ndim != 4:
        raise ValueError(f"upfirdn2d expects [N, C, H, W], got shape {tuple(x.shape)}")
    up, down, pad = parse_scaling(up), parse_scaling(down), parse_padding(padding)
    if f is None:
        f = torch.ones([1, 1], dtype=torch.float32, device=x.device)
    f = (f * (gain ** (f.ndim / 2))).to(x.dtype)
    if f.ndim == 2:
        return _fir(x, f, up, down, pad, flip_filter)
    # Separable: filter along x, then along y.
    x = _fir(x, f[None, :], (up[0], 1), (down[0], 1), (pad[0], pad[1], 0, 0), flip_filter)
    return _fir(x, f[:, None], (1, up[1]), (1, down[1]), (0, 0, pad[2], pad[3]), flip_filter)


def filter2d(x: torch.Tensor, f: torch.Tensor | None, padding: Padding = 0, flip_filter: bool = False,
             gain: float = 1) -> torch.Tensor:
    """Filter images with `f`, padded so the output has the input's size (plus `padding`)."""
    px0, px1, py0, py1 = parse_padding(padding)
    fw, fh = filter_size(f)
    p = [px0 + fw // 2, px1 + (fw - 1) // 2, py0 + fh // 2, py1 + (fh - 1) // 2]
    return upfirdn2d(x, f, padding=p, flip_filter=flip_filter, gain=gain)


def upsample2d(x: torch.Tensor, f: torch.Tensor | None, up: Scaling = 2, padding: Padding = 0,
               flip_filter: bool = False, gain: float = 1) -> torch.Tensor:
    """Upsample images by `up` with the FIR filter `f`; the output is exactly `up` times larger."""
    ux, uy = parse_scaling(up)
    px0, px1, py0, py1 = parse_padding(padding)
    fw, fh = filter_size(f)
    p = [px0 + (fw + ux - 1) // 2, px1 + (fw - ux) // 2, py0 + (fh + uy - 1) // 2, py1 + (fh - uy) // 2]
    return upfirdn2d(x, f, up=(ux, uy), padding=p, flip_filter=flip_filter, gain=gain * ux * uy)


def downsample2d(x: torch.Tensor, f: torch.Tensor | None, down: Scaling = 2, padding: Padding = 0,
                 flip_filter: bool = False, gain: float = 1) -> torch.Tensor:
    """Downsample images by `down` with the FIR filter `f`; the output is exactly `down` times smaller."""
    dx, dy = parse_scaling(down)
    px0, px1, py0, py1 = parse_padding(padding)
    fw, fh = filter_size(f)
    p = [px0 + (fw - dx + 1) // 2, px1 + (fw - dx) // 2, py0 + (fh - dy + 1) // 2, py1 + (fh - dy) // 2]
    return upfirdn2d(x, f, down=(dx, dy), padding=p, flip_filter=flip_filter, gain=gain)
