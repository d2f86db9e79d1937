"""`stylegan studio`: the interactive web page."""
from __future__ import annotations

import click

from ..errors import StyleGANError
from ..outputs import check_outputs
from .common import cli, resolve_device, user_errors

INSTALL_HINT = "pip install 'stylegan[studio]'"


@cli.command()
@click.option("--network", "networks", multiple=True, help="Checkpoint to offer (repeatable); builtin:demo is "
              "offered too when installed")
@click.option("--port", type=int, default=7860, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; anything but loopback exposes the studio to your network")
@click.option("--allow-dir", "allow_dirs", multiple=True, type=click.Path(file_okay=False),
              help="Only read typed-in paths inside these directories (repeatable)")
@click.option("--outdir", type=click.Path(), default="studio-captures", show_default=True,
              help="Where captures and projections are written")
@click.option("--device", default="auto", show_default=True, help="cpu, cuda, cuda:N or auto")
@user_errors
def studio(networks: tuple[str, ...], port: int, host: str, allow_dirs: tuple[str, ...], outdir: str,
           device: str) -> None:
    """Explore a generator in the browser: seeds, mixing, truncation, noise, layers, edits, projection."""
    try:
        import uvicorn
        from ..studio.server import create_app
    except ImportError as exc:
        raise StyleGANError(f"the studio needs starlette and uvicorn ({exc.name} is missing): {INSTALL_HINT}") from None
    from ..studio.session import Session
    check_outputs([outdir])
    session = Session(list(networks), list(allow_dirs), outdir, resolve_device(device))
    for name in session.networks[:1]:
        session.model(name)  # fail now, not in the page, on a bad --network
    click.echo(f"stylegan studio: http://{host}:{port}/  (Ctrl+C stops it)")
    uvicorn.run(create_app(session, host), host=host, port=port, log_level="warning")
