"""`stylegan demo`: the main StyleGAN results from one network in a minute, as images and an index.html.

Figures: a 4x4 sample grid, style mixing (coarse / middle / fine), stochastic variation with its std-dev
map, a truncation sweep from psi -1 to 1.5, an interpolation GIF, and the projection of a face from
`builtin:toonfaces` that is not among the demo model's training images (pivotal tuning: the pivot found in W,
then the generator tuned around it).
"""
from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn

from ..data import toonfaces
from ..errors import InputError
from ..io.files import atomic_path
from ..io.images import make_grid, save_png
from ..io.video import write_video
from ..latent.generate import render
from ..latent.projection import project, psnr
from ..latent.space import seeds_to_ws
from ..models.common import style_ranges
from . import DEMO_PROJECTION_STEPS as PROJECTION_STEPS
from . import DEMO_TUNE_LR as TUNE_LR
from . import DEMO_TUNE_STEPS as TUNE_STEPS
from . import figures, video

PSI = 0.7
SAMPLE_SEEDS = list(range(16))
MIX_ROWS, MIX_COLS = [20, 21, 22], [30, 31, 32, 33]
TRUNCATION_PSIS = (-1.0, -0.5, 0.0, 0.5, 0.7, 1.0, 1.5)
WALK_SEEDS = [40, 41, 42, 43, 44]
FILES = ("samples.png", "style-mixing.png", "noise.png", "truncation.png", "interpolation.gif", "projection.png",
         "index.html")
PROJECTION_TARGET = 99_999  # a face the demo model was not trained on (it saw the first 30,000)


@dataclass(frozen=True)
class Figure:
    """One output: its file name, title and the one-line explanation shown in index.html."""
    file: str
    title: str
    caption: str


def run_demo(G: nn.Module, outdir: str | Path, projection_steps: int = PROJECTION_STEPS,
             log: Callable[[str], None] = print, tune_steps: int = TUNE_STEPS) -> list[Path]:
    """Write every demo figure and index.html into `outdir`; returns the paths written, index.html last."""
    if G.c_dim > 0:
        raise InputError("the demo shows unconditional networks; this one needs class labels (use the other verbs "
                         "with --class)")
    if projection_steps < 1 or tune_steps < 1:
        raise InputError(f"the projection needs at least 1 step of each phase, got {projection_steps} projection "
                         f"and {tune_steps} tuning steps")
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    G = G.eval().requires_grad_(False)
    made: list[Figure] = []

    def done(figure: Figure) -> None:
        made.append(figure)
        log(str(out / figure.file))

    with torch.no_grad():
        ws = seeds_to_ws(G, SAMPLE_SEEDS, PSI)
        save_png(make_grid(render(G, ws), 4), out / "samples.png")
        done(Figure("samples.png", "Samples", f"Seeds 0-15 at truncation psi {PSI}: each seed is a new face."))

        ranges = style_ranges(G)
        rows, cols = seeds_to_ws(G, MIX_ROWS, PSI), seeds_to_ws(G, MIX_COLS, PSI)
        layer_sets = [(name, ranges[name]) for name in ("coarse", "middle", "fine") if ranges[name]]
        save_png(figures.style_mixing(G, rows, cols, layer_sets, [str(s) for s in MIX_ROWS],
                                      [str(s) for s in MIX_COLS]), out / "style-mixing.png")
        done(Figure("style-mixing.png", "Style mixing",
                    "Each cell is the row's face with the column's styles in some layers. In the papers' face "
                    "models coarse layers carry head shape, pose and hair outline, middle ones the features, "
                    "fine ones the colours; each model splits them its own way."))

        if G.synthesis.noise_layers():
            fig = figures.stochastic_variation(G, seeds_to_ws(G, [7], PSI), num_samples=4, std_samples=32)
            save_png(fig["samples"], out / "noise.png")
            done(Figure("noise.png", "Stochastic variation",
                        "One face with four draws of the per-layer noise (zoomed below) and the per-pixel "
                        "standard deviation over 32 draws: noise moves small details only."))

        untruncated = seeds_to_ws(G, [50, 51, 52], 1.0)
        save_png(figures.truncation_sweep(G, untruncated, TRUNCATION_PSIS, ["50", "51", "52"]),
                 out / "truncation.png")
        done(Figure("truncation.png", "Truncation",
                    "Psi from -1 to 1.5: 0 is the average face, 1 the face as drawn, negative values the "
                    "'opposite' face, values above 1 exaggerate."))

        walk = video.walk_ws(G, WALK_SEEDS, frames_per_step=12, loop=True, truncation_psi=PSI)
        write_video(video.walk_frames(G, [walk]), out / "interpolation.gif", fps=12, total=len(walk))
        done(Figure("interpolation.gif", "Interpolation",
                    "A smooth loop through seeds 40-44 in W: every frame in between is a face too."))

    target = toonfaces.toonface(PROJECTION_TARGET, G.img_resolution)
    if G.img_channels == 1:
        target = target.mean(axis=2, keepdims=True).round().astype(np.uint8)
    result = project(G, target[None], method="pti", loss="pixel", num_steps=projection_steps,
                     tune_steps=tune_steps, tune_lr=TUNE_LR, progress=True)
    with torch.no_grad():
        pivot = render(G, result.ws, noise=result.noise)[0]
        projected = render(result.G, result.ws, noise=result.noise)[0]
    found, quality = psnr(target, pivot), psnr(target, projected)
    save_png(figures.labeled_grid([[target, pivot, projected]], None,
                                  ["target", f"in W {found:.1f} dB", f"tuned {quality:.1f} dB"]),
             out / "projection.png")
    done(Figure("projection.png", "Projection",
                f"A built-in face the model never saw, found in W by {projection_steps} steps of gradient "
                f"descent on the pixel loss (PSNR {found:.1f} dB), then the generator tuned around that w for "
                f"{tune_steps} steps (pivotal tuning: PSNR {quality:.1f} dB)."))

    with atomic_path(out / "index.html") as tmp:
        Path(tmp).write_text(_index_html(made), encoding="utf-8")
    log(str(out / "index.html"))
    return [out / f.file for f in made] + [out / "index.html"]


def _index_html(made: list[Figure]) -> str:
    sections = "\n".join(
        f'<section><h2>{html.escape(f.title)}</h2><p>{html.escape(f.caption)}</p>'
        f'<img src="{html.escape(f.file)}" alt="{html.escape(f.title)}"></section>' for f in made)
    return ("<!doctype html><html><head><meta charset=\"utf-8\"><title>StyleGAN demo</title><style>"
            "body{font-family:sans-serif;max-width:60em;margin:2em auto;padding:0 1em}"
            "img{image-rendering:pixelated;max-width:100%;min-width:24em}</style></head><body>"
            f"<h1>StyleGAN demo</h1>\n{sections}\n</body></html>\n")
