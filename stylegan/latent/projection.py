"""Projection (GAN inversion): find ws whose image matches a target, in W or W+.

Two published algorithms:
- 'official', the StyleGAN2 projector: one w (W space) starting at the mean of 10,000 mapped samples,
  Adam with lr 0.1 ramped up over the first 5% and down (cosine) over the last 25% of the steps,
  Gaussian noise of 5% of the w spread added to w and ramped down over the first 75%, the per-layer
  noise inputs optimised too with a multi-scale autocorrelation penalty (weight 1e5) and renormalised
  after every step; 1000 steps; LPIPS distance on images downsampled to 256².
- 'image2stylegan' (Abdal et al. 2019): W+ (one w per layer) starting at the mean w (or a random w for
  out-of-domain images), Adam with lr 0.01, loss = pixel MSE + VGG16 perceptual loss on conv1_1,
  conv1_2, conv3_2 and conv4_2 (each normalised by its element count), 5000 steps.
- 'pti', pivotal tuning (Roich et al. 2021; `pti.py`): the official projector's w is the pivot, then a copy
  of the generator is tuned so that the pivot reproduces the target; the result carries the tuned network.
  With `init='encoder'` and `num_steps=0` the encoder's ws (W+) are the pivot, with no search (as PTI's
  variant with an e4e pivot).
- 'encoder': one pass of a learned encoder (`models.encoder`, trained with `stylegan encoder train`), no
  optimisation; and `init='encoder'` starts any optimising method at the encoder's ws.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from ..errors import InputError, StyleGANError
from ..formats import save
from ..io.images import decode_image, fit_image, save_png
from ..io.latents import save_noise, save_ws
from ..io.video import write_video
from ..models.encoder import encode
from ..models.noise import random_noise
from . import PROJECTION_METHODS as METHODS
from .generate import render
from .perceptual import choose_loss, lpips_between, make_loss
from .pti import LR as TUNE_LR
from .pti import STEPS as TUNE_STEPS
from .pti import tune
from .seeds import MAX_SEED
from .space import class_label, device_of, seeds_to_ws

AUTO_LOSS = {"official": "lpips", "image2stylegan": "pixel+vgg", "pti": "lpips", "encoder": "lpips"}


@dataclass
class Projection:
    """The result: final ws [N, num_ws, w_dim], the optimised per-layer noise (or None), the loss of every
    step, ws snapshots [K, N, num_ws, w_dim] taken every `keep_every` steps (for progress videos) and, for
    pivotal tuning, the tuned generator that renders the ws as the target (else None)."""
    ws: torch.Tensor
    noise: list[torch.Tensor] | None
    losses: list[float]
    history: torch.Tensor
    options: dict = field(default_factory=dict)
    G: nn.Module | None = None


@torch.no_grad()
def w_stats(G: nn.Module, num_samples: int = 10000, class_idx: int | None = None,
            seed: int = 123) -> tuple[torch.Tensor, float]:
    """Mean w [1, w_dim] and spread sqrt(E|w - mean|^2) of `num_samples` mapped z (seeded)."""
    z = torch.from_numpy(np.random.RandomState(seed).randn(num_samples, G.z_dim)).float().to(device_of(G))
    ws = torch.cat([G.mapping(chunk, class_label(G, class_idx, len(chunk)))[:, 0]
                    for chunk in z.split(1000)])
    w_avg = ws.mean(dim=0, keepdim=True)
    return w_avg, float(((ws - w_avg).square().sum() / num_samples).sqrt())


def noise_regularizer(noise: list[torch.Tensor]) -> torch.Tensor:
    """Squared autocorrelation of each noise map with its one-pixel shifts, summed over a pyramid down to
    8x8 (per sample; zero for white noise)."""
    total = 0
    for n in noise:
        while True:
            total = total + (n * torch.roll(n, shifts=1, dims=3)).mean(dim=[1, 2, 3]).square()
            total = total + (n * torch.roll(n, shifts=1, dims=2)).mean(dim=[1, 2, 3]).square()
            if n.shape[2] <= 8:
                break
            n = F.avg_pool2d(n, kernel_size=2)
    return total


def _as_target(G: nn.Module, target) -> torch.Tensor:
    """uint8 [H, W, C] / [N, H, W, C] arrays or float [N, C, H, W] tensors in [0, 255] -> float [N, C, H, W]."""
    t = target if isinstance(target, torch.Tensor) else torch.from_numpy(np.array(target))
    if not t.is_floating_point():
        t = t.float()
        t = (t.unsqueeze(0) if t.ndim == 3 else t).permute(0, 3, 1, 2)
    expected = (G.img_channels, G.img_resolution, G.img_resolution)
    if t.ndim != 4 or tuple(t.shape[1:]) != expected:
        raise InputError(f"targets must be {expected[2]}x{expected[1]} images with {expected[0]} channels "
                         f"(use stylegan.io.read_image to crop and resize), got shape {tuple(t.shape)}")
    return t.to(device_of(G))


def _lr_ramp(t: float, rampup: float = 0.05, rampdown: float = 0.25) -> float:
    ramp = min(1.0, (1.0 - t) / rampdown)
    return (0.5 - 0.5 * np.cos(ramp * np.pi)) * min(1.0, t / rampup)


def project(G: nn.Module, target, method: str = "official", space: str | None = None, loss: str | None = None,
            num_steps: int | None = None, lr: float | None = None, init: str | int = "mean",
            optimize_noise: bool | None = None, w_avg_samples: int = 10000, seed: int = 303,
            class_idx: int | None = None, D: nn.Module | None = None, vgg: nn.Module | str | None = None,
            stabilize: bool = False, keep_every: int = 1, callback: Callable[[int, dict], None] | None = None,
            progress: bool = True, tune_steps: int | None = None, tune_lr: float | None = None,
            locality: bool = False, encoder: nn.Module | None = None) -> Projection:
    """Project target image(s) into G's latent space with the named method (see the module docstring).

    space: 'w' or 'w+'; loss: a spec for `perceptual.make_loss` ('auto' = LPIPS for the official method,
    pixel + VGG16 for Image2StyleGAN, offline losses when no VGG16 weights are found; or 'pixel',
    'pixel+msssim', 'discriminator', ...); vgg: a VGG16 or its weight file (default: searched);
    init: 'mean', 'random' or a seed; stabilize (StyleGAN3): keep ws row 0, which
    only drives the input layer's rotation/translation, at G.mapping.w_avg so that the image frame stays
    put. `callback(step, info)` is called after every step with the step's loss and ws. For 'pti',
    `tune_steps`, `tune_lr` and `locality` are the tuning's (see `pti.tune`); the other options are the
    pivot's projection. `encoder` (an `Encoder` for G, see `train.encoder.load_encoder`) serves
    method='encoder' and init='encoder'.
    """
    if method not in METHODS:
        raise InputError(f"method must be one of {sorted(METHODS)}, got {method!r}")
    for name, rate in (("learning rate", lr), ("tuning learning rate", tune_lr)):
        if rate is not None and not (math.isfinite(rate) and rate > 0):
            raise InputError(f"the {name} must be a positive number, got {rate}")
    if not 0 <= seed <= MAX_SEED:
        raise InputError(f"the seed must be from 0 to {MAX_SEED}, got {seed}")
    if (method == "encoder" or init == "encoder") and encoder is None:
        raise InputError("the encoder method and --init encoder need an encoder (--encoder FILE; train one with "
                         "`stylegan encoder train`)")
    if method == "encoder":
        with torch.no_grad():
            ws = encode(encoder, G.eval(), _as_target(G, target) / 127.5 - 1)
        return Projection(ws=ws, noise=None, losses=[], history=ws[None].cpu(), options=dict(method="encoder"))
    if method == "pti":
        if (space or "w") != "w":
            raise InputError("pivotal tuning takes its pivot in W (--space w)")
        spec, vgg = choose_loss(loss or "auto", D, vgg, AUTO_LOSS[method])  # one weight search, one warning
        if num_steps == 0 and init != "encoder":
            raise InputError("pivotal tuning with 0 projection steps takes the encoder's ws as its pivot: give "
                             "--init encoder (and --encoder), or at least 1 step")
        if num_steps == 0:  # the encoder's W+ ws are the pivot, as PTI with an e4e pivot
            pivot = project(G, target, "encoder", encoder=encoder)
        else:
            pivot = project(G, target, "official", loss=spec, num_steps=num_steps, lr=lr, init=init,
                            optimize_noise=optimize_noise, w_avg_samples=w_avg_samples, seed=seed,
                            class_idx=class_idx, D=D, vgg=vgg, stabilize=stabilize, keep_every=keep_every,
                            callback=callback, progress=progress, encoder=encoder)
        with_lpips = vgg is not None and getattr(vgg, "has_lpips", False)
        tuning = tune(G, _as_target(G, target), pivot.ws, pivot.noise, num_steps=tune_steps or TUNE_STEPS,
                      lr=tune_lr or TUNE_LR, vgg=vgg, locality=locality, seed=seed, class_idx=class_idx,
                      progress=progress, loss="pixel+lpips" if with_lpips else "pixel+msssim")
        pivot.G = tuning.G
        pivot.options.update(method="pti", tune_steps=len(tuning.losses), tune_lr=tune_lr or TUNE_LR,
                             tune_loss=tuning.loss, locality=locality)
        return pivot
    cfg = {**METHODS[method], **{k: v for k, v in dict(space=space, loss=loss, num_steps=num_steps, lr=lr,
                                                      optimize_noise=optimize_noise).items() if v is not None}}
    if cfg["space"] not in ("w", "w+"):
        raise InputError(f"space must be 'w' or 'w+', got {cfg['space']!r}")
    if cfg["num_steps"] < 1:
        raise InputError(f"the number of steps must be at least 1, got {cfg['num_steps']}")
    target = _as_target(G, target)
    batch = len(target)
    G = G.eval().requires_grad_(False)
    torch.manual_seed(seed)

    w_avg, w_std = w_stats(G, w_avg_samples, class_idx)
    if init == "encoder":
        with torch.no_grad():
            start = encode(encoder, G, target / 127.5 - 1)
        start = start.mean(dim=1, keepdim=True) if cfg["space"] == "w" else start  # W: one w, the rows' mean
    elif init == "mean":
        start = w_avg.unsqueeze(1)
    elif init == "random" or isinstance(init, int):
        start = seeds_to_ws(G, [seed if init == "random" else int(init)], class_idx=class_idx)[:, :1]
    else:
        raise InputError(f"init must be 'mean', 'random', 'encoder' or a seed, got {init!r}")
    rows = 1 if cfg["space"] == "w" else G.num_ws
    w_opt = start.expand(batch, rows, -1).clone().requires_grad_(True)

    noise = None
    if cfg["optimize_noise"] and G.synthesis.noise_layers():
        noise = [n.requires_grad_(True) for n in random_noise(G, batch, torch.Generator().manual_seed(seed))]
    noise_kwargs = {"noise": noise} if noise is not None else {}
    optimizer = torch.optim.Adam([w_opt] + (noise or []), betas=(0.9, 0.999), lr=cfg["lr"])
    distance = make_loss(cfg["loss"], target, D=D, vgg=vgg, auto=AUTO_LOSS[method])
    cfg["loss"] = distance.spec
    anchor = G.mapping.w_avg.reshape(1, 1, -1).expand(batch, 1, -1) if stabilize else None

    losses, history = [], []
    steps = range(cfg["num_steps"])
    for step in tqdm(steps, desc="projecting", leave=False) if progress else steps:
        t = step / cfg["num_steps"]
        if method == "official":
            for group in optimizer.param_groups:
                group["lr"] = cfg["lr"] * _lr_ramp(t)
            w_noise = torch.randn_like(w_opt) * (w_std * 0.05 * max(0.0, 1.0 - t / 0.75) ** 2)
        else:
            w_noise = 0
        ws = _full_ws(w_opt + w_noise, G.num_ws, anchor)
        synth = (G.synthesis(ws, noise_mode="const", **noise_kwargs) + 1) * (255 / 2)
        per_sample = distance(synth)
        total = per_sample.sum()
        if noise is not None:
            total = total + 1e5 * noise_regularizer(noise).sum()
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        optimizer.step()
        if noise is not None:
            with torch.no_grad():
                for n in noise:
                    n -= n.mean(dim=[1, 2, 3], keepdim=True)
                    n *= n.square().mean(dim=[1, 2, 3], keepdim=True).rsqrt()
        losses.append(float(per_sample.detach().mean()))
        final = _full_ws(w_opt.detach(), G.num_ws, anchor)
        if step % keep_every == 0 or step == cfg["num_steps"] - 1:
            history.append(final.cpu())
        if callback is not None:
            callback(step, {"loss": losses[-1], "ws": final})
    return Projection(ws=final, noise=[n.detach() for n in noise] if noise is not None else None, losses=losses,
                      history=torch.stack(history), options=dict(method=method, stabilize=stabilize, **cfg))


def _full_ws(w: torch.Tensor, num_ws: int, anchor: torch.Tensor | None) -> torch.Tensor:
    """Broadcast W-space w [N, 1, C] to all rows; with an anchor, row 0 is the anchor instead."""
    ws = w.expand(-1, num_ws, -1) if w.shape[1] == 1 else w
    return torch.cat([anchor, ws[:, 1:]], dim=1) if anchor is not None else ws


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio (dB) between two uint8 images."""
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(255.0 ** 2 / mse))


IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"}


def project_image(G: nn.Module, image, **options) -> tuple[np.ndarray, Projection]:
    """Project one picture of any size, mode and channel count (uint8 [H, W, C], or a PIL image): it is
    centre-cropped to a square, resized (Lanczos) to G's resolution and converted to G's channels, then
    given to `project` with `options`. Returns the target as projected and the result. `stylegan project`
    and the recipe step `project` both go through here."""
    target = fit_image(image, G.img_resolution, G.img_channels)
    return target, project(G, target, **options)


def image_files(target: str | Path) -> list[Path]:
    """The image, or the images of a folder (sorted; by suffix), that a projection run takes."""
    path = Path(target)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise InputError(f"{path}: no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in this folder")
        return files
    if not path.exists():
        raise InputError(f"{path}: no such image or folder")
    return [path]


TUNED_FILE = "tuned.safetensors"
ENCODER_BATCH = 16  # targets of a folder per encoder pass


def project_files(G: nn.Module, target: str | Path, outdir: str | Path, method: str = "official",
                  num_steps: int | None = None, vgg: nn.Module | None = None, save_video: bool = False,
                  align: bool = False, report: Callable[[str], None] = print,
                  **options) -> list[tuple[str, float, float, float]]:
    """Project an image, or each image of a folder one at a time (with method='encoder', ENCODER_BATCH at a
    time: one pass of the encoder each), writing per target `target.png`,
    `proj.png`, `noise.npz` (when noise is optimised), `tuned.safetensors` (pivotal tuning: the tuned
    generator, which renders `projected_w.npz` as `proj.png`), `proj.mp4` (with `save_video`) and, last,
    `projected_w.npz`, whose presence marks the target done (a rerun skips it: resumable).

    A folder's targets go to outdir/<file stem>/, a single image's to outdir. Unreadable images of a folder
    are reported and skipped; a single unreadable target is an InputError. With `align`, each target is first
    cut out as FFHQ was made (its largest face, by the built-in detector; `stylegan align`), and a target
    without a face is reported and skipped like an unreadable one. `options` go to `project`
    (vgg too; LPIPS is reported when it has the LPIPS heads). Returns (name, final loss, PSNR, LPIPS)
    per target projected or skipped as unreadable.
    """
    files = image_files(target)
    out = Path(outdir)
    steps = num_steps or METHODS.get(method, METHODS["official"])["num_steps"]
    if method in METHODS and method != "encoder":  # the losses are chosen (and a fallback said) once
        options["loss"], vgg = choose_loss(options.get("loss") or METHODS[method]["loss"], options.get("D"), vgg,
                                           AUTO_LOSS[method])
    if align:
        from .align_files import align_photo  # (align_files imports this module)
    rows: list[tuple[str, float, float, float]] = []
    batch: list[tuple[Path, Path, np.ndarray]] = []  # encoder targets waiting for their pass

    def write(file: Path, folder: Path, image: np.ndarray, result: Projection) -> None:
        kwargs = {"noise": result.noise} if result.noise is not None else {}
        proj = render(result.G or G, result.ws, **kwargs)[0]
        save_png(image, folder / "target.png")
        save_png(proj, folder / "proj.png")
        if result.noise is not None:
            save_noise(folder / "noise.npz", G, result.noise)
        if result.G is not None:
            save(result.G, folder / TUNED_FILE, extra={"pivot": "projected_w.npz", **result.options})
        if save_video:
            frames = (np.concatenate([image, render(G, ws, **kwargs)[0]], axis=1) for ws in result.history)
            write_video(frames, folder / "proj.mp4", fps=10, total=len(result.history))
        save_ws(folder / "projected_w.npz", result.ws)  # last: its presence marks the target as done
        has_lpips = vgg is not None and getattr(vgg, "has_lpips", False)
        distance = lpips_between(vgg, proj, image) if has_lpips else float("nan")
        final = result.losses[-1] if result.losses else float("nan")  # (an encoder's pass has no loss)
        rows.append((file.name, final, psnr(proj, image), distance))
        lpips_text = f", LPIPS {distance:.4f}" if has_lpips else ""
        loss_text = f"loss {final:.4f}, " if result.losses else ""
        report(f"{file.name}: {loss_text}PSNR {rows[-1][2]:.2f} dB{lpips_text} -> {folder}")

    def encode_batch() -> None:
        if batch:
            result = project(G, np.stack([image for _, _, image in batch]), method=method, **options)
            for k, (file, folder, image) in enumerate(batch):
                ws = result.ws[k:k + 1]
                write(file, folder, image, Projection(ws=ws, noise=None, losses=[], history=ws[None].cpu(),
                                                      options=result.options))
            batch.clear()

    for file in files:
        folder = out / file.stem if len(files) > 1 or Path(target).is_dir() else out
        if (folder / "projected_w.npz").exists():
            report(f"{file.name}: already projected, skipping")
            continue
        try:
            picture, _ = decode_image(file, 3 if align else G.img_channels)
            if align:
                picture = align_photo(picture, G.img_resolution, name=file.name)[0]
        except StyleGANError as exc:
            if len(files) == 1:
                raise
            report(f"{file.name}: skipped, {exc}")
            rows.append((file.name, float("nan"), float("nan"), float("nan")))
            continue
        if method == "encoder":
            batch.append((file, folder, fit_image(picture, G.img_resolution, G.img_channels)))
            if len(batch) == ENCODER_BATCH:
                encode_batch()
            continue
        image, result = project_image(G, picture, method=method, num_steps=num_steps, vgg=vgg,
                                      keep_every=max(1, steps // 100), **options)
        write(file, folder, image, result)
    encode_batch()
    return rows
