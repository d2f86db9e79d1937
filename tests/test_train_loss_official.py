"""The four training phases against the official loss: a tiny StyleGAN2 G and D with the official code's
weights, the same images, z, constant noise, style-mixing draws and path-length noise give the official
loss values, penalties, path-length mean, w_avg and every parameter gradient (`data/train_loss_ref.npz`)."""
from pathlib import Path

import numpy as np
import pytest
import torch

from stylegan import Discriminator, StyleGAN2Generator
from stylegan.train.loss import GANLoss

REF = Path(__file__).parent / "data" / "train_loss_ref.npz"

# float32 rounding: every compared quantity is a chain of at most ~60 layers of sums of at most ~1,000 terms
# (forward, first and second derivative), so the accumulated relative error stays below 1e3 * 2**-23 = 1.2e-4
# of the tensor's magnitude on any CPU's summation order. Formula errors are larger: the path-length mean
# entering with weight pl_decay = 0.01, or a gain or gamma off by any factor, moves gradients by >= 1e-3.
RTOL = 1.2e-4


class FixedDraws(GANLoss):
    """The official run's style-mixing and path-length draws instead of fresh random numbers."""
    draws: dict

    def draw_mixing(self, z):
        return int(self.draws["cutoff"]), torch.from_numpy(self.draws["z2"])

    def draw_pl_noise(self, img):
        return torch.from_numpy(self.draws["pl_noise"]) / np.sqrt(img.shape[2] * img.shape[3])


def _close(ours: torch.Tensor, ref: np.ndarray, what: str) -> None:
    ref = torch.from_numpy(np.asarray(ref, dtype=np.float32))
    scale = float(ref.abs().max())
    err = float((ours.detach().float().reshape(ref.shape) - ref).abs().max())
    assert err <= RTOL * max(scale, 1e-30), f"{what}: error {err:.3g} at scale {scale:.3g}"


@pytest.fixture(scope="module")
def ref():
    return dict(np.load(REF))


def _networks(ref):
    G = StyleGAN2Generator(z_dim=16, c_dim=0, w_dim=16, img_resolution=16, img_channels=3,
                           mapping_kwargs=dict(num_layers=2), channel_base=256, channel_max=16, num_fp16_res=0,
                           conv_clamp=None, fused_modconv_default="inference_only")
    D = Discriminator(c_dim=0, img_resolution=16, img_channels=3, channel_base=256, channel_max=16, num_fp16_res=0,
                      conv_clamp=None, epilogue_kwargs=dict(mbstd_group_size=4))
    for prefix, net in (("G", G), ("D", D)):
        net.load_state_dict({k: torch.from_numpy(ref[f"{prefix}/{k}"]) for k in net.state_dict()})
        net.train().requires_grad_(False)
    synthesis = G.synthesis.forward
    G.synthesis.forward = lambda ws, **kw: synthesis(ws, **{**kw, "noise_mode": "const"})  # the stored noise
    return G, D


def test_every_phase_equals_the_official_loss(ref):
    G, D = _networks(ref)
    loss = FixedDraws(G, D, r1_gamma=4.0, style_mixing_prob=0.9, pl_weight=2.0)
    real, z = torch.from_numpy(ref["real"]), torch.from_numpy(ref["z"])
    c = torch.zeros(4, 0)
    compared = 0
    for i, phase in enumerate(ref["phases"]):
        loss.draws = {k.split("/", 1)[1]: v for k, v in ref.items() if k.startswith(f"{i}/")}
        module = G if phase.startswith("G") else D
        module.requires_grad_(True)
        module.zero_grad(set_to_none=True)
        stats = loss.accumulate_gradients(str(phase), real, c, z, c, gain=float(ref[f"{i}/gain"]), cur_nimg=0)
        module.requires_grad_(False)
        expected = {k.split("/stat/", 1)[1]: v for k, v in ref.items() if k.startswith(f"{i}/stat/")}
        for key in set(expected) & set(stats):
            _close(stats[key], expected[key], f"{phase} {key}")
            compared += 1
        assert {"Loss/G/loss", "Loss/pl_penalty", "Loss/D/loss", "Loss/r1_penalty"} & set(stats)
        for name, p in module.named_parameters():
            grad = p.grad if p.grad is not None else torch.zeros_like(p)
            _close(grad, ref[f"{i}/grad/{name}"], f"{phase} gradient of {name}")
            compared += 1
        _close(loss.pl_mean, ref[f"{i}/pl_mean"], f"{phase} pl_mean")
        _close(G.mapping.w_avg, ref[f"{i}/w_avg"], f"{phase} w_avg")
    assert compared > 100


def test_path_length_phase_is_the_same_in_chunks_and_processes(ref):
    """One Greg phase over 4 samples equals the same phase cut into two chunks, and into two processes
    (simulated: each one's reduce adds the other's length sum and count, and their gradients are summed as
    the loop's all-reduce does): the mean and its gradient cover the whole phase either way."""
    G, D = _networks(ref)
    z, c = torch.from_numpy(ref["z"]), torch.zeros(4, 0)
    noise = np.random.RandomState(5).randn(4, 3, 16, 16).astype(np.float32)
    z2 = np.random.RandomState(6).randn(4, 16).astype(np.float32)

    def run(parts, reduce=lambda t: t):
        loss = FixedDraws(G, D, style_mixing_prob=0.9, pl_weight=2.0, pl_batch_shrink=1)
        loss.pl_mean = torch.tensor(0.3)
        G.requires_grad_(True)
        G.zero_grad(set_to_none=True)
        for part in parts:
            loss.draws = {"cutoff": 3, "z2": z2[part], "pl_noise": noise[part]}
            loss.accumulate_gradients("Greg", None, c[part], z[part], c[part], gain=4.0 / (4 // len(z[part])),
                                      cur_nimg=0, finish=False)
        stats = loss.finish_phase(reduce)
        G.requires_grad_(False)
        grads = {n: p.grad.clone() for n, p in G.named_parameters() if p.grad is not None}
        return stats["Loss/pl_penalty"], loss.pl_mean, grads

    whole = run([slice(0, 4)])
    chunked = run([slice(0, 2), slice(2, 4)])
    halves = (slice(0, 2), slice(2, 4))
    local = {}
    for i, part in enumerate(halves):  # what each process contributes to the reduce
        run([part], reduce=lambda t, i=i: local.setdefault(i, t.clone()))
    processes = [run([part], reduce=lambda t, i=i: t + local[1 - i]) for i, part in enumerate(halves)]
    assert torch.equal(processes[0][1], processes[1][1])  # one mean on every process
    together = (torch.cat([p[0] for p in processes]), processes[0][1],
                {n: processes[0][2][n] + processes[1][2][n] for n in whole[2]})
    for label, candidate in (("two chunks", chunked), ("two processes", together)):
        _close(candidate[0], whole[0].numpy(), f"{label}: penalties")
        _close(candidate[1], whole[1].numpy(), f"{label}: pl_mean")
        for name, g in whole[2].items():
            _close(candidate[2][name], g.numpy(), f"{label}: gradient of {name}")


@pytest.mark.parametrize("kwargs", [dict(up=2, padding=[2, 1, 2, 1], gain=4), dict(down=2, padding=1),
                                    dict(up=2, down=2, padding=1), dict(padding=[1, 2, 0, 1])])
def test_fir_filters_have_exact_first_and_second_derivatives(kwargs):
    """The FIR resampling that R1 and the path-length penalty differentiate twice: its hand-written
    adjoint agrees with finite differences in float64 (torch's gradcheck bounds)."""
    from stylegan.ops.upfirdn2d import setup_filter, upfirdn2d
    f = setup_filter([1, 3, 3, 1]).double()
    x = torch.randn(2, 3, 7, 6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: upfirdn2d(t, f, **kwargs), (x,))
    assert torch.autograd.gradgradcheck(lambda t: upfirdn2d(t, f, **kwargs).square(), (x,))
