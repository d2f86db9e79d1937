"""Small helpers with the names and behaviour of those MMGeneration scripts import (mmcv, torchvision)."""
from __future__ import annotations

import math
import os
from pathlib import Path

import PIL.Image
import torch

from .io import atomic_path


def mkdir_or_exist(dir_name: str | Path, mode: int = 0o777) -> None:
    """Create a folder and its parents unless it exists (an empty name is the current folder)."""
    if str(dir_name) == "":
        return
    os.makedirs(os.path.expanduser(str(dir_name)), mode=mode, exist_ok=True)


def make_grid(tensor: torch.Tensor, nrow: int = 8, padding: int = 2, normalize: bool = False,
              value_range: tuple[float, float] | None = None, scale_each: bool = False,
              pad_value: float = 0.0) -> torch.Tensor:
    """Tile images [N, C, H, W] into one [C, H', W'] image, `nrow` per row, as torchvision's make_grid.

    A single image comes back unpadded; grayscale images become 3 channels; with `normalize`, values are
    mapped from `value_range` (default: the tensor's min and max, per image with `scale_each`) to [0, 1].
    """
    if tensor.ndim == 2:
        tensor = tensor.unsqueeze(0)
    if tensor.ndim == 3:
        tensor = tensor.unsqueeze(0)
    if tensor.ndim != 4:
        raise ValueError(f"images must have shape [N, C, H, W], got {tuple(tensor.shape)}")
    tensor = tensor.detach().to(torch.float32).clone()
    if tensor.shape[1] == 1:
        tensor = tensor.repeat(1, 3, 1, 1)
    if normalize:
        for img in (tensor if scale_each else [tensor]):
            low, high = value_range if value_range is not None else (float(img.min()), float(img.max()))
            img.clamp_(min=low, max=high).sub_(low).div_(max(high - low, 1e-5))
    n, c, h, w = tensor.shape
    if n == 1:
        return tensor[0]
    cols = min(nrow, n)
    rows = int(math.ceil(n / cols))
    cell_h, cell_w = h + padding, w + padding
    grid = tensor.new_full((c, cell_h * rows + padding, cell_w * cols + padding), pad_value)
    for i in range(n):
        y, x = divmod(i, cols)
        top, left = y * cell_h + padding, x * cell_w + padding
        grid[:, top:top + h, left:left + w] = tensor[i]
    return grid


def save_image(tensor: torch.Tensor, fp: str | Path, nrow: int = 8, padding: int = 2, normalize: bool = False,
               value_range: tuple[float, float] | None = None, scale_each: bool = False, pad_value: float = 0.0,
               format: str | None = None) -> None:
    """Write images [N, C, H, W] with values in [0, 1] as one grid image file, as torchvision's save_image.

    The file type follows `format` or the file name's suffix; the file is written atomically.
    """
    grid = make_grid(tensor, nrow=nrow, padding=padding, normalize=normalize, value_range=value_range,
                     scale_each=scale_each, pad_value=pad_value)
    array = grid.mul(255).add_(0.5).clamp_(0, 255).permute(1, 2, 0).to("cpu", torch.uint8).numpy()
    image = PIL.Image.fromarray(array)
    kind = format or PIL.Image.registered_extensions().get(Path(fp).suffix.lower())
    if kind is None:
        raise ValueError(f"cannot tell the image format of {fp}; give format='PNG' or a known suffix")
    with atomic_path(fp) as tmp:
        image.save(tmp, format=kind)
