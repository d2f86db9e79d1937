"""Projection speed on random-weight StyleGAN2 generators: seconds per step and per 1000 steps.

    python -m benchmarks.projection [--device cpu] [--resolutions 256,1024] [--steps 5] [--loss pixel]

The official algorithm (W space, noise optimisation and its regulariser) on one target.
"""
from __future__ import annotations

import argparse

import torch

from stylegan.latent import seeds_to_ws
from stylegan.latent.generate import render
from stylegan.latent.projection import project

from .generation import build
from .measure import Row, measure, print_table


def run(resolutions: list[int], device: torch.device, steps: int = 5, loss: str = "pixel") -> list[Row]:
    """Time `steps` projection steps per resolution; each row's item is one step."""
    rows = []
    for res in resolutions:
        G = build(f"sg2-{res}", device)
        target = render(G, seeds_to_ws(G, [1]))
        rows.append(measure(f"project sg2-{res} ({loss})", steps,
                            lambda: project(G, target, loss=loss, num_steps=steps, w_avg_samples=1000,
                                            progress=False), device, repeats=1, grad=True))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--resolutions", default="256,1024")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--loss", default="pixel")
    args = parser.parse_args()
    device = torch.device(args.device)
    rows = run([int(r) for r in args.resolutions.split(",")], device, args.steps, args.loss)
    print_table(rows, device, "items are projection steps; s/1000 steps = 1000 x ms/item / 1000")


if __name__ == "__main__":
    main()
