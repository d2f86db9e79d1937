"""One training step (Gmain, Greg, Dmain, Dreg, each with its Adam step) side by side with the official code.

    python -m benchmarks.training_step [--official PATH] [--resolution 64] [--batch 8] [--repeats 5]
                                       [--cbase 16384] [--cmax 512] [--map-depth 8] [--bf16] [--profile]
                                       [--device cpu]

StyleGAN2 with the official stylegan2 preset's regularisers: style mixing 0.9, path length weight 2 on half
the batch, R1 (gamma 1). Every contender gets the same weights and the same batch, each in its own process,
and they take turns one step at a time (ours, official, ...), so load from other processes hits all alike;
medians are compared. Ours runs with the allocator setting `stylegan train` makes (`stylegan.runtime`),
the official code as its train.py runs it, and once more with our allocator setting, which shows how much
of the difference is the allocator. `--official` is a checkout of NVlabs/stylegan3 (run from where it
lies, never copied; its CPU fallbacks need no compiler; with --device cuda it builds its CUDA plugins).
`--profile` prints the top operators of one of our steps by phase (torch.profiler). The last line
estimates sec/kimg with lazy regularisation (Greg every 4 steps, Dreg every 16) from the per-phase medians.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import torch

from stylegan.models import Discriminator, StyleGAN2Generator
from stylegan.runtime import keep_freed_memory
from stylegan.train.loss import GANLoss

from .machine import describe

PHASES = (("Gmain", 1), ("Greg", 4), ("Dmain", 1), ("Dreg", 16))
OFFICIAL = ["official", "official, memory kept"]
KEEPS_MEMORY = ("ours", "ours bf16", "official, memory kept")


def network_kwargs(resolution: int, cbase: int, cmax: int, map_depth: int) -> tuple[dict, dict]:
    """Generator and discriminator options shared by both implementations (official names)."""
    common = dict(c_dim=0, img_resolution=resolution, img_channels=3, channel_base=cbase, channel_max=cmax,
                  num_fp16_res=0, conv_clamp=None)
    return (dict(z_dim=512, w_dim=512, mapping_kwargs=dict(num_layers=map_depth),
                 fused_modconv_default="inference_only", **common),
            dict(epilogue_kwargs=dict(mbstd_group_size=4), **common))


class Trainer:
    """G, D, their Adam optimisers and a loss object with the official accumulate_gradients interface."""

    def __init__(self, G: torch.nn.Module, D: torch.nn.Module, loss, device: torch.device):
        self.G, self.D, self.loss, self.device = G.to(device).train(), D.to(device).train(), loss, device
        self.opts = {"G": torch.optim.Adam(G.parameters(), lr=0.002 * 4 / 5, betas=(0.0, 0.99 ** (4 / 5))),
                     "D": torch.optim.Adam(D.parameters(), lr=0.002 * 16 / 17, betas=(0.0, 0.99 ** (16 / 17)))}
        G.requires_grad_(False)
        D.requires_grad_(False)

    def phase(self, name: str, gain: int, real: torch.Tensor, z: torch.Tensor) -> None:
        """One phase: gradients of one loss and an optimiser step."""
        module = self.G if name[0] == "G" else self.D
        self.opts[name[0]].zero_grad(set_to_none=True)
        module.requires_grad_(True)
        c = torch.zeros([len(z), 0], device=self.device)
        self.loss.accumulate_gradients(name, real, c, z, c, gain=gain, cur_nimg=10 ** 6)
        module.requires_grad_(False)
        self.opts[name[0]].step()


def official_trainer(path: str, g_kwargs: dict, d_kwargs: dict, device: torch.device, ours: Trainer) -> Trainer:
    """The official networks and loss from a checkout at `path`, with our networks' weights."""
    sys.path.insert(0, path)
    from torch_utils.ops import conv2d_gradfix
    from training.loss import StyleGAN2Loss  # noqa: E402  (the official checkout)
    from training.networks_stylegan2 import Discriminator as OfficialD
    from training.networks_stylegan2 import Generator as OfficialG
    conv2d_gradfix.enabled = True  # as the official training loop sets it (used on CUDA only)
    G, D = OfficialG(**g_kwargs), OfficialD(**d_kwargs)
    G.load_state_dict(ours.G.state_dict())
    D.load_state_dict(ours.D.state_dict())
    loss = StyleGAN2Loss(device, G.to(device), D.to(device), r1_gamma=1.0, style_mixing_prob=0.9, pl_weight=2.0,
                         pl_no_weight_grad=True)
    return Trainer(G, D, loss, device)


def timed(fn: Callable[[], None], device: torch.device) -> float:
    """Wall-clock seconds of one call."""
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def step_times(trainer: Trainer, real: torch.Tensor, z: torch.Tensor) -> dict[str, float]:
    """Seconds per phase of one full step."""
    return {name: timed(lambda: trainer.phase(name, gain, real, z), trainer.device) for name, gain in PHASES}


def profile(trainer: Trainer, real: torch.Tensor, z: torch.Tensor, rows: int = 12) -> None:
    """Top operators by self CPU time of each phase."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile
    for name, gain in PHASES:
        with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
            trainer.phase(name, gain, real, z)
        print(f"--- {name}")
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=rows))


def build(name: str, args: argparse.Namespace) -> tuple[Trainer, torch.Tensor, torch.Tensor]:
    """One contender (every process builds the same weights and batch from fixed seeds), with the allocator
    setting it runs under: ours as `stylegan train` sets it, the official code as its train.py leaves it."""
    if name in KEEPS_MEMORY:
        keep_freed_memory()
    device = torch.device(args.device)
    g_kwargs, d_kwargs = network_kwargs(args.resolution, args.cbase, args.cmax, args.map_depth)
    torch.manual_seed(0)
    G, D = StyleGAN2Generator(**g_kwargs), Discriminator(**d_kwargs)
    loss = GANLoss(G, D, r1_gamma=1.0, style_mixing_prob=0.9, pl_weight=2.0, bf16=name == "ours bf16")
    trainer = Trainer(G, D, loss, device)
    if name.startswith("official"):
        trainer = official_trainer(args.official, g_kwargs, d_kwargs, device, trainer)
    generator = torch.Generator().manual_seed(1)
    real = (torch.rand([args.batch, 3, args.resolution, args.resolution], generator=generator) * 2 - 1).to(device)
    z = torch.randn([args.batch, 512], generator=generator).to(device)
    return trainer, real, z


def worker(name: str, args: argparse.Namespace) -> None:
    """Serve timed steps: one line of JSON phase times for each line read."""
    trainer, real, z = build(name, args)
    for _ in sys.stdin:
        print(json.dumps(step_times(trainer, real, z)), flush=True)


def run(args: argparse.Namespace) -> dict[str, dict[str, float]]:
    """Median phase times of each contender, each in its own process (the allocator setting is per process),
    taking turns one step at a time so that load from elsewhere hits all alike; the first round warms up."""
    names = ["ours"] + (["ours bf16"] if args.bf16 else []) + (OFFICIAL if args.official else [])
    options = [f"--{key.replace('_', '-')}={value}" for key, value in vars(args).items()
               if key in ("device", "resolution", "batch", "cbase", "cmax", "map_depth", "official") and value]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(Path(__file__).parents[1]),
                                                                    os.environ.get("PYTHONPATH")])))
    workers = {name: subprocess.Popen([sys.executable, "-m", "benchmarks.training_step", "--worker", name, *options],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
               for name in names}
    times: dict[str, list[dict[str, float]]] = {name: [] for name in names}
    try:
        for repeat in range(args.repeats + 1):
            for name, process in workers.items():
                process.stdin.write("step\n")
                process.stdin.flush()
                line = process.stdout.readline()
                if not line:
                    raise SystemExit(f"error: the {name} worker stopped (see its message above)")
                if repeat:
                    times[name].append(json.loads(line))
    finally:
        for process in workers.values():
            process.stdin.close()
            process.wait()
    if args.profile:
        profile(*build("ours", args))
    return {name: {phase: statistics.median(t[phase] for t in runs) for phase, _ in PHASES}
            | {"step": statistics.median(sum(t.values()) for t in runs)} for name, runs in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--official", default=None, help="path of an NVlabs/stylegan3 checkout")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--resolution", type=int, default=64)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--cbase", type=int, default=16384)
    parser.add_argument("--cmax", type=int, default=512)
    parser.add_argument("--map-depth", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--bf16", action="store_true", help="also time our step under bfloat16 autocast")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args.worker, args)
    print(describe(args.device))
    result = run(args)
    print(f"StyleGAN2 {args.resolution}², batch {args.batch}, channel_base {args.cbase}, channel_max {args.cmax}, "
          f"{args.map_depth} mapping layers, {args.device}, {torch.get_num_threads()} threads, torch {torch.__version__}; "
          f"medians of {args.repeats} alternating runs (s)")
    print(f"{'':<22}" + "".join(f"{p:>9}" for p, _ in PHASES) + f"{'step':>9}{'sec/kimg':>10}")
    for name, t in result.items():
        per_step = sum(t[p] / interval for p, interval in PHASES)
        print(f"{name:<22}" + "".join(f"{t[p]:>9.3f}" for p, _ in PHASES) + f"{t['step']:>9.3f}"
              f"{per_step / args.batch * 1000:>10.1f}")
    for reference in OFFICIAL:
        for name in result if reference in result else ():
            if not name.startswith("official"):
                print(f"{name} against {reference}: step {result[reference]['step'] / result[name]['step']:.2f}x, "
                      + ", ".join(f"{p} {result[reference][p] / result[name][p]:.2f}x" for p, _ in PHASES))


if __name__ == "__main__":
    main()
