"""Starting a training run: the run folder, resuming, and launching one or several processes."""
from __future__ import annotations

import dataclasses
import functools
import json
import os
from pathlib import Path
from typing import Callable

import torch

from ..data.dataset import is_builtin, parse_builtin
from .. import runtime
from ..errors import InputError
from . import distributed
from .loop import training_loop
from .options import TrainOptions, run_dir_name
from .snapshot import latest_snapshot

# Options a resumed run may change; everything else comes from the run being resumed.
RESUMABLE_OVERRIDES = ("kimg", "tick", "snap", "gpus", "batch_gpu", "workers", "bf16", "metrics", "resume",
                       "outdir")


def resolve_run(opts: TrainOptions) -> tuple[TrainOptions, Path]:
    """The options and run folder: a resumed run folder continues in place with its saved options."""
    if opts.resume is not None:
        resume = Path(opts.resume)
        folder = resume if resume.is_dir() else resume.parent
        saved = folder / "training_options.json"
        if (latest_snapshot(folder) is not None or not resume.is_dir()) and saved.exists():
            saved_opts = json.loads(saved.read_text())
            overrides = {k: getattr(opts, k) for k in RESUMABLE_OVERRIDES}
            return TrainOptions.from_dict({**saved_opts, **overrides}), folder
        if resume.is_dir():
            raise InputError(f"--resume {resume}: no complete snapshot in this folder")
    outdir = Path(opts.outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    run_dir = outdir / run_dir_name(opts, [p.name for p in outdir.iterdir() if p.is_dir()])
    return opts, run_dir


def _worker(rank: int, world_size: int, init_method: str, opts: TrainOptions, run_dir: Path,
            show_progress: bool) -> None:
    runtime.inherit()
    device = distributed.init(rank, world_size, init_method)
    distributed.run_in_group(lambda: training_loop(opts, run_dir, rank, world_size, device, show_progress))


def train(opts: TrainOptions, show_progress: bool = True, stop: Callable[[], bool] | None = None,
          dry_run: bool = False, log: Callable[[str], None] = print) -> Path:
    """Validate the options, then train in this process, in `--gpus` spawned processes, or as one rank of a
    torchrun launch. Returns the run folder."""
    opts, run_dir = resolve_run(opts)
    opts.validate()
    if is_builtin(opts.data):
        parse_builtin(opts.data)  # an unknown name fails here, before the run folder exists
    elif not Path(opts.data).exists():
        raise InputError(f"--data {opts.data}: no such dataset (a zip or a folder of images)")
    if dry_run:
        log(opts.to_json())
        log(f"run folder: {run_dir}")
        return run_dir
    run_dir.mkdir(parents=True, exist_ok=True)
    if distributed.launched_by_torchrun():
        rank, world_size = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
        opts = dataclasses.replace(opts, gpus=world_size)
        opts.validate()
        device = distributed.init(rank, world_size)
        distributed.run_in_group(lambda: training_loop(opts, run_dir, rank, world_size, device, show_progress,
                                                       stop, log))
    elif opts.gpus > 1:
        if torch.cuda.is_available() and torch.cuda.device_count() < opts.gpus:
            raise InputError(f"--gpus {opts.gpus} asked for, but {torch.cuda.device_count()} GPUs are visible")
        distributed.spawn(functools.partial(_worker, opts=opts, run_dir=run_dir, show_progress=show_progress),
                          opts.gpus)
    else:
        device = torch.device("cuda", 0) if torch.cuda.is_available() else torch.device("cpu")
        training_loop(opts, run_dir, 0, 1, device, show_progress, stop, log)
    return run_dir
