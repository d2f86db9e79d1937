"""Seed lists as the official tools write them ('0-3,7'), parsed without torch so that a bad --seeds is
reported at once."""
from __future__ import annotations

import re
from typing import Iterable

from ..errors import InputError

MAX_SEED = 2 ** 32 - 1


def parse_seeds(text: str | Iterable[int]) -> list[int]:
    """Parse '0-3,7' into [0, 1, 2, 3, 7] (the official --seeds syntax); ranges are inclusive."""
    if not isinstance(text, str):
        return [int(s) for s in text]
    seeds: list[int] = []
    for part in text.split(","):
        part = part.strip()
        m = re.fullmatch(r"(\d+)\s*-\s*(\d+)", part) or re.fullmatch(r"(\d+)", part)
        if m is None:
            raise InputError(f"cannot parse seeds {text!r}: each item must be a number or a range like 0-15")
        lo, hi = int(m.group(1)), int(m.group(m.lastindex))
        if hi < lo:
            raise InputError(f"seed range {part!r} runs backwards; write it as {hi}-{lo}")
        if hi > MAX_SEED:
            raise InputError(f"seed {hi} is too large; seeds go up to {MAX_SEED}")
        seeds.extend(range(lo, hi + 1))
    return seeds


__all__ = ["MAX_SEED", "parse_seeds"]
