"""Paths as users type them (no numpy or torch here: the command line checks them before any work)."""
from __future__ import annotations

import os
from pathlib import Path

from ..errors import InputError


def user_path(path: str | os.PathLike) -> Path:
    """A path as the user typed it, with `~` and `~user` expanded; an unknown user is an InputError."""
    try:
        return Path(path).expanduser()
    except RuntimeError:
        raise InputError(f"{path}: cannot expand '~' (no such user, or no home folder)") from None
