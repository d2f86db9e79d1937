"""Modulated convolutions: per-sample styles scale the input channels of a shared weight, optionally
demodulated. `modulated_conv2d` is StyleGAN2's (with FIR up/down-sampling); `normalized_modulated_conv2d`
StyleGAN3's (RMS-normalised weights and styles, an input gain, the bias inside the convolution)."""
from __future__ import annotations

import numpy as np
import torch

from .conv import conv2d
from .resample_conv import conv2d_resample
from .upfirdn2d import Padding


def modulated_conv2d(x: torch.Tensor, weight: torch.Tensor, styles: torch.Tensor, noise: torch.Tensor | None = None,
                     up: int = 1, down: int = 1, padding: Padding = 0, resample_filter: torch.Tensor | None = None,
                     demodulate: bool = True, flip_weight: bool = True, fused_modconv: bool = True,
                     gain: float = 1) -> torch.Tensor:
    """StyleGAN2 modulated convolution: scale input channels by `styles` [N, I], convolve, demodulate.

    The fused path folds the per-sample styles into the weights and runs one grouped convolution; the
    non-fused path scales the activations before and after one shared convolution (faster for large
    batches and for training). Both give the same result up to float rounding. `gain` scales the demodulated
    result at no extra pass (a layer folds a ReLU-like activation's gain into it); `noise` is added after.
    """
    batch = x.shape[0]
    out_channels, in_channels, kh, kw = weight.shape
    if styles.shape != (batch, in_channels):
        raise ValueError(f"styles must be [{batch}, {in_channels}], got {tuple(styles.shape)}")

    if x.dtype == torch.float16 and demodulate:
        # Pre-normalise so that the float16 computation cannot overflow.
        weight = weight * (1 / np.sqrt(in_channels * kh * kw) / weight.norm(float("inf"), dim=[1, 2, 3], keepdim=True))
        styles = styles / styles.norm(float("inf"), dim=1, keepdim=True)

    if not fused_modconv:
        # sum_{i,k} (w[o,i,k] s[n,i])^2 == (s^2 @ sum_k w^2) without building per-sample weights.
        if demodulate:
            dcoefs = (styles.square() @ weight.square().sum(dim=[2, 3]).t() + 1e-8).rsqrt() * gain  # [N, O]
        elif gain != 1:
            styles = styles * gain
        x = x * styles.to(x.dtype).reshape(batch, -1, 1, 1)
        x = conv2d_resample(x, weight.to(x.dtype), f=resample_filter, up=up, down=down, padding=padding,
                            flip_weight=flip_weight)
        if demodulate and noise is not None:
            return (x * dcoefs.to(x.dtype).reshape(batch, -1, 1, 1)).add_(noise.to(x.dtype))
        if demodulate:
            return x * dcoefs.to(x.dtype).reshape(batch, -1, 1, 1)
        if noise is not None:
            return x.add_(noise.to(x.dtype))
        return x

    w = weight.unsqueeze(0) * styles.reshape(batch, 1, -1, 1, 1)  # [N, O, I, kh, kw]
    if demodulate:
        w = w * ((w.square().sum(dim=[2, 3, 4]) + 1e-8).rsqrt() * gain).reshape(batch, -1, 1, 1, 1)
    elif gain != 1:
        w = w * gain
    x = x.reshape(1, -1, *x.shape[2:])
    w = w.reshape(-1, in_channels, kh, kw)
    x = conv2d_resample(x, w.to(x.dtype), f=resample_filter, up=up, down=down, padding=padding, groups=batch,
                        flip_weight=flip_weight)
    x = x.reshape(batch, -1, *x.shape[2:])
    if noise is not None:
        x = x.add_(noise)
    return x


def normalized_modulated_conv2d(x: torch.Tensor, w: torch.Tensor, s: torch.Tensor, demodulate: bool = True,
                                padding: Padding = 0, input_gain: torch.Tensor | None = None,
                                bias: torch.Tensor | None = None, fused: bool = True) -> torch.Tensor:
    """Modulated convolution on RMS-normalised weights and styles (StyleGAN3's layers), where
    `input_gain` ([], [I] or [N, I]) scales the input channels (the inverse input magnitude).
    `bias` [O] is added to the output inside the convolution. `fused=False` scales the activations before
    and after one shared convolution instead of building per-sample weights (same result up to float
    rounding; its graph does not depend on the batch size, which exporters need)."""
    batch = x.shape[0]
    out_channels, in_channels, kh, kw = w.shape
    if s.shape != (batch, in_channels):
        raise ValueError(f"styles must be [{batch}, {in_channels}], got {tuple(s.shape)}")
    if demodulate:
        w = w * w.square().mean([1, 2, 3], keepdim=True).rsqrt()
        s = s * s.square().mean().rsqrt()
    if bias is not None:
        bias = bias.to(x.dtype)
    if not fused:
        if x.dtype == torch.float16 and demodulate:
            w = w * (1 / np.sqrt(in_channels * kh * kw))  # keeps the convolution's output in float16 range
        scale = s if input_gain is None else s * input_gain.expand(batch, in_channels)
        x = conv2d(x * scale.to(x.dtype).reshape(batch, -1, 1, 1), w.to(x.dtype), padding=padding)
        if demodulate:
            dcoefs = (s.square() @ w.square().sum(dim=[2, 3]).t() + 1e-8).rsqrt()  # [N, O]
            x = x * dcoefs.to(x.dtype).reshape(batch, -1, 1, 1)
        return x if bias is None else x + bias.reshape(1, -1, 1, 1)
    w = w.unsqueeze(0) * s.unsqueeze(1).unsqueeze(3).unsqueeze(4)  # [N, O, I, kh, kw]
    if demodulate:
        w = w * (w.square().sum(dim=[2, 3, 4]) + 1e-8).rsqrt().reshape(batch, -1, 1, 1, 1)
    if input_gain is not None:
        w = w * input_gain.expand(batch, in_channels).reshape(batch, 1, -1, 1, 1)
    if batch == 1:  # a plain convolution; keeps the input's memory format
        return conv2d(x, w[0].to(x.dtype), bias, padding=padding)
    x = x.reshape(1, -1, *x.shape[2:])
    x = conv2d(x, w.reshape(-1, in_channels, kh, kw).to(x.dtype), None if bias is None else bias.repeat(batch),
               padding=padding, groups=batch)
    return x.reshape(batch, -1, *x.shape[2:])
