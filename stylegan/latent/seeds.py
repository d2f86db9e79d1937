"""Seed lists as the official tools write them ('0-3,7'), parsed without torch so that a bad --seeds is
reported at once."""
from __future__ import annotations

import re
from typing import Iterable

from ..errors import InputError

MAX_SEED = 2 ** 32 - 1  # the official range: numpy's RandomState takes seeds below 2**32
MAX_SEEDS = 1_000_000  # seeds in one list: larger runs are split (a folder of outputs resumes across runs)
_ITEM = re.compile(r"([0-9]+)(?:\s*-\s*([0-9]+))?", re.ASCII)


def _seed(digits: str, text: str) -> int:
    """One seed from ASCII digits, within the official range (checked before converting a long number)."""
    if len(digits.lstrip("0")) > len(str(MAX_SEED)) or int(digits) > MAX_SEED:
        raise InputError(f"seed {digits[:20]}{'...' if len(digits) > 20 else ''} in {text[:60]!r} is too large; "
                         f"seeds go from 0 to {MAX_SEED}")
    return int(digits)


def parse_seeds(text: str | Iterable[int], limit: int = MAX_SEEDS) -> list[int]:
    """Parse '0-3,7' into [0, 1, 2, 3, 7] (the official --seeds syntax); ranges are inclusive. Seeds are ASCII
    digits from 0 to 2**32 - 1; a list of more than `limit` seeds is refused before it is built."""
    if not isinstance(text, str):
        seeds = [int(s) for s in text]
        bad = [s for s in seeds if not 0 <= s <= MAX_SEED]
        if bad:
            raise InputError(f"seed {bad[0]} is out of range; seeds go from 0 to {MAX_SEED}")
        return seeds
    ranges = []
    for part in text.split(","):
        part = part.strip()
        m = _ITEM.fullmatch(part)
        if m is None:
            raise InputError(f"cannot parse seeds {text[:60]!r}: each item must be a number or a range like 0-15 "
                             f"(digits 0-9)")
        lo = _seed(m.group(1), text)
        hi = _seed(m.group(2), text) if m.group(2) is not None else lo
        if hi < lo:
            raise InputError(f"seed range {part!r} runs backwards; write it as {hi}-{lo}")
        ranges.append(range(lo, hi + 1))
    count = sum(map(len, ranges))
    if count > limit:
        raise InputError(f"the seeds {text[:60]!r} are {count:,}; one run takes at most {limit:,}: split the range "
                         f"over several runs (runs into the same folder resume where the last one stopped)")
    return [seed for r in ranges for seed in r]


__all__ = ["MAX_SEED", "MAX_SEEDS", "parse_seeds"]
