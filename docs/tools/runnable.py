"""The guides' runnable code blocks: a fenced `python` or `bash` block right after a `<!-- run -->` line.

A page's runnable blocks run in order in one folder, its Python blocks in one namespace (`tests/test_docs.py`);
every command of a runnable `bash` block is a `stylegan` command line.
"""
from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

MARKER = "<!-- run -->"
_FENCE = re.compile(r"^(`{3,})\s*(\w+)?")


@dataclass(frozen=True)
class Block:
    """One runnable block: the page it is on, the line its code starts at, its language and its code."""
    page: Path
    line: int
    language: str
    code: str

    @property
    def where(self) -> str:
        """`page.md:LINE`, for messages."""
        return f"{self.page.as_posix()}:{self.line}"


def blocks(page: Path) -> list[Block]:
    """The runnable blocks of a Markdown page, in order; a marker not followed by a python or bash fence is an
    error."""
    lines = page.read_text(encoding="utf-8").splitlines()
    found = []
    for i, line in enumerate(lines):
        if line.strip() != MARKER:
            continue
        fence = _FENCE.match(lines[i + 1]) if i + 1 < len(lines) else None
        if fence is None or fence.group(2) not in ("python", "bash"):
            raise ValueError(f"{page}:{i + 1}: {MARKER} must be followed by a ```python or ```bash block")
        end = next(j for j in range(i + 2, len(lines)) if lines[j].strip() == fence.group(1))
        found.append(Block(page, i + 3, fence.group(2), "\n".join(lines[i + 2:end]) + "\n"))
    return found


def commands(block: Block) -> list[list[str]]:
    """The command lines of a bash block as argument lists (continuations joined, comments dropped); each must
    be a `stylegan` command."""
    text = re.sub(r"\\\n", " ", block.code)
    found = []
    for line in text.splitlines():
        args = shlex.split(line, comments=True)
        if not args:
            continue
        if args[0] != "stylegan":
            raise ValueError(f"{block.where}: a runnable bash block runs `stylegan` commands only, not {args[0]!r}")
        found.append(args)
    return found
