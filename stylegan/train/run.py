"""Starting a training run: the run folder, resuming, and launching one or several processes."""
from __future__ import annotations

import dataclasses
import functools
import os
from pathlib import Path
from typing import Callable, Iterable

import torch

from .. import runtime
from ..data.dataset import is_builtin, parse_builtin
from ..errors import InputError
from ..hub.cache import is_url
from ..io.files import read_json
from . import distributed
from .loop import training_loop
from .options import TrainOptions, run_dir_name
from .snapshot import latest_snapshot

# Options a resumed run may change (the length, logging and snapshot cadence, processes, speed options and
# where the data is); everything else comes from the run being resumed.
RESUMABLE_OVERRIDES = ("kimg", "tick", "snap", "gpus", "batch_gpu", "workers", "bf16", "metrics", "data")


def run_folder(resume: str | Path | None) -> Path | None:
    """The run folder that `--resume` continues (a run folder, or a snapshot file inside one); None for any
    other checkpoint (fine-tuning starts a new run from its weights)."""
    if resume is None or is_url(str(resume)):
        return None
    path = Path(resume)
    folder = path if path.is_dir() else path.parent
    if not (folder / "training_options.json").is_file():
        if path.is_dir():
            raise InputError(f"--resume {path}: not a training run folder (it has no training_options.json)")
        return None
    if path.is_dir() and latest_snapshot(folder) is None:
        raise InputError(f"--resume {path}: no complete snapshot in this folder")
    return folder


def resolve_run(opts: TrainOptions, given: Iterable[str] | None = None) -> tuple[TrainOptions, Path, dict]:
    """The options, the run folder and what a resume changes ({option: (recorded, new)}): a resumed run folder
    continues in place with the options it recorded, except the `given` ones (the options set by the user; by
    default those that differ from TrainOptions' defaults) among RESUMABLE_OVERRIDES; changing any other is
    an InputError."""
    folder = run_folder(opts.resume)
    if folder is None:
        outdir = Path(opts.outdir)
        outdir.mkdir(parents=True, exist_ok=True)
        return opts, outdir / run_dir_name(opts, [p.name for p in outdir.iterdir() if p.is_dir()]), {}
    saved = read_json(folder / "training_options.json", "training options")
    if not isinstance(saved, dict):
        raise InputError(f"{folder / 'training_options.json'}: not a record of training options")
    recorded = TrainOptions.from_dict(saved)
    if given is None:
        defaults = TrainOptions(outdir="", data="")
        given = [f.name for f in dataclasses.fields(opts) if getattr(opts, f.name) != getattr(defaults, f.name)]
    changes = {k: getattr(opts, k) for k in given
               if k not in ("resume", "outdir") and getattr(opts, k) != getattr(recorded, k)}
    fixed = [k for k in changes if k not in RESUMABLE_OVERRIDES]
    if fixed:
        name = fixed[0]
        raise InputError(f"--{name.replace('_', '-')} is part of the run being resumed ({getattr(recorded, name)!r}) "
                         f"and cannot change; a resume may change "
                         f"{', '.join('--' + k.replace('_', '-') for k in RESUMABLE_OVERRIDES)}. To train on with "
                         f"other options, start a new run (--outdir) from a copy of a snapshot kept outside the run "
                         f"folder (--resume FILE)")
    resumed = dataclasses.replace(recorded, **changes, resume=str(opts.resume))
    return resumed, folder, {k: (getattr(recorded, k), v) for k, v in changes.items()}


def _worker(rank: int, world_size: int, init_method: str, opts: TrainOptions, run_dir: Path,
            show_progress: bool) -> None:
    runtime.inherit()
    device = distributed.init(rank, world_size, init_method)
    distributed.run_in_group(lambda: training_loop(opts, run_dir, rank, world_size, device, show_progress))


def train(opts: TrainOptions, show_progress: bool = True, stop: Callable[[], bool] | None = None,
          dry_run: bool = False, log: Callable[[str], None] = print, given: Iterable[str] | None = None) -> Path:
    """Validate the options, then train in this process, in `--gpus` spawned processes, or as one rank of a
    torchrun launch. Returns the run folder. Resuming a run folder takes its recorded options; `given` names
    the options the caller set (see `resolve_run`)."""
    opts, run_dir, changes = resolve_run(opts, given)
    if changes:
        log(f"resuming {run_dir} with " + ", ".join(f"--{k.replace('_', '-')} {new} (was {old})"
                                                  for k, (old, new) in changes.items()))
    opts.validate()
    if is_builtin(opts.data):
        parse_builtin(opts.data)  # an unknown name fails here, before the run folder exists
    elif not Path(opts.data).exists():
        raise InputError(f"--data {opts.data}: no such dataset (a zip or a folder of images)")
    if opts.bf16 and not torch.cuda.is_available() and runtime.cpu_has_bf16() is False:
        log("warning: --bf16 1 on a CPU without bfloat16 units (AVX512-BF16, AMX or ARM bf16): autocast emulates "
            "bfloat16 in software, slower than float32 (1.5x at 8x8 and 2x at 64x64 for the demo model's recipe on "
            "an AVX-512 Xeon); train without --bf16 here")
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
