"""The output side of every verb: writability checked before any work, file-system faults as one line, and
the settings record that keeps resumed folders from going silently stale.

Light on purpose (no torch): the command line imports it before any verb runs.
"""
from __future__ import annotations

import contextlib
import errno
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

from ..errors import StyleGANError
from .paths import special_kind

PROBLEMS = {
    errno.EACCES: "permission denied; choose a place you can write to",
    errno.EPERM: "operation not permitted; choose a place you can write to",
    errno.ENOSPC: "no space left on the device; free some space or write elsewhere",
    errno.EDQUOT: "disk quota exceeded; free some space or write elsewhere",
    errno.EROFS: "read-only file system; write elsewhere",
    errno.EISDIR: "is a folder, but a file goes here; give a file name",
    errno.ENOTDIR: "a file is in the way where a folder goes; remove it or choose another path",
    errno.EEXIST: "already exists and is in the way; remove it or choose another path",
    errno.ENOENT: "no such file or folder",
    errno.ENAMETOOLONG: "file name too long",
}


class OutputError(StyleGANError):
    """An output location cannot be written (permission, space, a file or folder in the way)."""


def describe_os_error(exc: OSError) -> str:
    """One line for a file-system error: the path it concerns and what to do about it."""
    problem = PROBLEMS.get(exc.errno, exc.strerror or str(exc))
    return f"{exc.filename}: {problem}" if exc.filename else problem


def _existing_ancestor(path: Path) -> Path:
    """The nearest of `path` and its parents that exists (raises OutputError when that one is a file)."""
    for candidate in [path, *path.parents]:
        if candidate.exists():
            if not candidate.is_dir():
                raise OutputError(f"{candidate}: {PROBLEMS[errno.ENOTDIR]}")
            return candidate
    return Path.cwd()


def _probe(folder: Path) -> None:
    """Create and remove a small file in `folder`: the only test of writability that holds for every user and
    file system (permission bits do not stop root, nor say anything about read-only mounts)."""
    probe = folder / f".stylegan-write-test-{secrets.token_hex(4)}"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise OutputError(f"{folder}: {PROBLEMS.get(exc.errno, exc.strerror)}") from None
    os.close(fd)
    os.unlink(probe)


def _refuse_special(path: Path) -> None:
    """A device, FIFO or socket where an output file goes (links followed) would be replaced by a regular file
    (or, for /dev/null written by root, the device itself): refused. A dangling link is left to be replaced."""
    try:
        kind = special_kind(os.stat(path).st_mode)
    except OSError:
        return
    if kind is not None:
        raise OutputError(f"{path}: is {kind}, not a regular file; outputs are written to regular files only")


def check_outputs(folders: Iterable[str | Path] = (), files: Iterable[str | Path] = ()) -> None:
    """Raise OutputError, before any work starts, when an output folder or file cannot be written: a file
    where a folder goes, a folder (or a name that is no file name) where a file goes, a device, FIFO or socket
    where a file goes, or a place this process may not write to. Nothing is created: folders that do not exist
    yet are judged by their nearest existing parent."""
    folders = dict.fromkeys(Path(f) for f in folders)  # (ordered, each once)
    by_folder: dict[str, list[str]] = {}
    for file in map(os.fspath, files):
        head, name = os.path.split(file)
        if name in ("", ".", ".."):
            raise OutputError(f"{file or repr(file)}: {PROBLEMS[errno.EISDIR]}")
        by_folder.setdefault(head, []).append(name)
    for head, names in by_folder.items():
        folder = Path(head)
        folders[folder] = None
        if folder.is_dir():  # one listing per folder, not one look-up per file (a run may name millions)
            others = {entry.name: entry for entry in os.scandir(folder) if not entry.is_file()}
            for name in (n for n in names if n in others):
                if others[name].is_dir():
                    raise OutputError(f"{folder / name}: {PROBLEMS[errno.EISDIR]}")
                _refuse_special(folder / name)
    for where in dict.fromkeys(_existing_ancestor(folder) for folder in folders):
        _probe(where)


def _jsonable(settings: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(settings, sort_keys=True, default=str))


def _differences(old: dict[str, Any], new: dict[str, Any]) -> str:
    keys = sorted(set(old) | set(new))
    return ", ".join(f"{k} {old.get(k)!r} -> {new.get(k)!r}" for k in keys if old.get(k) != new.get(k))


@dataclass
class RunRecord:
    """The settings a resumable verb's outputs in `folder` are made with, kept in `folder/stylegan-VERB.json`.

    `outputs` are the glob patterns of what the verb writes there. `check()` (before any work) refuses, in
    one line offering `--overwrite`, when such outputs exist and were made with other settings or with
    settings that were not recorded. `start()` (just before the first output) deletes them when
    `overwrite` and `delete`, so that everything is made anew, and records the settings.
    """
    folder: Path
    verb: str
    settings: dict[str, Any]
    overwrite: bool
    outputs: Sequence[str]
    delete: bool = True

    @property
    def path(self) -> Path:
        """The record file."""
        return Path(self.folder) / f"stylegan-{self.verb}.json"

    def _earlier(self) -> list[Path]:
        return [p for pattern in self.outputs for p in Path(self.folder).glob(pattern) if p.is_file()]

    def _recorded(self) -> Any:
        if not self.path.is_file():
            return None
        try:
            return json.loads(self.path.read_text(encoding="utf-8")).get("settings", "unreadable")
        except (OSError, ValueError, AttributeError):
            return "unreadable"

    def check(self) -> "RunRecord":
        """Raise OutputError when resuming would keep outputs made with other settings; returns self."""
        old, new = self._recorded(), _jsonable(self.settings)
        if self.overwrite or old == new or not self._earlier():
            return self
        reason = "settings that were not recorded" if old is None else \
            f"other settings ({_differences(old, new)})" if isinstance(old, dict) else "other settings"
        raise OutputError(f"{self.folder}: its {self.verb} outputs were made with {reason}; add --overwrite to "
                          f"make them anew, or choose another output folder")

    def start(self) -> None:
        """Delete the earlier outputs (with `overwrite` and `delete`) and record the settings."""
        from .files import write_json
        new = _jsonable(self.settings)
        if self.overwrite and self.delete:
            for file in self._earlier():
                file.unlink(missing_ok=True)
        elif self._recorded() == new:
            return
        write_json(self.path, {"settings": new, "verb": self.verb})

    @contextlib.contextmanager
    def started(self) -> Iterator["RunRecord"]:
        """`start()` for the work inside; when that work fails before any output exists, the record it made is
        removed again, so that a failed run leaves nothing behind."""
        existed = self.path.is_file()
        self.start()
        try:
            yield self
        except BaseException:
            if not existed and not self._earlier():
                self.path.unlink(missing_ok=True)
            raise


def network_identity(network: str) -> str:
    """How a settings record names a network: the absolute path of a file, or the name as given otherwise."""
    path = Path(network)
    return str(path.resolve()) if path.is_file() else network


__all__ = ["OutputError", "RunRecord", "describe_os_error", "check_outputs", "network_identity"]
