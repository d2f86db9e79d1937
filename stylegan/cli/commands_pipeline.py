"""`stylegan pipeline RECIPE --seeds ...`: run a multi-step, multi-model recipe per seed."""
from __future__ import annotations

import click

from ..latent.seeds import parse_seeds
from .common import cli, resolve_device, user_errors


@cli.command("pipeline")
@click.argument("recipe", type=click.Path(dir_okay=False))
@click.option("--seeds", required=True, help="Seeds, e.g. 0-9")
@click.option("--trunc", "truncation_psi", type=float, default=None, help="psi for generate/mix (default: recipe's)")
@click.option("--outdir", type=click.Path(), default="out", show_default=True, help="Folder for the output files")
@click.option("--device", default="auto", show_default=True, help="cpu, cuda, cuda:N or auto")
@click.option("--overwrite", is_flag=True, help="Run every seed anew, even when OUTDIR holds results made with "
              "another recipe or psi")
@user_errors
def pipeline_cmd(recipe, seeds, truncation_psi, outdir, device, overwrite):
    """Run RECIPE (TOML, or YAML with PyYAML) for each seed; finished seeds are skipped.

    The recipe and psi are recorded in OUTDIR/stylegan-pipeline.json: a rerun with another recipe or psi
    stops (add --overwrite to run every seed anew)."""
    from .. import pipeline
    pipeline.run(recipe, parse_seeds(seeds), truncation_psi, outdir, resolve_device(device), progress=click.echo,
                 overwrite=overwrite)
