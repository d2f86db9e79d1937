"""Process-wide settings, applied by the command line and opt-in for library users.

Threads: torch's CPU operators run on a pool of OpenMP threads that spin while they wait for work. On a
machine whose cores are busy with other processes, a spinning thread holds a core that another of the
pool's threads needs, and every operator waits for the slowest: a projection took 60 s instead of 2.6 s
with one thread (`python -m benchmarks.threads`). `quiet_idle_threads()` makes waiting threads sleep
(OMP_WAIT_POLICY=PASSIVE) unless the user chose a policy; the command line does so before torch starts.
`set_threads(n)` (`--threads N`, `STYLEGAN_THREADS=N`) sets the pool's size.

Memory: `keep_freed_memory()` keeps freed memory in the process, so that large tensors reuse pages instead
of faulting in new ones.

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

import contextlib
import ctypes
import ctypes.util
import json
import os
import platform
import tempfile
from pathlib import Path

from .errors import InputError

CACHE_ENV = "STYLEGAN_CACHE"
MALLOC_ENV = "STYLEGAN_MALLOC"
THREADS_ENV = "STYLEGAN_THREADS"
WAIT_POLICY_ENV = "OMP_WAIT_POLICY"
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
_applied = False


def cache_root() -> Path:
    """Where the package keeps what it downloads and measures: $STYLEGAN_CACHE, else ~/.cache/stylegan."""
    env = os.environ.get(CACHE_ENV)
    return Path(os.path.expanduser(env)) if env else Path.home() / ".cache" / "stylegan"


def read_record(name: str) -> dict:
    """A JSON record the package keeps in its cache folder (measured choices); empty when absent or unreadable."""
    try:
        data = json.loads((cache_root() / name).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_record(name: str, data: dict) -> None:
    """Replace a cache record atomically; a cache folder that cannot be written only costs a new measurement
    next time."""
    path, tmp = cache_root() / name, None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1)
        os.replace(tmp, path)
    except OSError:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def device_name(device: str | object = "cpu") -> str:
    """The name of the processor that computes on `device`: the GPU's, or the CPU's model (from /proc/cpuinfo
    on Linux, else what the platform says)."""
    kind = getattr(device, "type", str(device).split(":")[0])
    if kind == "cuda":
        import torch
        return torch.cuda.get_device_name(device)
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.lower().startswith(("model name", "hardware")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_flags(cpuinfo: str | Path = "/proc/cpuinfo") -> set[str] | None:
    """The CPU's feature flags (x86 `flags`, ARM `Features`) from `cpuinfo`; None where they cannot be read."""
    try:
        with open(cpuinfo, encoding="utf-8") as f:
            return next((set(line.split(":", 1)[1].split()) for line in f
                         if line.lower().startswith(("flags", "features"))), None)
    except OSError:
        return None


def cpu_has_bf16(cpuinfo: str | Path = "/proc/cpuinfo") -> bool | None:
    """Whether the CPU computes bfloat16 in hardware (x86: AVX512-BF16 or AMX-BF16; ARM: the bf16 feature),
    from its flags in `cpuinfo`; None where they cannot be read. Without it, bfloat16 autocast is emulated and
    slower than float32 (oneDNN still reports bf16 as supported on plain AVX-512)."""
    flags = cpu_flags(cpuinfo)
    return None if flags is None else bool({"avx512_bf16", "amx_bf16", "bf16"} & flags)


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


def quiet_idle_threads() -> str:
    """Make torch's idle CPU threads sleep instead of spinning (OMP_WAIT_POLICY=PASSIVE), unless the policy
    is already chosen; returns the policy in force. Takes effect only when called before torch starts its
    thread pool (before `import torch`), and for processes started from this one."""
    return os.environ.setdefault(WAIT_POLICY_ENV, "PASSIVE")


def thread_count(value: str | int | None = None) -> int | None:
    """The thread count asked for: `value`, else $STYLEGAN_THREADS, else None (torch's own choice, one per
    core); anything but a positive integer is an InputError."""
    value = os.environ.get(THREADS_ENV) if value is None else value
    if value is None or str(value).strip() == "":
        return None
    text = str(value).strip()
    if not (text.isascii() and text.isdigit()) or not 0 < int(text) <= 4096:
        raise InputError(f"threads: {value!r} is not a number of threads (1 to 4096); set --threads or "
                         f"{THREADS_ENV} to a positive integer")
    return int(text)


def set_threads(count: str | int | None = None) -> int:
    """Run torch's CPU operators on `count` threads (default: $STYLEGAN_THREADS, else leave torch's choice)
    and record it for processes started from this one; returns the number of threads in use."""
    import torch
    count = thread_count(count)
    if count is not None:
        torch.set_num_threads(count)
        os.environ[THREADS_ENV] = str(count)
    return torch.get_num_threads()


def inherit() -> None:
    """Make, in a child process, the settings its parent made (the environment carries them)."""
    if os.environ.get(MALLOC_ENV, "").lower() == "keep":
        keep_freed_memory()
    set_threads()
