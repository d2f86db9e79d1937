"""`stylegan mix | noise | truncation | interpolate | layers`: the day-to-day latent tools."""
from __future__ import annotations

import warnings
from pathlib import Path

import click

from ..errors import StyleGANError
from ..io.outputs import check_outputs
from ..latent.seeds import parse_seeds
from .common import SEED, GeneratorOptions, cli, generator_options, parse_grid, user_errors


@cli.command()
@generator_options
@click.option("--rows", required=True, help="Sources A (rows): seeds and/or .npz ws files, e.g. 85,100,75")
@click.option("--cols", required=True, help="Sources B (columns) whose styles are copied, e.g. 55,821,1789")
@click.option("--styles", multiple=True, default=["0-6"], show_default=True,
              help="ws rows taken from B: 0-6, coarse, middle, fine, ...; repeat for stacked blocks")
@click.option("--weight", type=float, default=1.0, show_default=True,
              help="1 = replace A's rows by B's, 0.5 = average them")
@click.option("--outdir", type=click.Path(), default="out", show_default=True, help="Folder for the output files")
@user_errors
def mix(gen: GeneratorOptions, rows, cols, styles, weight, outdir):
    """Style mixing figure: each cell is row A with column B's styles in the chosen layers."""
    from ..io.images import save_png
    from ..latent.space import resolve_layers
    from ..media import figures
    check_outputs(files=[Path(outdir) / "grid.png"])
    G = gen.load()
    row_ws, row_labels = gen.sources(G, rows)
    col_ws, col_labels = gen.sources(G, cols)
    layer_sets = [(spec, resolve_layers(G, spec)) for spec in styles]
    grid = figures.style_mixing(G, row_ws, col_ws, layer_sets, row_labels, col_labels, gen.noise_mode, weight)
    save_png(grid, Path(outdir) / "grid.png")
    click.echo(str(Path(outdir) / "grid.png"))


@cli.command()
@generator_options
@click.option("--seeds", required=True, help="Seeds (or .npz ws files), e.g. 0-2")
@click.option("--samples", type=int, default=4, show_default=True, help="Noise realisations shown")
@click.option("--std-samples", type=int, default=100, show_default=True, help="Realisations for the std-dev map")
@click.option("--noise-seed", type=SEED, default=0, show_default=True, help="Seed of the noise draws")
@click.option("--outdir", type=click.Path(), default="out", show_default=True, help="Folder for the output files")
@user_errors
def noise(gen: GeneratorOptions, seeds, samples, std_samples, noise_seed, outdir):
    """Stochastic variation (several noise draws, zoomed crops, per-pixel std dev) and noise in layers."""
    from ..io.images import save_png
    from ..media import figures
    from ..models.noise import require_noise
    out = Path(outdir)
    check_outputs([out], [out / "noise-layers.png"])
    G = gen.load()
    require_noise(G, "stylegan noise")
    if samples < 1 or std_samples < 2:
        raise StyleGANError("--samples must be at least 1 and --std-samples at least 2")
    ws, labels = gen.sources(G, seeds)
    check_outputs(files=[out / f"noise-{kind}{label}.png" for label in labels for kind in ("", "std-")])
    for i, label in enumerate(labels):
        fig = figures.stochastic_variation(G, ws[i:i + 1], samples, std_samples, noise_seed)
        for name, image in ((f"noise-{label}.png", fig["samples"]), (f"noise-std-{label}.png", fig["std"])):
            save_png(image, out / name)
            click.echo(str(out / name))
    save_png(figures.noise_in_layers(G, ws, noise_seed), out / "noise-layers.png")
    click.echo(str(out / "noise-layers.png"))


@cli.command()
@generator_options(truncation=False)
@click.option("--seeds", required=True, help="Seeds (or .npz ws files), one row each")
@click.option("--trunc", "psis", default="-1,-0.5,0,0.5,0.7,1,1.5", show_default=True,
              help="Truncation psi of each column, comma-separated")
@click.option("--psi", "old_psis", default=None, hidden=True, help="Deprecated name of --trunc")
@click.option("--outdir", type=click.Path(), default="out", show_default=True, help="Folder for the output files")
@user_errors
def truncation(gen: GeneratorOptions, seeds, psis, old_psis, outdir):
    """Truncation sweep: rows = seeds, columns = truncation psi (0 = the average image, negative = past it)."""
    from ..io.images import save_png
    from ..latent.space import sources_to_ws
    from ..media import figures
    if old_psis is not None:
        warnings.warn("--psi is deprecated: --trunc names truncation psi in every verb (here a list of them)")
        psis = old_psis
    try:
        psi_list = [float(p) for p in psis.split(",")]
    except ValueError:
        raise StyleGANError(f"--trunc must be comma-separated numbers, got {psis!r}") from None
    check_outputs(files=[Path(outdir) / "truncation.png"])
    G = gen.load()
    ws, labels = sources_to_ws(G, seeds, 1.0, None, gen.class_idx)
    cutoff = gen.truncation_cutoff
    if cutoff is not None and not 0 <= cutoff <= G.num_ws:
        raise StyleGANError(f"--trunc-cutoff must be between 0 and num_ws={G.num_ws}")
    grid = figures.truncation_sweep(G, ws, psi_list, labels, cutoff, gen.noise_mode)
    save_png(grid, Path(outdir) / "truncation.png")
    click.echo(str(Path(outdir) / "truncation.png"))


@cli.command()
@generator_options
@click.option("--seeds", required=True, help="Keyframe seeds, e.g. 0-7 (split across grid cells)")
@click.option("--space", type=click.Choice(["w", "z"]), default="w", show_default=True,
              help="Walk in W (after truncation) or in Z")
@click.option("--kind", type=click.Choice(["linear", "cubic", "slerp"]), default=None,
              help="Path shape; default cubic in W, slerp in Z")
@click.option("--frames-per-step", type=int, default=60, show_default=True, help="Frames from one seed to the next")
@click.option("--loop", is_flag=True, help="Return to the first keyframe (seamless loop)")
@click.option("--grid", default="1x1", show_default=True, help="COLSxROWS walks side by side")
@click.option("--noise-loop", is_flag=True, help="Keep each seed's w fixed and loop the noise instead")
@click.option("--fps", type=float, default=30, show_default=True, help="Frames per second")
@click.option("--output", required=True, type=click.Path(), help="walk.mp4 or walk.gif")
@user_errors
def interpolate(gen: GeneratorOptions, seeds, space, kind, frames_per_step, loop, grid, noise_loop, fps, output):
    """Latent walk video through seeds (W: cubic/linear, Z: slerp), or a noise-only loop."""
    import numpy as np

    from ..io.images import make_grid
    from ..io.video import write_video
    from ..latent.space import seeds_to_ws
    from ..media import video
    from ..models.noise import require_noise
    check_outputs(files=[output])
    G = gen.load()
    seed_list = parse_seeds(seeds)
    cols, rows = parse_grid(grid)
    cells = cols * rows
    if noise_loop:
        require_noise(G, "--noise-loop")
        if len(seed_list) != cells:
            raise StyleGANError(f"--noise-loop shows one seed per grid cell: give {cells} seeds for --grid {grid}")
        ws = seeds_to_ws(G, seed_list, gen.truncation_psi, gen.truncation_cutoff, gen.class_idx)
        loops = [video.noise_loop_frames(G, ws[i:i + 1], frames_per_step, noise_seed=i) for i in range(cells)]
        frames = (make_grid(np.stack(tiles), cols, rows) for tiles in zip(*loops))
        total = frames_per_step
    else:
        keyframes = len(seed_list) // cells
        if keyframes < 2:
            raise StyleGANError(f"each of the {cells} grid cells needs at least 2 keyframes: give at least "
                                f"{2 * cells} seeds")
        walks = [video.walk_ws(G, seed_list[i * keyframes:(i + 1) * keyframes], frames_per_step, space, kind,
                               loop, gen.truncation_psi, gen.truncation_cutoff, gen.class_idx) for i in range(cells)]
        frames = video.walk_frames(G, walks, (cols, rows), gen.noise_mode)
        total = len(walks[0])
    count = write_video(frames, output, fps, total)
    click.echo(f"{output}: {count} frame{'s' * (count != 1)}")


@cli.command()
@generator_options
@click.option("--seed-a", "seed_a", default="1", show_default=True, help="Seed or .npz ws file for A")
@click.option("--seed-b", "seed_b", default="2", show_default=True, help="Seed or .npz ws file for B")
@click.option("--outdir", type=click.Path(), default="out", show_default=True, help="Folder for the output files")
@user_errors
def layers(gen: GeneratorOptions, seed_a, seed_b, outdir):
    """For each ws row: A with only that row from B, in one labelled strip."""
    from ..io.images import save_png
    from ..media import figures
    from ..models.common import style_ranges
    check_outputs([outdir])
    G = gen.load()
    ws_a, label_a = gen.sources(G, seed_a)
    ws_b, label_b = gen.sources(G, seed_b)
    check_outputs(files=[Path(outdir) / f"layers-{label_a[0]}-{label_b[0]}.png"])
    strip = figures.layer_swaps(G, ws_a, ws_b, gen.noise_mode)
    path = Path(outdir) / f"layers-{label_a[0]}-{label_b[0]}.png"
    save_png(strip, path)
    bands = ", ".join(f"{k} {v[0]}-{v[-1]}" if v else f"{k} -" for k, v in style_ranges(G).items())
    click.echo(f"{path} ({bands})")
