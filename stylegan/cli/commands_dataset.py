"""`stylegan dataset`: turn a folder or zip of images into a training dataset in the official layout."""
from __future__ import annotations

import click

from ..data import DATASET_TRANSFORMS as TRANSFORMS
from ..io.outputs import check_outputs
from .common import cli, user_errors


@cli.command()
@click.option("--source", required=True, metavar="PATH",
              help="Folder (searched recursively) or .zip of images, or builtin:toonfaces[:RES] (10000 faces "
                   "unless --max-images)")
@click.option("--dest", default=None, metavar="PATH",
              help="Output .zip, or a folder (empty or absent)  [default: NAME-RESxRES.zip here]")
@click.option("--resolution", default=None, metavar="WxH", help="Resize every image, e.g. 256x256")
@click.option("--transform", type=click.Choice(TRANSFORMS), default=None,
              help="Crop before resizing: the central square, or the official wide crop (output WxW)")
@click.option("--labels", default=None, metavar="JSON",
              help="Label file like dataset.json: {\"labels\": [[file name, label], ...]}  [default: the source's]")
@click.option("--max-images", type=int, default=None, help="Write at most this many images (the first, sorted)")
@click.option("--allow-upscale", is_flag=True,
              help="Keep images smaller than --resolution (they are skipped otherwise)")
@user_errors
def dataset(source: str, dest: str | None, resolution: str | None, transform: str | None, labels: str | None,
            max_images: int | None, allow_upscale: bool) -> None:
    """Make a training dataset: PNGs named 00000/img00000000.png ... plus dataset.json.

    Grayscale, alpha, palette and 16-bit images are converted (the output is grayscale only when every
    image is); unreadable, truncated, too small or differently sized files are skipped. A summary of
    what was converted and skipped is printed at the end. Nothing is left behind if the run stops early.
    """
    from ..data.dataset_tool import format_summary, make_dataset
    if dest is None:
        check_outputs(["."])
    elif dest.lower().endswith(".zip"):
        check_outputs(files=[dest])
    else:
        check_outputs([dest])
    summary = make_dataset(source, dest, resolution=resolution, transform=transform, labels=labels,
                           max_images=max_images, allow_upscale=allow_upscale)
    click.echo(format_summary(summary))
