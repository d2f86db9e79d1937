"""Training speed: seconds per kimg (thousand real images shown) on random data.

    python -m benchmarks.training [--device cpu] [--resolutions 32,64] [--cfg stylegan2] [--batch 16] [--steps 3]

Runs the real training loop (all phases, lazy regularisation included) on a synthetic dataset and times
the second tick, so start-up and the first step's warm-up are excluded.
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import PIL.Image
import torch

from stylegan.train.log import read_stats
from stylegan.train.loop import training_loop
from stylegan.train.options import TrainOptions

from .machine import describe


def sec_per_kimg(cfg: str, resolution: int, batch: int, steps: int, device: torch.device, cbase: int) -> float:
    """Seconds per kimg over `steps` training steps after one warm-up tick."""
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        data.mkdir()
        rng = np.random.RandomState(0)
        for i in range(max(batch, 16)):
            PIL.Image.fromarray(rng.randint(0, 256, (resolution, resolution, 3), dtype=np.uint8)).save(
                data / f"{i:04d}.png")
        tick = batch * steps / 1000
        opts = TrainOptions(outdir=tmp, data=str(data), cfg=cfg, batch=batch, gamma=1, kimg=2 * tick, tick=tick,
                            snap=1000, aug="noaug", cbase=cbase, workers=0)
        run_dir = Path(tmp) / "run"
        run_dir.mkdir()
        training_loop(opts, run_dir, device=device, show_progress=False, log=lambda message: None)
        return read_stats(run_dir)[-1]["Timing/sec_per_kimg"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--cfg", default="stylegan2")
    parser.add_argument("--resolutions", default="32,64")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--cbase", type=int, default=16384)
    args = parser.parse_args()
    print(describe(args.device))
    device = torch.device(args.device)
    print(f"device {device}, torch {torch.__version__}, threads {torch.get_num_threads()}, cfg {args.cfg}, "
          f"batch {args.batch}, channel_base {args.cbase}")
    print(f"{'resolution':<12}{'sec/kimg':>10}")
    for res in (int(r) for r in args.resolutions.split(",")):
        print(f"{res:<12}{sec_per_kimg(args.cfg, res, args.batch, args.steps, device, args.cbase):>10.1f}")


if __name__ == "__main__":
    main()
