"""ADA augmentation speed: one AugmentPipe call per batch, forward only and forward + backward.

    python -m benchmarks.augment [--device cpu] [--resolutions 64,256] [--batch 32] [--presets bgc,bgcfnc] [--p 1]

At p = 1 every sample takes the geometric path (the expensive one); at small p most samples skip it.
"""
from __future__ import annotations

import argparse

import torch

from stylegan.train.augment import AugmentPipe

from .machine import describe
from .measure import Row, measure, print_table


def run(resolutions: list[int], presets: list[str], batch: int, p: float, device: torch.device,
        repeats: int = 3) -> list[Row]:
    """Time the presets at each resolution; each row's item is one image."""
    rows = []
    for res in resolutions:
        images = torch.rand([batch, 3, res, res], device=device) * 2 - 1
        for preset in presets:
            pipe = AugmentPipe.from_preset(preset).to(device)
            pipe.p.fill_(p)
            rows.append(measure(f"ada {preset} {res}² p={p:g}", batch, lambda: pipe(images), device, repeats))
            leaf = images.clone().requires_grad_(True)
            rows.append(measure(f"ada {preset} {res}² p={p:g} +bwd", batch,
                                lambda: pipe(leaf).square().sum().backward(), device, repeats, grad=True))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--resolutions", default="64,256")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--presets", default="bgc")
    parser.add_argument("--p", type=float, default=1.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(describe(args.device))
    device = torch.device(args.device)
    torch.manual_seed(0)
    rows = run([int(r) for r in args.resolutions.split(",")], args.presets.split(","), args.batch, args.p, device,
               args.repeats)
    print_table(rows, device)


if __name__ == "__main__":
    main()
