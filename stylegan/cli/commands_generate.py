"""`stylegan generate`, `stylegan info` and `stylegan convert`."""
from __future__ import annotations

import warnings
from pathlib import Path

import click
import numpy as np

from .. import formats
from ..errors import StyleGANError
from ..generate import generate_for_seeds, set_input_transform
from ..info import describe
from ..io import make_grid, save_png
from ..latent import parse_seeds
from .common import cli, parse_grid, parse_vec2, resolve_device, user_errors


CONFIG_HELP = "MMGeneration checkpoints: their config file or model-zoo config name (colour order, StyleGAN3 layers)"


@cli.command()
@click.option("--network", "network", required=True,
              help="Checkpoint: NVIDIA .pkl (PyTorch or TF era), rosinality .pt, MMGeneration .pth or native "
                   ".safetensors")
@click.option("--seeds", required=True, help="Seeds, e.g. 0-3,7")
@click.option("--trunc", "truncation_psi", type=float, default=1.0, show_default=True, help="Truncation psi")
@click.option("--trunc-cutoff", "truncation_cutoff", type=int, default=None, help="Truncate only the first N ws")
@click.option("--class", "class_idx", type=int, default=None, help="Class label for conditional networks")
@click.option("--noise-mode", type=click.Choice(["const", "random", "none"]), default="const", show_default=True)
@click.option("--translate", default="0,0", show_default=True, help="StyleGAN3: translate X,Y")
@click.option("--rotate", type=float, default=0.0, show_default=True, help="StyleGAN3: rotate, degrees")
@click.option("--outdir", type=click.Path(file_okay=False), default="out", show_default=True)
@click.option("--grid", default=None, help="Also write grid.png with COLSxROWS images, e.g. 4x2")
@click.option("--batch", "batch_size", type=int, default=4, show_default=True, help="Images per forward pass")
@click.option("--device", default="auto", show_default=True, help="cpu, cuda, cuda:N or auto")
@click.option("--config", default=None, help=CONFIG_HELP)
@user_errors
def generate(network: str, seeds: str, truncation_psi: float, truncation_cutoff: int | None,
             class_idx: int | None, noise_mode: str, translate: str, rotate: float, outdir: str,
             grid: str | None, batch_size: int, device: str, config: str | None) -> None:
    """Generate images from seeds (seedNNNN.png), as the official gen_images.py does."""
    seed_list = parse_seeds(seeds)
    if not seed_list:
        raise StyleGANError("--seeds is empty")
    grid_shape = parse_grid(grid)
    if grid_shape and len(seed_list) > grid_shape[0] * grid_shape[1]:
        raise StyleGANError(f"--grid {grid} holds {grid_shape[0] * grid_shape[1]} images but "
                            f"{len(seed_list)} seeds were given")
    G = formats.load(network, device=resolve_device(device), config=config)
    psi, cutoff = getattr(G, "default_truncation", (1.0, None))
    if psi != 1 and truncation_psi == 1:
        click.echo(f"note: this network's home code truncates by default (psi {psi:g} on the first {cutoff} ws); "
                   f"add --trunc {psi:g} --trunc-cutoff {cutoff} to get its published images", err=True)
    set_input_transform(G, parse_vec2(translate), rotate)
    out = Path(outdir)
    images = []
    for seed, img in generate_for_seeds(G, seed_list, truncation_psi, truncation_cutoff, class_idx, noise_mode,
                                        batch_size):
        path = out / f"seed{seed:04d}.png"
        save_png(img, path)
        click.echo(str(path))
        if grid_shape:
            images.append(img)
    if grid_shape:
        save_png(make_grid(np.stack(images), *grid_shape), out / "grid.png")
        click.echo(str(out / "grid.png"))


@cli.command()
@click.option("--network", "network", required=True, help="Checkpoint to describe")
@click.option("--config", default=None, help=CONFIG_HELP)
@user_errors
def info(network: str, config: str | None) -> None:
    """Describe a checkpoint: format, networks, resolution, dims, style layers, parameters."""
    click.echo(describe(network, config=config))


@cli.command()
@click.argument("src")
@click.argument("dst")
@click.option("--to", "to", type=click.Choice(["native", "rosinality"]), default="native", show_default=True,
              help="Format to write: native .safetensors, or a rosinality/stylegan2-pytorch .pt")
@click.option("--config", default=None, help=CONFIG_HELP)
@user_errors
def convert(src: str, dst: str, to: str, config: str | None) -> None:
    """Convert a checkpoint SRC (any supported format) to DST in the native or rosinality format."""
    nets = formats.load_networks(src, config=config)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        written = formats.export(nets, dst, to=to, extra={"converted_from": Path(src).name})
    for warning in caught:
        click.echo(f"warning: {warning.message}", err=True)
    click.echo(f"{dst}: {', '.join(written)}")
