"""`stylegan <verb>`: a thin command line over the Python API, with the official tools' flag names.

Each module `commands_*.py` defines the verbs of one capability on the shared `cli` group.
"""
from __future__ import annotations

import warnings

from . import (  # noqa: F401
    commands_align,
    commands_dataset,
    commands_demo,
    commands_edit,
    commands_encoder,
    commands_export,
    commands_generate,
    commands_hub,
    commands_latent,
    commands_metrics,
    commands_pipeline,
    commands_project,
    commands_studio,  # (importing registers the verbs)
    commands_train,
)
from ..runtime import quiet_idle_threads
from .common import cli


def main() -> None:
    """Console entry point: warnings print as one line each, idle compute threads sleep instead of spinning
    (`stylegan.runtime.quiet_idle_threads`, before torch starts), then the command runs."""
    warnings.formatwarning = lambda message, *args, **kwargs: f"warning: {message}\n"
    quiet_idle_threads()
    cli()


__all__ = ["cli", "main"]
