"""Training snapshots: the networks as a native checkpoint, plus the state that makes resumption exact.

`network-snapshot-KKKKKK.safetensors` holds G, D and G_ema (loadable anywhere with stylegan.load);
`training-state-KKKKKK.pt` holds the optimiser states, the loss and ADA state, the augmentation
probability, the progress counters and the options. Both are written atomically, the state first, so
the network file's presence marks a complete snapshot. KKKKKK is the kimg the run has shown, as the
official tools name snapshots, followed by `.III` (the images beyond a whole thousand) when it is not a
whole number, so that two snapshots never share a name however short the ticks.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from .. import formats, hub
from ..errors import CheckpointError, InputError
from ..formats import native
from ..formats.torch_files import torch_error_reason
from ..io.files import write_atomic

SNAPSHOT = re.compile(r"network-snapshot-(\d{6,}(?:\.\d{3})?)\.safetensors$")


@dataclass
class Progress:
    """Where a run is: images shown, ticks done, minibatches done."""
    cur_nimg: int = 0
    cur_tick: int = 0
    batch_idx: int = 0


def snapshot_name(cur_nimg: int) -> str:
    """'000004' at 4,000 images, '000004.008' at 4,008: the kimg shown, exactly."""
    whole, rest = divmod(int(cur_nimg), 1000)
    return f"{whole:06d}" + (f".{rest:03d}" if rest else "")


def snapshot_nimg(name: str) -> int:
    """The images shown of a snapshot name ('000004.008' -> 4008)."""
    whole, _, rest = name.partition(".")
    return int(whole) * 1000 + int(rest or 0)


def snapshot_paths(run_dir: Path, cur_nimg: int) -> tuple[Path, Path]:
    """The network file and the training-state file of the snapshot taken after `cur_nimg` images."""
    name = snapshot_name(cur_nimg)
    return run_dir / f"network-snapshot-{name}.safetensors", run_dir / f"training-state-{name}.pt"


def save_snapshot(run_dir: Path, progress: Progress, nets: dict[str, nn.Module], state: dict, options: dict) -> Path:
    """Write a complete snapshot (state first, networks last) and return the network file's path."""
    network_path, state_path = snapshot_paths(run_dir, progress.cur_nimg)
    write_atomic(state_path, lambda f: torch.save({**state, "progress": vars(progress), "options": options}, f))
    formats.save(nets, network_path, extra={"cur_nimg": progress.cur_nimg, "options": options})
    return network_path


def latest_snapshot(run_dir: Path) -> Path | None:
    """The newest network snapshot in a run folder that has its training state beside it."""
    found = []
    for path in run_dir.glob("network-snapshot-*.safetensors"):
        m = SNAPSHOT.search(path.name)
        if m and snapshot_paths(run_dir, snapshot_nimg(m.group(1)))[1].exists():
            found.append((snapshot_nimg(m.group(1)), path))
    return max(found)[1] if found else None


def load_snapshot(path: str | Path) -> tuple[dict[str, nn.Module], dict | None]:
    """Networks and, when present, the training state of a snapshot file or run folder.

    A folder resumes from its latest complete snapshot; any other checkpoint (e.g. an NVIDIA pickle)
    gives networks only, so training restarts from those weights with fresh optimisers. Such a checkpoint
    needs a generator (G or G_ema); one without a discriminator (a generator-only file such as builtin:demo)
    starts D from scratch.
    """
    if Path(path).is_dir():
        latest = latest_snapshot(Path(path))
        if latest is None:
            raise InputError(f"{path}: no complete snapshot (network-snapshot-*.safetensors with its "
                             f"training-state-*.pt) to resume from")
        path = latest
    nets = hub.load_networks(path)
    path = Path(path)
    m = SNAPSHOT.search(path.name)
    state_path = snapshot_paths(path.parent, snapshot_nimg(m.group(1)))[1] if m else None
    if state_path is None or not state_path.exists():
        if "G" not in nets and "G_ema" not in nets:
            raise CheckpointError(f"{path}: cannot start training from it, it holds no generator (G or G_ema)")
        return nets, None
    missing = [k for k in ("G", "D", "G_ema") if k not in nets]
    if missing:
        raise CheckpointError(f"{path}: cannot resume training, it holds no {', '.join(missing)}")
    try:
        state = torch.load(state_path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch.load raises many types for damaged files
        raise CheckpointError(f"{state_path}: unreadable training state ({torch_error_reason(exc)})") from None
    written_at = native.read_metadata(path)["extra"].get("cur_nimg")
    if written_at != state["progress"]["cur_nimg"]:
        raise CheckpointError(f"{path} and {state_path.name} come from different steps (the run stopped while "
                              f"writing them); resume from an earlier snapshot file")
    return nets, state
