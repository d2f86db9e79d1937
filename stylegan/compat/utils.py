"""Small helpers with the names and behaviour of those that scripts in the wild import: MMGeneration's
(mmcv, torchvision) and the notebook helpers of popular StyleGAN forks."""
from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import PIL.Image
import torch

from ..io.files import atomic_path
from ..io.latents import load_ws as read_ws
from ..models.mapping import truncate


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


def get_w_from_seed(G: torch.nn.Module, device: torch.device | str, seed: int,
                    truncation_psi: float = 1.0) -> torch.Tensor:
    """ws [1, num_ws, w_dim] for a seed (official z convention), moved toward w_avg by psi in every row,
    as the helper of the same name in popular notebooks."""
    z = torch.from_numpy(np.random.RandomState(seed).randn(1, G.z_dim)).to(device)
    return truncate(G.mapping(z, None), G.mapping.w_avg, truncation_psi)


def w_to_img(G: torch.nn.Module, ws: torch.Tensor, noise_mode: str = "const") -> np.ndarray:
    """uint8 images [N, H, W, C] for ws [N, num_ws, w_dim] (or one [num_ws, w_dim]), converted as the
    notebook helper of the same name does: (x + 1) * 127.5, clamped, truncated to integers."""
    if ws.ndim == 2:
        ws = ws.unsqueeze(0)
    with torch.no_grad():
        img = G.synthesis(ws, noise_mode=noise_mode)
    return ((img + 1) * 255 / 2).permute(0, 2, 3, 1).clamp(0, 255).to(torch.uint8).cpu().numpy()


def load_ws(path: str | Path, G: torch.nn.Module, device: torch.device | str | None = None,
            truncation_psi: float = 1.0) -> torch.Tensor:
    """ws from a .npy/.npz file (key 'w'), checked against G, on `device`, moved toward w_avg by psi."""
    return truncate(read_ws(path, G, device), G.mapping.w_avg, truncation_psi)


__all__ = ["mkdir_or_exist", "make_grid", "save_image", "get_w_from_seed", "w_to_img", "load_ws"]
