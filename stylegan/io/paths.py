"""Paths as users type them (no numpy or torch here: the command line checks them before any work)."""
from __future__ import annotations

import os
import stat
from pathlib import Path

from ..errors import InputError


def user_path(path: str | os.PathLike) -> Path:
    """A path as the user typed it, with `~` and `~user` expanded; an unknown user is an InputError."""
    try:
        return Path(path).expanduser()
    except RuntimeError:
        raise InputError(f"{path}: cannot expand '~' (no such user, or no home folder)") from None


# What `stat` calls the kinds of files that are neither regular files nor folders.
_SPECIAL = ((stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
            (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"))


def special_kind(mode: int) -> str | None:
    """'a character device', 'a FIFO (named pipe)', ... for a file mode that is neither a regular file nor a
    folder (None for those)."""
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    return next((name for test, name in _SPECIAL if test(mode)), "not a regular file")
