"""What a speed table was measured on: CPU model (or GPU name), cores, torch version, allocator and thread
settings, as one header line every benchmark prints above its table."""
from __future__ import annotations

import os

import torch

from stylegan.runtime import WAIT_POLICY_ENV, device_name, memory_kept
from stylegan.runtime import cpu_flags as all_cpu_flags


def cpu_flags() -> list[str]:
    """The CPU features that decide which precision is fast: AVX-512 (and its BF16 and FP16), AMX."""
    flags = all_cpu_flags() or set()
    wanted = ("avx2", "avx512f", "avx512_bf16", "avx512_fp16", "amx_bf16", "amx_tile")
    return [flag for flag in wanted if flag in flags]


def describe(device: torch.device | str = "cpu") -> str:
    """One line naming the machine and the settings a measurement ran with."""
    device = torch.device(device)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    if device.type == "cuda":
        where = f"GPU {torch.cuda.get_device_name(device)}, host CPU {device_name('cpu')}"
    else:
        where = f"CPU {device_name('cpu')} ({', '.join(cpu_flags()) or 'no AVX2'})"
    return (f"# {where}; {cores} cores usable, {torch.get_num_threads()} torch threads, "
            f"{WAIT_POLICY_ENV}={os.environ.get(WAIT_POLICY_ENV, 'unset')}; torch {torch.__version__}; "
            f"freed memory {'kept (keep_freed_memory)' if memory_kept() else 'returned to the system'}")
