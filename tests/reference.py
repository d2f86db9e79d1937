"""Reference formulations of third-party networks (rosinality, MMGeneration), written out from their state
dicts in float64, so that the rebuilt networks can be checked against them. The plain op formulations
they use live in `stylegan.ops.reference`."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from stylegan.ops.reference import upfirdn2d_ref


def _lrelu(x, gain=np.sqrt(2)):
    return F.leaky_relu(x, 0.2) * gain


def rosinality_generator_ref(sd, z, lr_mlp=0.01):
    """rosinality/stylegan2-pytorch's Generator, written out from its state dict (float64, const noise).

    Mapping: pixel norm, EqualLinear(lr_mul) + fused leaky ReLU. Layers: modulated conv (weights scaled by
    1/sqrt(fan_in), style from an EqualLinear whose bias starts at 1, demodulated), upsampling as a stride-2
    transposed conv then a [1,3,3,1] blur, noise * weight, fused leaky ReLU with bias; ToRGB 1x1 without
    demodulation, plus bias, plus the upsampled previous image.
    """
    sd = {k: v.double() for k, v in sd.items()}
    n_mlp = sum(1 for k in sd if k.startswith("style.") and k.endswith(".weight"))
    x = z.double()
    x = x * torch.rsqrt(x.square().mean(dim=1, keepdim=True) + 1e-8)
    for i in range(1, n_mlp + 1):
        w, b = sd[f"style.{i}.weight"], sd[f"style.{i}.bias"]
        x = _lrelu(F.linear(x, w * lr_mlp / np.sqrt(w.shape[1])) + b * lr_mlp)
    latent = x
    k4 = torch.tensor([1.0, 3, 3, 1], dtype=torch.float64)
    k4 = torch.outer(k4, k4) / 64

    def modconv(h, prefix, demodulate=True, up=False):
        weight = sd[f"{prefix}.conv.weight"][0]
        mod = sd[f"{prefix}.conv.modulation.weight"]
        style = F.linear(latent, mod / np.sqrt(mod.shape[1])) + sd[f"{prefix}.conv.modulation.bias"]
        outs = []
        for i in range(h.shape[0]):
            w = weight * style[i].reshape(1, -1, 1, 1) / np.sqrt(weight[0].numel())
            if demodulate:
                w = w / torch.sqrt(w.square().sum(dim=[1, 2, 3], keepdim=True) + 1e-8)
            if up:
                y = F.conv_transpose2d(h[i:i + 1], w.transpose(0, 1), stride=2)
                y = upfirdn2d_ref(y, k4, padding=(1, 1, 1, 1), gain=4)
            else:
                y = F.conv2d(h[i:i + 1], w, padding=w.shape[-1] // 2)
            outs.append(y)
        return torch.cat(outs)

    def styled(h, prefix, noise, up=False):
        h = modconv(h, prefix, up=up) + sd[f"{prefix}.noise.weight"] * sd[f"noises.noise_{noise}"]
        return _lrelu(h + sd[f"{prefix}.activate.bias"].reshape(1, -1, 1, 1))

    def torgb(h, prefix, skip):
        y = modconv(h, prefix, demodulate=False) + sd[f"{prefix}.bias"]
        return y if skip is None else y + upfirdn2d_ref(skip, k4, up=2, padding=(2, 1, 2, 1), gain=4)

    h = sd["input.input"].repeat(z.shape[0], 1, 1, 1)
    h = styled(h, "conv1", 0)
    img = torgb(h, "to_rgb1", None)
    k = 0
    while f"to_rgbs.{k}.conv.weight" in sd:
        h = styled(h, f"convs.{2 * k}", 2 * k + 1, up=True)
        h = styled(h, f"convs.{2 * k + 1}", 2 * k + 2)
        img = torgb(h, f"to_rgbs.{k}", img)
        k += 1
    return img


def mmgen_stylegan1_ref(sd, z, lr_mlp=0.01, curr_scale=None, transition_weight=1.0):
    """MMGeneration's StyleGANv1Generator, written out from its state dict (float64, buffered noise).

    While growing (`curr_scale` below the full size) it stops at that scale and, with `transition_weight`
    below 1, blends in the nearest-upsampled image of the scale below.

    Mapping: x / (||x|| / sqrt(C) + 1e-6), EqualLinearActModule (gain 1, lr_mul) + LeakyReLU(0.2).
    Blocks: [nearest 2x, conv (gain sqrt 2) + bias, LeakyReLU, [1,2,1] blur], noise * scalar weight,
    LeakyReLU, InstanceNorm2d (eps 1e-5) then gamma * x + beta from an equalized linear (gain sqrt 2);
    ToRGB: 1x1 conv, gain sqrt 2.
    """
    sd = {k: v.double() for k, v in sd.items()}
    n_mlp = sum(1 for k in sd if k.startswith("style_mapping.") and k.endswith(".linear.weight_orig"))
    x = z.double()
    x = x / (x.norm(dim=1, keepdim=True) / np.sqrt(x.shape[1]) + 1e-6)
    for i in range(1, n_mlp + 1):
        w = sd[f"style_mapping.{i}.linear.weight_orig"]
        x = F.leaky_relu(F.linear(x, w * lr_mlp / np.sqrt(w.shape[1])) + sd[f"style_mapping.{i}.bias"] * lr_mlp, 0.2)
    latent = x
    k3 = torch.tensor([1.0, 2, 1], dtype=torch.float64)
    k3 = torch.outer(k3, k3) / 16

    def conv(h, w, b):
        return F.conv2d(h, w * np.sqrt(2) / np.sqrt(w[0].numel()), b, padding=w.shape[-1] // 2)

    def epilogue(h, block, which, noise):
        h = F.leaky_relu(h + sd[f"convs.{block}.noise_injector{which}.weight"] * noise, 0.2)
        a = sd[f"convs.{block}.adain{which}.affine.weight_orig"]
        style = F.linear(latent, a * np.sqrt(2) / np.sqrt(a.shape[1]), sd[f"convs.{block}.adain{which}.affine.bias"])
        gamma, beta = style.chunk(2, dim=1)
        return gamma[:, :, None, None] * F.instance_norm(h, eps=1e-5) + beta[:, :, None, None]

    def to_rgb(h, i):
        return conv(h, sd[f"to_rgbs.{i}.conv.weight_orig"], sd[f"to_rgbs.{i}.conv.bias"])

    blocks = sum(1 for k in sd if k.startswith("convs.") and k.endswith(".conv2.conv.weight_orig"))
    if curr_scale is not None:
        blocks = int(np.log2(curr_scale)) - 1
    h = prev = sd["convs.0.conv1.input"].repeat(z.shape[0], 1, 1, 1)
    for i in range(blocks):
        prev = h
        if i > 0:
            h = F.interpolate(h, scale_factor=2, mode="nearest")
            h = conv(h, sd[f"convs.{i}.conv1.0.conv.weight_orig"], sd[f"convs.{i}.conv1.0.conv.bias"])
            h = F.leaky_relu(h, 0.2)
            h = upfirdn2d_ref(h, k3, padding=(1, 1, 1, 1))
        h = epilogue(h, i, 1, sd[f"injected_noise_{2 * i}"])
        h = conv(h, sd[f"convs.{i}.conv2.conv.weight_orig"], sd[f"convs.{i}.conv2.conv.bias"])
        h = epilogue(h, i, 2, sd[f"injected_noise_{2 * i + 1}"])
    img = to_rgb(h, blocks - 1)
    if blocks > 1 and transition_weight < 1:
        low = F.interpolate(to_rgb(prev, blocks - 2), scale_factor=2, mode="nearest")
        img = (1 - transition_weight) * low + transition_weight * img
    return img


def rosinality_discriminator_ref(sd, img):
    """rosinality/stylegan2-pytorch's Discriminator from its state dict (float64): residual blocks with blurred
    stride-2 convolutions, minibatch stddev (group 4), a 3x3 conv and two equalized linear layers."""
    sd = {k: v.double() for k, v in sd.items()}
    k4 = torch.tensor([1.0, 3, 3, 1], dtype=torch.float64)
    k4 = torch.outer(k4, k4) / 64

    def conv(h, w, stride=1, padding=0):
        return F.conv2d(h, w / np.sqrt(w[0].numel()), stride=stride, padding=padding)

    def bias_act(h, b):
        return _lrelu(h + b.reshape(1, -1, 1, 1))

    h = bias_act(conv(img.double(), sd["convs.0.0.weight"]), sd["convs.0.1.bias"])
    k = 1
    while f"convs.{k}.conv1.0.weight" in sd:
        y = bias_act(conv(h, sd[f"convs.{k}.conv1.0.weight"], padding=1), sd[f"convs.{k}.conv1.1.bias"])
        y = conv(upfirdn2d_ref(y, k4, padding=(2, 2, 2, 2)), sd[f"convs.{k}.conv2.1.weight"], stride=2)
        y = bias_act(y, sd[f"convs.{k}.conv2.2.bias"])
        skip = conv(upfirdn2d_ref(h, k4, padding=(1, 1, 1, 1)), sd[f"convs.{k}.skip.1.weight"], stride=2)
        h = (y + skip) / np.sqrt(2)
        k += 1
    n, c, hh, ww = h.shape
    group = min(n, 4)
    std = h.view(group, -1, 1, c, hh, ww)
    std = torch.sqrt(std.var(0, unbiased=False) + 1e-8).mean([2, 3, 4], keepdim=True).squeeze(2)
    h = torch.cat([h, std.repeat(group, 1, hh, ww)], dim=1)
    h = bias_act(conv(h, sd["final_conv.0.weight"], padding=1), sd["final_conv.1.bias"]).flatten(1)
    w0, w1 = sd["final_linear.0.weight"], sd["final_linear.1.weight"]
    h = _lrelu(F.linear(h, w0 / np.sqrt(w0.shape[1])) + sd["final_linear.0.bias"])
    return F.linear(h, w1 / np.sqrt(w1.shape[1])) + sd["final_linear.1.bias"]
