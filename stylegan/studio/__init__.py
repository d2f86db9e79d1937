"""The studio: an interactive web page for exploring a generator (`stylegan studio`, or `start` in a notebook).

latent/settings.py holds the rendering rules (settings -> ws -> image), layers.py the layer view, render.py
the latest-wins scheduler, session.py the networks, files and projections, paths.py which files may be read,
gate.py who may ask (token, same origin), schema.py what a request may hold, connections.py how long and how
many connections may stay open, server.py the web app.
"""
from __future__ import annotations

from typing import Sequence


def start(networks: Sequence[str] = (), port: int | None = None, host: str = "127.0.0.1",
          allow_dirs: Sequence[str] = (), outdir: str = "studio-captures", device: str = "cpu",
          token: str | None = None):
    """Run the studio in a background thread (e.g. from a notebook); returns a handle with `url` (including
    the access token: open it as it is), `token` and `stop()`. A new random token is made unless given."""
    from .server import Studio
    from .session import Session
    return Studio(Session(list(networks), list(allow_dirs), outdir, device), host, port, token)
