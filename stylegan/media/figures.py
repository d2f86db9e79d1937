"""The paper figures as uint8 images: style mixing, stochastic variation, noise in layers, truncation,
per-layer swaps. Each returns an [H, W, C] array ready for `io.save_png`."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import PIL.Image
import PIL.ImageDraw
import PIL.ImageFont
import torch
from torch import nn

from ..latent.generate import render
from ..latent.space import blend, check_truncation, mix
from ..models.mapping import truncate
from ..models.noise import noise_modes, random_noise

LABEL_HEIGHT = 14
MIN_CELL = 96  # pixels; smaller images are enlarged (nearest neighbour) in labelled figures
MAX_SCALE = 4  # cells are enlarged at most this much to fit their column label; longer labels are shortened


def _font() -> PIL.ImageFont.ImageFont:
    return PIL.ImageFont.load_default()


def _fit(text: str, width: int) -> str:
    """`text`, shortened with an ellipsis when it is wider than `width` pixels."""
    font = _font()
    if font.getlength(text) <= width:
        return text
    while text and font.getlength(text + "...") > width:
        text = text[:-1]
    return text + "..."


def _as_rgb(img: np.ndarray) -> np.ndarray:
    return np.repeat(img, 3, axis=2) if img.shape[2] == 1 else img


def labeled_grid(cells: Sequence[Sequence[np.ndarray | None]], row_labels: Sequence[str] | None = None,
                 col_labels: Sequence[str] | None = None, title: str | None = None) -> np.ndarray:
    """Tile images (rows of cells; None = blank) with optional labels left of rows, above columns and a title."""
    sample = next(c for row in cells for c in row if c is not None)
    widest = max((_font().getlength(t) + 4 for t in col_labels), default=0) if col_labels else 0
    fit = min(MAX_SCALE, -(-int(widest) // sample.shape[1]))
    scale = max(1, MIN_CELL // sample.shape[0], fit)  # enlarge small images so that labels fit
    if scale > 1:
        cells = [[None if c is None else _as_rgb(c).repeat(scale, 0).repeat(scale, 1) for c in row] for row in cells]
        sample = next(c for row in cells for c in row if c is not None)
    h, w = sample.shape[:2]
    rows, cols = len(cells), max(len(r) for r in cells)
    left = max((int(_font().getlength(t)) for t in row_labels), default=0) + 6 if row_labels else 0
    top = (LABEL_HEIGHT if col_labels else 0) + (LABEL_HEIGHT if title else 0)
    canvas = PIL.Image.new("RGB", (left + cols * w, top + rows * h), "white")
    draw = PIL.ImageDraw.Draw(canvas)
    if title:
        draw.text((2, 1), title, fill="black", font=_font())
    if col_labels:
        for j, text in enumerate(col_labels):
            draw.text((left + j * w + 2, top - LABEL_HEIGHT + 1), _fit(text, w - 4), fill="black", font=_font())
    for i, row in enumerate(cells):
        if row_labels:
            draw.text((2, top + i * h + max(h // 2 - 6, 0)), row_labels[i], fill="black", font=_font())
        for j, cell in enumerate(row):
            if cell is not None:
                canvas.paste(PIL.Image.fromarray(_as_rgb(cell)), (left + j * w, top + i * h))
    return np.asarray(canvas)


def stack_vertically(images: Sequence[np.ndarray], gap: int = 4) -> np.ndarray:
    """Stack images of possibly different widths top to bottom on a white background."""
    width = max(im.shape[1] for im in images)
    height = sum(im.shape[0] for im in images) + gap * (len(images) - 1)
    canvas = np.full([height, width, 3], 255, np.uint8)
    y = 0
    for im in images:
        canvas[y:y + im.shape[0], :im.shape[1]] = _as_rgb(im)
        y += im.shape[0] + gap
    return canvas


def style_mixing(G: nn.Module, row_ws: torch.Tensor, col_ws: torch.Tensor,
                 layer_sets: Sequence[tuple[str, Sequence[int]]], row_labels: Sequence[str],
                 col_labels: Sequence[str], noise_mode="const", weight: float = 1.0) -> np.ndarray:
    """The style-mixing figure: top row = sources B (columns), left column = sources A (rows), each cell =
    A with B's styles in the given layers (weight < 1 blends instead of replacing); one block per
    (name, layers) entry, stacked vertically."""
    rows_img, cols_img = render(G, row_ws, noise_mode), render(G, col_ws, noise_mode)
    blocks = []
    for name, layers in layer_sets:
        mixed = blend(row_ws.repeat_interleave(len(col_ws), 0), col_ws.repeat(len(row_ws), 1, 1), layers, weight)
        cells_img = render(G, mixed, noise_mode).reshape(len(row_ws), len(col_ws), *rows_img.shape[1:])
        cells = [[None] + list(cols_img)] + [[rows_img[i]] + list(cells_img[i]) for i in range(len(row_ws))]
        blocks.append(labeled_grid(cells, ["B", *row_labels], ["A", *col_labels],
                                   title=f"{name}: ws {_span(layers)} from B" + ("" if weight == 1 else
                                                                                 f" (weight {weight:g})")))
    return stack_vertically(blocks)


def _span(layers: Sequence[int]) -> str:
    layers = list(layers)
    if not layers:
        return "none"
    if layers == list(range(layers[0], layers[-1] + 1)):
        return f"{layers[0]}-{layers[-1]}" if len(layers) > 1 else str(layers[0])
    return ",".join(map(str, layers))


def truncation_sweep(G: nn.Module, ws: torch.Tensor, psis: Sequence[float], row_labels: Sequence[str],
                     cutoff: int | None = None, noise_mode="const") -> np.ndarray:
    """Rows = latents (untruncated ws), columns = psi values; psi 0 is the average image in every row."""
    for psi in psis:
        check_truncation(G, psi, cutoff)
    w_avg = G.mapping.w_avg
    batch = torch.cat([truncate(ws, w_avg, psi, cutoff) for psi in psis])  # psi-major
    images = render(G, batch, noise_mode).reshape(len(psis), len(ws), G.img_resolution, G.img_resolution, -1)
    cells = [[images[p, i] for p in range(len(psis))] for i in range(len(ws))]
    return labeled_grid(cells, row_labels, [f"psi {psi:g}" for psi in psis])


def stochastic_variation(G: nn.Module, ws: torch.Tensor, num_samples: int = 4, std_samples: int = 100,
                         noise_seed: int = 0, crop: float = 0.5) -> dict[str, np.ndarray]:
    """For one w: `num_samples` renderings with different noise, the same zoomed centre crop of each, and the
    per-pixel standard deviation over `std_samples` noise draws (white = most affected by noise)."""
    generator = torch.Generator().manual_seed(noise_seed)
    w = ws[:1].expand(max(num_samples, std_samples), -1, -1)
    samples = render(G, w[:num_samples], noise=random_noise(G, num_samples, generator))
    std_images = render(G, w[:std_samples], noise=random_noise(G, std_samples, generator)).astype(np.float64)
    std = std_images.std(axis=0).mean(axis=2)
    std_map = (255 * std / max(std.max(), 1e-8)).round().astype(np.uint8)[:, :, None]
    size = G.img_resolution
    c = int(size * crop)
    lo = (size - c) // 2
    zoom = [np.asarray(PIL.Image.fromarray(_as_rgb(s[lo:lo + c, lo:lo + c])).resize((size, size),
                                                                                    PIL.Image.NEAREST))
            for s in samples]
    grid = labeled_grid([list(samples), zoom + [std_map]], None,
                        [f"noise {i}" for i in range(num_samples)] + ["std dev"])
    return {"samples": grid, "std": std_map}


def noise_in_layers(G: nn.Module, ws: torch.Tensor, noise_seed: int = 0) -> np.ndarray:
    """The paper's noise figure for each latent: noise in all layers, in none, in the fine layers only
    (64² and up) and in the coarse and middle layers only (4²-32²), all with the same noise draw."""
    layers = G.synthesis.noise_layers()
    fine = [i for i, layer in enumerate(layers) if layer.resolution >= 64]
    below = [i for i, layer in enumerate(layers) if layer.resolution < 64]
    settings = [("all", noise_modes(G, range(len(layers)), "random", "none")),
                ("none", ["none"] * len(layers)),
                ("fine only (64²+)", noise_modes(G, fine, "random", "none")),
                ("4²-32² only", noise_modes(G, below, "random", "none"))]
    rows = []
    for i in range(len(ws)):
        noise = random_noise(G, 1, torch.Generator().manual_seed(noise_seed))
        row = []
        for _, modes in settings:
            per_layer = [n if m == "random" else None for n, m in zip(noise, modes)]
            row.append(render(G, ws[i:i + 1], noise_mode=modes, noise=per_layer)[0])
        rows.append(row)
    return labeled_grid(rows, None, [name for name, _ in settings])


def layer_swaps(G: nn.Module, ws_a: torch.Tensor, ws_b: torch.Tensor, noise_mode="const") -> np.ndarray:
    """A strip: A, B, then for each ws row i, A with only row i taken from B (labelled with i and the
    resolution it drives), to find which layers hold which attribute."""
    swapped = torch.cat([mix(ws_a[:1], ws_b[:1], [i]) for i in range(G.num_ws)])
    images = render(G, torch.cat([ws_a[:1], ws_b[:1], swapped]), noise_mode)
    resolutions = G.synthesis.ws_resolutions()
    labels = ["A", "B"] + [f"{i}:{r}" for i, r in enumerate(resolutions)]
    return labeled_grid([list(images)], None, labels)
