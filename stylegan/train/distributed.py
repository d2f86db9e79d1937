"""Multi-process training with torch.distributed: NCCL on GPUs, gloo on the CPU.

`stylegan train --gpus N` on one machine spawns N worker processes itself; under `torchrun` (several
machines, or when the launcher is preferred) the processes come from the launcher's environment.
"""
from __future__ import annotations

import os
import socket
from typing import Callable

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from ..errors import StyleGANError


def launched_by_torchrun() -> bool:
    """True when the process was started by torchrun (which sets RANK and WORLD_SIZE)."""
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def free_port() -> int:
    """A free TCP port on the loopback interface, for the spawned workers' rendezvous."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def init(rank: int, world_size: int, init_method: str | None = None) -> torch.device:
    """Join the process group (NCCL with one GPU per process, else gloo) and return this process's device."""
    cuda = torch.cuda.is_available()
    local_rank = int(os.environ.get("LOCAL_RANK", rank))
    device = torch.device("cuda", local_rank) if cuda else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(device)
    if world_size > 1:
        dist.init_process_group("nccl" if cuda else "gloo", init_method=init_method or "env://", rank=rank,
                                world_size=world_size)
    return device


def shutdown(synchronize: bool = True) -> None:
    """Leave the process group, if any. With `synchronize`, first wait until every process is done: a process
    that tears its connections down while another still uses them makes gloo abort that other process."""
    if dist.is_available() and dist.is_initialized():
        if synchronize:
            dist.barrier()
        dist.destroy_process_group()


def run_in_group(fn: Callable[[], None]) -> None:
    """Call fn, then leave the process group: in step with the others after success, at once after an error
    (when the others may be gone and a barrier would never return)."""
    try:
        fn()
    except BaseException:
        shutdown(synchronize=False)
        raise
    shutdown()


def all_reduce_sum(t: torch.Tensor) -> torch.Tensor:
    """Sum a tensor over all processes (a no-op with one process)."""
    if dist.is_available() and dist.is_initialized():
        dist.all_reduce(t)
    return t


def broadcast_(module: torch.nn.Module) -> None:
    """Copy rank 0's parameters and buffers to every process."""
    if dist.is_available() and dist.is_initialized():
        for t in list(module.parameters()) + list(module.buffers()):
            dist.broadcast(t.data, src=0)


def _reporting(rank: int, worker: Callable[[int, int, str], None], world_size: int, init_method: str,
               errors) -> None:
    """A spawned process: run the worker, and hand an error meant for the user to the parent."""
    try:
        worker(rank, world_size, init_method)
    except StyleGANError as exc:
        errors.put(exc)
        raise SystemExit(1) from None


def spawn(worker: Callable[[int, int, str], None], world_size: int) -> None:
    """Run worker(rank, world_size, init_method) in `world_size` new processes and wait for them. An error
    meant for the user (a StyleGANError) in any of them is raised here as it is, without the traceback of the
    process it came from."""
    init_method = f"tcp://127.0.0.1:{free_port()}"
    errors = mp.get_context("spawn").SimpleQueue()
    try:
        mp.spawn(_reporting, args=(worker, world_size, init_method, errors), nprocs=world_size, join=True)
    except mp.ProcessExitedException:
        if errors.empty():
            raise
        raise errors.get() from None
