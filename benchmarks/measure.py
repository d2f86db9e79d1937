"""Timing, peak memory and FLOP counting shared by the benchmark suites."""
from __future__ import annotations

import resource
import time
from dataclasses import dataclass
from typing import Callable

import torch
from torch.utils.flop_counter import FlopCounterMode

from .machine import describe


@dataclass
class Row:
    """One measurement: what ran, the batch, seconds per call, peak memory (MiB) and FLOPs per call."""
    name: str
    batch: int
    seconds: float
    peak_mib: float
    flops: float

    @property
    def tflops(self) -> float:
        """Achieved TFLOP/s from the analytic FLOP count."""
        return self.flops / self.seconds / 1e12 if self.seconds > 0 else 0.0


def measure(name: str, batch: int, fn: Callable[[], object], device: torch.device, repeats: int = 3,
            grad: bool = False) -> Row:
    """Run fn once to warm up and once under a FLOP counter, then time `repeats` runs."""
    context = torch.enable_grad if grad else torch.no_grad
    with context():
        fn()
        with FlopCounterMode(display=False) as counter:
            fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        start = time.perf_counter()
        for _ in range(repeats):
            fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
    seconds = (time.perf_counter() - start) / repeats
    peak = (torch.cuda.max_memory_allocated() / 2 ** 20 if device.type == "cuda"
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return Row(name, batch, seconds, peak, float(counter.get_total_flops()))


def print_table(rows: list[Row], device: torch.device, note: str = "") -> None:
    """Print the rows as an aligned table."""
    print(describe(device) + (f"; {note}" if note else ""))
    print(f"{'benchmark':<26}{'batch':>6}{'items/s':>10}{'ms/item':>10}{'peak MiB':>10}{'GFLOP':>10}{'TFLOP/s':>9}")
    for r in rows:
        per_item = r.seconds / r.batch
        print(f"{r.name:<26}{r.batch:>6}{1 / per_item:>10.3f}{1000 * per_item:>10.1f}{r.peak_mib:>10.0f}"
              f"{r.flops / 1e9:>10.1f}{r.tflops:>9.3f}")
