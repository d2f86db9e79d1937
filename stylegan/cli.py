"""`stylegan <verb>`: a thin command line over the Python API, with the official tools' flag names."""
from __future__ import annotations

import functools
import sys
import warnings
from pathlib import Path

import click
import numpy as np
import torch

from . import formats
from .errors import StyleGANError
from .generate import generate_for_seeds, set_input_transform
from .info import describe
from .io import make_grid, save_png
from .latent import parse_seeds


def _resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise StyleGANError("--device cuda was asked for, but PyTorch sees no CUDA GPU; use --device cpu")
    try:
        return torch.device(name)
    except RuntimeError:
        raise StyleGANError(f"unknown device {name!r}; use cpu, cuda, cuda:N or auto") from None


def _parse_grid(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    try:
        cols, rows = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise StyleGANError(f"--grid must look like COLSxROWS (e.g. 4x2), got {text!r}") from None
    if cols < 1 or rows < 1:
        raise StyleGANError(f"--grid needs at least one column and one row, got {text!r}")
    return cols, rows


def _parse_vec2(text: str) -> tuple[float, float]:
    try:
        x, y = (float(v) for v in text.split(","))
    except ValueError:
        raise StyleGANError(f"expected two numbers like 0.3,1 but got {text!r}") from None
    return x, y


def _user_errors(func):
    """Report package errors as one-line CLI errors instead of tracebacks."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except StyleGANError as exc:
            raise click.ClickException(str(exc)) from None
    return wrapper


@click.group()
@click.version_option(package_name="stylegan")
def cli() -> None:
    """StyleGAN 1/2/3: load checkpoints safely, generate, and more. Run `stylegan VERB --help`."""


@cli.command()
@click.option("--network", "network", required=True, help="Checkpoint: NVIDIA .pkl or native .safetensors")
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
@_user_errors
def generate(network: str, seeds: str, truncation_psi: float, truncation_cutoff: int | None,
             class_idx: int | None, noise_mode: str, translate: str, rotate: float, outdir: str,
             grid: str | None, batch_size: int, device: str) -> None:
    """Generate images from seeds (seedNNNN.png), as the official gen_images.py does."""
    seed_list = parse_seeds(seeds)
    if not seed_list:
        raise StyleGANError("--seeds is empty")
    grid_shape = _parse_grid(grid)
    if grid_shape and len(seed_list) > grid_shape[0] * grid_shape[1]:
        raise StyleGANError(f"--grid {grid} holds {grid_shape[0] * grid_shape[1]} images but "
                            f"{len(seed_list)} seeds were given")
    G = formats.load(network, device=_resolve_device(device))
    set_input_transform(G, _parse_vec2(translate), rotate)
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
@_user_errors
def info(network: str) -> None:
    """Describe a checkpoint: format, networks, resolution, dims, style layers, parameters."""
    click.echo(describe(network))


@cli.command()
@click.argument("src")
@click.argument("dst")
@_user_errors
def convert(src: str, dst: str) -> None:
    """Convert a checkpoint SRC (any supported format) to the native format DST (.safetensors)."""
    nets = formats.load_networks(src)
    formats.save(nets, dst, extra={"converted_from": Path(src).name})
    click.echo(f"{dst}: {', '.join(nets)}")


def main() -> None:
    """Console entry point: warnings print as one line each, then the command runs."""
    warnings.formatwarning = lambda message, *args, **kwargs: f"warning: {message}\n"
    cli()


if __name__ == "__main__":
    sys.exit(main())
