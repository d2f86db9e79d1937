"""`stylegan studio`: the interactive web page."""
from __future__ import annotations

import os
import sys
import webbrowser

import click

from ..errors import StyleGANError
from ..io.outputs import check_outputs
from .common import cli, resolve_device, user_errors

INSTALL_HINT = "pip install 'stylegan[studio]'"


@cli.command()
@click.option("--network", "networks", multiple=True, help="Checkpoint to offer (repeatable); builtin:demo is "
              "offered too when installed")
@click.option("--port", type=int, default=7860, show_default=True, help="Port to serve on")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; anything but loopback exposes the studio to your network")
@click.option("--token", default=None, help="The access token (default: a new random one each start); '' turns "
              "it off, on a loopback address only")
@click.option("--allow-dir", "allow_dirs", multiple=True, type=click.Path(file_okay=False),
              help="Also let the page read files in this directory (repeatable); the networks given, their "
              "directories and the current directory are always readable")
@click.option("--outdir", type=click.Path(), default="studio-captures", show_default=True,
              help="Where captures and projections are written")
@click.option("--device", default="auto", show_default=True, help="cpu, cuda, cuda:N or auto")
@click.option("--no-browser", is_flag=True, help="Do not open a web browser")
@user_errors
def studio(networks: tuple[str, ...], port: int, host: str, token: str | None, allow_dirs: tuple[str, ...],
           outdir: str, device: str, no_browser: bool) -> None:
    """Explore a generator in the browser: seeds, mixing, truncation, noise, layers, edits, projection."""
    try:
        import uvicorn  # noqa: F401  (checked here to name the extra; Studio imports it)

        from ..studio.server import Studio
    except ImportError as exc:
        raise StyleGANError(f"the studio needs starlette and uvicorn ({exc.name} is missing): {INSTALL_HINT}") from None
    from ..studio.gate import check_exposure
    from ..studio.session import Session
    check_exposure(host, "unset" if token is None else token)  # refuse --token '' off loopback before loading
    check_outputs([outdir])
    session = Session(list(networks), list(allow_dirs), outdir, resolve_device(device))
    for name in session.networks[:1]:
        session.model(name)  # fail now, not in the page, on a bad --network
    server = Studio(session, host, port, token)
    click.echo(f"stylegan studio: {server.url}  (Ctrl+C stops it)")
    if not no_browser and (sys.platform in ("darwin", "win32") or os.environ.get("DISPLAY")
                           or os.environ.get("WAYLAND_DISPLAY")):
        webbrowser.open(server.url)
    server.wait()
