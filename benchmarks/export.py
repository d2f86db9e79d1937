"""Exported generators: file sizes, and CPU latency of onnxruntime and TorchScript against PyTorch.

    python benchmarks/export.py [--configs sg2-256,sg2-1024,sg3t-256] [--batch 1] [--repeats 3]

Random-weight generators with the published configurations (as benchmarks/generate.py), exported as the
full z -> image generator with a dynamic batch axis and psi as an input; the same z through each runtime.
Prints ms/image (fastest of --repeats runs, each runtime on its own) and the max abs difference to PyTorch.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime
import torch

from stylegan.export import ExportSpec, export_generator
from stylegan.models import StyleGAN2Generator, StyleGAN3Generator

from .machine import describe

CONFIGS = {
    "sg2-256": (StyleGAN2Generator, dict(img_resolution=256, channel_base=16384)),
    "sg2-1024": (StyleGAN2Generator, dict(img_resolution=1024, channel_base=32768)),
    "sg3t-256": (StyleGAN3Generator, dict(img_resolution=256, channel_base=32768)),
}


def fastest(run, repeats: int) -> float:
    """Fastest of `repeats` calls in seconds, after two warm-up calls (TorchScript optimises on its first runs)."""
    run()
    run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def runner(fmt: str, path: Path, feeds: dict):
    """A call that runs an exported file on the feeds."""
    if fmt == "onnx":
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return lambda: session.run(None, feeds)[0]
    module = torch.jit.load(str(path))
    return lambda: module(*map(torch.from_numpy, feeds.values())).numpy()


@torch.no_grad()
def bench(name: str, batch: int, repeats: int, folder: Path) -> None:
    """Each runtime is timed on its own, the others unloaded: runtimes loaded side by side slow each other
    down (idle onnxruntime threads spin, for one)."""
    cls, kwargs = CONFIGS[name]
    torch.manual_seed(0)
    mapping = dict(num_layers=8) if cls is StyleGAN2Generator else {}
    G = cls(z_dim=512, c_dim=0, w_dim=512, img_channels=3, mapping_kwargs=mapping, **kwargs).eval()
    z = torch.randn([batch, 512])
    feeds = {"z": z.numpy(), "truncation_psi": np.array(0.7, np.float32)}
    if hasattr(G.synthesis, "input"):
        feeds["transform"] = np.eye(3, dtype=np.float32)
    expected = G(z, None, truncation_psi=0.7).numpy()
    rows = [("pytorch", fastest(lambda: G(z, None, truncation_psi=0.7), repeats), None, 0.0)]
    for fmt, precision in (("onnx", "fp32"), ("onnx", "fp16"), ("torchscript", "fp32")):
        path = folder / f"{name}-{precision}.{'onnx' if fmt == 'onnx' else 'pt'}"
        start = time.perf_counter()
        size = export_generator(G, path, fmt, ExportSpec(precision=precision), seeds=[0]).size
        print(f"  exported {path.name} in {time.perf_counter() - start:.0f} s")
        run = runner(fmt, path, feeds)
        rows.append((f"{fmt} {precision}", fastest(run, repeats), size, float(np.abs(run() - expected).max())))
        del run
    print(f"{name}, batch {batch}:")
    print(f"  {'runtime':<18}{'ms/img':>10}{'MiB':>9}{'max abs diff':>15}")
    for runtime, seconds, size, diff in rows:
        mib = f"{size / 2 ** 20:.1f}" if size else "-"
        print(f"  {runtime:<18}{1000 * seconds / batch:>10.1f}{mib:>9}{diff:>15.2e}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", default=",".join(CONFIGS))
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(describe('cpu'))
    print(f"torch {torch.__version__} ({torch.get_num_threads()} threads), onnxruntime {onnxruntime.__version__}")
    with tempfile.TemporaryDirectory() as folder:
        for name in args.configs.split(","):
            bench(name, args.batch, args.repeats, Path(folder))


if __name__ == "__main__":
    main()
