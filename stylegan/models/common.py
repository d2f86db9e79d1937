"""Small helpers shared by the network definitions."""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..errors import InputError


def check_ws(ws: torch.Tensor, num_ws: int, w_dim: int) -> torch.Tensor:
    """Return ws if it has shape [N, num_ws, w_dim], else raise an InputError that says what was expected."""
    if not isinstance(ws, torch.Tensor) or ws.ndim != 3 or ws.shape[1] != num_ws or ws.shape[2] != w_dim:
        got = tuple(ws.shape) if isinstance(ws, torch.Tensor) else type(ws).__name__
        raise InputError(f"ws must have shape [N, {num_ws}, {w_dim}] for this network, got {got}")
    return ws


def computes_in_fp16(layer_fp16: bool, force_fp32: bool | None, device: torch.device) -> bool:
    """Whether a layer built for float16 (`layer_fp16`) computes in float16: never with force_fp32=True,
    on any device with force_fp32=False, and by default (None) only on CUDA, where float16 is fast."""
    if not layer_fp16 or force_fp32:
        return False
    return force_fp32 is not None or device.type == "cuda"


def jsonable(obj: Any) -> Any:
    """Convert numpy scalars/arrays, tuples and int-keyed dicts into plain JSON-compatible values."""
    if isinstance(obj, dict):
        return {str(k) if not isinstance(k, str) else k: jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, torch.Tensor):
        return jsonable(obj.tolist())
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"cannot store {type(obj).__name__} in a model config")
