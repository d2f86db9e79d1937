"""`stylegan pipeline RECIPE --seeds ...`: run a multi-step, multi-model recipe per seed."""
from __future__ import annotations

import click

from .. import pipeline
from ..latent import parse_seeds
from .common import cli, resolve_device, user_errors


@cli.command("pipeline")
@click.argument("recipe", type=click.Path(dir_okay=False))
@click.option("--seeds", required=True, help="Seeds, e.g. 0-9")
@click.option("--trunc", "truncation_psi", type=float, default=None, help="psi for generate/mix (default: recipe's)")
@click.option("--outdir", type=click.Path(file_okay=False), default="out", show_default=True)
@click.option("--device", default="auto", show_default=True)
@user_errors
def pipeline_cmd(recipe, seeds, truncation_psi, outdir, device):
    """Run RECIPE (TOML, or YAML with PyYAML) for each seed; finished seeds are skipped."""
    pipeline.run(recipe, parse_seeds(seeds), truncation_psi, outdir, resolve_device(device), progress=click.echo)
