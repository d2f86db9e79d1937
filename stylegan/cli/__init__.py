"""`stylegan <verb>`: a thin command line over the Python API, with the official tools' flag names.

Each module `commands_*.py` defines the verbs of one capability on the shared `cli` group.
"""
from __future__ import annotations

import warnings

from ..allocator import keep_freed_memory
from .common import cli
from . import (commands_dataset, commands_demo, commands_edit, commands_export, commands_generate,  # noqa: F401
               commands_hub, commands_latent, commands_metrics, commands_pipeline, commands_project,
               commands_studio, commands_train)  # (importing registers the verbs)


def main() -> None:
    """Console entry point: warnings print as one line each, freed memory is kept for reuse
    (`stylegan.allocator`), then the command runs."""
    warnings.formatwarning = lambda message, *args, **kwargs: f"warning: {message}\n"
    keep_freed_memory()
    cli()


__all__ = ["cli", "main"]
