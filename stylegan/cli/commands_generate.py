"""`stylegan generate`, `stylegan info` and `stylegan convert`."""
from __future__ import annotations

import os
import warnings
from pathlib import Path

import click

from ..errors import StyleGANError
from ..hub.builtin import DEMO
from ..io.outputs import RunRecord, check_outputs, network_identity
from ..latent.seeds import parse_seeds
from .common import (CONFIG_HELP, GeneratorOptions, cli, generator_options, parse_grid, projection_noise,
                     resolve_device, user_errors)


@cli.command()
@generator_options
@click.option("--seeds", default=None, help="Seeds, e.g. 0-3,7")
@click.option("--projected-w", "projected_w", default=None, type=click.Path(dir_okay=False),
              help="Render stored ws (.npz key 'w' or .npy) instead of seeds")
@click.option("--settings", "settings_file", default=None, type=click.Path(dir_okay=False),
              help="Render the image a studio capture's .json describes (its network unless --network is given)")
@click.option("--outdir", type=click.Path(), default="out", show_default=True, help="Folder for the output files")
@click.option("--grid", default=None, help="Also write grid.png with COLSxROWS images, e.g. 4x2")
@click.option("--batch", "batch_size", type=int, default=4, show_default=True, help="Images per forward pass")
@click.option("--format", "out_format", type=click.Choice(["png", "zip"]), default="png", show_default=True,
              help="Loose PNG files, or one zip per process")
@click.option("--overwrite", is_flag=True, help="Make every image anew, even when OUTDIR holds images made with "
              "other settings (they are deleted)")
@user_errors
def generate(gen: GeneratorOptions, seeds: str | None, projected_w: str | None, settings_file: str | None,
             outdir: str, grid: str | None, batch_size: int, out_format: str, overwrite: bool) -> None:
    """Generate images from seeds (seedNNNN.png), as the official gen_images.py does, or from ws files.

    Existing images are kept and skipped, so an interrupted run resumes; the settings are recorded in
    OUTDIR/stylegan-generate.json, and a run with other settings stops (add --overwrite to start anew).
    Under `torchrun --nproc-per-node N` each process renders its share of the seeds (on cuda:LOCAL_RANK
    when GPUs are present) and the files are the same as with one process.
    """
    if sum(v is not None for v in (seeds, projected_w, settings_file)) != 1:
        raise StyleGANError("give either --seeds or --projected-w (or --settings), one of them")
    if settings_file is not None:
        check_outputs(files=[Path(outdir) / f"{Path(settings_file).stem}.png"])
        _generate_from_settings(gen, Path(settings_file), Path(outdir))
        return
    seed_list = parse_seeds(seeds) if seeds is not None else []
    if seeds is not None and not seed_list:
        raise StyleGANError("--seeds is empty")
    if batch_size < 1:
        raise StyleGANError(f"--batch must be at least 1, got {batch_size}")
    grid_shape = parse_grid(grid)
    import torch

    from ..latent.bulk import distributed_env, image_name
    rank, world_size, local_rank = distributed_env()
    if grid_shape and (world_size > 1 or out_format == "zip"):
        raise StyleGANError("--grid needs a single process writing PNG files")
    out = Path(outdir)
    names = [image_name(s) for s in seed_list] if out_format == "png" else []
    check_outputs([out], [os.path.join(outdir, n) for n in names + (["grid.png"] if grid_shape else [])])
    record = None
    if seeds is not None:
        settings = {"network": network_identity(gen.network), "trunc": gen.truncation_psi,
                    "trunc_cutoff": gen.truncation_cutoff, "class": gen.class_idx, "noise_mode": gen.noise_mode,
                    "translate": gen.translate, "rotate": gen.rotate, "precision": gen.precision,
                    "config": gen.config, "format": out_format}
        record = RunRecord(out, "generate", settings, overwrite, ("seed*.png", "images-*-of-*.zip", "grid.png"),
                           delete=rank == 0).check()
    if world_size > 1 and gen.device in ("auto", "cuda") and torch.cuda.is_available():
        gen.device = f"cuda:{local_rank}"
    from ..io.images import make_grid, read_image, save_png
    from ..io.latents import load_ws
    from ..latent.bulk import generate_to_folder
    from ..runtime import keep_freed_memory
    if seeds is not None:
        keep_freed_memory()
    from ..latent.generate import check_truncation, render
    from ..latent.space import class_label
    G = gen.load(batch_size)
    psi, cutoff = getattr(G, "default_truncation", (1.0, None))
    if seeds is not None and psi != 1 and gen.truncation_psi == 1:
        click.echo(f"note: this network's home code truncates by default (psi {psi:g} on the first {cutoff} ws); "
                   f"add --trunc {psi:g} --trunc-cutoff {cutoff} to get its published images", err=True)
    if projected_w is not None:
        ws = load_ws(projected_w, G)
        names = [f"proj{i:02d}.png" for i in range(len(ws))]
        _check_grid(grid_shape, len(ws))
        noise = projection_noise(G, projected_w, gen.noise_mode)
        for name, img in zip(names, render(G, ws, gen.noise_mode, noise, batch_size=batch_size)):
            save_png(img, out / name)
            click.echo(str(out / name))
    else:
        names = [image_name(s) for s in seed_list]
        _check_grid(grid_shape, len(seed_list))
        check_truncation(G, gen.truncation_psi, gen.truncation_cutoff)
        class_label(G, gen.class_idx)  # fail early on a missing or wrong class (and warn once when ignored)
        class_idx = gen.class_idx if G.c_dim else None
        with record.started():
            stats = generate_to_folder(G, seed_list, out, gen.truncation_psi, gen.truncation_cutoff, class_idx,
                                       gen.noise_mode, batch_size, rank, world_size, as_zip=out_format == "zip",
                                       resume=not overwrite)
        where = f" (rank {rank} of {world_size})" if world_size > 1 else ""
        click.echo(f"{out}: {stats.written} image{'s' * (stats.written != 1)} written, {stats.skipped} already there, "
                   f"{stats.seconds:.1f} s, {stats.images_per_second:.2f} img/s{where}")
    if grid_shape:
        import numpy as np
        images = np.stack([read_image(out / name, channels=G.img_channels) for name in names])
        save_png(make_grid(images, *grid_shape), out / "grid.png")
        click.echo(str(out / "grid.png"))


def _generate_from_settings(gen: GeneratorOptions, path: Path, outdir: Path) -> None:
    """Render a studio settings file to OUTDIR/NAME.png, exactly as the studio showed it."""
    from .. import hub
    from ..io.images import save_png
    from ..latent.settings import Resolver, load_settings, render_settings
    settings = load_settings(path)
    if gen.network != DEMO or not settings.network:
        settings.network = gen.network
    G = hub.load(settings.network, device=resolve_device(gen.device), config=gen.config)
    image, _ = render_settings(G, settings, Resolver(base=path.parent))
    save_png(image, outdir / f"{path.stem}.png")
    click.echo(str(outdir / f"{path.stem}.png"))


def _check_grid(grid_shape: tuple[int, int] | None, count: int) -> None:
    """The grid must hold the images and leave no row or column empty (an empty one is only a blank canvas:
    1x99999999 would be 3 G pixels of it)."""
    if not grid_shape:
        return
    cols, rows = grid_shape
    if count > cols * rows:
        raise StyleGANError(f"--grid {cols}x{rows} holds {cols * rows} images but {count} were asked for")
    if cols > count or (rows - 1) * cols >= count:
        fit = min(cols, count)
        raise StyleGANError(f"--grid {cols}x{rows} leaves rows or columns empty for {count} image"
                            f"{'s' * (count != 1)}; give a grid they fill, such as {fit}x{-(-count // fit)}")


@cli.command()
@click.option("--network", "network", default=DEMO, show_default=True, help="Checkpoint to describe")
@click.option("--config", default=None, help=CONFIG_HELP)
@click.option("--speed", is_flag=True, help="Also show what --precision auto chose on this machine, and the timings "
              "it chose by (measured now unless cached)")
@click.option("--device", default="auto", show_default=True, help="cpu, cuda, cuda:N or auto (for --speed)")
@click.option("--batch", type=click.IntRange(1, 4096), default=1, show_default=True,
              help="Images per call (for --speed; each batch size is chosen for separately)")
@user_errors
def info(network: str, config: str | None, speed: bool, device: str, batch: int) -> None:
    """Describe a checkpoint: format, networks, resolution, dims, style layers, parameters."""
    from ..formats.info import describe
    from ..hub import resolve_network
    path = resolve_network(network)
    click.echo(describe(path, config=config, label=network))
    if speed:
        from .. import formats
        from ..models.autoprecision import MIN_PSNR, choose
        from ..runtime import device_name
        G = formats.load(path, device=resolve_device(device), config=config)
        choice = choose(G, batch)
        where = device_name(next(G.parameters()).device)
        if not choice.seconds:
            click.echo(f"precision auto: fp32 on {where} (this network has no reduced-precision layers)")
            return
        click.echo(f"precision auto: {choice.precision} on {where}, batch {batch} "
                   f"({'cached' if choice.cached else 'measured now'}; kept when within {MIN_PSNR:g} dB of fp32)")
        for name, seconds in choice.seconds.items():
            quality = "identical" if choice.psnr[name] >= 99 else f"{choice.psnr[name]:.1f} dB"
            click.echo(f"  {name:<5} {1000 * seconds:9.1f} ms/call  {quality:>10}"
                       f"{'  <- chosen' if name == choice.precision else ''}")


@cli.command()
@click.argument("src")
@click.argument("dst")
@click.option("--to", "to", type=click.Choice(["native", "rosinality"]), default="native", show_default=True,
              help="Format to write: native .safetensors, or a rosinality/stylegan2-pytorch .pt")
@click.option("--config", default=None, help=CONFIG_HELP)
@user_errors
def convert(src: str, dst: str, to: str, config: str | None) -> None:
    """Convert a checkpoint SRC (any supported format) to DST in the native or rosinality format."""
    from .. import formats, hub
    check_outputs(files=[dst])
    nets = hub.load_networks(src, config=config)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        written = formats.export(nets, dst, to=to, extra={"converted_from": Path(src).name})
    for warning in caught:
        click.echo(f"warning: {warning.message}", err=True)
    click.echo(f"{dst}: {', '.join(written)}")
