"""Thread settings under an idle and a busy CPU: how long the same work takes with torch's default threads
(one per core; threads spin while they wait), with one thread, and with waiting threads asleep
(OMP_WAIT_POLICY=PASSIVE, what the `stylegan` command sets), each in a fresh process.

    python -m benchmarks.threads [--steps 30] [--load 0,2]

Work: 30 Image2StyleGAN projection steps (pixel loss) of builtin:demo, and generating 8 images of a
random-weight StyleGAN2 at 256² (channel_base 16384) in batches of 2. "Busy" runs LOAD processes that spin
on the CPU beside the measurement (a machine shared with other jobs); times are medians of --repeats runs.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

WORK = {
    "project 30 steps, demo 64²": """
import stylegan, torch
from stylegan.latent import project, render, seeds_to_ws
G = stylegan.load("builtin:demo")
target = render(G, seeds_to_ws(G, [5]))
project(G, target, method="image2stylegan", loss="pixel", num_steps=2, progress=False, w_avg_samples=1000)
start = time.perf_counter()
project(G, target, method="image2stylegan", loss="pixel", num_steps=STEPS, progress=False, w_avg_samples=1000)
""",
    "generate 8 images, SG2 256²": """
import torch
from stylegan.models import StyleGAN2Generator
torch.manual_seed(0)
G = StyleGAN2Generator(z_dim=512, c_dim=0, w_dim=512, img_resolution=256, img_channels=3, channel_base=16384).eval()
with torch.no_grad():
    G(torch.randn(2, 512), None)
    start = time.perf_counter()
    for _ in range(4):
        G(torch.randn(2, 512), None)
""",
}
SETTINGS = {  # name: (threads, wait policy)
    "default (spinning)": (None, "ACTIVE"),
    "1 thread": (1, "ACTIVE"),
    "cores, sleeping (stylegan)": (None, "PASSIVE"),
}


def run_once(work: str, threads: int | None, policy: str, steps: int) -> float:
    """Seconds of one measurement in a fresh process (the wait policy is read when torch starts)."""
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "STYLEGAN_THREADS")}
    env["OMP_WAIT_POLICY"] = policy
    setup = "import time, torch\n" + (f"torch.set_num_threads({threads})\n" if threads else "")
    script = setup + WORK[work].replace("STEPS", str(steps)) + "print(time.perf_counter() - start)\n"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True)
    return float(out.stdout.split()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--load", default="0,2", help="comma list of spinning processes beside each measurement")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    from .machine import describe
    print(describe())
    print(f"load average before: {', '.join(f'{v:.2f}' for v in os.getloadavg())}")
    loads = [int(v) for v in args.load.split(",")]
    header = f"{'work':<30}{'setting':<28}" + "".join(f"{f'{n} busy' if n else 'idle':>10}" for n in loads)
    print(header + "   (seconds, median)")
    for work in WORK:
        for name, (threads, policy) in SETTINGS.items():
            cells = []
            for load in loads:
                spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(load)]
                try:
                    time.sleep(0.5 if load else 0)
                    cells.append(statistics.median(run_once(work, threads, policy, args.steps)
                                                   for _ in range(args.repeats)))
                finally:
                    for p in spinners:
                        p.kill()
                        p.wait()
            print(f"{work:<30}{name:<28}" + "".join(f"{c:>10.2f}" for c in cells))


if __name__ == "__main__":
    main()
