"""Projection speed on random-weight StyleGAN2 generators: seconds per step and per 1000 steps.

    python benchmarks/projection.py [--device cpu] [--resolutions 256,1024] [--steps 5] [--loss pixel]

One target per run, the official algorithm (W space, noise optimisation with its regulariser).
"""
from __future__ import annotations

import argparse
import time

import torch

from stylegan.generate import render
from stylegan.latent import seeds_to_ws
from stylegan.models import StyleGAN2Generator
from stylegan.project import project


def seconds_per_step(resolution: int, device: torch.device, steps: int, loss: str) -> float:
    torch.manual_seed(0)
    G = StyleGAN2Generator(z_dim=512, c_dim=0, w_dim=512, img_resolution=resolution, img_channels=3,
                           channel_base=16384 if resolution <= 256 else 32768).eval().to(device)
    target = render(G, seeds_to_ws(G, [1]))
    project(G, target, loss=loss, num_steps=1, w_avg_samples=1000, progress=False)  # warm-up
    start = time.perf_counter()
    project(G, target, loss=loss, num_steps=steps, w_avg_samples=1000, progress=False)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--resolutions", default="256,1024")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--loss", default="pixel")
    args = parser.parse_args()
    device = torch.device(args.device)
    print(f"device {device}, torch {torch.__version__}, threads {torch.get_num_threads()}, loss {args.loss}")
    print(f"{'resolution':<12}{'s/step':>10}{'s/1000 steps':>15}")
    for res in (int(r) for r in args.resolutions.split(",")):
        sec = seconds_per_step(res, device, args.steps, args.loss)
        print(f"{res:<12}{sec:>10.3f}{sec * 1000:>15.0f}")


if __name__ == "__main__":
    main()
