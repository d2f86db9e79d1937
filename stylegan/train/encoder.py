"""Training an encoder (`models.encoder`) for a generator on the generator's own samples and, given a dataset,
on real images too.

Each step draws a batch of latents (truncation psi uniform in [0.5, 1], style mixing at a random layer half
of the time, so the ws cover W+), renders them with fresh noise as targets, and runs the encoder's
refinement passes from the mean w: pass k adds E(target, image of the ws so far) to the ws (the previous
passes' results detached, as ReStyle trains). Each pass is scored against the known ws (latent distance)
and the target image (pixel MSE, plus LPIPS when the VGG16 weights are there, else the offline MS-SSIM
loss); the generator stays fixed. With `data`, a share of each batch (`data_share`) is images from that
dataset instead, scored on pixels and perception only (their ws are unknown), as pSp and e4e train: samples
teach the encoder the generator's latent space, real images the images it will be given, which a generator
covers only in part. Latents and dataset indices come from generators seeded by (seed, step), so a resumed
run draws what the uninterrupted one would have: N steps, a resume and N more equal 2N steps. `start`
begins from another encoder's weights (one trained for an earlier snapshot of the same generator, say).

A run folder holds `encoder.safetensors` (the encoder, loadable with `load_encoder`; written at every
snapshot), `training-state.pt` (the encoder's weights, the optimiser, the step and the seconds of training so
far: what a resume reads; written first), `encoder_options.json` and `stats.jsonl` (whose times count
on across resumes).
"""
from __future__ import annotations

import dataclasses
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from .. import hub
from ..errors import CheckpointError, InputError
from ..data.dataset import open_dataset
from ..formats import native
from ..io.files import atomic_path, read_json, write_atomic
from ..latent.perceptual import choose_loss, make_loss
from ..latent.encoding import ENCODER_FILE, load_encoder
from ..models.encoder import Encoder, generator_digest
from .log import open_stats

STATE_FILE, OPTIONS_FILE = "training-state.pt", "encoder_options.json"
# Options a resumed run may change; the rest is the run's.
RESUMABLE = ("steps", "snap", "tick")


@dataclass
class EncoderOptions:
    """Everything an encoder training run depends on; recorded in the run folder and restored on resume."""
    network: str
    out: str
    steps: int = 20000
    batch: int = 8
    lr: float = 1e-4
    iterations: int = 3
    latent_weight: float = 1.0
    pixel_weight: float = 1.0
    perceptual_weight: float = 0.8
    psi_min: float = 0.5
    mixing: float = 0.5
    channel_base: int = 4096
    channel_max: int = 128
    features: int = 512
    seed: int = 0
    snap: int = 1000
    tick: int = 100
    data: str | None = None
    data_share: float = 0.5
    start: str | None = None

    def validate(self) -> None:
        """Raise InputError for options that cannot run, naming the option."""
        for name in ("steps", "batch", "iterations", "snap", "tick", "channel_base", "channel_max", "features"):
            if getattr(self, name) < 1:
                raise InputError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        if not 0 <= self.psi_min <= 1 or not 0 <= self.mixing <= 1 or not 0 <= self.data_share <= 1:
            raise InputError("--psi-min, --mixing and --data-share must be between 0 and 1")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise InputError(f"--lr must be a positive number, got {self.lr}")


def sample(G: nn.Module, batch: int, generator: torch.Generator, psi_min: float, mixing: float,
           device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Training pairs: ws [batch, num_ws, w_dim] (truncated, some style-mixed) and their images with fresh
    noise, in [-1, 1]."""
    if batch == 0:
        return (torch.empty([0, G.num_ws, G.w_dim], device=device),
                torch.empty([0, G.img_channels, G.img_resolution, G.img_resolution], device=device))
    z = torch.randn([2, batch, G.z_dim], generator=generator).to(device)
    psi = (psi_min + (1 - psi_min) * torch.rand([batch, 1, 1], generator=generator)).to(device)
    mixed = torch.rand([batch], generator=generator) < mixing
    cutoff = torch.randint(1, G.num_ws, [batch], generator=generator)
    noise_seed = int(torch.randint(0, 2 ** 31, [1], generator=generator))
    c = torch.zeros([batch, G.c_dim], device=device)
    with torch.no_grad():
        first, second = (G.mapping(zz, c) for zz in z)
        rows = torch.arange(G.num_ws)[None, :]
        take_second = (mixed[:, None] & (rows >= cutoff[:, None])).to(device)[:, :, None]
        ws = torch.where(take_second, second, first)
        w_avg = G.mapping.w_avg.reshape(1, 1, -1)
        ws = w_avg + psi * (ws - w_avg)
        torch.manual_seed(noise_seed)
        images = G.synthesis(ws, noise_mode="random")
    return ws, images


def real_images(dataset, count: int, generator: torch.Generator, device: torch.device) -> torch.Tensor:
    """`count` dataset images at random (indices from `generator`), float [count, C, H, W] in [-1, 1]."""
    index = torch.randint(0, len(dataset), [count], generator=generator).tolist()
    images = torch.from_numpy(np.stack([dataset[i][0] for i in index])).to(device)
    return images.to(torch.float32) / 127.5 - 1


class _Scorer:
    """The per-pass loss: latent distance (on the rows whose ws are known: the first `known`), pixel MSE and
    the perceptual term against the batch's targets."""

    def __init__(self, opts: EncoderOptions, vgg: nn.Module | None, spec: str):
        self.opts, self.vgg, self.spec = opts, vgg, spec

    def __call__(self, ws: torch.Tensor, image: torch.Tensor, true_ws: torch.Tensor,
                 target: torch.Tensor) -> dict[str, torch.Tensor]:
        target255, image255 = (target + 1) * 127.5, (image + 1) * 127.5
        loss = make_loss(self.spec, target255, vgg=self.vgg)
        known = len(true_ws)
        latent = (ws[:known] - true_ws).square().mean() if known else ws.new_zeros([])
        parts = {"latent": latent * self.opts.latent_weight,
                 "pixel": ((image - target) / 2).square().mean() * self.opts.pixel_weight,
                 "perceptual": loss(image255).mean() * self.opts.perceptual_weight}
        return parts


def resolve_run(opts: EncoderOptions, given: set[str] | None = None) -> tuple[EncoderOptions, bool]:
    """The options of the run in `opts.out`: a folder that holds a run continues with its recorded options
    (the `given` ones among RESUMABLE override); anything else starts a new run there."""
    record = Path(opts.out) / OPTIONS_FILE
    if not record.is_file():
        return opts, False
    saved = read_json(record, "encoder options")
    if not isinstance(saved, dict):
        raise InputError(f"{record}: not a record of encoder options")
    known = {f.name for f in dataclasses.fields(EncoderOptions)}
    recorded = EncoderOptions(**{k: v for k, v in saved.items() if k in known})
    given = set(given if given is not None else [])
    changed = [k for k in given if getattr(opts, k) != getattr(recorded, k)]
    fixed = [k for k in changed if k not in RESUMABLE and k != "out"]
    if fixed:
        raise InputError(f"--{fixed[0].replace('_', '-')} is part of the encoder run in {opts.out} "
                         f"({getattr(recorded, fixed[0])!r}); a resume may change --steps, --snap and --tick")
    return dataclasses.replace(recorded, out=opts.out, **{k: getattr(opts, k) for k in changed}), True


def train_encoder(opts: EncoderOptions, device: torch.device | str = "cpu", log: Callable[[str], None] = print,
                  progress: bool = True, given: set[str] | None = None, vgg: nn.Module | str | None = None) -> Path:
    """Train (or resume) an encoder for `opts.network` in the folder `opts.out`; returns the encoder file."""
    opts, resuming = resolve_run(opts, given)
    opts.validate()
    device = torch.device(device)
    out = Path(opts.out)
    G = hub.load(opts.network, device=device).requires_grad_(False)
    digest = generator_digest(G)
    torch.manual_seed(opts.seed)  # the encoder's initial weights
    E = Encoder(G.img_resolution, G.img_channels, G.num_ws, G.w_dim, opts.channel_base, opts.channel_max,
                opts.features, opts.iterations, digest).to(device)
    optimizer = torch.optim.Adam(E.parameters(), lr=opts.lr)
    step, elapsed = 0, 0.0
    if resuming and (out / STATE_FILE).is_file():
        state = _read_state(out / STATE_FILE)
        E.load_state_dict(state["encoder"])
        optimizer.load_state_dict(state["optimizer"])
        step, elapsed = int(state["step"]), float(state.get("seconds", 0.0))
    elif opts.start is not None:
        _start_from(E, opts.start)
    dataset = _open_data(opts.data, G) if opts.data is not None else None
    real = round(opts.batch * opts.data_share) if dataset is not None else 0
    spec, vgg = choose_loss("auto", None, vgg, auto="lpips")
    scorer = _Scorer(opts, vgg.to(device) if vgg is not None else None, spec)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / OPTIONS_FILE) as tmp:
        tmp.write_text(json.dumps(dataclasses.asdict(opts), indent=2))
    source = f"; {real} of {opts.batch} targets per step from {opts.data}" if real else ""
    log(f"training an encoder for {opts.network} ({G.img_resolution}², {G.num_ws} ws) from step {step} to "
        f"{opts.steps} in {out}; losses: latent, pixel, {spec}{source}")
    stats = open_stats(out)
    sums, start = {}, time.time() - elapsed
    bar = tqdm(total=opts.steps, initial=step, desc="encoder", disable=not progress)
    try:
        while step < opts.steps:
            generator = torch.Generator().manual_seed(opts.seed * 1_000_003 + step)
            true_ws, target = sample(G, opts.batch - real, generator, opts.psi_min, opts.mixing, device)
            if real:
                target = torch.cat([target, real_images(dataset, real, generator, device)])
            ws = G.mapping.w_avg.reshape(1, 1, -1).expand(opts.batch, G.num_ws, -1)
            current = G.synthesis(ws, noise_mode="const").detach()
            total = 0
            for _ in range(opts.iterations):
                ws = ws.detach() + E(target, current)
                image = G.synthesis(ws, noise_mode="const")
                parts = scorer(ws, image, true_ws, target)
                total = total + sum(parts.values())
                current = image.detach()
            optimizer.zero_grad(set_to_none=True)
            total.backward()
            optimizer.step()
            step += 1
            bar.update(1)
            for name, value in parts.items():  # the last pass's terms: what the encoder delivers
                sums[name] = sums.get(name, 0.0) + float(value.detach())
            if step % opts.tick == 0 or step == opts.steps:
                count = (step - 1) % opts.tick + 1
                record = {"step": step, "seconds": time.time() - start} | {k: v / count for k, v in sums.items()}
                stats.write(json.dumps(record) + "\n")
                stats.flush()
                log(f"step {step}: " + ", ".join(f"{k} {v / count:.4f}" for k, v in sums.items()))
                sums = {}
            if step % opts.snap == 0 or step == opts.steps:
                _save(out, E, optimizer, step, opts, time.time() - start)
    except KeyboardInterrupt:
        _save(out, E, optimizer, step, opts, time.time() - start)
        log(f"stopped at step {step} after a snapshot; resume with `stylegan encoder train --out {out}`")
    finally:
        stats.close()
        bar.close()
    return out / ENCODER_FILE


def _open_data(path: str, G: nn.Module):
    """The dataset of real targets, which must be of the generator's resolution and channels."""
    dataset = open_dataset(path, resolution=G.img_resolution)
    if dataset.num_channels != G.img_channels:
        raise InputError(f"{path}: images have {dataset.num_channels} channel(s), the generator makes "
                         f"{G.img_channels}")
    return dataset


def _start_from(E: Encoder, path: str) -> None:
    """Copy the weights of the encoder at `path` into E, which must have its shapes."""
    start = load_encoder(path)
    theirs, ours = start.state_dict(), E.state_dict()
    if {k: v.shape for k, v in theirs.items()} != {k: v.shape for k, v in ours.items()}:
        keys = ("num_ws", "w_dim", "img_resolution", "channel_base", "channel_max", "features")
        raise InputError(f"--start {path}: that encoder has another shape ("
                         + ", ".join(f"{k} {start.config.get(k)}" for k in keys)
                         + "); start from one of this generator's shape, or give its --channel-base, "
                           "--channel-max and --features")
    E.load_state_dict(theirs)


def _save(out: Path, E: Encoder, optimizer: torch.optim.Optimizer, step: int, opts: EncoderOptions,
          seconds: float) -> None:
    """The training state first, then the encoder (whose file is what users load); `seconds` of training in
    all, so that a resumed run's log counts on from there."""
    write_atomic(out / STATE_FILE, lambda f: torch.save({"encoder": E.state_dict(), "optimizer": optimizer.state_dict(),
                                                         "step": step, "seconds": seconds}, f))
    native.save_networks({"E": E}, out / ENCODER_FILE, extra={"step": step, "seconds": round(seconds, 1),
                                                              "options": dataclasses.asdict(opts)})


def _read_state(path: Path) -> dict:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch.load raises many types for damaged files
        raise CheckpointError(f"{path}: unreadable training state ({type(exc).__name__})") from None
    if not isinstance(state, dict) or not {"encoder", "optimizer", "step"} <= set(state):
        raise CheckpointError(f"{path}: not an encoder training state")
    return state


__all__ = ["EncoderOptions", "sample", "train_encoder"]
