"""Process-wide settings (`stylegan.runtime`): keeping freed memory makes large tensors reuse pages instead of
faulting in new ones, costs the process its peak memory for good, and is made only where work is long."""
import os
import platform
import subprocess
import sys

import pytest

from stylegan.runtime import keep_freed_memory

FAULTS = """
import resource, sys, torch
torch.set_num_threads(1)              # the main thread's heap alone (with worker threads the count
                                      # varied with their wait policy, which other tests set)
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


def run(script: str, env_value: str | None = None, cwd=None) -> str:
    """Run a Python script in a fresh process (the setting is per process); its standard output."""
    env = {k: v for k, v in os.environ.items() if k != "STYLEGAN_MALLOC"}
    if env_value is not None:
        env["STYLEGAN_MALLOC"] = env_value
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True,
                          cwd=cwd).stdout


def faults(env_value: str | None) -> tuple[str, int]:
    kept, count = run(FAULTS, env_value).split()
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


RESIDENT = """
import os, torch
from stylegan.runtime import keep_freed_memory
def resident():  # resident set size in bytes
    return int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
keep_freed_memory()
base = resident()
x = torch.ones(128 * 2 ** 20)         # 512 MiB, written
del x
print((resident() - base) / 2 ** 20)
"""


@glibc
def test_kept_memory_stays_with_the_process():
    kept, returned = float(run(RESIDENT)), float(run(RESIDENT, "system"))
    # The cost of the setting: the freed 512 MiB stay resident (the README's figure) instead of going back.
    assert kept >= 0.9 * 512
    assert returned <= 0.1 * 512


WHERE = """
import sys
from stylegan.runtime import memory_kept
from stylegan.cli import cli
cli.main(sys.argv[1:], standalone_mode=False)
print(memory_kept())
"""


@glibc
@pytest.mark.parametrize("args, kept", [
    (["info"], False),
    (["generate", "--seeds", "0", "--outdir", "out"], True),
    (["generate", "--projected-w", "ws.npy", "--outdir", "out"], False),
])
def test_the_command_line_keeps_memory_in_long_work_only(args, kept, tmp_path):
    import numpy as np
    np.save(tmp_path / "ws.npy", np.zeros([1, 512], np.float32))
    script = WHERE.replace("sys.argv[1:]", repr(args))
    assert run(script, cwd=tmp_path).split()[-1] == str(kept)


@glibc
def test_library_use_leaves_the_allocator_alone_unless_asked():
    script = ("import torch, stylegan\nfrom stylegan.runtime import memory_kept, keep_freed_memory\n"
              "G = stylegan.load('builtin:demo')\nG(torch.zeros(1, G.z_dim), None)\nprint(memory_kept())\n"
              "print(keep_freed_memory(), memory_kept())")
    assert run(script).split() == ["False", "True", "True"]


@glibc
def test_processes_started_by_a_keeping_process_keep_too():
    script = "from stylegan.runtime import inherit, memory_kept\ninherit()\nprint(memory_kept())"
    assert run(script, "keep").strip() == "True"
    assert run(script).strip() == "False"


def test_thread_counts_are_positive_integers(monkeypatch):
    from stylegan.errors import InputError
    from stylegan.runtime import thread_count
    monkeypatch.delenv("STYLEGAN_THREADS", raising=False)
    assert thread_count() is None and thread_count(3) == 3 and thread_count(" 2 ") == 2
    monkeypatch.setenv("STYLEGAN_THREADS", "4")
    assert thread_count() == 4
    for bad in ("0", "-1", "x", "1.5", "\u0663", "99999"):
        with pytest.raises(InputError, match="not a number of threads"):
            thread_count(bad)


def test_threads_option_and_environment_apply_to_computing_verbs(tmp_path, monkeypatch):
    import torch
    from click.testing import CliRunner

    from stylegan.cli import cli
    seen = {}
    real = torch.set_num_threads
    monkeypatch.setattr(torch, "set_num_threads", lambda n: (seen.setdefault("threads", n), real(n)))
    result = CliRunner().invoke(cli, ["generate", "--seeds", "0", "--threads", "1", "--outdir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert seen == {"threads": 1} and torch.get_num_threads() == 1
    monkeypatch.setenv("STYLEGAN_THREADS", "lots")
    result = CliRunner().invoke(cli, ["generate", "--seeds", "0", "--outdir", str(tmp_path)])
    assert result.exit_code == 1 and result.output.strip().endswith("to a positive integer")
    assert CliRunner().invoke(cli, ["models"]).exit_code == 0  # no computing, no thread setting


def test_the_command_line_makes_idle_threads_sleep_unless_told_otherwise():
    script = ("import os, runpy, sys\nsys.argv = ['stylegan', 'models']\n"
              "try:\n    runpy.run_module('stylegan.cli', run_name='__main__')\nexcept SystemExit:\n    pass\n"
              "print(os.environ['OMP_WAIT_POLICY'], 'torch' in sys.modules)")
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.split()[-2:] == ["PASSIVE", "False"]  # set before torch could start its threads
    env["OMP_WAIT_POLICY"] = "ACTIVE"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.split()[-2] == "ACTIVE"
