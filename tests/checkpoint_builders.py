"""Checkpoints in the exact layout of other code bases, built with random weights for the tests.

Each builder follows the module structure of its code base (names in registration order, shapes, the
fixed resampling kernels saved as buffers), independently of the package's own name tables.
"""
from __future__ import annotations

import numpy as np
import torch


def _kernel(taps, gain=1.0):
    k = torch.tensor(taps, dtype=torch.float32)
    k = torch.outer(k, k)
    return k / k.sum() * gain


class _Random:
    def __init__(self, seed):
        self.g = torch.Generator().manual_seed(seed)

    def __call__(self, *shape, scale=1.0, offset=0.0):
        return torch.randn(*shape, generator=self.g) * scale + offset


def rosinality_generator(size=16, style_dim=8, n_mlp=2, channels=None, seed=0, lr_mlp=0.01) -> dict:
    """The state dict of rosinality's `Generator(size, style_dim, n_mlp)` (its channel table replaced)."""
    channels = channels or {4: 16, 8: 16, 16: 8}
    rnd = _Random(seed)
    sd = {}
    for i in range(1, n_mlp + 1):  # style.0 is the PixelNorm
        sd[f"style.{i}.weight"] = rnd(style_dim, style_dim, scale=1 / lr_mlp)
        sd[f"style.{i}.bias"] = rnd(style_dim, scale=0.3 / lr_mlp)
    sd["input.input"] = rnd(1, channels[4], 4, 4)

    def styled(prefix, cin, cout, up):
        sd[f"{prefix}.conv.weight"] = rnd(1, cout, cin, 3, 3)
        sd[f"{prefix}.conv.modulation.weight"] = rnd(cin, style_dim)
        sd[f"{prefix}.conv.modulation.bias"] = rnd(cin, scale=0.3, offset=1.0)
        if up:
            sd[f"{prefix}.conv.blur.kernel"] = _kernel([1, 3, 3, 1], 4)
        sd[f"{prefix}.noise.weight"] = rnd(1, scale=0.3)
        sd[f"{prefix}.activate.bias"] = rnd(cout, scale=0.3)

    def torgb(prefix, cin, up):
        if up:
            sd[f"{prefix}.upsample.kernel"] = _kernel([1, 3, 3, 1], 4)
        sd[f"{prefix}.conv.weight"] = rnd(1, 3, cin, 1, 1)
        sd[f"{prefix}.conv.modulation.weight"] = rnd(cin, style_dim)
        sd[f"{prefix}.conv.modulation.bias"] = rnd(cin, scale=0.3, offset=1.0)
        sd[f"{prefix}.bias"] = rnd(1, 3, 1, 1, scale=0.3)

    styled("conv1", channels[4], channels[4], False)
    torgb("to_rgb1", channels[4], False)
    log_size = int(np.log2(size))
    cin = channels[4]
    for k, i in enumerate(range(3, log_size + 1)):
        styled(f"convs.{2 * k}", cin, channels[2 ** i], True)
        styled(f"convs.{2 * k + 1}", channels[2 ** i], channels[2 ** i], False)
        cin = channels[2 ** i]
    for k, i in enumerate(range(3, log_size + 1)):
        torgb(f"to_rgbs.{k}", channels[2 ** i], True)
    for layer in range((log_size - 2) * 2 + 1):
        res = (layer + 5) // 2
        sd[f"noises.noise_{layer}"] = rnd(1, 1, 2 ** res, 2 ** res)
    return sd


def rosinality_discriminator(size=16, channels=None, seed=1) -> dict:
    """The state dict of rosinality's `Discriminator(size)` (its channel table replaced)."""
    channels = channels or {4: 16, 8: 16, 16: 8}
    rnd = _Random(seed)
    sd = {"convs.0.0.weight": rnd(channels[size], 3, 1, 1), "convs.0.1.bias": rnd(channels[size], scale=0.3)}
    cin = channels[size]
    for k, i in enumerate(range(int(np.log2(size)), 2, -1), start=1):
        cout = channels[2 ** (i - 1)]
        sd[f"convs.{k}.conv1.0.weight"] = rnd(cin, cin, 3, 3)
        sd[f"convs.{k}.conv1.1.bias"] = rnd(cin, scale=0.3)
        sd[f"convs.{k}.conv2.0.kernel"] = _kernel([1, 3, 3, 1])
        sd[f"convs.{k}.conv2.1.weight"] = rnd(cout, cin, 3, 3)
        sd[f"convs.{k}.conv2.2.bias"] = rnd(cout, scale=0.3)
        sd[f"convs.{k}.skip.0.kernel"] = _kernel([1, 3, 3, 1])
        sd[f"convs.{k}.skip.1.weight"] = rnd(cout, cin, 1, 1)
        cin = cout
    sd["final_conv.0.weight"] = rnd(channels[4], cin + 1, 3, 3)
    sd["final_conv.1.bias"] = rnd(channels[4], scale=0.3)
    sd["final_linear.0.weight"] = rnd(channels[4], channels[4] * 16)
    sd["final_linear.0.bias"] = rnd(channels[4], scale=0.3)
    sd["final_linear.1.weight"] = rnd(1, channels[4])
    sd["final_linear.1.bias"] = rnd(1, scale=0.3)
    return sd


def mmgen_stylegan2_generator(rosinality_state: dict) -> dict:
    """MMGeneration's StyleGANv2Generator state dict holding the same weights as a rosinality one.

    Its modules: style_mapping (PixelNorm, EqualLinearActModule: .linear.weight_orig, .bias), constant_input,
    ModulatedStyleConv (conv: weight_orig, style_modulation; noise_injector; activate), ModulatedToRGB,
    and the injected_noise_N buffers.
    """
    out = {}
    for key, value in rosinality_state.items():
        parts = key.split(".")
        if parts[0] == "style":
            key = f"style_mapping.{parts[1]}." + ("linear.weight_orig" if parts[2] == "weight" else "bias")
        elif key == "input.input":
            key = "constant_input.input"
        elif parts[0] == "noises":
            key = "injected_noise_" + parts[1].split("_")[1]
        elif key.endswith(".conv.weight"):
            key = key[:-len("weight")] + "weight_orig"
        elif key.endswith(".conv.modulation.weight"):
            key = key[:-len("modulation.weight")] + "style_modulation.linear.weight_orig"
        elif key.endswith(".conv.modulation.bias"):
            key = key[:-len("modulation.bias")] + "style_modulation.bias"
        elif key.endswith(".noise.weight"):
            key = key[:-len("noise.weight")] + "noise_injector.weight"
        out[key] = value
    return out


def mmgen_stylegan2_discriminator(rosinality_state: dict) -> dict:
    """MMGeneration's StyleGAN2Discriminator state dict holding the same weights as a rosinality one
    (ConvDownLayer: EqualizedLRConvModule .conv.weight_orig; EqualLinearActModule .linear.weight_orig)."""
    out = {}
    for key, value in rosinality_state.items():
        if key.startswith("final_linear.") and key.endswith(".weight"):
            key = key[:-len("weight")] + "linear.weight_orig"
        elif key.endswith(".weight"):
            key = key[:-len("weight")] + "conv.weight_orig"
        out[key] = value
    return out


def mmgen_stylegan1_generator(size=16, style=8, n_mlp=2, channels=None, seed=2, lr_mlp=0.01) -> dict:
    """The state dict of MMGeneration's `StyleGANv1Generator(out_size, style_channels, num_mlps)`."""
    channels = channels or {4: 16, 8: 16, 16: 8}
    rnd = _Random(seed)
    sd = {}
    for i in range(1, n_mlp + 1):
        sd[f"style_mapping.{i}.linear.weight_orig"] = rnd(style, style, scale=1 / lr_mlp)
        sd[f"style_mapping.{i}.bias"] = rnd(style, scale=0.3 / lr_mlp)
    resolutions = [2 ** i for i in range(2, int(np.log2(size)) + 1)]
    for i, res in enumerate(resolutions):
        cin, cout = channels[max(res // 2, 4)], channels[res]
        if i == 0:
            sd["convs.0.conv1.input"] = rnd(1, cout, 4, 4)
        else:
            sd[f"convs.{i}.conv1.0.conv.weight_orig"] = rnd(cout, cin, 3, 3)
            sd[f"convs.{i}.conv1.0.conv.bias"] = rnd(cout, scale=0.3)
            sd[f"convs.{i}.conv1.1.kernel"] = _kernel([1, 2, 1])
        for which in (1, 2):
            if which == 2:
                sd[f"convs.{i}.conv2.conv.weight_orig"] = rnd(cout, cout, 3, 3)
                sd[f"convs.{i}.conv2.conv.bias"] = rnd(cout, scale=0.3)
            sd[f"convs.{i}.noise_injector{which}.weight"] = rnd(1, scale=0.3)
            sd[f"convs.{i}.adain{which}.affine.weight_orig"] = rnd(2 * cout, style)
            sd[f"convs.{i}.adain{which}.affine.bias"] = torch.cat([rnd(cout, scale=0.3, offset=1.0),
                                                                   rnd(cout, scale=0.3)])
        sd[f"to_rgbs.{i}.conv.weight_orig"] = rnd(3, cout, 1, 1)
        sd[f"to_rgbs.{i}.conv.bias"] = rnd(3, scale=0.3)
    for j in range(2 * len(resolutions)):
        res = 2 ** ((j + 4) // 2)
        sd[f"injected_noise_{j}"] = rnd(1, 1, res, res)
    return sd


def mmgen_checkpoint(networks: dict, config_text: str | None = None, extra: dict | None = None) -> dict:
    """An MMGeneration runner checkpoint: meta, state_dict of the GAN (network prefixes), optimizer."""
    state = {}
    for prefix, sd in networks.items():
        state.update({f"{prefix}.{k}": v for k, v in sd.items()})
    state.update(extra or {})
    meta = {"mmcv_version": "1.4.0", "time": "Wed Apr  7 16:17:48 2021", "iter": 800000, "epoch": 1}
    if config_text is not None:
        meta["config"] = config_text
    optimizer = {"generator": {"state": {}, "param_groups": [{"lr": 0.0016, "betas": (0.0, 0.99), "params": [0]}]}}
    return {"meta": meta, "state_dict": state, "optimizer": optimizer}
