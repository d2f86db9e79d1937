"""Which files the studio may read: the networks given at start, their folders, the current folder, the
capture folder and any `--allow-dir`; every path is resolved (symlinks followed) before it is checked. A file
that a loader fails on in a way it did not foresee (a damaged file) is an InputError naming the file."""
from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path
from typing import Iterable, Iterator

from ..errors import InputError, StyleGANError
from ..io.latents import split_index

log = logging.getLogger("stylegan.studio")


class Refused(InputError):
    """A path outside the folders the studio may read (answered with 403)."""


class Unreadable(InputError):
    """A file the studio may read but could not (damaged, of another kind, or the system refused)."""


def shown(path: str | Path) -> str:
    """A file's name for a message, cut short."""
    name = Path(path).name
    return name if len(name) <= 80 else name[:77] + "..."


def real(path: str | Path) -> Path:
    """The absolute path with '~', '..' and every symlink resolved; InputError for a path no file can have
    (a NUL character, an unknown '~user')."""
    text = os.path.expanduser(str(path))
    if text.startswith("~"):
        raise InputError(f"{str(path)[:60]!r}: '~' names no known home folder")
    try:
        return Path(os.path.realpath(text))
    except ValueError:  # an embedded NUL
        raise InputError(f"{str(path)[:60]!r}: not a usable path") from None


@contextlib.contextmanager
def reading(name: str | Path) -> Iterator[None]:
    """Around a loader: StyleGANErrors pass; an OSError or an exception the loader did not foresee (a damaged
    file it does not recognise) becomes `Unreadable` naming the file, with the traceback in the server log."""
    try:
        yield
    except StyleGANError:
        raise
    except OSError as exc:
        raise Unreadable(f"{shown(name)}: cannot be read ({exc.strerror or exc.__class__.__name__})") from None
    except Exception as exc:  # a loader bug on a damaged file: report the file, log the details
        log.warning("studio: reading %s failed", name, exc_info=True)
        raise Unreadable(f"{shown(name)}: the file is damaged or not of the kind its name says "
                         f"({exc.__class__.__name__})") from None


def is_file(path: Path) -> bool:
    """Path.is_file, False where the system refuses to look (a name too long, ...)."""
    try:
        return path.is_file()
    except OSError:
        return False


class PathGuard:
    """Containment check for paths typed into the page: `files` are allowed by name, `folders` with all
    they contain. Both are resolved once, at start."""

    def __init__(self, files: Iterable[str | Path] = (), folders: Iterable[str | Path] = ()):
        self.files = {real(f) for f in files}
        self.folders = sorted({real(d) for d in folders})

    @classmethod
    def for_studio(cls, networks: Iterable[str], allow_dirs: Iterable[str | Path], outdir: str | Path) -> "PathGuard":
        """The default confinement: the given network files, the folders they are in (as named), the current
        folder, the capture folder and the extra `allow_dirs`."""
        files = [n for n in networks if Path(n).is_file()]
        folders = [Path(n).expanduser().absolute().parent for n in files]
        return cls(files, [*folders, Path.cwd(), outdir, *allow_dirs])

    def allows(self, path: str | Path) -> bool:
        """True when the resolved path is an allowed file or lies inside an allowed folder."""
        path = real(path)
        return path in self.files or any(path.is_relative_to(folder) for folder in self.folders)

    def check(self, path: str | Path) -> Path:
        """The resolved path, or Refused when it (or a symlink on the way) leads outside the allowed folders."""
        if not self.allows(path):
            raise Refused(f"{shown(path)}: outside the folders this studio may read (the networks given at "
                          f"start, their folders, the current folder; start it with --allow-dir DIR to add one)")
        return real(path)

    def check_spec(self, spec: str) -> tuple[Path, int | None]:
        """A 'file:N' spec: the ':N' suffix is split off first, then the file is resolved and checked."""
        path, index = split_index(spec)
        return self.check(path), index
