"""`stylegan encoder train`: an image encoder for any generator, trained on its own samples (and real images)."""
from __future__ import annotations

import click

from ..hub.builtin import DEMO
from ..io.outputs import check_outputs
from .common import cli, resolve_device, user_errors


@cli.group()
def encoder() -> None:
    """Learned encoders: images to W+ in one pass (for `stylegan project --method encoder` or --init encoder)."""


@encoder.command("train")
@click.option("--network", default=DEMO, show_default=True, help="The generator to train an encoder for")
@click.option("--out", required=True, type=click.Path(file_okay=False),
              help="Run folder: encoder.safetensors, its training state and log (an existing run resumes)")
@click.option("--steps", type=click.IntRange(1), default=20000, show_default=True, help="Training steps in all")
@click.option("--batch", type=click.IntRange(1), default=8, show_default=True, help="Samples per step")
@click.option("--lr", type=click.FloatRange(0, min_open=True), default=1e-4, show_default=True,
              help="Adam learning rate")
@click.option("--iterations", type=click.IntRange(1), default=3, show_default=True,
              help="Refinement passes (each sees the target and the current reconstruction)")
@click.option("--channel-base", type=click.IntRange(1), default=4096, show_default=True, help="Encoder capacity")
@click.option("--channel-max", type=click.IntRange(1), default=128, show_default=True,
              help="Encoder's most feature maps")
@click.option("--features", type=click.IntRange(1), default=512, show_default=True,
              help="Width of the dense layer before the ws: the encoder's ws lie in a subspace of this dimension")
@click.option("--data", default=None,
              help="A dataset (zip, folder or builtin:toonfaces) whose images join the samples as targets: what "
                   "the encoder will be given, when the generator covers it only in part")
@click.option("--data-share", type=click.FloatRange(0, 1), default=0.5, show_default=True,
              help="With --data: the share of each batch taken from it")
@click.option("--start", default=None, type=click.Path(exists=True),
              help="Begin from this encoder's weights (e.g. one trained for an earlier snapshot of the generator)")
@click.option("--snap", type=click.IntRange(1), default=1000, show_default=True, help="Snapshot every N steps")
@click.option("--tick", type=click.IntRange(1), default=100, show_default=True, help="Log every N steps")
@click.option("--seed", type=click.IntRange(0), default=0, show_default=True, help="Seed of the training latents")
@click.option("--vgg", default=None, type=click.Path(dir_okay=False),
              help="VGG16 weights for the LPIPS term (default: searched; without them MS-SSIM)")
@click.option("--device", default="auto", show_default=True, help="cpu, cuda, cuda:N or auto")
@user_errors
@click.pass_context
def encoder_train(ctx: click.Context, out: str, device: str, vgg: str | None, **options) -> None:
    """Train an encoder into W+ for NETWORK on its own samples (and, with --data, on real images); an existing
    run folder resumes where it stopped (then --steps, --snap and --tick may change)."""
    from click.core import ParameterSource

    from ..runtime import keep_freed_memory
    from ..train.encoder import EncoderOptions, train_encoder
    given = {name for name in options if ctx.get_parameter_source(name) == ParameterSource.COMMANDLINE}
    check_outputs([out])
    keep_freed_memory()
    train_encoder(EncoderOptions(out=out, **options), device=resolve_device(device), log=click.echo, given=given,
                  vgg=vgg)
