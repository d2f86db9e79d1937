"""Keeping freed memory (`stylegan.runtime`): large tensors reuse pages instead of faulting in new ones."""
import os
import platform
import subprocess
import sys

import pytest

from stylegan.runtime import keep_freed_memory

FAULTS = """
import resource, sys, torch
from stylegan.runtime import keep_freed_memory
kept = keep_freed_memory()
x = torch.ones(16 * 2 ** 20)          # 64 MiB, above glibc's largest mmap threshold
for _ in range(10):
    (x * 2).sum()                     # warm up: the heap grows until freed blocks fit the next request
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    (x * 2).sum()
print(kept, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""

glibc = pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
                           reason="the setting is made for glibc's malloc on Linux only")


def faults(env_value: str | None) -> tuple[str, int]:
    env = {k: v for k, v in os.environ.items() if k != "STYLEGAN_MALLOC"}
    if env_value is not None:
        env["STYLEGAN_MALLOC"] = env_value
    out = subprocess.run([sys.executable, "-c", FAULTS], capture_output=True, text=True, env=env, check=True)
    kept, count = out.stdout.split()
    return kept, int(count)


@glibc
def test_freed_memory_is_reused_without_page_faults():
    kept, with_setting = faults(None)
    system, without = faults("system")
    assert (kept, system) == ("True", "False")
    # Without the setting each of the 20 temporaries is a fresh mapping whose pages fault in (4 KiB each,
    # or 2 MiB with transparent huge pages: at least 32 per temporary); with it, the heap's pages are reused
    # (a few temporaries may still land on new heap space while the free blocks settle).
    assert without >= 20 * 32
    assert with_setting * 4 <= without


@glibc
def test_setting_is_idempotent():
    assert keep_freed_memory() is keep_freed_memory()
