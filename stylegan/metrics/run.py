"""Evaluate metrics for a checkpoint file, as `stylegan metrics` does: look up the dataset options the
training run recorded, compute each metric (in one process, or one per GPU), and report the results."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable

import torch

from .. import formats
from ..data.dataset import is_builtin
from ..errors import InputError
from ..hub import resolve_network
from .options import MetricOptions
from .registry import calc_metric, format_table, report_metric

_DATASET_KEYS = ("path", "max_size", "xflip", "random_seed")


def recorded_dataset_kwargs(network: str | Path) -> dict | None:
    """The dataset options an official training snapshot recorded (`training_set_kwargs`), if any."""
    recorded = formats.recorded_training_set(network)
    return {k: recorded[k] for k in _DATASET_KEYS if k in recorded} if recorded is not None else None


def default_run_dir(network: str | Path) -> Path:
    """The network's folder when it is a training run (holds training_options.json), else the current one."""
    folder = Path(network).resolve().parent
    return folder if (folder / "training_options.json").is_file() else Path.cwd()


def evaluate(network: str | Path, metrics: list[str], data: str | Path | None = None, mirror: bool | None = None,
             gpus: int = 1, device: torch.device | str = "cpu", run_dir: str | Path | None = None,
             echo: Callable[[str], None] = print, **opts_kwargs) -> list[dict]:
    """Compute `metrics` for the G_ema of `network` and append each result to run_dir/metric-NAME.jsonl.

    `data` defaults to the dataset recorded in the checkpoint; `mirror` to its recorded x-flip setting.
    `opts_kwargs` go to MetricOptions (inception, vgg16, seed, cache, ...) except `num_gen` and
    `max_real`, which go to calc_metric. With gpus > 1, one process per GPU is started; rank 0 prints
    and writes the results, and the returned list is empty.
    """
    network = resolve_network(network)  # a URL or zoo name is downloaded once, here
    dataset_kwargs = recorded_dataset_kwargs(network) or {}
    if data is not None:
        dataset_kwargs = dict(path=str(data))
    elif (recorded := dataset_kwargs.get("path")) and not is_builtin(recorded) and not Path(recorded).exists():
        dataset_kwargs = {}
    if mirror is not None:
        dataset_kwargs["xflip"] = mirror
    run_dir = Path(run_dir) if run_dir is not None else default_run_dir(network)
    job = dict(network=str(network), metrics=metrics, dataset_kwargs=dataset_kwargs, run_dir=str(run_dir),
               opts_kwargs=opts_kwargs)
    if gpus == 1:
        return _evaluate(0, 1, torch.device(device), job, echo)
    if gpus < 1:
        raise InputError(f"--gpus must be at least 1, got {gpus}")
    if torch.cuda.device_count() < gpus:
        raise InputError(f"--gpus {gpus} needs {gpus} CUDA GPUs; PyTorch sees {torch.cuda.device_count()}")
    with tempfile.TemporaryDirectory() as tmp:
        torch.multiprocessing.spawn(_worker, args=(gpus, job, os.path.join(tmp, "init")), nprocs=gpus)
    return []


def _worker(rank: int, gpus: int, job: dict, init_file: str) -> None:
    torch.distributed.init_process_group("nccl", init_method=f"file://{init_file}", rank=rank, world_size=gpus)
    torch.cuda.set_device(rank)
    results = _evaluate(rank, gpus, torch.device("cuda", rank), job, print if rank == 0 else lambda _line: None)
    if rank == 0 and results:
        print(format_table(results))
    torch.distributed.destroy_process_group()


def _evaluate(rank: int, gpus: int, device: torch.device, job: dict, echo: Callable[[str], None]) -> list[dict]:
    G = formats.load(job["network"], device=device)
    dataset_kwargs = dict(job["dataset_kwargs"])
    if dataset_kwargs:
        dataset_kwargs.update(resolution=G.img_resolution, use_labels=G.c_dim != 0)
    opts_kwargs = dict(job["opts_kwargs"])
    overrides = {k: opts_kwargs.pop(k) for k in ("num_gen", "max_real") if k in opts_kwargs}
    opts = MetricOptions(G=G, dataset_kwargs=dataset_kwargs or None, device=device, num_gpus=gpus, rank=rank,
                         **opts_kwargs)
    results = []
    for name in job["metrics"]:
        result = calc_metric(name, opts, **overrides)
        if rank == 0:
            report_metric(result, run_dir=job["run_dir"], snapshot_pkl=job["network"])
            echo(f"{name}: {', '.join(f'{k} {v:.6g}' for k, v in result['results'].items())} "
                 f"({result['total_time_str']})")
        results.append(result)
    return results
