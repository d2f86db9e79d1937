"""Seconds per projection step through the two public entry points, with the same network and options:
`stylegan project` and the recipe step `project` of `stylegan pipeline`.

    python -m benchmarks.projection_paths [--network builtin:demo] [--steps 20] [--repeats 2] [--threads 1]

Each entry point runs end to end through its command line. Every step of the optimisation is timed (a
callback handed to `stylegan.latent.projection.project`, wherever the entry point calls it from); the table gives
the median over the steps after the first two, in wall seconds and in CPU seconds of the process (all
threads). On a busy machine use `--threads 1`: CPU seconds of one thread hardly depend on other load,
while several threads burn CPU time waiting for each other when they are descheduled. Both use Image2StyleGAN's W+ projection
with the pixel + MS-SSIM loss (the recipe step's defaults); runs alternate between the entry points.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import PIL.Image
import torch
from click.testing import CliRunner

import stylegan.cli.commands_project  # noqa: F401  (loaded so that its binding of `project` can be timed)
import stylegan.latent.projection
import stylegan.pipeline  # noqa: F401  (likewise)
from stylegan.cli import cli

from .machine import describe

OPTIONS = dict(method="image2stylegan", space="w+", loss="pixel+msssim")
ENTRY_POINTS = ("stylegan project", "pipeline step")


def _project(network: str, target: Path, steps: int, out: Path) -> list[str]:
    return ["project", "--network", network, "--target", str(target), "--method", OPTIONS["method"], "--space",
            OPTIONS["space"], "--loss", OPTIONS["loss"], "--num-steps", str(steps), "--outdir", str(out)]


def _pipeline(network: str, steps: int, folder: Path, out: Path) -> list[str]:
    recipe = folder / "recipe.toml"
    recipe.write_text(f'[networks]\nmain = "{network}"\n\n[[steps]]\ntype = "generate"\n\n[[steps]]\n'
                      f'type = "project"\nnetwork = "main"\nsteps = {steps}\nspace = "{OPTIONS["space"]}"\n'
                      f'loss = "{OPTIONS["loss"]}"\nmethod = "{OPTIONS["method"]}"\n')
    return ["pipeline", str(recipe), "--seeds", "0", "--outdir", str(out)]


def _timed(stamps: list[tuple[float, float]]):
    """`project` with a callback that records (wall, CPU) time after every step."""
    original = stylegan.latent.projection.project

    def project(*args, callback=None, **kwargs):
        def record(step, info):
            stamps.append((time.perf_counter(), time.process_time()))
            if callback is not None:
                callback(step, info)
        return original(*args, callback=record, **kwargs)
    return original, project


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--network", default="builtin:demo")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    args = parser.parse_args()
    print(describe('cpu'))
    if args.threads:
        torch.set_num_threads(args.threads)
    per_step: dict[str, list[tuple[float, float]]] = {name: [] for name in ENTRY_POINTS}
    stamps: list[tuple[float, float]] = []
    original, timed = _timed(stamps)
    callers = [m for m in (sys.modules.get("stylegan.latent.projection"), sys.modules.get("stylegan.pipeline"),
                           sys.modules.get("stylegan.cli.commands_project")) if getattr(m, "project", None) is original]
    for module in callers:
        module.project = timed
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        target = folder / "target.png"
        PIL.Image.fromarray(np.random.RandomState(0).randint(0, 256, (96, 96, 3)).astype(np.uint8)).save(target)
        for run in range(args.repeats):
            for name in ENTRY_POINTS:
                out = folder / f"out{run}-{name[0]}"
                command = (_project(args.network, target, args.steps, out) if name == ENTRY_POINTS[0]
                           else _pipeline(args.network, args.steps, folder, out))
                stamps.clear()
                result = CliRunner().invoke(cli, command)
                if result.exit_code != 0:
                    raise SystemExit(f"{name} failed: {result.output}")
                per_step[name] += [(b[0] - a[0], b[1] - a[1]) for a, b in zip(stamps[2:], stamps[3:])]
    print(f"{'entry point':<20}{'wall s/step':>12}{'CPU s/step':>12}{'steps timed':>12}")
    for name in ENTRY_POINTS:
        wall = statistics.median(w for w, _ in per_step[name])
        cpu = statistics.median(c for _, c in per_step[name])
        print(f"{name:<20}{wall:>12.3f}{cpu:>12.3f}{len(per_step[name]):>12}")


if __name__ == "__main__":
    main()
