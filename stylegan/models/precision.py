"""Inference speed options: reduced precision in the mixed-precision layers, and torch.compile.

Networks mark their highest-resolution layers for reduced precision (the official `num_fp16_res`).
`precision` decides what those layers compute in:
  'official'  the official behaviour: float16 on CUDA, float32 elsewhere (a loaded network's default);
  'fp32'      float32 everywhere (the official CPU arithmetic: the same pixels as the official code);
  'fp16'      float16, on any device;
  'bf16'      bfloat16, on any device (fast on CPUs with AMX/AVX512-BF16 and on recent GPUs);
  'auto'      (`configure` only, the command line's default) the fastest of these on this machine whose
              output stays within a stated bound of float32's, measured once and cached (`autoprecision`).
"""
from __future__ import annotations

import functools

import torch
from torch import nn

from ..errors import InputError
from . import PRECISIONS

_REDUCED = {"fp16": torch.float16, "bf16": torch.bfloat16}


def layer_dtype(reduced_ok: bool, precision: str, device: torch.device, force_fp32: bool = False) -> torch.dtype:
    """The dtype a layer runs in: float32 unless it is marked for reduced precision and the policy allows."""
    if force_fp32 or not reduced_ok or precision == "fp32":
        return torch.float32
    if precision in ("official", "auto"):
        return torch.float16 if device.type == "cuda" else torch.float32
    return _REDUCED[precision]


def activation_format(device: torch.device, dtype: torch.dtype, channels_last: bool) -> torch.memory_format:
    """The memory format of a block's activations, in every network: channels-last on the CPU (oneDNN's
    fastest layout for these convolutions and filters) and where a block asks for it in reduced precision
    (the official fp16_channels_last); contiguous otherwise. Either changes results only at float rounding."""
    if device.type == "cpu" or (channels_last and dtype != torch.float32):
        return torch.channels_last
    return torch.contiguous_format


def modconv_fused(requested: bool | str | None, default: bool | str, device: torch.device, training: bool) -> bool:
    """Whether modulated convolutions fold the styles into per-sample weights (fused) or scale the activations
    around one shared convolution: `requested` when a bool; None: the network's `default` on CUDA, non-fused
    on the CPU (faster there); 'inference_only': fused unless training. Both agree up to float rounding."""
    if requested is None:
        requested = False if device.type == "cpu" else default
    if requested == "inference_only":
        return not training
    return bool(requested)


def configure(G: nn.Module, precision: str = "auto", compile: bool = False, batch: int = 1) -> nn.Module:
    """Set G's synthesis precision policy ('auto': measured for `batch` images per call, see `autoprecision`)
    and optionally compile its forward pass (torch.compile caches one graph per input shape). Returns G."""
    if precision not in PRECISIONS:
        raise InputError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision == "auto":
        from .autoprecision import choose
        precision = choose(G, batch).precision
    G.synthesis.precision = precision
    if compile:
        if not hasattr(torch, "compile"):
            raise InputError("--compile needs PyTorch 2 or newer")
        # The compiled function takes the module as an argument (a partial, not a bound method), so that a
        # deepcopy of G runs its own weights: deepcopy copies the partial's module along with the network.
        compiled = torch.compile(type(G.synthesis).forward, dynamic=False)
        G.synthesis.forward = functools.partial(compiled, G.synthesis)
    return G
