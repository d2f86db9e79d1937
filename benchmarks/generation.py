"""Generation speed on random-weight generators: images/s, ms/image, peak memory and achieved TFLOP/s.

    python -m benchmarks.generation [--device cpu] [--configs sg2-256,sg3t-256] [--batches 1,4]
                                    [--precision auto|fp32|fp16|bf16] [--compile] [--repeats 3]

Configurations follow the published models: 512-dim z/w, StyleGAN2 with 8 mapping layers and
channel_base 16384 (256²) / 32768 (1024²), StyleGAN3 with channel_base 32768 (T) or 65536 and 1x1
convolutions with radial filters (R), StyleGAN1 with its TF defaults.
"""
from __future__ import annotations

import argparse

import torch

from stylegan.models import PRECISIONS, StyleGAN2Generator, StyleGAN3Generator
from stylegan.models.precision import configure
from stylegan.models.stylegan1 import Generator as StyleGAN1Generator
from stylegan.runtime import keep_freed_memory

from .measure import Row, measure, print_table

CONFIGS = {
    "sg1-256": (StyleGAN1Generator, dict(img_resolution=256)),
    "sg1-1024": (StyleGAN1Generator, dict(img_resolution=1024)),
    "sg2-256": (StyleGAN2Generator, dict(img_resolution=256, channel_base=16384)),
    "sg2-1024": (StyleGAN2Generator, dict(img_resolution=1024, channel_base=32768)),
    "sg3t-256": (StyleGAN3Generator, dict(img_resolution=256, channel_base=32768)),
    "sg3t-1024": (StyleGAN3Generator, dict(img_resolution=1024, channel_base=32768)),
    "sg3r-256": (StyleGAN3Generator, dict(img_resolution=256, channel_base=65536, channel_max=1024, conv_kernel=1,
                                          use_radial_filters=True)),
    "sg3r-1024": (StyleGAN3Generator, dict(img_resolution=1024, channel_base=65536, channel_max=1024,
                                           conv_kernel=1, use_radial_filters=True)),
}


def build(name: str, device: torch.device) -> torch.nn.Module:
    """A random-weight generator of a named configuration, in eval mode on `device`."""
    cls, kwargs = CONFIGS[name]
    torch.manual_seed(0)
    mapping = dict(num_layers=8) if cls is not StyleGAN3Generator else {}
    return cls(z_dim=512, c_dim=0, w_dim=512, img_channels=3, mapping_kwargs=mapping, **kwargs).eval().to(device)


def run(names: list[str], batches: list[int], device: torch.device, precision: str = "auto",
        compile_: bool = False, repeats: int = 3) -> list[Row]:
    """Time G(z) for each configuration and batch size."""
    rows = []
    for name in names:
        G = configure(build(name, device), precision, compile_)
        for batch in batches:
            z = torch.randn([batch, 512], device=device)
            rows.append(measure(f"generate {name}", batch, lambda: G(z, None, noise_mode="const"), device, repeats))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--configs", default="sg2-256,sg2-1024,sg3t-256")
    parser.add_argument("--batches", default="1")
    parser.add_argument("--precision", default="fp32", choices=PRECISIONS,
                        help="auto: the choice `stylegan info --speed` shows for this machine")
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    keep_freed_memory()  # as the stylegan command runs
    device = torch.device(args.device)
    rows = run(args.configs.split(","), [int(b) for b in args.batches.split(",")], device, args.precision,
               args.compile, args.repeats)
    print_table(rows, device, f"precision {args.precision}{', compiled' if args.compile else ''}")


if __name__ == "__main__":
    main()
