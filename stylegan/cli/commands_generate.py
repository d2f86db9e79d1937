"""`stylegan generate`, `stylegan info` and `stylegan convert`."""
from __future__ import annotations

from pathlib import Path

import click
import numpy as np

from .. import formats
from ..errors import StyleGANError
from ..generate import generate_for_seeds, render
from ..info import describe
from ..io import make_grid, save_png
from ..latent import load_ws, parse_seeds
from .common import cli, generator_options, load_generator, parse_grid, user_errors


@cli.command()
@generator_options
@click.option("--seeds", default=None, help="Seeds, e.g. 0-3,7")
@click.option("--projected-w", "projected_w", default=None, type=click.Path(dir_okay=False),
              help="Render stored ws (.npz key 'w' or .npy) instead of seeds")
@click.option("--outdir", type=click.Path(file_okay=False), default="out", show_default=True)
@click.option("--grid", default=None, help="Also write grid.png with COLSxROWS images, e.g. 4x2")
@click.option("--batch", "batch_size", type=int, default=4, show_default=True, help="Images per forward pass")
@user_errors
def generate(network: str, truncation_psi: float, truncation_cutoff: int | None, class_idx: int | None,
             noise_mode: str, translate: str, rotate: float, device: str, seeds: str | None,
             projected_w: str | None, outdir: str, grid: str | None, batch_size: int) -> None:
    """Generate images from seeds (seedNNNN.png), as the official gen_images.py does, or from ws files."""
    if (seeds is None) == (projected_w is None):
        raise StyleGANError("give either --seeds or --projected-w")
    seed_list = parse_seeds(seeds) if seeds is not None else []
    if seeds is not None and not seed_list:
        raise StyleGANError("--seeds is empty")
    grid_shape = parse_grid(grid)
    G = load_generator(network, device, translate, rotate)
    out = Path(outdir)
    ws = load_ws(projected_w, G) if projected_w is not None else None
    count = len(ws) if ws is not None else len(seed_list)
    if grid_shape and count > grid_shape[0] * grid_shape[1]:
        raise StyleGANError(f"--grid {grid} holds {grid_shape[0] * grid_shape[1]} images but {count} were asked for")
    if ws is not None:
        results = zip([f"proj{i:02d}.png" for i in range(len(ws))], render(G, ws, noise_mode, batch_size=batch_size))
    else:
        results = ((f"seed{seed:04d}.png", img) for seed, img in generate_for_seeds(
            G, seed_list, truncation_psi, truncation_cutoff, class_idx, noise_mode, batch_size))
    images = []
    for name, img in results:
        save_png(img, out / name)
        click.echo(str(out / name))
        images.append(img)
    if grid_shape:
        save_png(make_grid(np.stack(images), *grid_shape), out / "grid.png")
        click.echo(str(out / "grid.png"))


@cli.command()
@click.option("--network", "network", required=True, help="Checkpoint to describe")
@user_errors
def info(network: str) -> None:
    """Describe a checkpoint: format, networks, resolution, dims, style layers, parameters."""
    click.echo(describe(network))


@cli.command()
@click.argument("src")
@click.argument("dst")
@user_errors
def convert(src: str, dst: str) -> None:
    """Convert a checkpoint SRC (any supported format) to the native format DST (.safetensors)."""
    nets = formats.load_networks(src)
    formats.save(nets, dst, extra={"converted_from": Path(src).name})
    click.echo(f"{dst}: {', '.join(nets)}")
