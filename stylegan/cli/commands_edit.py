"""`stylegan directions sefa|ganspace|interfacegan` and `stylegan edit`."""
from __future__ import annotations

from pathlib import Path

import click

from ..errors import StyleGANError
from ..hub.builtin import DEMO
from ..io.outputs import check_outputs
from .common import SEED, GeneratorOptions, cli, generator_options, projection_noise, resolve_device, user_errors


@cli.group()
def directions() -> None:
    """Find editing directions in W (writes .npz, or .npy boundaries for InterFaceGAN)."""


def _report(d, out: str) -> None:
    from ..io.latents import save_directions
    save_directions(out, d.directions, d.scales, d.values, d.method)
    click.echo(f"{out}: {len(d.directions)} {d.method} direction(s)")
    for i in range(min(8, len(d.directions))):
        click.echo(f"  {i:>3}  value {d.values[i]:.4g}  unit {d.scales[i]:.4g}")


@directions.command()
@click.option("--network", default=DEMO, show_default=True, help="Checkpoint: a file, URL or published name")
@click.option("--layers", "layer_spec", default="all", show_default=True,
              help="ws rows whose style weights to factorise")
@click.option("--num", type=int, default=32, show_default=True, help="Directions kept")
@click.option("--out", required=True, type=click.Path(),
              help="Direction file to write: .npz (all components) or .npy (the first)")
@click.option("--device", default="auto", show_default=True, help="cpu, cuda, cuda:N or auto")
@user_errors
def sefa(network, layer_spec, num, out, device):
    """SeFa: closed-form directions from the style weights (no sampling, no extra network)."""
    from .. import hub
    from ..latent import edit as editing
    from ..latent.space import resolve_layers
    check_outputs(files=[out])
    G = hub.load(network, device=resolve_device(device))
    _report(editing.sefa(G, resolve_layers(G, layer_spec), num), out)


@directions.command()
@click.option("--network", default=DEMO, show_default=True, help="Checkpoint: a file, URL or published name")
@click.option("--samples", type=int, default=100_000, show_default=True, help="Mapped w samples (1e6 fits in memory)")
@click.option("--num", type=int, default=64, show_default=True, help="Components kept")
@click.option("--class", "class_idx", type=int, default=None, help="Class label for conditional networks")
@click.option("--seed", type=SEED, default=0, show_default=True, help="Seed of the sampled latents")
@click.option("--out", required=True, type=click.Path(),
              help="Direction file to write: .npz (all components) or .npy (the first)")
@click.option("--device", default="auto", show_default=True, help="cpu, cuda, cuda:N or auto")
@user_errors
def ganspace(network, samples, num, class_idx, seed, out, device):
    """GANSpace: principal components of w, with their standard deviations as strength units."""
    from .. import hub
    from ..latent import edit as editing
    if samples < 2:
        raise StyleGANError("--samples must be at least 2")
    check_outputs(files=[out])
    G = hub.load(network, device=resolve_device(device))
    _report(editing.ganspace(G, samples, num, seed=seed, class_idx=class_idx), out)


@directions.command()
@click.option("--network", default=DEMO, show_default=True, help="Checkpoint: a file, URL or published name")
@click.option("--scores", required=True, type=click.Path(dir_okay=False), help="CSV with seed,score (or seed,label)")
@click.option("--ratio", type=float, default=0.02, show_default=True, help="Top/bottom share of scores used")
@click.option("--classifier", type=click.Choice(["auto", "svm", "logistic"]), default="auto", show_default=True,
              help="Linear classifier that finds the boundary (auto: SVM when scikit-learn is installed)")
@click.option("--condition", "conditions", multiple=True, type=click.Path(dir_okay=False),
              help="Boundary .npy to keep unchanged (repeatable)")
@click.option("--class", "class_idx", type=int, default=None, help="Class label for conditional networks")
@click.option("--out", required=True, type=click.Path(), help="boundary.npy or .npz")
@click.option("--device", default="auto", show_default=True, help="cpu, cuda, cuda:N or auto")
@user_errors
def interfacegan(network, scores, ratio, classifier, conditions, class_idx, out, device):
    """InterFaceGAN: a linear boundary fitted to per-seed scores or labels."""
    from .. import hub
    from ..io.latents import load_direction
    from ..latent import edit as editing
    check_outputs(files=[out])
    G = hub.load(network, device=resolve_device(device))
    seeds, values = editing.read_scores(scores)
    others = [load_direction(c, G.w_dim)[0] for c in conditions]
    _report(editing.interfacegan(G, seeds, values, ratio, classifier, others, class_idx), out)


MAX_STRENGTHS = 256  # columns of the figure


def parse_strengths(text: str) -> list[float]:
    """'-3:3:7' -> 7 evenly spaced values from -3 to 3; '1.5' or '-1,0,1' -> those values (finite, at most
    MAX_STRENGTHS)."""
    import numpy as np

    from ..latent.space import FLOAT32_MAX
    try:
        if ":" in text:
            lo, hi, n = text.split(":")
            values = np.linspace(float(lo), float(hi), int(n)).tolist() if 0 < int(n) <= MAX_STRENGTHS else []
        else:
            values = [float(v) for v in text.split(",")]
    except ValueError:
        values = []
    if not 0 < len(values) <= MAX_STRENGTHS or not all(np.isfinite(v) and abs(v) <= FLOAT32_MAX for v in values):
        raise StyleGANError(f"--strength must look like -3:3:7 (at most {MAX_STRENGTHS} values) or 1.5 or -1,0,1, "
                            f"with finite numbers; got {text!r}")
    return values


@cli.command("edit")
@generator_options
@click.option("--seeds", default=None, help="Seeds to edit")
@click.option("--projected-w", "projected_w", default=None, help="A .npz/.npy ws file to edit instead of seeds")
@click.option("--direction", required=True, help="dirs.npz:INDEX, dirs.npz or boundary.npy")
@click.option("--layers", "layer_spec", default="all", show_default=True, help="ws rows to edit, e.g. 0-7 or coarse")
@click.option("--strength", default="-3:3:7", show_default=True, help="LO:HI:COUNT, or a comma list")
@click.option("--video", "video_path", default=None, type=click.Path(),
              help="Also write a video sweeping the strength")
@click.option("--outdir", type=click.Path(), default="out", show_default=True, help="Folder for the output files")
@user_errors
def edit_cmd(gen: GeneratorOptions, seeds, projected_w, direction, layer_spec, strength, video_path, outdir):
    """Move seeds or projected ws along a direction in chosen layers: one strip per latent (grid)."""
    import numpy as np
    import torch

    from ..io.images import save_png
    from ..io.latents import load_direction
    from ..io.video import write_video
    from ..latent import edit as editing
    from ..latent.generate import render
    from ..latent.space import resolve_layers
    from ..media.figures import labeled_grid
    if (seeds is None) == (projected_w is None):
        raise StyleGANError("give either --seeds or --projected-w")
    strengths = parse_strengths(strength)
    check_outputs(files=[Path(outdir) / "edit.png"] + ([video_path] if video_path else []))
    G = gen.load()
    ws, labels = gen.sources(G, seeds or projected_w)
    vector, unit = load_direction(direction, G.w_dim)
    layers = resolve_layers(G, layer_spec)
    noise = projection_noise(G, projected_w, gen.noise_mode)
    rows = []
    for i in range(len(ws)):
        edited = torch.cat([editing.apply_direction(ws[i:i + 1], vector, k * unit, layers) for k in strengths])
        rows.append(list(render(G, edited, gen.noise_mode, noise)))
    path = Path(outdir) / "edit.png"
    save_png(labeled_grid(rows, labels, [f"{k:+g}" for k in strengths]), path)
    click.echo(str(path))
    if video_path:
        sweep = np.linspace(min(strengths), max(strengths), 60)
        edited = torch.cat([editing.apply_direction(ws[:1], vector, k * unit, layers) for k in sweep])
        write_video(iter(render(G, edited, gen.noise_mode, noise)), video_path, fps=20)
        click.echo(video_path)
