"""Seconds per projection step through the two public entry points, with the same network and options:
`stylegan project` and the recipe step `project` of `stylegan pipeline`.

    python -m benchmarks.projection_paths [--network builtin:demo] [--steps 10,30] [--repeats 2]

Each entry point runs end to end (network loading, w statistics, the steps, writing the outputs) at two
step counts; the time per step is the difference of the two run times over the difference of the step
counts, so the fixed costs cancel; CPU seconds (all threads of the process) are reported beside wall
seconds because they depend much less on other load on the machine. Both use Image2StyleGAN's W+ projection with the pixel + MS-SSIM loss
(the recipe step's defaults). Runs alternate between the entry points, so load on the machine hits both.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import PIL.Image
from click.testing import CliRunner

from stylegan.cli import cli

OPTIONS = dict(method="image2stylegan", space="w+", loss="pixel+msssim")


def _project(network: str, target: Path, steps: int, out: Path) -> list[str]:
    return ["project", "--network", network, "--target", str(target), "--method", OPTIONS["method"], "--space",
            OPTIONS["space"], "--loss", OPTIONS["loss"], "--num-steps", str(steps), "--outdir", str(out)]


def _pipeline(network: str, steps: int, folder: Path, out: Path) -> list[str]:
    recipe = folder / f"recipe{steps}.toml"
    recipe.write_text(f'[networks]\nmain = "{network}"\n\n[[steps]]\ntype = "generate"\n\n[[steps]]\n'
                      f'type = "project"\nnetwork = "main"\nsteps = {steps}\nspace = "{OPTIONS["space"]}"\n'
                      f'loss = "{OPTIONS["loss"]}"\nmethod = "{OPTIONS["method"]}"\n')
    return ["pipeline", str(recipe), "--seeds", "0", "--outdir", str(out)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--network", default="builtin:demo")
    parser.add_argument("--steps", default="10,30", help="the two step counts")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    low, high = (int(v) for v in args.steps.split(","))
    times: dict[tuple[str, int], list[tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        target = folder / "target.png"
        PIL.Image.fromarray(np.random.RandomState(0).randint(0, 256, (96, 96, 3)).astype(np.uint8)).save(target)
        runs = 0
        for _ in range(args.repeats):
            for steps in (low, high):
                for name in ("stylegan project", "pipeline step"):
                    out = folder / f"out{runs}"
                    runs += 1
                    command = (_project(args.network, target, steps, out) if name == "stylegan project"
                               else _pipeline(args.network, steps, folder, out))
                    start, cpu = time.perf_counter(), time.process_time()
                    result = CliRunner().invoke(cli, command)
                    if result.exit_code != 0:
                        raise SystemExit(f"{name} failed: {result.output}")
                    times.setdefault((name, steps), []).append((time.perf_counter() - start,
                                                                time.process_time() - cpu))
    print(f"{'entry point':<20}{'wall s/step':>12}{'CPU s/step':>12}")
    for name in ("stylegan project", "pipeline step"):
        (wall_low, cpu_low), (wall_high, cpu_high) = min(times[(name, low)]), min(times[(name, high)])
        print(f"{name:<20}{(wall_high - wall_low) / (high - low):>12.3f}{(cpu_high - cpu_low) / (high - low):>12.3f}")


if __name__ == "__main__":
    main()
