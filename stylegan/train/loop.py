"""The training loop: phases with lazy regularisation, generator EMA, ADA, ticks, logs, snapshots, resume.

Follows the official schedule (Adam with betas (0, 0.99); a regulariser run every k minibatches gets
the learning rate scaled by k/(k+1) and betas raised to that power; G_ema half-life of ema_kimg with a 5%
ramp-up; ADA p nudged every 4 minibatches toward r_t = 0.6) with two deliberate differences, both so
that the number of processes does not change the result: gradients are the mean over the global batch
whatever --batch-gpu is (the official code sums over rounds of --batch-gpu), and the path-length mean is
updated once per step from the lengths of all processes and rounds (the official code updates it per round and
per process), with the gradient through it as in the official formula.
"""
from __future__ import annotations

import copy
import json
import math
import resource
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from .. import __version__
from ..data.dataset import ImageDataset, ToonFacesDataset, open_dataset
from ..errors import InputError, StyleGANError
from ..io.files import atomic_path
from ..io.images import make_grid, save_png, to_uint8
from . import distributed
from .augment import AdaController, AugmentPipe
from .log import open_stats
from .loss import GANLoss
from .options import TrainOptions, build_networks, lod_at
from .sampling import ChunkSampler, reseed
from .snapshot import Progress, load_snapshot, save_snapshot, snapshot_name


class TrainingError(StyleGANError):
    """Training cannot go on (non-finite losses, inconsistent resume)."""


@dataclass
class Phase:
    """One optimisation phase: which network, its optimiser, and how often it runs."""
    name: str
    module: nn.Module
    opt: torch.optim.Optimizer
    interval: int


def make_phases(G: nn.Module, D: nn.Module, opts: TrainOptions) -> list[Phase]:
    """Gmain/Greg and Dmain/Dreg with lazy regularisation (or Gboth/Dboth without), with Adam."""
    phases = []
    for name, module, lr, interval in (("G", G, opts.g_lr, opts.g_reg_interval), ("D", D, opts.dlr, opts.d_reg_interval)):
        params = [p for p in module.parameters()]
        if interval is None:
            opt = torch.optim.Adam(params, lr=lr, betas=(0.0, 0.99), eps=1e-8)
            phases.append(Phase(name + "both", module, opt, 1))
        else:
            ratio = interval / (interval + 1)
            opt = torch.optim.Adam(params, lr=lr * ratio, betas=(0.0, 0.99 ** ratio), eps=1e-8)
            phases += [Phase(name + "main", module, opt, 1), Phase(name + "reg", module, opt, interval)]
    return phases


def fade_lod(images: torch.Tensor, lod: float) -> torch.Tensor:
    """StyleGAN1 reals at level of detail `lod`: box-downscaled by 2**floor(lod), cross-faded with the next
    coarser level by the fraction of lod, and nearest-upscaled back to full size."""
    if lod <= 0:
        return images
    factor = 2 ** int(math.floor(lod))
    x = torch.nn.functional.avg_pool2d(images, factor) if factor > 1 else images
    frac = lod - math.floor(lod)
    if frac > 0:
        coarse = torch.nn.functional.avg_pool2d(x, 2).repeat_interleave(2, 2).repeat_interleave(2, 3)
        x = x.lerp(coarse, frac)
    return x.repeat_interleave(factor, 2).repeat_interleave(factor, 3) if factor > 1 else x


def update_ema(G_ema: nn.Module, G: nn.Module, batch: int, cur_nimg: int, ema_kimg: float,
               rampup: float | None = 0.05) -> None:
    """G_ema = lerp(G, G_ema, beta) with beta = 0.5 ** (batch / ema_nimg); buffers are copied."""
    ema_nimg = ema_kimg * 1000
    if rampup is not None:
        ema_nimg = min(ema_nimg, cur_nimg * rampup)
    beta = 0.5 ** (batch / max(ema_nimg, 1e-8))
    with torch.no_grad():
        for p_ema, p in zip(G_ema.parameters(), G.parameters()):
            p_ema.copy_(p.lerp(p_ema, beta))
        for b_ema, b in zip(G_ema.buffers(), G.buffers()):
            b_ema.copy_(b)


class _Stats:
    """Sums, squares and counts of per-sample statistics, reduced over processes at each tick."""

    def __init__(self):
        self.sums: dict[str, torch.Tensor] = {}

    def add(self, stats: dict[str, torch.Tensor]) -> None:
        for key, value in stats.items():
            v = value.detach().float().flatten().cpu()
            entry = torch.stack([torch.tensor(float(v.numel())), v.sum(), v.square().sum()])
            self.sums[key] = self.sums.get(key, torch.zeros(3)) + entry

    def finite(self) -> bool:
        return all(bool(torch.isfinite(s).all()) for s in self.sums.values())

    def reduce(self, device: torch.device) -> dict[str, dict[str, float]]:
        keys = sorted(self.sums)
        if not keys:
            return {}
        stacked = distributed.all_reduce_sum(torch.stack([self.sums[k] for k in keys]).to(device)).cpu()
        out = {}
        for key, (n, s, sq) in zip(keys, stacked.tolist()):
            mean = s / max(n, 1)
            out[key] = {"num": n, "mean": mean, "std": math.sqrt(max(sq / max(n, 1) - mean ** 2, 0))}
        return out


def _load_resume(opts: TrainOptions, G: nn.Module, D: nn.Module, G_ema: nn.Module,
                 log: Callable[[str], None]) -> dict | None:
    nets, state = load_snapshot(opts.resume)
    if state is None:  # another checkpoint: a generator-only file gives G and G_ema alike
        nets = {"G": nets.get("G", nets.get("G_ema")), "G_ema": nets.get("G_ema", nets.get("G")),
                "D": nets.get("D")}
        if nets["D"] is None:
            log(f"{opts.resume} holds no discriminator: D starts from scratch, G and G_ema from its generator")
    for name, module in (("G", G), ("D", D), ("G_ema", G_ema)):
        if nets[name] is None:
            continue
        source = nets[name].state_dict()
        own = module.state_dict()
        if state is not None:
            module.load_state_dict(source)
        else:  # copy what fits (fine-tuning from published weights)
            fits = {k for k, v in own.items() if k in source and source[k].shape == v.shape}
            weights = {k for k, v in module.named_parameters() if v.dim() >= 2}  # not biases, filters or noise
            if name == "G" and not fits & weights:
                raise InputError(f"--resume {opts.resume}: none of its generator's weights fit the --cfg {opts.cfg} "
                                 f"generator these options build; give the --cfg, --cbase, --cmax and --map-depth "
                                 f"it was trained with")
            if len(fits) < len(own):
                log(f"{name}: {len(fits)} of its {len(own)} tensors come from {opts.resume}, the others (another "
                    f"shape or name) start from scratch")
            module.load_state_dict({k: source[k] if k in fits else v for k, v in own.items()})
    return state


def _grid(dataset: ImageDataset | ToonFacesDataset, opts: TrainOptions, device: torch.device, z_dim: int):
    count = min(64, len(dataset))
    positions = np.linspace(0, len(dataset) - 1, count).astype(int)
    reals = np.stack([dataset[int(i)][0] for i in positions])
    labels = torch.from_numpy(np.stack([dataset.get_label(int(i)) for i in positions])).to(device)
    z = torch.from_numpy(np.random.RandomState(opts.seed).randn(count, z_dim)).float().to(device)
    return reals.transpose(0, 2, 3, 1), z, labels


def _save_fakes(G_ema: nn.Module, z: torch.Tensor, c: torch.Tensor, path: Path, batch: int) -> None:
    with torch.no_grad():
        images = np.concatenate([to_uint8(G_ema(zz, cc, noise_mode="const")) for zz, cc in zip(z.split(batch),
                                                                                                   c.split(batch))])
    save_png(make_grid(images, int(math.ceil(math.sqrt(len(images))))), path)


def make_augmentation(opts: TrainOptions, device: torch.device, state: dict | None, rank: int = 0,
                      world_size: int = 1):
    """The augmentation pipeline (None for --aug noaug) and the ADA controller (None unless --aug ada)."""
    if opts.aug == "noaug":
        return None, None
    pipe = AugmentPipe.from_preset(opts.augpipe).train().requires_grad_(False).to(device)
    p = state["augment_p"] if state is not None else (opts.p if opts.aug == "fixed" else 0.0)
    pipe.p.fill_(p)
    ada = None
    if opts.aug == "ada":
        ada = AdaController(pipe, target=opts.target, interval=opts.ada_interval, kimg=opts.ada_kimg,
                            reduce=distributed.all_reduce_sum if world_size > 1 else None)
        if state is not None and state.get("ada") is not None:
            ada.load_state_dict(state["ada"], primary=rank == 0)
    return pipe, ada


def training_loop(opts: TrainOptions, run_dir: Path, rank: int = 0, world_size: int = 1,
                  device: torch.device = torch.device("cpu"), show_progress: bool = True,
                  stop: Callable[[], bool] | None = None, log: Callable[[str], None] = print) -> Progress:
    """Train until `opts.kimg` (or a stop request: SIGINT or `stop()`), writing snapshots to run_dir."""
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.benchmark = True
    main = rank == 0
    log = log if main else (lambda message: None)
    dataset = open_dataset(opts.data, use_labels=opts.cond, xflip=opts.mirror, max_size=opts.max_size,
                           random_seed=opts.seed)
    if opts.cond and dataset.label_dim == 0:
        raise TrainingError(f"--cond needs class labels: {opts.data} has no dataset.json labels")
    torch.manual_seed(opts.seed)  # network initialisation
    G, D = build_networks(opts, dataset.resolution, dataset.num_channels, dataset.label_dim)
    G_ema = copy.deepcopy(G).eval()
    state = _load_resume(opts, G, D, G_ema, log if main else lambda _: None) if opts.resume else None
    for module in (G, D, G_ema):
        module.to(device).requires_grad_(False)
        distributed.broadcast_(module)
    G.train()
    D.train()
    augment_pipe, ada = make_augmentation(opts, device, state, rank, world_size)
    r_cfg = opts.cfg == "stylegan3-r"
    loss = GANLoss(G, D, augment_pipe, loss=opts.loss, r1_gamma=opts.gamma, style_mixing_prob=opts.style_mixing,
                   pl_weight=opts.pl_weight, blur_init_sigma=10 if r_cfg else 0, blur_fade_kimg=opts.blur_fade_kimg,
                   bf16=opts.bf16)
    phases = make_phases(G, D, opts)
    ema_rampup = None if opts.resume and state is None else 0.05  # no ramp-up when fine-tuning other weights
    progress = Progress()
    if state is not None:
        progress = Progress(**state["progress"])
        for phase in phases:
            phase.opt.load_state_dict(state["optimizers"][phase.name[0]])
        loss.load_state_dict(state["loss"])

    batch_gpu = opts.batch_per_gpu
    chunks_per_rank = opts.batch // world_size // batch_gpu
    total_chunks = opts.batch // batch_gpu
    sampler = ChunkSampler(len(dataset), opts.seed, opts.batch, batch_gpu, rank, world_size, start=progress.batch_idx)
    loader = iter(torch.utils.data.DataLoader(dataset, sampler=sampler, batch_size=batch_gpu,
                                              num_workers=opts.workers, pin_memory=device.type == "cuda"))
    grid_reals, grid_z, grid_c = _grid(dataset, opts, device, G.z_dim)
    if main and state is None:
        save_png(make_grid(grid_reals, int(math.ceil(math.sqrt(len(grid_reals))))), run_dir / "reals.png")
        _save_fakes(G_ema, grid_z, grid_c, run_dir / "fakes_init.png", batch_gpu)
    if main:  # every option the run goes on with, so that a resume needs nothing but the run folder
        with atomic_path(run_dir / "training_options.json") as tmp:
            tmp.write_text(opts.to_json())
    stats_jsonl = open_stats(run_dir) if main else None
    tensorboard = _tensorboard(run_dir) if main else None
    interrupted = {"flag": False}
    previous_handler = signal.signal(signal.SIGINT, lambda *_: interrupted.update(flag=True))
    log(f"training {opts.cfg} at {dataset.resolution}x{dataset.resolution} for {opts.kimg:g} kimg on "
        f"{world_size} process{'es' if world_size > 1 else ''} ({device}), run folder {run_dir}")

    start_time = tick_start_time = time.time()
    tick_start_nimg = progress.cur_nimg
    stats = _Stats()
    bar = tqdm(total=int(opts.tick * 1000), unit="img", desc=f"tick {progress.cur_tick}", leave=False,
               disable=not (show_progress and main))
    if show_progress and main:
        log = bar.write  # keep the bar on its own line
    try:
        while True:
            reals = [next(loader) for _ in range(chunks_per_rank)]
            real_imgs = [img.to(device).to(torch.float32) / 127.5 - 1 for img, _ in reals]
            real_cs = [c.to(device) for _, c in reals]
            if opts.cfg == "stylegan1":
                lod = lod_at(opts, dataset.resolution, progress.cur_nimg / 1000)
                for net in (G.synthesis, G_ema.synthesis, D):
                    net.lod.fill_(lod)
                real_imgs = [fade_lod(x, lod) for x in real_imgs]
            step_signs = []
            for phase_idx, phase in enumerate(phases):
                if progress.batch_idx % phase.interval:
                    continue
                phase.opt.zero_grad(set_to_none=True)
                phase.module.requires_grad_(True)
                for k in range(chunks_per_rank):
                    rng = reseed(opts.seed, progress.batch_idx, phase_idx, rank * chunks_per_rank + k)
                    z = torch.randn([batch_gpu, G.z_dim]).to(device)
                    c = torch.from_numpy(np.stack([dataset.get_label(int(i))
                                                   for i in rng.integers(len(dataset), size=batch_gpu)])).to(device)
                    chunk_stats = loss.accumulate_gradients(phase.name, real_imgs[k], real_cs[k], z, c,
                                                            gain=phase.interval / total_chunks,
                                                            cur_nimg=progress.cur_nimg, finish=False)
                    stats.add(chunk_stats)
                    if "Loss/signs/real" in chunk_stats:
                        step_signs.append(chunk_stats["Loss/signs/real"].detach())
                stats.add(loss.finish_phase(distributed.all_reduce_sum))
                phase.module.requires_grad_(False)
                _step(phase)
            update_ema(G_ema, G, opts.batch, progress.cur_nimg, opts.ema_kimg, rampup=ema_rampup)
            progress.cur_nimg += opts.batch
            progress.batch_idx += 1
            bar.update(opts.batch)
            if ada is not None:
                for signs in step_signs:
                    ada.accumulate(signs)
                ada.step(opts.batch)
            flags = distributed.all_reduce_sum(torch.tensor([float(not stats.finite()),
                                                             float(interrupted["flag"] or bool(stop and stop()))],
                                                            device=device)).tolist()
            if flags[0] > 0:
                raise TrainingError(f"the losses became NaN or infinite at kimg {progress.cur_nimg / 1000:.1f}; the "
                                    f"last snapshot in {run_dir} is intact (lower the learning rate or --gamma, "
                                    f"or train with --fp32)")
            done = progress.cur_nimg >= opts.kimg * 1000 or flags[1] > 0
            if not done and progress.cur_nimg < tick_start_nimg + opts.tick * 1000:
                continue

            # Maintenance once per tick.
            tick_end_time = time.time()
            reduced = stats.reduce(device)
            stats = _Stats()
            fields = _tick_fields(progress, reduced, tick_end_time - start_time, tick_end_time - tick_start_time,
                                  progress.cur_nimg - tick_start_nimg, augment_pipe, device)
            log(" ".join(f"{k} {v}" for k, v in fields.items()))
            progress.cur_tick += 1
            snapshot_due = done or progress.cur_tick % opts.snap == 0
            if snapshot_due:
                snap_state = {"optimizers": {p.name[0]: p.opt.state_dict() for p in phases},
                              "loss": loss.state_dict(),
                              "ada": ada.state_dict() if ada is not None else None,
                              "augment_p": float(augment_pipe.p) if augment_pipe is not None else 0.0,
                              "version": __version__}
                if main:
                    path = save_snapshot(run_dir, progress, {"G": G, "D": D, "G_ema": G_ema}, snap_state,
                                         json.loads(opts.to_json()))
                    _save_fakes(G_ema, grid_z, grid_c, run_dir / f"fakes{snapshot_name(progress.cur_nimg)}.png",
                                batch_gpu)
                    log(f"snapshot {path.name}")
                    _metrics(opts, G_ema, device, run_dir, path, log)
            if main:
                _write_logs(stats_jsonl, tensorboard, reduced, fields, progress, time.time() - start_time)
            tick_start_nimg, tick_start_time = progress.cur_nimg, time.time()
            bar.reset()
            bar.set_description(f"tick {progress.cur_tick}")
            if done:
                if flags[1] > 0:
                    log(f"stopped at kimg {progress.cur_nimg / 1000:.1f} after a snapshot; resume with "
                        f"--resume {run_dir}")
                return progress
    finally:
        bar.close()
        if stats_jsonl is not None:
            stats_jsonl.close()
        if tensorboard is not None:
            tensorboard.close()
        signal.signal(signal.SIGINT, previous_handler)


def _step(phase: Phase) -> None:
    """Average gradients over processes, replace non-finite values, take the optimiser step."""
    params = [p for p in phase.module.parameters() if p.grad is not None]
    if params:
        flat = torch.cat([p.grad.flatten() for p in params])
        distributed.all_reduce_sum(flat)
        torch.nan_to_num(flat, nan=0, posinf=1e5, neginf=-1e5, out=flat)
        for p, g in zip(params, flat.split([p.numel() for p in params])):
            p.grad = g.reshape(p.shape)
    phase.opt.step()


def _tick_fields(progress: Progress, reduced: dict, total_sec: float, tick_sec: float, tick_nimg: int,
                 augment_pipe, device: torch.device) -> dict[str, str]:
    fields = {"tick": str(progress.cur_tick), "kimg": f"{progress.cur_nimg / 1000:.1f}",
              "time": f"{total_sec:.0f}s", "sec/tick": f"{tick_sec:.1f}",
              "sec/kimg": f"{tick_sec / max(tick_nimg, 1) * 1000:.2f}",
              "cpumem": f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20:.2f}"}
    if device.type == "cuda":
        fields["gpumem"] = f"{torch.cuda.max_memory_allocated(device) / 2 ** 30:.2f}"
        torch.cuda.reset_peak_memory_stats(device)
    fields["augment"] = f"{float(augment_pipe.p) if augment_pipe is not None else 0:.3f}"
    for key, short in (("Loss/G/loss", "G"), ("Loss/D/loss", "D"), ("Loss/r1_penalty", "r1"),
                       ("Loss/pl_penalty", "pl")):
        if key in reduced:
            fields[short] = f"{reduced[key]['mean']:.3f}"
    return fields


def _tensorboard(run_dir: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
        return SummaryWriter(str(run_dir))
    except ImportError:
        return None


def _write_logs(stats_jsonl, tensorboard, reduced: dict, fields: dict, progress: Progress, seconds: float) -> None:
    record = {**reduced, "Progress/tick": progress.cur_tick, "Progress/kimg": progress.cur_nimg / 1000,
              "Progress/augment": float(fields["augment"]), "Timing/total_sec": seconds,
              "Timing/sec_per_kimg": float(fields["sec/kimg"]), "timestamp": time.time()}
    stats_jsonl.write(json.dumps(record) + "\n")
    stats_jsonl.flush()
    if tensorboard is not None:
        step = int(progress.cur_nimg / 1e3)
        for key, value in reduced.items():
            tensorboard.add_scalar(key, value["mean"], global_step=step)
        tensorboard.add_scalar("Progress/augment", float(fields["augment"]), global_step=step)
        tensorboard.flush()


def _metrics(opts: TrainOptions, G_ema: nn.Module, device: torch.device, run_dir: Path, snapshot: Path,
             log: Callable[[str], None]) -> None:
    if not opts.metrics:
        return
    from ..metrics import MetricOptions, calc_metric, report_metric
    metric_opts = MetricOptions(G=G_ema, dataset_kwargs=dict(path=opts.data, use_labels=opts.cond, xflip=opts.mirror),
                                device=device, progress=False)
    for name in opts.metrics:
        result = calc_metric(name, metric_opts)
        log(report_metric(result, run_dir=run_dir, snapshot_pkl=snapshot))
