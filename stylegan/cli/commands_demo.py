"""`stylegan demo`: every main figure from one network (the built-in demo model by default)."""
from __future__ import annotations

import click

from ..hub.builtin import DEMO
from ..io.outputs import check_outputs
from ..media import DEMO_PROJECTION_STEPS as PROJECTION_STEPS
from ..media import DEMO_TUNE_STEPS as TUNE_STEPS
from .common import cli, resolve_device, user_errors


@cli.command()
@click.option("--network", default=DEMO, show_default=True, help="Checkpoint to show")
@click.option("--outdir", type=click.Path(), default="demo", show_default=True,
              help="Folder for the figures and index.html")
@click.option("--projection-steps", type=int, default=PROJECTION_STEPS, show_default=True,
              help="Steps finding the projection figure's pivot in W")
@click.option("--tune-steps", type=int, default=TUNE_STEPS, show_default=True,
              help="Steps tuning the generator around the pivot (pivotal tuning)")
@click.option("--device", default="auto", show_default=True, help="cpu, cuda, cuda:N or auto")
@user_errors
def demo(network: str, outdir: str, projection_steps: int, tune_steps: int, device: str) -> None:
    """Samples, style mixing, stochastic variation, truncation, interpolation and projection, with an
    index.html explaining each (the file list is printed as it is written)."""
    from .. import hub
    from ..media.demo import FILES, run_demo
    check_outputs([outdir], [f"{outdir}/{name}" for name in FILES])
    G = hub.load(network, device=resolve_device(device))
    run_demo(G, outdir, projection_steps, log=click.echo, tune_steps=tune_steps)
