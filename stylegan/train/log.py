"""The training log `stats.jsonl`: one JSON record per tick, appended and flushed. A run killed while writing
can leave a torn last line; appending starts a fresh line after it, and reading skips it."""
from __future__ import annotations

import json
from pathlib import Path
from typing import IO

STATS_FILE = "stats.jsonl"


def open_stats(run_dir: str | Path) -> IO[str]:
    """The log of `run_dir`, opened for appending; a torn last line is ended first, so that the next record
    starts on a line of its own."""
    path = Path(run_dir) / STATS_FILE
    torn = False
    if path.is_file() and path.stat().st_size > 0:
        with open(path, "rb") as f:
            f.seek(-1, 2)
            torn = f.read(1) != b"\n"
    log = open(path, "a", encoding="utf-8")
    if torn:
        log.write("\n")
    return log


def read_stats(run_dir: str | Path) -> list[dict]:
    """The tick records of `run_dir`'s log, in order; lines that are not whole JSON objects (a torn line
    left by a kill) are skipped."""
    records = []
    for line in (Path(run_dir) / STATS_FILE).read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records
