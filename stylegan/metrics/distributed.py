"""The few collective operations the metrics need when run on several GPUs (one process each)."""
from __future__ import annotations

import torch


def gather_rows(x: torch.Tensor, num_gpus: int) -> torch.Tensor:
    """Collect `x` [n, ...] from every process, interleaved (row i of process r lands at i * num_gpus + r),
    so that a sample set split round-robin over processes comes back in its original order."""
    if num_gpus == 1:
        return x
    parts = [torch.empty_like(x) for _ in range(num_gpus)]
    torch.distributed.all_gather(parts, x.contiguous())
    return torch.stack(parts, dim=1).flatten(0, 1)


def sum_all(x: torch.Tensor, num_gpus: int) -> torch.Tensor:
    """Sum `x` over all processes."""
    if num_gpus > 1:
        torch.distributed.all_reduce(x)
    return x


def broadcast_flag(flag: bool, num_gpus: int, device: torch.device) -> bool:
    """Rank 0's value of `flag`, on every process."""
    if num_gpus == 1:
        return flag
    value = torch.tensor(float(flag), device=device)
    torch.distributed.broadcast(value, src=0)
    return bool(value.item())
