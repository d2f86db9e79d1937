"""Image resizing as TensorFlow 1.x's `resize_bilinear` did it, which the official metric networks use."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def resize_tf1(x: torch.Tensor, size: int) -> torch.Tensor:
    """Bilinear resize of [N, C, H, W] to [N, C, size, size], sampling output pixel j at input position
    j * H / size (no half-pixel offset) and repeating the last row/column past the border.

    Written as an affine grid sample with a shifted grid, the formulation of the official TorchScript
    Inception network, so the two agree to float rounding.
    """
    n, c, h, w = x.shape
    one = torch.ones([], dtype=torch.float32)
    theta = torch.zeros([2, 3], dtype=torch.float32)
    theta[0, 0] = theta[1, 1] = 1
    theta[0, 2] = one / w - one / size
    theta[1, 2] = one / h - one / size
    theta = theta.to(device=x.device, dtype=x.dtype).unsqueeze(0).repeat([n, 1, 1])
    grid = F.affine_grid(theta, [n, c, size, size], align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
