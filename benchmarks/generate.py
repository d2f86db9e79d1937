"""Generation speed on random-weight generators: images/s and ms/image, printed as a table.

    python benchmarks/generate.py [--device cpu] [--configs sg2-256,sg2-1024,sg3t-256,sg3t-1024] [--repeats 3]
                                  [--precision auto|fp32|fp16|bf16] [--compile]

The configurations are those of the published models: StyleGAN2 at 256² (channel_base 16384, batch 4)
and 1024² (channel_base 32768, batch 1), 8 mapping layers; StyleGAN3-T at 256² and 1024² (channel_base
32768, channel_max 512, batch 1). fp32, noise_mode='const'.
"""
from __future__ import annotations

import argparse
import time

import torch

from stylegan.models import StyleGAN2Generator, StyleGAN3Generator
from stylegan.precision import configure

CONFIGS = {
    "sg2-256": (StyleGAN2Generator, dict(img_resolution=256, channel_base=16384), 4),
    "sg2-1024": (StyleGAN2Generator, dict(img_resolution=1024, channel_base=32768), 1),
    "sg3t-256": (StyleGAN3Generator, dict(img_resolution=256, channel_base=32768), 1),
    "sg3t-1024": (StyleGAN3Generator, dict(img_resolution=1024, channel_base=32768), 1),
}


def time_config(name: str, device: torch.device, repeats: int, precision: str = "auto",
                compile_: bool = False) -> tuple[float, int]:
    cls, kwargs, batch = CONFIGS[name]
    torch.manual_seed(0)
    mapping = dict(num_layers=8) if cls is StyleGAN2Generator else {}
    G = cls(z_dim=512, c_dim=0, w_dim=512, img_channels=3, mapping_kwargs=mapping, **kwargs).eval().to(device)
    configure(G, precision, compile_)
    z = torch.randn([batch, 512], device=device)
    with torch.no_grad():
        G(z, None)  # warm-up
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(repeats):
            G(z, None, noise_mode="const")
        if device.type == "cuda":
            torch.cuda.synchronize()
    return (time.perf_counter() - start) / repeats, batch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--configs", default=",".join(CONFIGS))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--precision", default="auto", choices=["auto", "fp32", "fp16", "bf16"])
    parser.add_argument("--compile", action="store_true")
    args = parser.parse_args()
    device = torch.device(args.device)
    print(f"device {device}, torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"precision {args.precision}{', compiled' if args.compile else ''}")
    print(f"{'config':<12}{'batch':>6}{'img/s':>10}{'ms/img':>10}")
    for name in args.configs.split(","):
        seconds, batch = time_config(name, device, args.repeats, args.precision, args.compile)
        print(f"{name:<12}{batch:>6}{batch / seconds:>10.3f}{1000 * seconds / batch:>10.1f}")


if __name__ == "__main__":
    main()
