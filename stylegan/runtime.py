"""Process-wide settings, applied by the command line's long-running verbs and opt-in for library users.

`keep_freed_memory()` keeps freed memory in the process, so that large tensors reuse pages instead of
faulting in new ones.

glibc's malloc serves each allocation above a threshold (at most 32 MiB) with a fresh `mmap` and returns it to
the system when freed; every such tensor then pays one page fault per 4 KiB page the first time it is
written. A training step allocates and frees hundreds of activation-sized tensors, so on the CPU these
faults can cost a large share of the step (about 40% of the official code's on the machine measured in
the README). Serving them from the heap and not trimming it keeps the
pages: the process holds its peak memory instead of returning it between steps, and keeps it until it
ends, which is why only long-running work (training, projecting folders, metrics, bulk generation) asks
for it.

Only glibc on Linux is changed; `STYLEGAN_MALLOC=system` leaves the allocator as it is. Processes started
from one that made the setting (spawned training workers) make it too (`STYLEGAN_MALLOC=keep`).
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform

MALLOC_ENV = "STYLEGAN_MALLOC"
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
_applied = False


def keep_freed_memory() -> bool:
    """Make glibc malloc keep freed memory for reuse (no mmap per large block, no trimming). Returns whether
    the setting is in effect; a no-op elsewhere and under `STYLEGAN_MALLOC=system`. The process then holds
    its peak memory until it ends."""
    global _applied
    if _applied:
        return True
    if os.environ.get(MALLOC_ENV, "").lower() == "system" or platform.system() != "Linux":
        return False
    if platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    _applied = bool(mallopt(_M_MMAP_MAX, 0)) and bool(mallopt(_M_TRIM_THRESHOLD, 2 ** 31 - 1))
    if _applied:
        os.environ[MALLOC_ENV] = "keep"
    return _applied


def memory_kept() -> bool:
    """Whether this process keeps freed memory (`keep_freed_memory` took effect)."""
    return _applied


def inherit() -> None:
    """Make, in a child process, the settings its parent made (the environment carries them)."""
    if os.environ.get(MALLOC_ENV, "").lower() == "keep":
        keep_freed_memory()
