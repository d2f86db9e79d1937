"""Bias, activation, gain and clamp in one call: the epilogue of every StyleGAN layer."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

# name -> (function, default alpha, default gain)
ACTIVATIONS = {
    "linear": (lambda x, alpha: x, 0.0, 1.0),
    "relu": (lambda x, alpha: F.relu(x), 0.0, math.sqrt(2)),
    "lrelu": (lambda x, alpha: F.leaky_relu(x, alpha), 0.2, math.sqrt(2)),
    "tanh": (lambda x, alpha: torch.tanh(x), 0.0, 1.0),
    "sigmoid": (lambda x, alpha: torch.sigmoid(x), 0.0, 1.0),
    "elu": (lambda x, alpha: F.elu(x), 0.0, 1.0),
    "selu": (lambda x, alpha: F.selu(x), 0.0, 1.0),
    "softplus": (lambda x, alpha: F.softplus(x), 0.0, 1.0),
    "swish": (lambda x, alpha: torch.sigmoid(x) * x, 0.0, math.sqrt(2)),
}


def default_gain(act: str) -> float:
    """The gain that keeps activations at unit variance for `act` (sqrt(2) for ReLU-like)."""
    return ACTIVATIONS[act][2]


def bias_act(
    x: torch.Tensor,
    b: torch.Tensor | None = None,
    dim: int = 1,
    act: str = "linear",
    alpha: float | None = None,
    gain: float | None = None,
    clamp: float | None = None,
) -> torch.Tensor:
    """Return clamp(act(x + b) * gain): bias along `dim`, activation, gain, optional clamp to +-clamp."""
    if act not in ACTIVATIONS:
        raise ValueError(f"unknown activation {act!r}; choose one of {sorted(ACTIVATIONS)}")
    func, def_alpha, def_gain = ACTIVATIONS[act]
    alpha = def_alpha if alpha is None else float(alpha)
    gain = def_gain if gain is None else float(gain)
    # In-place updates are safe only on tensors this function created and autograd does not track.
    tracked = torch.is_grad_enabled() and (x.requires_grad or (b is not None and b.requires_grad))
    owned = False
    if b is not None:
        x = x + b.reshape([-1 if i == dim else 1 for i in range(x.ndim)])
        owned = True
    if act == "lrelu" and owned and not tracked:
        x = F.leaky_relu_(x, alpha)
    elif act != "linear":
        x = func(x, alpha)
        owned = True
    if gain != 1:
        x = x.mul_(gain) if owned and not tracked else x * gain
        owned = True
    if clamp is not None and clamp >= 0:
        x = x.clamp_(-clamp, clamp) if owned and not tracked else x.clamp(-clamp, clamp)
    return x
