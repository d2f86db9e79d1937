"""Sizes Python's C unpickler takes from a pickle and acts on before it reads any further, checked first.

- A memo index: BINPUT, LONG_BINPUT and PUT store into a table the unpickler grows to twice the index and
  clears, so a 4-byte index in a 20-byte file makes it allocate and write up to 32 GiB. Picklers number memo
  entries from 0 in order: an index beyond the entries stored before it is refused.
- A length: strings, bytes and frames are allocated at the length the pickle states before they are read.
  A length beyond the bytes left in the file is refused.
"""
from __future__ import annotations

import io
import pickletools
from typing import BinaryIO

from ..errors import CheckpointError

_OPCODES = {op.code.encode("latin-1"): op for op in pickletools.opcodes}
_COUNTS = {pickletools.TAKEN_FROM_ARGUMENT1: (1, False), pickletools.TAKEN_FROM_ARGUMENT4: (4, True),
           pickletools.TAKEN_FROM_ARGUMENT4U: (4, False), pickletools.TAKEN_FROM_ARGUMENT8U: (8, False)}
_PUTS = ("BINPUT", "LONG_BINPUT", "PUT")
_TWO_LINES = ("GLOBAL", "INST")


def _text_index(raw: bytes) -> int:
    """A PUT's decimal index (0 when it is no number: the unpickler refuses that itself)."""
    digits = raw.strip()
    if not digits.isdigit():
        return 0
    return int(digits) if len(digits) <= 18 else 1 << 62


def _truncated(what: str, length: int, left: int) -> CheckpointError:
    return CheckpointError(f"the pickle is truncated or corrupt (it states {what} of {length} bytes where "
                           f"{max(left, 0)} remain)")


def check_pickle(file: BinaryIO) -> None:
    """Walk the pickle at the file's position up to its STOP, reading only opcodes and their small arguments, and
    refuse it when it stores into the memo beyond the entries stored so far or states a length beyond the bytes
    left; the position is restored. Nothing is built; a damaged stream ends the walk quietly (the unpickler
    stops at the same place and says what is wrong)."""
    start = file.tell()
    end = file.seek(0, io.SEEK_END)
    file.seek(start)
    stored = 0
    try:
        while True:
            op = _OPCODES.get(file.read(1))
            if op is None or op.name == "STOP":
                return
            argument = op.arg.n if op.arg is not None else 0
            if argument in _COUNTS:
                width, signed = _COUNTS[argument]
                length = int.from_bytes(file.read(width), "little", signed=signed)
                if length > end - file.tell():
                    raise _truncated(f"{op.name} data", length, end - file.tell())
                if length < 0:
                    return
                file.seek(length, io.SEEK_CUR)
                continue
            if argument == pickletools.UP_TO_NEWLINE:
                raw = file.readline()
                if op.name in _TWO_LINES:
                    file.readline()
            else:
                raw = file.read(argument)
            if op.name == "FRAME" and int.from_bytes(raw, "little") > end - file.tell():
                raise _truncated("a frame", int.from_bytes(raw, "little"), end - file.tell())
            if op.name in _PUTS:
                index = _text_index(raw) if op.name == "PUT" else int.from_bytes(raw, "little")
                if index > stored:
                    raise CheckpointError(f"the pickle is damaged or crafted (it stores memo entry {index} after "
                                          f"{stored} entries; reading it would take {16 * index} bytes)")
                stored = max(stored, index + 1)
            elif op.name == "MEMOIZE":
                stored += 1
    finally:
        file.seek(start)
