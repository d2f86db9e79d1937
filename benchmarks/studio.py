"""Studio frame latency: ms per frame of the studio's render path on random-weight StyleGAN2 generators
(or on given checkpoints).

    python -m benchmarks.studio [--resolutions 64,256,1024] [--repeats 5] [--device cpu] [--network builtin:demo]

A frame is what the page asks for: settings -> ws (seed lattice between two seeds, style mixing,
psi 0.7), synthesis, and the PNG the page shows. Each generator is saved and loaded through the studio's
session as a typed-in checkpoint would be. Prints the median ms/frame and the frames/s that gives.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

import stylegan
from stylegan.latent.settings import Settings
from stylegan.models import StyleGAN2Generator
from stylegan.studio.session import Session

from .machine import describe

CHANNEL_BASE = {64: 16384, 256: 16384, 1024: 32768}


def random_network(resolution: int, folder: Path) -> str:
    """A random-weight StyleGAN2 with the published widths, saved in `folder`; returns its path."""
    torch.manual_seed(0)
    G = StyleGAN2Generator(z_dim=512, c_dim=0, w_dim=512, img_resolution=resolution, img_channels=3,
                           channel_base=CHANNEL_BASE.get(resolution, 32768), mapping_kwargs=dict(num_layers=8))
    path = folder / f"sg2-{resolution}.safetensors"
    stylegan.save(G.eval(), path)
    return str(path)


def frame_ms(path: str, repeats: int, device: str, folder: Path) -> float:
    """Median ms of one studio frame of the network at `path`, after one warm-up frame."""
    session = Session([str(path)], outdir=folder, device=device)
    times = []
    for i in range(repeats + 1):
        settings = Settings(network=str(path), seed=i, dx=0.5, mix_seed=100, mix_layers=[6, 7], psi=0.7)
        start = time.perf_counter()
        session.render(settings.to_dict())
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--resolutions", default="64,256,1024")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--network", action="append", default=[],
                        help="Time these checkpoints (e.g. builtin:demo) instead of random-weight networks")
    args = parser.parse_args()
    print(describe(args.device))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {args.device}")
    print("| network | ms/frame | frames/s |")
    print("| --- | --- | --- |")
    with tempfile.TemporaryDirectory() as folder:
        if args.network:
            jobs = [(name, name) for name in args.network]
        else:
            jobs = [(f"{r}²", random_network(int(r), Path(folder))) for r in args.resolutions.split(",")]
        for label, path in jobs:
            ms = frame_ms(path, args.repeats, args.device, Path(folder))
            print(f"| {label} | {ms:.1f} | {1000 / ms:.2f} |", flush=True)


if __name__ == "__main__":
    main()
