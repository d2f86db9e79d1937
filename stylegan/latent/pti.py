"""Pivotal tuning (PTI; Roich et al. 2021): a projection that keeps the photo's identity by tuning the
generator around one latent.

A pivot w is found in W by the official projector; then the generator's weights are tuned (Adam, lr 3e-4, at
most 350 steps) so that the pivot reproduces the photo, with the loss L2 + LPIPS (images in [-1, 1]) and
stopping as soon as LPIPS falls to 0.06. Without LPIPS weights the package's offline loss (pixel + MS-SSIM)
is used for all the steps, and said once. The optional locality regulariser keeps the rest of the latent
space where it was: a random w (psi 0.5) moved 30 units toward the pivot must render as the original
generator rendered it (L2 + LPIPS, weight 0.1, every 10 steps). Edits then run on the tuned generator with
the pivot, as on any projection.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from .perceptual import choose_loss, lpips_distance, make_loss
from .space import class_label, device_of

STEPS, LR, STOP_LPIPS = 350, 3e-4, 0.06
LOCALITY_WEIGHT, LOCALITY_EVERY, LOCALITY_DISTANCE, LOCALITY_PSI = 0.1, 10, 30.0, 0.5
# L2 on images in [-1, 1] (the paper's) is 4x the package's pixel loss on images in [0, 1].
PIXEL_WEIGHT = 4.0


@dataclass
class Tuning:
    """The tuned generator and what tuning did: the loss of every step, and LPIPS of every step when the
    weights were there (the stop criterion)."""
    G: nn.Module
    losses: list[float]
    lpips: list[float] | None
    loss: str


def tune(G: nn.Module, target: torch.Tensor, pivot: torch.Tensor, noise: list[torch.Tensor] | None = None,
         num_steps: int = STEPS, lr: float = LR, stop_lpips: float = STOP_LPIPS, vgg: nn.Module | str | None = None,
         locality: bool = False, seed: int = 0, class_idx: int | None = None, progress: bool = True,
         callback: Callable[[int, dict], None] | None = None, loss: str = "auto") -> Tuning:
    """A copy of G tuned so that `pivot` (ws [N, num_ws, w_dim], with the projection's `noise`) renders
    `target` (float [N, C, H, W] in [0, 255]); G itself is not changed. `loss`: 'auto' (L2 + LPIPS when
    the weights are found, else the offline loss) or a spec of `perceptual.make_loss`."""
    spec, vgg = choose_loss(loss, None, vgg, auto="pixel+lpips")
    distance = make_loss(spec, target, vgg=vgg, weights={"pixel": PIXEL_WEIGHT})
    stop = lpips_distance(vgg.to(target.device), target) if "lpips" in spec else None
    tuned = copy.deepcopy(G).train().requires_grad_(True)
    tuned.mapping.requires_grad_(False)  # the pivot is fixed in W: only the synthesis can move it
    optimizer = torch.optim.Adam(tuned.synthesis.parameters(), lr=lr, betas=(0.9, 0.999))
    kwargs = {"noise_mode": "const"} | ({"noise": noise} if noise is not None else {})
    generator = torch.Generator().manual_seed(seed)
    pivot = pivot.detach()
    losses, lpips = [], [] if stop is not None else None
    steps = range(num_steps)
    for step in tqdm(steps, desc="tuning", leave=False) if progress else steps:
        synth = (tuned.synthesis(pivot, **kwargs) + 1) * (255 / 2)
        per_sample = distance(synth)
        total = per_sample.sum()
        if locality and step % LOCALITY_EVERY == 0:
            total = total + LOCALITY_WEIGHT * _locality(G, tuned, pivot, generator, vgg if stop else None, class_idx)
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        optimizer.step()
        losses.append(float(per_sample.detach().mean()))
        if stop is not None:
            with torch.no_grad():
                lpips.append(float(stop(synth.detach()).max()))
        if callback is not None:
            callback(step, {"loss": losses[-1], "lpips": lpips[-1] if lpips else None})
        if lpips and lpips[-1] <= stop_lpips:
            break
    return Tuning(tuned.eval().requires_grad_(False), losses, lpips, spec)


def _locality(G: nn.Module, tuned: nn.Module, pivot: torch.Tensor, generator: torch.Generator,
              vgg: nn.Module | None, class_idx: int | None) -> torch.Tensor:
    """How far the tuned generator's image of a random w near the pivot moved from the original's."""
    z = torch.randn([1, G.z_dim], generator=generator).to(device_of(G))
    with torch.no_grad():
        w = G.mapping(z, class_label(G, class_idx, 1), truncation_psi=LOCALITY_PSI)
        away = w - pivot[:1]
        length = away.norm(dim=-1, keepdim=True).clamp(min=1e-8)
        w_near = pivot[:1] + away * (torch.clamp(length, max=LOCALITY_DISTANCE) / length)
        before = G.synthesis(w_near, noise_mode="const")
    after = tuned.synthesis(w_near, noise_mode="const")
    loss = F.mse_loss(after, before)
    if vgg is not None:
        loss = loss + lpips_distance(vgg, (before + 1) * (255 / 2))((after + 1) * (255 / 2)).sum()
    return loss


__all__ = ["LR", "STEPS", "STOP_LPIPS", "Tuning", "tune"]
