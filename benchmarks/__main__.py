"""`python -m benchmarks --suite cpu|gpu|gpu-check [--precision ...] [--budget S] [--plot PNG]`: every
benchmark in one table, then the scaling table (`benchmarks.scaling`; configurations predicted to take
longer than --budget seconds are skipped and marked so). `--suite gpu-check` runs `benchmarks.gpu_check`.

cpu: generation at 256² and 1024² (batch 1, and 4 at 256²) for StyleGAN1/2/3-T/3-R, projection steps at 256²,
     training sec/kimg at 32² and 64² (StyleGAN2, batch 16).
gpu: the same networks at batches 1, 8 and 32 (as memory allows), projection at 256² and 1024², training
     sec/kimg at 64² and 256² (batch 32).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from stylegan.models import PRECISIONS
from stylegan.runtime import keep_freed_memory

from . import generation, gpu_check, projection, scaling, training
from .measure import print_table

SUITES = {
    "cpu": dict(configs=["sg1-256", "sg2-256", "sg3t-256", "sg3r-256", "sg2-1024", "sg3t-1024"], batches=[1],
                extra_batches={"sg2-256": [4]}, projection=[256], training=([32, 64], 16)),
    "gpu": dict(configs=list(generation.CONFIGS), batches=[1, 8, 32], extra_batches={}, projection=[256, 1024],
                training=([64, 256], 32)),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suite", choices=sorted(SUITES) + ["gpu-check"], default="cpu")
    parser.add_argument("--device", default=None, help="default: cuda for the gpu suite, cpu otherwise")
    parser.add_argument("--precision", default="fp32", choices=PRECISIONS,
                        help="auto: the choice `stylegan info --speed` shows for this machine")
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--budget", type=float, default=60.0, help="seconds one scaling configuration may take")
    parser.add_argument("--plot", default=None, help="write the scaling plot (PNG) here")
    args, rest = parser.parse_known_args()
    keep_freed_memory()  # as the stylegan command runs
    if args.suite == "gpu-check":
        sys.argv = [sys.argv[0], *rest]
        gpu_check.main()
        return
    if rest:
        parser.error(f"unrecognised arguments: {' '.join(rest)}")
    suite = SUITES[args.suite]
    device = torch.device(args.device or ("cuda" if args.suite == "gpu" else "cpu"))
    rows = []
    for name in suite["configs"]:
        for batch in suite["batches"] + suite["extra_batches"].get(name, []):
            try:
                rows += generation.run([name], [batch], device, args.precision, args.compile, args.repeats)
            except torch.cuda.OutOfMemoryError:
                print(f"{name} batch {batch}: out of memory, skipped")
                torch.cuda.empty_cache()
    rows += projection.run(suite["projection"], device)
    print_table(rows, device, f"suite {args.suite}, precision {args.precision}{', compiled' if args.compile else ''}")
    resolutions, batch = suite["training"]
    print(f"{'training (stylegan2)':<26}{'batch':>6}{'sec/kimg':>10}")
    for res in resolutions:
        print(f"{'train sg2-' + str(res):<26}{batch:>6}{training.sec_per_kimg('stylegan2', res, batch, 2, device, 16384):>10.1f}")
    rate = scaling.matmul_rate(device)
    points = scaling.run(device, args.budget)
    scaling.print_table(points, rate, device)
    if args.plot:
        scaling.plot(points, Path(args.plot))


if __name__ == "__main__":
    main()
