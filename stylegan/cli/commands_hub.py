"""`stylegan models` and `stylegan download`: published checkpoints by name, fetched ahead of time."""
from __future__ import annotations

import click

from ..errors import StyleGANError
from ..hub import download_network, network_path, zoo
from ..hub.cache import cache_root
from ..hub.download import remote_size
from .common import cli, user_errors


def _megabytes(size: int | None) -> str:
    return "?" if size is None else f"{size / 1e6:.1f} MB"


@cli.command()
@click.option("--sizes", is_flag=True, help="Ask the servers for the sizes of files not downloaded yet")
@user_errors
def models(sizes: bool) -> None:
    """List the published checkpoints that --network accepts by name.

    Each is downloaded on first use into the cache ($STYLEGAN_CACHE, default ~/.cache/stylegan) and
    read from there afterwards; `stylegan download NAME...` fetches them ahead of time.
    """
    rows = [("NAME", "GENERATION", "DATASET", "RESOLUTION", "SIZE", "CACHED", "URL")]
    for entry in zoo.ZOO:
        path = network_path(entry)
        cached = path.is_file()
        size = path.stat().st_size if cached else remote_size(entry.download_url) if sizes else None
        rows.append((entry.name, entry.generation, entry.dataset, entry.resolution, _megabytes(size),
                     "yes" if cached else "no", entry.url))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[-1])
    click.echo(f"\ncache: {cache_root() / 'networks'}")


@cli.command()
@click.argument("names", nargs=-1)
@click.option("--weights", is_flag=True, help="Also fetch the feature-network weights (InceptionV3, VGG16, LPIPS)")
def download(names: tuple[str, ...], weights: bool) -> None:
    """Download published checkpoints (by name, see `stylegan models`) or network URLs into the cache.

    Files already cached are verified instead. One line per file; the exit status is 1 if any failed.
    """
    if not names and not weights:
        raise click.UsageError("name at least one checkpoint (see `stylegan models`), a URL, or --weights")
    jobs = [(name, lambda name=name: download_network(name)) for name in names]
    if weights:
        from ..nets.weights import INCEPTION, LPIPS_HEADS, VGG16, download_weights
        jobs += [(spec.cached_as, lambda spec=spec: download_weights(spec)) for spec in (INCEPTION, VGG16, LPIPS_HEADS)]
    failed = 0
    for name, job in jobs:
        try:
            path = job()
        except StyleGANError as exc:
            click.echo(f"Error: {exc}", err=True)
            failed += 1
            continue
        click.echo(f"{name}: {path} ({_megabytes(path.stat().st_size)})")
    if failed:
        raise SystemExit(1)
