"""Which files the studio may read: the networks given at start, their folders, the current folder, the
capture folder and any `--allow-dir`; every path is resolved (symlinks followed) before it is checked."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

from ..errors import InputError
from ..io.latents import split_index  # noqa: F401  (also imported from here)


class Refused(InputError):
    """A path outside the folders the studio may read (answered with 403)."""


def real(path: str | Path) -> Path:
    """The absolute path with '~', '..' and every symlink resolved."""
    return Path(os.path.realpath(Path(path).expanduser()))


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
            raise Refused(f"{Path(path).name}: outside the folders this studio may read (the networks given at "
                          f"start, their folders, the current folder; start it with --allow-dir DIR to add one)")
        return real(path)

    def check_spec(self, spec: str) -> tuple[Path, int | None]:
        """A 'file:N' spec: the ':N' suffix is split off first, then the file is resolved and checked."""
        path, index = split_index(spec)
        return self.check(path), index
