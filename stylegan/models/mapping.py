"""The mapping network z (+ class label c) -> w, with the tracked average w_avg, and truncation."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..errors import InputError
from ..ops import FullyConnectedLayer, default_gain

LATENT_NORMS = ("rms", "l2", None)


def normalize_2nd_moment(x: torch.Tensor, dim: int = 1, eps: float = 1e-8) -> torch.Tensor:
    """Scale each row of x to unit root-mean-square."""
    return x * (x.square().mean(dim=dim, keepdim=True) + eps).rsqrt()


def truncate(ws: torch.Tensor, w_avg: torch.Tensor, psi: float, cutoff: int | None = None) -> torch.Tensor:
    """Move rows [:cutoff] of ws [N, num_ws, w_dim] toward w_avg: w_avg.lerp(w, psi), as the official code.

    psi=1 keeps ws, psi=0 gives w_avg, negative psi walks past the average to the 'opposite' image;
    cutoff None truncates every row.
    """
    out = ws.clone()
    rows = slice(None) if cutoff is None else slice(0, cutoff)
    out[:, rows] = w_avg.to(ws.device).lerp(ws[:, rows], psi)
    return out


class MappingNetwork(nn.Module):
    """An MLP from normalised z (and a label c) to w, broadcast to num_ws rows.

    Shared by StyleGAN2 (8 layers by default) and StyleGAN3 (2 layers); the discriminator reuses it with
    z_dim=0 to embed labels. `w_avg` tracks the mean of w with decay `w_avg_beta` during training.
    StyleGAN1 differs in three options: `label_concat` (the label mapped by plain weights to
    `embed_features` values and concatenated to z before one normalisation, TF 'LabelConcat', instead of
    an embedding normalised on its own), `gain_in_weights` (the activation's gain applied to the
    weights, the activation without gain) and `latent_norm` ('rms'; 'l2' for MMGeneration's
    x / (||x|| / sqrt(C) + 1e-6); None for no normalisation).
    """

    def __init__(self, z_dim: int, c_dim: int, w_dim: int, num_ws: int | None, num_layers: int = 8,
                 embed_features: int | None = None, layer_features: int | None = None,
                 activation: str = "lrelu", lr_multiplier: float = 0.01, w_avg_beta: float | None = 0.998,
                 latent_norm: str | None = "rms", label_concat: bool = False, gain_in_weights: bool = False):
        if latent_norm not in LATENT_NORMS:
            raise InputError(f"latent_norm must be one of {LATENT_NORMS}, got {latent_norm!r}")
        super().__init__()
        self.z_dim = z_dim
        self.c_dim = c_dim
        self.w_dim = w_dim
        self.num_ws = num_ws
        self.num_layers = num_layers
        self.activation = activation
        self.w_avg_beta = w_avg_beta
        self.latent_norm = latent_norm
        self.label_concat = label_concat
        self.gain_in_weights = gain_in_weights
        embed_features = (w_dim if embed_features is None else embed_features) if c_dim > 0 else 0
        layer_features = w_dim if layer_features is None else layer_features
        features = [z_dim + embed_features] + [layer_features] * (num_layers - 1) + [w_dim]
        if c_dim > 0:
            self.embed = (nn.Linear(c_dim, embed_features, bias=False) if label_concat
                          else FullyConnectedLayer(c_dim, embed_features))
        gain, act_gain = (default_gain(activation), 1.0) if gain_in_weights else (1.0, None)
        for idx in range(num_layers):
            layer = FullyConnectedLayer(features[idx], features[idx + 1], activation=activation,
                                        lr_multiplier=lr_multiplier, gain=gain, act_gain=act_gain)
            setattr(self, f"fc{idx}", layer)
        if num_ws is not None and w_avg_beta is not None:
            self.register_buffer("w_avg", torch.zeros([w_dim]))

    def _normalize(self, x: torch.Tensor) -> torch.Tensor:
        if self.latent_norm == "rms":
            return normalize_2nd_moment(x)
        if self.latent_norm == "l2":
            return x / (x.norm(dim=1, keepdim=True) / np.sqrt(x.shape[1]) + 1e-6)
        return x

    def forward(self, z: torch.Tensor | None, c: torch.Tensor | None, truncation_psi: float = 1,
                truncation_cutoff: int | None = None, update_emas: bool = False) -> torch.Tensor:
        """Map z [N, z_dim] and c [N, c_dim] to ws [N, num_ws, w_dim], truncated toward w_avg by psi.

        `truncation_cutoff` limits truncation to the first that many ws (None = all).
        """
        parts = []
        if self.z_dim > 0:
            if z is None or z.ndim != 2 or z.shape[1] != self.z_dim:
                got = None if z is None else tuple(z.shape)
                raise InputError(f"z must have shape [N, {self.z_dim}], got {got}")
            parts.append(z.to(torch.float32))
        if self.c_dim > 0:
            if c is None or c.ndim != 2 or c.shape[1] != self.c_dim:
                got = None if c is None else tuple(c.shape)
                raise InputError(f"this network is conditional: c must be a one-hot label of shape "
                                 f"[N, {self.c_dim}], got {got}")
            parts.append(self.embed(c.to(torch.float32)))
        if self.label_concat:
            x = self._normalize(torch.cat(parts, dim=1) if len(parts) > 1 else parts[0])
        else:
            parts = [self._normalize(p) for p in parts]
            x = torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]
        for idx in range(self.num_layers):
            x = getattr(self, f"fc{idx}")(x)
        if update_emas and self.w_avg_beta is not None:
            self.w_avg.copy_(x.detach().mean(dim=0).lerp(self.w_avg, self.w_avg_beta))
        if self.num_ws is not None:
            x = x.unsqueeze(1).repeat([1, self.num_ws, 1])
        if truncation_psi != 1:
            if self.num_ws is None or self.w_avg_beta is None:
                raise InputError("this mapping network tracks no w_avg, so it cannot truncate")
            x = truncate(x, self.w_avg, truncation_psi, truncation_cutoff)
        return x

    def extra_repr(self) -> str:
        return (f"z_dim={self.z_dim}, c_dim={self.c_dim}, w_dim={self.w_dim}, num_ws={self.num_ws}, "
                f"activation={self.activation}")
