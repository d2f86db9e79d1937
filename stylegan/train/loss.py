"""GAN losses and regularisers: non-saturating logistic loss with R1 and path-length regularisation and
style-mixing regularisation (StyleGAN2/3, StyleGAN1), or WGAN-GP.

Each phase ('Gmain', 'Greg', 'Dmain', 'Dreg', or the combined 'Gboth'/'Dboth') accumulates gradients for one
chunk of the minibatch; `gain` is the lazy-regularisation interval, so that a regulariser computed every
k minibatches weighs the same as one computed every time.

The path-length penalty follows the official formula: the running mean is updated with this phase's mean
length before the penalty is taken, and the gradient flows through that mean. The mean is taken over the
whole phase (every chunk of every process), so `accumulate_gradients(..., finish=False)` on each chunk
followed by one `finish_phase(reduce)` gives the same result whatever the number of processes or chunks.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..ops import filter2d

PHASES = ("Gmain", "Greg", "Gboth", "Dmain", "Dreg", "Dboth")


class GANLoss:
    """The training losses of one G/D pair, with the running path-length mean as its only state."""

    def __init__(self, G: nn.Module, D: nn.Module, augment_pipe: nn.Module | None = None, loss: str = "logistic",
                 r1_gamma: float = 10.0, style_mixing_prob: float = 0.0, pl_weight: float = 0.0,
                 pl_batch_shrink: int = 2, pl_decay: float = 0.01, blur_init_sigma: float = 0.0,
                 blur_fade_kimg: float = 0.0, gp_weight: float = 10.0, drift: float = 1e-3, bf16: bool = False):
        self.G, self.D, self.augment_pipe = G, D, augment_pipe
        self.bf16 = bf16
        self.loss = loss
        self.r1_gamma = r1_gamma
        self.style_mixing_prob = style_mixing_prob
        self.pl_weight = pl_weight
        self.pl_batch_shrink = pl_batch_shrink
        self.pl_decay = pl_decay
        self.blur_init_sigma = blur_init_sigma
        self.blur_fade_kimg = blur_fade_kimg
        self.gp_weight = gp_weight
        self.drift = drift
        self.pl_mean = torch.zeros([])
        self._pending: list[tuple[torch.Tensor, float]] = []  # path lengths (with graph) awaiting `finish_phase`

    def draw_mixing(self, z: torch.Tensor) -> tuple[int, torch.Tensor]:
        """The style-mixing draw for one pass: the first mixed layer (num_ws for no mixing) and the second z."""
        num_ws = self.G.num_ws
        cutoff = int(torch.randint(1, num_ws, []))
        if float(torch.rand([])) >= self.style_mixing_prob:
            cutoff = num_ws
        return cutoff, torch.randn_like(z)

    def run_G(self, z: torch.Tensor, c: torch.Tensor, update_emas: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """Generate with style-mixing regularisation: with probability p, rows from a cutoff on come from
        a second latent."""
        with self._autocast(z.device):
            ws = self.G.mapping(z, c, update_emas=update_emas).float()
            if self.style_mixing_prob > 0:
                cutoff, z2 = self.draw_mixing(z)
                if cutoff < ws.shape[1]:
                    ws = ws.clone()
                    ws[:, cutoff:] = self.G.mapping(z2, c, update_emas=False)[:, cutoff:]
            img = self.G.synthesis(ws, noise_mode="random", update_emas=update_emas).float()
        return img, ws

    def run_D(self, img: torch.Tensor, c: torch.Tensor, cur_nimg: int, update_emas: bool = False) -> torch.Tensor:
        """Score images after the (fading) blur and the augmentation pipeline."""
        sigma = self.blur_sigma(cur_nimg)
        size = int(np.floor(sigma * 3))
        if size > 0:
            f = torch.arange(-size, size + 1, device=img.device, dtype=torch.float32).div(sigma).square().neg().exp2()
            img = filter2d(img, f / f.sum())
        if self.augment_pipe is not None:
            img = self.augment_pipe(img)
        with self._autocast(img.device):
            return self.D(img, c, update_emas=update_emas).float()

    def _autocast(self, device: torch.device) -> torch.autocast:
        """bfloat16 autocast for the network passes when training with bf16; losses and penalties stay float32."""
        return torch.autocast(device.type, dtype=torch.bfloat16, enabled=self.bf16)

    def blur_sigma(self, cur_nimg: int) -> float:
        """The discriminator blur in pixels, fading linearly to 0 over `blur_fade_kimg`."""
        if self.blur_fade_kimg <= 0:
            return 0.0
        return max(1 - cur_nimg / (self.blur_fade_kimg * 1e3), 0) * self.blur_init_sigma

    def accumulate_gradients(self, phase: str, real_img: torch.Tensor, real_c: torch.Tensor, gen_z: torch.Tensor,
                             gen_c: torch.Tensor, gain: float, cur_nimg: int,
                             finish: bool = True) -> dict[str, torch.Tensor]:
        """Backpropagate one phase's losses for one chunk; returns per-sample statistics for the log.

        With `finish=False` the path-length penalty waits for `finish_phase`, which takes its mean over
        all the chunks given since."""
        if phase not in PHASES:
            raise ValueError(f"unknown phase {phase!r}")
        if self.pl_weight == 0:
            phase = {"Greg": "none", "Gboth": "Gmain"}.get(phase, phase)
        if self.r1_gamma == 0 and self.loss == "logistic":
            phase = {"Dreg": "none", "Dboth": "Dmain"}.get(phase, phase)
        stats: dict[str, torch.Tensor] = {}
        if phase in ("Gmain", "Gboth"):
            img, _ = self.run_G(gen_z, gen_c)
            logits = self.run_D(img, gen_c, cur_nimg)
            loss = F.softplus(-logits) if self.loss == "logistic" else -logits
            stats.update({"Loss/scores/fake": logits, "Loss/G/loss": loss})
            loss.mean().mul(gain).backward()
        if phase in ("Greg", "Gboth"):
            n = max(gen_z.shape[0] // self.pl_batch_shrink, 1)
            img, ws = self.run_G(gen_z[:n], gen_c[:n])
            pl_noise = self.draw_pl_noise(img)
            grads = torch.autograd.grad(outputs=[(img * pl_noise).sum()], inputs=[ws], create_graph=True)[0]
            self._pending.append((grads.square().sum(2).mean(1).sqrt(), gain))
            if finish:
                stats.update(self.finish_phase())
        loss_fake = 0
        if phase in ("Dmain", "Dboth"):
            img, _ = self.run_G(gen_z, gen_c, update_emas=True)
            fake = self.run_D(img.detach(), gen_c, cur_nimg, update_emas=True)
            loss_fake = F.softplus(fake) if self.loss == "logistic" else fake
            stats.update({"Loss/scores/fake": fake})
            loss_fake.mean().mul(gain).backward()
            loss_fake = loss_fake.detach()
        if phase in ("Dmain", "Dreg", "Dboth"):
            needs_r1 = phase in ("Dreg", "Dboth") and self.loss == "logistic"
            real = real_img.detach().requires_grad_(needs_r1)
            logits = self.run_D(real, real_c, cur_nimg)
            stats.update({"Loss/scores/real": logits, "Loss/signs/real": logits.sign()})
            total = 0
            if phase in ("Dmain", "Dboth"):
                loss_real = F.softplus(-logits) if self.loss == "logistic" else -logits + self.drift * logits.square()
                stats["Loss/D/loss"] = loss_fake + loss_real.detach()
                total = total + loss_real
            if needs_r1:
                grads = torch.autograd.grad(outputs=[logits.sum()], inputs=[real], create_graph=True)[0]
                penalty = grads.square().sum([1, 2, 3])
                stats.update({"Loss/r1_penalty": penalty, "Loss/D/reg": penalty * (self.r1_gamma / 2)})
                total = total + penalty * (self.r1_gamma / 2)
            if self.loss == "wgan-gp" and phase in ("Dmain", "Dboth"):
                penalty = self.gradient_penalty(real_img, gen_z, gen_c, cur_nimg)
                stats["Loss/gp_penalty"] = penalty
                total = total + penalty * self.gp_weight
            if torch.is_tensor(total):
                total.mean().mul(gain).backward()
        return stats

    def gradient_penalty(self, real_img: torch.Tensor, gen_z: torch.Tensor, gen_c: torch.Tensor,
                         cur_nimg: int) -> torch.Tensor:
        """WGAN-GP: (|grad D(x)| - 1)^2 at random points between real and generated images."""
        with torch.no_grad():
            fake, _ = self.run_G(gen_z, gen_c)
        t = torch.rand([real_img.shape[0], 1, 1, 1], device=real_img.device)
        mixed = real_img.detach().lerp(fake, t).requires_grad_(True)
        logits = self.run_D(mixed, gen_c, cur_nimg)
        grads = torch.autograd.grad(outputs=[logits.sum()], inputs=[mixed], create_graph=True)[0]
        return (grads.flatten(1).norm(dim=1) - 1).square()

    def draw_pl_noise(self, img: torch.Tensor) -> torch.Tensor:
        """The random image whose projection defines the path length, scaled by 1 / sqrt(pixels)."""
        return torch.randn_like(img) / np.sqrt(img.shape[2] * img.shape[3])

    def finish_phase(self, reduce: Callable[[torch.Tensor], torch.Tensor] = lambda t: t) -> dict[str, torch.Tensor]:
        """Update the path-length mean with the mean length of this phase's chunks (summed over processes
        by `reduce`), then backpropagate each chunk's penalty (length - mean)^2, through the mean too.

        The official loop keeps one mean per process, updated per round of `--batch-gpu`; one mean for the
        whole step makes N processes give the results of one (the same as the official with one process and
        one round)."""
        if not self._pending:
            return {}
        pending, self._pending = self._pending, []
        lengths = torch.cat([lengths for lengths, _ in pending])
        local = lengths.sum()
        total = reduce(torch.stack([local.detach(), torch.tensor(float(len(lengths)), device=lengths.device)]))
        count = total[1]
        pl_mean = self.pl_mean.to(lengths.device).lerp((local + (total[0] - local.detach())) / count, self.pl_decay)
        self.pl_mean = pl_mean.detach()
        # Other processes' penalties depend on these lengths through the shared mean; autograd only sees ours.
        remote = (total[0] - local.detach()) - (count - len(lengths)) * self.pl_mean
        penalty = (lengths - pl_mean).square()
        start = 0
        objective = 0
        for chunk, gain in pending:
            part = slice(start, start + len(chunk))
            start += len(chunk)
            correction = remote * (-2 * self.pl_decay / count) * lengths[part]
            objective = objective + (penalty[part] + correction).mean() * (self.pl_weight * gain)
        objective.backward()
        penalty = penalty.detach()
        return {"Loss/pl_penalty": penalty, "Loss/G/reg": penalty * self.pl_weight}

    def state_dict(self) -> dict[str, torch.Tensor]:
        """What must be saved to resume exactly."""
        return {"pl_mean": self.pl_mean.detach().cpu()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Restore `state_dict()`."""
        self.pl_mean = state["pl_mean"].clone()
