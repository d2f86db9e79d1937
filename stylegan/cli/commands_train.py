"""`stylegan train`: the official train.py flags, with the presets of each configuration."""
from __future__ import annotations

from pathlib import Path

import click

from ..io.outputs import check_outputs
from ..models import G_ARCHITECTURES
from ..train import AUGMENT_MODES, CONFIGS, LOSSES
from .common import SEED, cli, user_errors


@cli.command("train")
@click.option("--outdir", type=click.Path(), help="Where to make the run folder  [required for a new run]")
@click.option("--cfg", type=click.Choice(CONFIGS), help="Base configuration  [required for a new run]")
@click.option("--data", type=click.Path(),
              help="Training data: a zip or a folder of images, or builtin:toonfaces[:RES]  [required for a new run]")
@click.option("--gpus", type=click.IntRange(min=1), default=1, show_default=True,
              help="Processes to run (GPUs; CPU processes on a machine without GPUs)")
@click.option("--batch", type=click.IntRange(min=1), help="Total batch size  [required for a new run]")
@click.option("--batch-gpu", type=click.IntRange(min=1), default=None, help="Samples per process at a time")
@click.option("--gamma", type=click.FloatRange(min=0), help="R1 regularisation weight  [required for a new run]")
@click.option("--kimg", type=click.FloatRange(min=0, min_open=True), default=25000, show_default=True,
              help="Total training length in thousands of real images")
@click.option("--tick", type=click.FloatRange(min=0, min_open=True), default=4, show_default=True,
              help="How often to print progress, in kimg")
@click.option("--snap", type=click.IntRange(min=1), default=50, show_default=True, help="Snapshot every N ticks")
@click.option("--mirror", type=bool, default=False, show_default=True, help="Add x-flips of the dataset")
@click.option("--cond", type=bool, default=False, show_default=True, help="Train conditionally on dataset labels")
@click.option("--aug", type=click.Choice(AUGMENT_MODES), default="ada", show_default=True, help="Augmentation mode")
@click.option("--augpipe", default="bgc", show_default=True, help="Augmentation pipeline preset")
@click.option("--p", type=click.FloatRange(min=0, max=1), default=0.2, show_default=True,
              help="Probability for --aug fixed")
@click.option("--target", type=click.FloatRange(min=0, max=1), default=0.6, show_default=True,
              help="ADA target value r_t")
@click.option("--resume", default=None, help="Resume a run folder (or a snapshot in it) exactly, with its recorded "
              "options; or start a new run from any checkpoint's weights")
@click.option("--freezed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Freeze the first layers of D")
@click.option("--glr", type=click.FloatRange(min=0), default=None, help="G learning rate  [default: varies]")
@click.option("--dlr", type=click.FloatRange(min=0), default=0.002, show_default=True, help="D learning rate")
@click.option("--map-depth", type=click.IntRange(min=1), default=None, help="Mapping depth  [default: varies]")
@click.option("--g-arch", type=click.Choice(G_ARCHITECTURES), default="skip", show_default=True,
              help="StyleGAN2 generator: RGB summed from every block (skip) or painted by the last block "
                   "(orig; resnet with residual blocks)")
@click.option("--mbstd-group", type=click.IntRange(min=1), default=4, show_default=True,
              help="Minibatch std group size")
@click.option("--lod-kimg", type=click.FloatRange(min=0, min_open=True), default=600, show_default=True,
              help="StyleGAN1 progressive growing: kimg at each resolution before the next fades in")
@click.option("--lod-transition-kimg", type=click.FloatRange(min=0), default=600, show_default=True,
              help="StyleGAN1 progressive growing: kimg of each fade-in")
@click.option("--cbase", type=click.IntRange(min=1), default=32768, show_default=True, help="Capacity multiplier")
@click.option("--cmax", type=click.IntRange(min=1), default=512, show_default=True, help="Max. feature maps")
@click.option("--fp32", type=bool, default=False, show_default=True, help="Disable mixed precision")
@click.option("--bf16", type=bool, default=False, show_default=True,
              help="Run G and D under bfloat16 autocast (faster on CPUs with bf16 units); weights stay float32")
@click.option("--loss", type=click.Choice(LOSSES), default="logistic", show_default=True,
              help="Non-saturating logistic loss with R1, or WGAN-GP")
@click.option("--seed", type=SEED, default=0, show_default=True, help="Random seed")
@click.option("--workers", type=click.IntRange(min=0), default=3, show_default=True, help="Data loader processes")
@click.option("--metrics", default="none", show_default=True, help="Metrics at each snapshot, e.g. fid50k_full")
@click.option("--dry-run", is_flag=True, help="Print the resolved options and exit")
@user_errors
@click.pass_context
def train_cmd(ctx: click.Context, dry_run: bool, metrics: str, **options) -> None:
    """Train a StyleGAN1/2/3 network (resumable; Ctrl-C writes a snapshot and exits).

    `--resume RUN_FOLDER` continues a run exactly with the options it recorded; the options given with it
    that a resume may change (--kimg, --tick, --snap, --gpus, --batch-gpu, --workers, --bf16, --metrics,
    --data) override them, and the run says which it changed.
    """
    from click.core import ParameterSource

    from ..metrics import parse_metric_names
    from ..runtime import keep_freed_memory
    from ..train.options import TrainOptions
    from ..train.run import run_folder, train
    given = {name for name in [*options, "metrics"] if ctx.get_parameter_source(name) == ParameterSource.COMMANDLINE}
    names = [] if metrics.strip().lower() == "none" else parse_metric_names(metrics)
    resuming = run_folder(options["resume"]) is not None
    if not resuming:
        missing = [name for name in NEW_RUN_OPTIONS if options[name] is None]
        if missing:
            raise click.UsageError(f"Missing option '--{missing[0]}' (a new run needs "
                                   f"{', '.join('--' + n for n in NEW_RUN_OPTIONS)}; resuming needs only --resume "
                                   f"RUN_FOLDER)")
    set_options = {k: v for k, v in options.items() if v is not None}
    opts = TrainOptions(**{"outdir": "", "data": "", **set_options, "metrics": names})
    if not dry_run:
        check_outputs([run_folder(options["resume"]) if resuming else options["outdir"]])
        keep_freed_memory()
    train(opts, dry_run=dry_run, log=click.echo, given=given if resuming else None)


# What a new run must be told (a resumed run takes them from its record).
NEW_RUN_OPTIONS = ("outdir", "cfg", "data", "batch", "gamma")
