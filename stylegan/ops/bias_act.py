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

# act(a * x) == a * act(x) for every a > 0: a layer may fold the gain into its weights and bias.
HOMOGENEOUS = ("linear", "relu", "lrelu")


def foldable_gain(act: str, gain: float) -> float:
    """The part of an activation's output `gain` that a layer can apply before the activation, in its weights
    and bias: all of it for ReLU-like activations (when positive), none (1) otherwise."""
    return gain if act in HOMOGENEOUS and gain > 0 else 1.0


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
    inplace: bool = False,
) -> torch.Tensor:
    """Return clamp(act(x + b) * gain): bias along `dim`, activation, gain, optional clamp to +-clamp.

    `inplace=True` lets the bias, activation and gain overwrite x: for a tensor the caller has just made,
    which nothing else reads and whose producer does not keep it for its gradient."""
    if act not in ACTIVATIONS:
        raise ValueError(f"unknown activation {act!r}; choose one of {sorted(ACTIVATIONS)}")
    func, def_alpha, def_gain = ACTIVATIONS[act]
    alpha = def_alpha if alpha is None else float(alpha)
    gain = def_gain if gain is None else float(gain)
    # In-place updates only touch tensors this function made (or the caller handed over with `inplace`).
    # Autograd keeps an in-place leaky ReLU's result for the gradient, so while it records, that may only
    # be the last step.
    tracked = torch.is_grad_enabled() and (x.requires_grad or (b is not None and b.requires_grad))
    last = gain == 1 and (clamp is None or clamp < 0)
    owned = inplace
    if b is not None:
        b = b.reshape([-1 if i == dim else 1 for i in range(x.ndim)])
        x = x.add_(b) if inplace else x + b
        owned = True
    if act == "lrelu" and owned and (last or not tracked):
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
