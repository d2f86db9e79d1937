"""The GPU check: correctness, generation speed, a training step against the official code, peak memory.

    python -m benchmarks.gpu_check [--official PATH] [--device cuda] [--dry-run]
    benchmarks/gpu_check.sh [--official PATH]          # from a fresh checkout: makes .venv-gpu, then runs this

Prints one table:
- correctness: our fp32 and fp16 generation from the official pickles in tests/data against the outputs the
  official code stored beside them (`*_ref.npz`, float32 on the CPU). Bounds: fp32 differs only by float
  rounding (1e-3, the fixtures' bar); fp16 keeps 11 significant bits through ~20 layers, 0.03 on images in
  [-1, 1] (4 of 255 levels).
- generation speed and peak memory: StyleGAN2 1024² batch 32 in fp16, StyleGAN3-T 1024² batch 16
  (random weights, published widths, `--precision auto` = the official mixed precision).
- one StyleGAN2 training step (Gmain, Greg, Dmain, Dreg) at 256², batch 16, ours against the official code
  (with its CUDA plugins, built on first use) when `--official` names an NVlabs/stylegan3 checkout.
`--dry-run` runs every part on the CPU at toy sizes to show the script works; its speeds mean nothing.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

import stylegan
from stylegan.models.precision import configure

from . import generation, training_step
from .machine import describe

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"
FIXTURES = ("sg2_skip_32", "sg2_cond_orig_32", "sg2_resnet_gray_32", "sg3t_32", "sg3r_32")
BOUNDS = {"fp32": 1e-3, "fp16": 0.03}


def correctness(device: torch.device, precisions: tuple[str, ...]) -> list[tuple[str, str, str]]:
    """Max difference from the official outputs per fixture and precision, with pass/fail."""
    rows = []
    for name in FIXTURES:
        ref = dict(np.load(DATA / f"{name}_ref.npz"))
        G = stylegan.load_networks(DATA / f"{name}.pkl")["G"].to(device)
        z = torch.from_numpy(ref["z"]).to(device)
        c = torch.from_numpy(ref["c"]).to(device) if ref["c"].size else None
        for precision in precisions:
            configure(G, precision)
            with torch.no_grad():
                img = G(z, c, truncation_psi=0.7, noise_mode="const").float().cpu().numpy()
            diff = float(np.abs(img - ref["img_psi07_const"]).max())
            verdict = "pass" if diff <= BOUNDS[precision] else f"FAIL (bound {BOUNDS[precision]:g})"
            rows.append((f"correctness {name} {precision}", f"max diff {diff:.2e}", verdict))
    return rows


def generation_speed(device: torch.device, dry_run: bool) -> list[tuple[str, str, str]]:
    """Images per second and peak memory of the two published-size generators."""
    rows = []
    cases = [("sg2-1024", 32), ("sg3t-1024", 16)] if not dry_run else [("sg2-256", 1)]
    for name, batch in cases:
        try:
            row = generation.run([name], [batch], device, "auto", repeats=3 if not dry_run else 1)[0]
        except torch.cuda.OutOfMemoryError:
            torch.cuda.empty_cache()
            rows.append((f"generate {name} batch {batch}", "out of memory", "-"))
            continue
        rows.append((f"generate {name} batch {batch} (auto precision)",
                     f"{batch / row.seconds:.1f} img/s, {row.tflops:.1f} TFLOP/s", f"peak {row.peak_mib:.0f} MiB"))
    return rows


def training(device: torch.device, official: str | None, dry_run: bool) -> list[tuple[str, str, str]]:
    """One training step, ours and (when given) the official code's, with the ratio."""
    args = argparse.Namespace(device=str(device), resolution=32 if dry_run else 256, batch=4 if dry_run else 16,
                              cbase=1024 if dry_run else 16384, cmax=64 if dry_run else 512, map_depth=8,
                              repeats=1 if dry_run else 3, bf16=False, profile=False, official=official)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    result = training_step.run(args)
    peak = f"peak {torch.cuda.max_memory_allocated() / 2 ** 20:.0f} MiB" if device.type == "cuda" else "-"
    label = f"train step sg2-{args.resolution} batch {args.batch}"
    rows = [(f"{label}, {name}", f"{t['step']:.3f} s", peak if name == "ours" else "-") for name, t in result.items()]
    if "official" in result:
        rows.append((f"{label}, speed-up", f"{result['official']['step'] / result['ours']['step']:.2f}x", "-"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--official", default=None, help="path of an NVlabs/stylegan3 checkout (never committed)")
    parser.add_argument("--device", default=None, help="default: cuda (cpu with --dry-run)")
    parser.add_argument("--dry-run", action="store_true", help="toy sizes on the CPU: checks that the script runs")
    args = parser.parse_args()
    device = torch.device(args.device or ("cpu" if args.dry_run else "cuda"))
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("error: no CUDA device is visible to PyTorch; run with --dry-run to check the script on "
                         "the CPU, or install a CUDA build of torch")
    start = time.time()
    rows = correctness(device, ("fp32", "fp16") if device.type == "cuda" else ("fp32",))
    rows += generation_speed(device, args.dry_run)
    rows += training(device, args.official, args.dry_run)
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu (dry run)"
    print(describe(device))
    print(f"GPU check: {where}, torch {torch.__version__}, {time.time() - start:.0f} s")
    width = max(len(r[0]) for r in rows) + 2
    print(f"{'check':<{width}}{'result':<34}note")
    for check, value, note in rows:
        print(f"{check:<{width}}{value:<34}{note}")


if __name__ == "__main__":
    main()
