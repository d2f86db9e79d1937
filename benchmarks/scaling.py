"""Scaling curves: generation and one training step against batch size and resolution.

    python -m benchmarks.scaling [--device cpu] [--budget 30] [--plot docs/scaling.png]

For StyleGAN2 and StyleGAN3-T at 64², 256² and 1024² (published widths: channel_base 16384 up to 256²,
32768 at 1024², 8 / 2 mapping layers) and batches 1, 4, 16, 32: seconds per image, peak memory above the
process's resident set before the run (CPU: the kernel's resident-set high-water mark, reset per run;
CUDA: the allocator's peak), and achieved GFLOP/s (analytic count, `torch.utils.flop_counter`) as a share
of the float32 matrix-multiply rate measured at the start of the same run. The training step is Gmain,
Greg, Dmain and Dreg (style mixing 0.9, path length 2, R1), each with its backward passes.

A configuration whose cost, predicted from the last measured time per image and pixel, exceeds `--budget`
seconds (or would end after `--minutes`) is skipped and marked so. `--plot` draws time per image against batch
and against pixels (PIL only).
"""
from __future__ import annotations

import argparse
import ctypes
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode

from stylegan.models import Discriminator, StyleGAN2Generator, StyleGAN3Generator
from stylegan.runtime import keep_freed_memory
from stylegan.train.loss import GANLoss

from .machine import describe
from .training_step import PHASES

BATCHES = (1, 4, 16, 32)
RESOLUTIONS = (64, 256, 1024)
MODELS = ("sg2", "sg3t")


@dataclass
class Point:
    """One measured (or skipped) configuration."""
    model: str
    task: str
    resolution: int
    batch: int
    seconds: float | None = None  # per call (None: skipped)
    peak_mib: float = 0.0
    gflop: float = 0.0

    @property
    def per_image(self) -> float | None:
        return None if self.seconds is None else self.seconds / self.batch


def matmul_rate(device: torch.device, size: int = 2048) -> float:
    """Float32 matrix-multiply GFLOP/s on this device now (best of 5)."""
    a, b = torch.randn(size, size, device=device), torch.randn(size, size, device=device)
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        a @ b
        if device.type == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return 2 * size ** 3 / best / 1e9


def _rss_mib(field: str) -> float:
    text = Path("/proc/self/status").read_text()
    return int(re.search(rf"{field}:\s+(\d+)", text).group(1)) / 1024


def peak_memory(fn: Callable[[], None], device: torch.device) -> float:
    """MiB of peak memory that one call adds."""
    if device.type == "cuda":
        torch.cuda.synchronize()
        base = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        fn()
        torch.cuda.synchronize()
        return (torch.cuda.max_memory_allocated() - base) / 2 ** 20
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)  # hand freed heap pages back, so that reuse shows as growth
        Path("/proc/self/clear_refs").write_text("5")  # reset the resident-set high-water mark
        base = _rss_mib("VmRSS")
        fn()
        return _rss_mib("VmHWM") - base
    except (OSError, AttributeError):
        return float("nan")


def networks(model: str, resolution: int, device: torch.device) -> tuple[torch.nn.Module, torch.nn.Module]:
    """Random-weight G and D with the published widths for this resolution, float32."""
    cbase = 16384 if resolution <= 256 else 32768
    common = dict(c_dim=0, img_resolution=resolution, img_channels=3, channel_base=cbase, num_fp16_res=0,
                  conv_clamp=None)
    torch.manual_seed(0)
    if model == "sg2":
        G = StyleGAN2Generator(z_dim=512, w_dim=512, mapping_kwargs=dict(num_layers=8),
                               fused_modconv_default="inference_only", **common)
    else:
        G = StyleGAN3Generator(z_dim=512, w_dim=512, mapping_kwargs=dict(num_layers=2), **common)
    return G.to(device), Discriminator(**common).to(device)


def task_fn(task: str, G: torch.nn.Module, D: torch.nn.Module, batch: int, device: torch.device) -> Callable[[], None]:
    """A closure doing one generation pass or one training step."""
    z = torch.randn([batch, 512], device=device)
    c = torch.zeros([batch, 0], device=device)
    if task == "generate":
        def generate():
            with torch.no_grad():
                G.eval()(z, c, noise_mode="const")
        return generate
    real = torch.rand([batch, 3, G.img_resolution, G.img_resolution], device=device) * 2 - 1
    loss = GANLoss(G, D, r1_gamma=1.0, style_mixing_prob=0.9, pl_weight=2.0 if isinstance(G, StyleGAN2Generator) else 0)

    def train_step():
        G.train()
        for name, gain in PHASES:
            module = G if name[0] == "G" else D
            module.requires_grad_(True)
            loss.accumulate_gradients(name, real, c, z, c, gain=gain, cur_nimg=0)
            module.requires_grad_(False)
            module.zero_grad(set_to_none=True)
    return train_step


class FlopCount(TorchDispatchMode):
    """Total FLOPs of the operators run inside it, by the flop formulas of `torch.utils.flop_counter`
    (without its per-module tracking, whose hooks do not support double backward)."""

    def __init__(self):
        super().__init__()
        self.total = 0
        self.registry = FlopCounterMode(display=False).flop_registry

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        formula = self.registry.get(func._overloadpacket)
        if formula is not None:
            self.total += formula(*args, **kwargs, out_val=out)
        return out


def measure_point(point: Point, fn: Callable[[], None], device: torch.device) -> None:
    """Fill in seconds (the better of two timed calls after a warm-up), peak memory and FLOPs."""
    with FlopCount() as counter:
        fn()  # warm-up and FLOP count
    point.gflop = counter.total / 1e9
    point.peak_mib = peak_memory(fn, device)
    times = []
    for _ in range(2):
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    point.seconds = min(times)


def run(device: torch.device, budget: float, models=MODELS, resolutions=RESOLUTIONS, batches=BATCHES,
        tasks=("generate", "train"), minutes: float | None = None) -> list[Point]:
    """Measure every configuration whose predicted cost (4 calls: FLOP count, memory, 2 timings) fits the
    budget, cheapest first; the prediction scales the last measured time per image by batch and by pixels.
    After `minutes` (if given) the remaining configurations are skipped."""
    points = []
    per_pixel: dict[tuple[str, str], float] = {}  # seconds per image-pixel of the last measurement
    stop = time.time() + 60 * minutes if minutes else float("inf")
    for resolution in resolutions:
        for model in models:
            G, D = networks(model, resolution, device)
            for task in tasks:
                for batch in batches:
                    point = Point(model, task, resolution, batch)
                    points.append(point)
                    estimate = per_pixel.get((model, task), 0.0) * resolution ** 2 * batch * 4
                    if estimate > budget or time.time() + estimate > stop:
                        print(_line(point, None), file=sys.stderr, flush=True)
                        continue  # skipped: over the budget
                    try:
                        measure_point(point, task_fn(task, G, D, batch, device), device)
                    except (torch.cuda.OutOfMemoryError, MemoryError):
                        point.seconds = None
                        if device.type == "cuda":
                            torch.cuda.empty_cache()
                    if point.seconds is not None:
                        per_pixel[(model, task)] = point.seconds / batch / resolution ** 2
                    print(_line(point, None), file=sys.stderr, flush=True)
    return points


def _line(p: Point, peak_rate: float | None) -> str:
    name = f"{p.task} {p.model}-{p.resolution}"
    if p.seconds is None:
        return f"{name:<22}{p.batch:>6}{'skipped (over the time/memory budget)':>40}"
    rate = p.gflop / p.seconds
    share = f"{100 * rate / peak_rate:>6.0f}%" if peak_rate else ""
    return f"{name:<22}{p.batch:>6}{1000 * p.per_image:>12.1f}{p.peak_mib:>10.0f}{rate:>10.1f}{share}"


def print_table(points: list[Point], peak_rate: float, device: torch.device) -> None:
    """The scaling table."""
    print(f"{describe(device)}; float32 matmul {peak_rate:.0f} GFLOP/s")
    print(f"{'task':<22}{'batch':>6}{'ms/image':>12}{'peak MiB':>10}{'GFLOP/s':>10}{'of mm':>7}")
    for p in points:
        print(_line(p, peak_rate))


def plot(points: list[Point], path: Path) -> None:
    """Two panels (PIL): ms per image against batch (one line per model and resolution) and against pixels
    (one line per model and batch), log-log, for generation (filled, joined) and training (hollow)."""
    import math

    from PIL import Image, ImageDraw
    width, height, margin = 1200, 520, 60
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    done = [p for p in points if p.seconds is not None]
    if not done:
        raise SystemExit("nothing measured to plot")
    ys = [math.log10(1000 * p.per_image) for p in done]
    y0, y1 = math.floor(min(ys)), math.ceil(max(ys))
    colours = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]
    panels = [("batch", lambda p: p.batch, lambda p: (p.model, p.resolution, p.task), BATCHES),
              ("pixels", lambda p: p.resolution ** 2, lambda p: (p.model, p.batch, p.task),
               [r * r for r in RESOLUTIONS])]
    panel_w = (width - 3 * margin) // 2
    for k, (label, xval, key, ticks) in enumerate(panels):
        left = margin + k * (panel_w + margin)
        top, bottom = margin, height - margin
        xs = [math.log10(t) for t in ticks]
        x0, x1 = min(xs), max(xs)

        def to_px(x, y):
            return (left + (math.log10(x) - x0) / (x1 - x0) * panel_w,
                    bottom - (math.log10(y) - y0) / max(y1 - y0, 1) * (bottom - top))
        draw.rectangle([left, top, left + panel_w, bottom], outline="black")
        for t in ticks:
            px, _ = to_px(t, 10 ** y0)
            draw.line([px, bottom, px, bottom + 5], fill="black")
            draw.text((px - 12, bottom + 8), f"{t}" if label == "batch" else f"{int(math.sqrt(t))}x{int(math.sqrt(t))}", fill="black")
        for e in range(y0, y1 + 1):
            _, py = to_px(10 ** x0, 10 ** e)
            draw.line([left - 5, py, left, py], fill="black")
            draw.text((left - 48, py - 6), f"{10 ** e:g}", fill="black")
        draw.text((left + panel_w // 2 - 60, height - 22), f"{label} (log)", fill="black")
        draw.text((left, 20), f"ms per image against {label} (log-log); filled: generation, hollow: training step",
                  fill="black")
        groups: dict = {}
        for p in done:
            groups.setdefault(key(p), []).append(p)
        for i, (g, members) in enumerate(sorted(groups.items())):
            colour = colours[i % len(colours)]
            pts = [to_px(xval(p), 1000 * p.per_image) for p in sorted(members, key=xval)]
            if g[2] == "generate":
                draw.line(pts, fill=colour, width=2) if len(pts) > 1 else None
            for x, y in pts:
                draw.ellipse([x - 3, y - 3, x + 3, y + 3], fill=colour if g[2] == "generate" else "white",
                             outline=colour)
            x, y = pts[-1]
            draw.text((x + 5, y - 6), f"{g[0]} {g[1] if label == 'batch' else 'b' + str(g[1])}"
                      f"{'' if g[2] == 'generate' else ' train'}", fill=colour)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--budget", type=float, default=120.0, help="seconds one configuration may take")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--resolutions", default=",".join(map(str, RESOLUTIONS)))
    parser.add_argument("--batches", default=",".join(map(str, BATCHES)))
    parser.add_argument("--minutes", type=float, default=None, help="skip what remains after this many minutes")
    parser.add_argument("--plot", default=None, help="write the PNG plot here")
    args = parser.parse_args()
    keep_freed_memory()  # as the stylegan command runs
    device = torch.device(args.device)
    rate = matmul_rate(device)
    points = run(device, args.budget, args.models.split(","), [int(r) for r in args.resolutions.split(",")],
                 [int(b) for b in args.batches.split(",")], minutes=args.minutes)
    print_table(points, rate, device)
    if args.plot:
        plot(points, Path(args.plot))


if __name__ == "__main__":
    main()
