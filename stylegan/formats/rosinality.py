"""rosinality/stylegan2-pytorch checkpoints: torch files with the state dicts 'g_ema', 'g', 'd' (+ 'latent_avg').

That code base's generator is our StyleGAN2 'skip' generator without clamping or labels (z_dim = w_dim)
under other module names, with size-1 axes on some tensors; its discriminator is the 'resnet' one. Both
directions use one table of (our name, their name, how the shape differs), so export writes exactly what
`Generator(size, style_dim, n_mlp, channel_multiplier).load_state_dict` there expects — the format read
by pSp, e4e, PTI and GANSpace.
"""
from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import CheckpointError
from ..io.files import write_atomic
from ..models.discriminator import Discriminator
from ..models.stylegan2 import Generator as Generator2
from .common import estimate_w_avg, fill_module, listing

KEYS = {"G_ema": "g_ema", "G": "g", "D": "d"}
BLUR = [1, 3, 3, 1]

# How a tensor of theirs differs from ours: an extra leading axis of size 1 ('batch'), two ('batch2'),
# a scalar stored as [1] ('vector'), or a ToRGB bias stored as [1, C, 1, 1] ('rgb_bias').
SHAPES = {
    None: lambda shape: shape,
    "batch": lambda shape: (1, *shape),
    "batch2": lambda shape: (1, 1, *shape),
    "vector": lambda shape: (1,),
    "rgb_bias": lambda shape: (1, shape[0], 1, 1),
}


def is_rosinality(obj) -> bool:
    """Whether a loaded torch object is a rosinality checkpoint (a dict with g_ema/g/d state dicts)."""
    return isinstance(obj, dict) and any(isinstance(obj.get(k), dict) and any(
        str(name).startswith(("style.", "convs.", "final_linear.")) for name in obj[k]) for k in KEYS.values())


def generator_table(num_mapping: int, resolutions: list[int]) -> list[tuple[str, str, str | None]]:
    """(our key, their key, shape difference) for every tensor a generator checkpoint stores."""
    table = [(f"mapping.fc{i}.{p}", f"style.{i + 1}.{p}", None) for i in range(num_mapping) for p in ("weight", "bias")]
    table.append(("synthesis.b4.const", "input.input", "batch"))

    def styled(ours: str, theirs: str, noise: int) -> None:
        table.extend([(f"{ours}.weight", f"{theirs}.conv.weight", "batch"),
                      (f"{ours}.affine.weight", f"{theirs}.conv.modulation.weight", None),
                      (f"{ours}.affine.bias", f"{theirs}.conv.modulation.bias", None),
                      (f"{ours}.noise_strength", f"{theirs}.noise.weight", "vector"),
                      (f"{ours}.bias", f"{theirs}.activate.bias", None),
                      (f"{ours}.noise_const", f"noises.noise_{noise}", "batch2")])

    def torgb(ours: str, theirs: str) -> None:
        table.extend([(f"{ours}.weight", f"{theirs}.conv.weight", "batch"),
                      (f"{ours}.affine.weight", f"{theirs}.conv.modulation.weight", None),
                      (f"{ours}.affine.bias", f"{theirs}.conv.modulation.bias", None),
                      (f"{ours}.bias", f"{theirs}.bias", "rgb_bias")])

    styled("synthesis.b4.conv1", "conv1", 0)
    torgb("synthesis.b4.torgb", "to_rgb1")
    for k, res in enumerate(resolutions[1:]):
        styled(f"synthesis.b{res}.conv0", f"convs.{2 * k}", 2 * k + 1)
        styled(f"synthesis.b{res}.conv1", f"convs.{2 * k + 1}", 2 * k + 2)
        torgb(f"synthesis.b{res}.torgb", f"to_rgbs.{k}")
    return table


def discriminator_table(resolutions: list[int]) -> list[tuple[str, str, str | None]]:
    """(our key, their key, shape difference) for a 'resnet' discriminator; `resolutions` from the top down."""
    top = resolutions[0]
    table = [(f"b{top}.fromrgb.weight", "convs.0.0.weight", None), (f"b{top}.fromrgb.bias", "convs.0.1.bias", None)]
    for k, res in enumerate(resolutions, start=1):
        table += [(f"b{res}.conv0.weight", f"convs.{k}.conv1.0.weight", None),
                  (f"b{res}.conv0.bias", f"convs.{k}.conv1.1.bias", None),
                  (f"b{res}.conv1.weight", f"convs.{k}.conv2.1.weight", None),
                  (f"b{res}.conv1.bias", f"convs.{k}.conv2.2.bias", None),
                  (f"b{res}.skip.weight", f"convs.{k}.skip.1.weight", None)]
    table += [("b4.conv.weight", "final_conv.0.weight", None), ("b4.conv.bias", "final_conv.1.bias", None),
              ("b4.fc.weight", "final_linear.0.weight", None), ("b4.fc.bias", "final_linear.0.bias", None),
              ("b4.out.weight", "final_linear.1.weight", None), ("b4.out.bias", "final_linear.1.bias", None)]
    return table


def _kernel(taps: list[float], gain: float) -> torch.Tensor:
    """Their stored resampling kernel: the normalised outer product of the taps, times gain."""
    k = np.outer(taps, taps)
    return torch.from_numpy((k / k.sum() * gain).astype(np.float32))


def _blur_taps(kernel: Any, what: str) -> list[float]:
    """The taps their stored blur kernel was made from (its column sums), after checking that it is one: the
    outer product of the taps over their sum (see `_kernel`), finite."""
    square = isinstance(kernel, torch.Tensor) and kernel.ndim == 2 and kernel.shape[0] == kernel.shape[1] <= 64
    k = kernel.double() if square else None
    taps = k.sum(dim=0) if square else None
    if not square or not torch.isfinite(k).all() or not float(taps.sum()) > 0 or not torch.allclose(
            k, torch.outer(taps, taps) / taps.sum(), rtol=1e-4, atol=1e-6 * float(k.abs().max())):
        raise CheckpointError(f"{what}: 'convs.0.conv.blur.kernel' is not a blur kernel (the outer product of its "
                              f"taps); the file is damaged")
    return taps.tolist()


def _fill(net: nn.Module, state: dict, table: list, what: str, ignore: str) -> nn.Module:
    """Copy their tensors into `net` by the table; anything left besides `ignore`d buffers is an error."""
    own = net.state_dict()
    leftover = sorted(k for k in set(state) - {theirs for _, theirs, _ in table} if not re.fullmatch(ignore, k))
    if leftover:
        raise CheckpointError(f"{what} has tensors this package has no place for: {listing(leftover)}")
    ours = {}
    for key, theirs, _ in table:
        if theirs not in state:
            raise CheckpointError(f"{what} lacks the tensor '{theirs}'")
        value = state[theirs]
        if key in own:
            if not isinstance(value, torch.Tensor) or value.numel() != own[key].numel():
                found = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
                raise CheckpointError(f"{what}: '{theirs}' is {found}, where this network needs a tensor of shape "
                                      f"{tuple(own[key].shape)}; the file is damaged")
            value = value.reshape(own[key].shape)
        ours[key] = value
    return fill_module(net, ours, what, derived=("resample_filter", "w_avg"))


def build_generator(state: dict, latent_avg: torch.Tensor | None = None, what: str = "generator",
                    lr_multiplier: float = 0.01) -> nn.Module:
    """Our StyleGAN2 generator from their generator state dict; w_avg from `latent_avg` or estimated.

    Their mapping's learning-rate multiplier is not stored; 0.01 is their default (`lr_mlp`).
    """
    num_mapping = sum(bool(re.fullmatch(r"style\.\d+\.weight", k)) for k in state)
    num_up = sum(bool(re.fullmatch(r"to_rgbs\.\d+\.conv\.weight", k)) for k in state)
    if num_mapping == 0 or "conv1.conv.weight" not in state:
        raise CheckpointError(f"{what} is not a rosinality StyleGAN2 generator (no style.N / conv1 tensors)")
    resolutions = [4 * 2 ** i for i in range(num_up + 1)]
    channels = {4: state["conv1.conv.weight"].shape[1]}
    channels.update({res: state[f"convs.{2 * k}.conv.weight"].shape[1] for k, res in enumerate(resolutions[1:])})
    w_dim, z_dim = state["style.1.weight"].shape
    blur = state.get("convs.0.conv.blur.kernel")
    G = Generator2(z_dim=int(z_dim), c_dim=0, w_dim=int(w_dim), img_resolution=resolutions[-1],
                   img_channels=int(state["to_rgb1.conv.weight"].shape[1]),
                   mapping_kwargs=dict(num_layers=num_mapping, lr_multiplier=lr_multiplier,
                                       layer_features=int(state["style.1.weight"].shape[0])),
                   channels=channels, num_fp16_res=0, conv_clamp=None, architecture="skip",
                   resample_filter=BLUR if blur is None else _blur_taps(blur, what))
    G = _fill(G, state, generator_table(num_mapping, resolutions), what, ignore=r".*\.(blur|upsample)\.kernel")
    if latent_avg is not None:
        G.mapping.w_avg.copy_(torch.as_tensor(latent_avg).reshape(-1, G.w_dim)[0])
    else:
        G.mapping.w_avg.copy_(estimate_w_avg(G))
    return G


def build_discriminator(state: dict, what: str = "discriminator") -> nn.Module:
    """Our 'resnet' discriminator from their discriminator state dict."""
    num_blocks = sum(bool(re.fullmatch(r"convs\.\d+\.conv1\.0\.weight", k)) for k in state)
    if "convs.0.0.weight" not in state or "final_linear.1.weight" not in state:
        raise CheckpointError(f"{what} is not a rosinality StyleGAN2 discriminator (no convs.0 / final_linear)")
    top = 4 * 2 ** num_blocks
    resolutions = [top // 2 ** k for k in range(num_blocks)]
    channels = {res: state[f"convs.{k}.conv1.0.weight"].shape[0] for k, res in enumerate(resolutions, start=1)}
    channels[4] = state["final_conv.0.weight"].shape[0]
    D = Discriminator(c_dim=0, img_resolution=top, img_channels=int(state["convs.0.0.weight"].shape[1]),
                      architecture="resnet", channels=channels, num_fp16_res=0, conv_clamp=None,
                      epilogue_kwargs=dict(mbstd_group_size=4, mbstd_num_channels=1))
    return _fill(D, state, discriminator_table(resolutions), what, ignore=r".*\.kernel")


def load_networks(obj: dict, which: tuple[str, ...]) -> dict[str, nn.Module]:
    """Rebuild the requested networks ('G_ema' = g_ema, 'G' = g, 'D' = d) from a loaded checkpoint."""
    nets = {}
    for name in which:
        state = obj.get(KEYS[name])
        if state is None:
            continue
        if name == "D":
            nets[name] = build_discriminator(state, "'d'")
        else:
            nets[name] = build_generator(state, obj.get("latent_avg") if name == "G_ema" else None, f"'{KEYS[name]}'")
    return nets


def _check_generator(G: nn.Module) -> None:
    """Refuse what their Generator cannot express; warn about what loads but computes differently there."""
    if getattr(G, "generation", None) != 2:
        raise CheckpointError(f"rosinality's format holds StyleGAN2 generators only, not a {type(G).__name__} "
                              f"(StyleGAN{getattr(G, 'generation', '?')})")
    s, m = G.synthesis, G.mapping
    first = s.b4.conv1
    problems = [text for bad, text in [
        (G.c_dim > 0, "it is conditional"), (G.img_channels != 3, f"it has {G.img_channels} image channels, not 3"),
        (s.b4.architecture != "skip", f"its architecture is '{s.b4.architecture}', not 'skip'"),
        (G.z_dim != G.w_dim or m.fc0.out_features != G.w_dim, "z_dim, the mapping width and w_dim differ"),
        (m.fc0.activation != "lrelu" or first.activation != "lrelu", "it does not use leaky ReLU"),
        (not first.use_noise, "it has no noise inputs"), (first.weight.shape[-1] != 3, "its kernels are not 3x3"),
    ] if bad]
    if problems:
        raise CheckpointError(f"rosinality's Generator cannot represent this network: {'; '.join(problems)}")
    if first.conv_clamp is not None:
        warnings.warn(f"rosinality's code does not clamp activations (this network clamps at {first.conv_clamp}); "
                      f"its outputs differ wherever activations exceed that", stacklevel=3)
    if abs(m.fc0.bias_gain - 0.01) > 1e-12:
        warnings.warn(f"the mapping learning-rate multiplier is {m.fc0.bias_gain}; build rosinality's Generator "
                      f"with lr_mlp={m.fc0.bias_gain}", stacklevel=3)
    taps = s.b4.resample_filter
    if not torch.allclose(taps, torch.outer(*[torch.tensor(BLUR, dtype=torch.float32) / 8] * 2)):
        warnings.warn("this network resamples with another filter than [1, 3, 3, 1]; pass it as blur_kernel "
                      "to rosinality's Generator", stacklevel=3)
    channels = [s.channels[r] for r in sorted(s.channels)]
    if not any(channels == [min(512, 2 ** 14 * mult // r) for r in sorted(s.channels)] for mult in (1, 2, 4)):
        warnings.warn(f"rosinality's Generator builds fixed widths (512 up to 32², then 256·m, 128·m, ...); these "
                      f"widths {s.channels} need its channels table edited to load there", stacklevel=3)


def _exportable_discriminator(D: nn.Module) -> str | None:
    """Why a discriminator cannot be written in rosinality's format, or None when it can."""
    if type(D) is not Discriminator:
        return f"it is a {type(D).__module__.rsplit('.', 1)[-1]} discriminator"
    epi = D.b4
    reasons = [text for bad, text in [
        (D.c_dim > 0, "it is conditional"), (D.img_channels != 3, "it does not take RGB images"),
        (getattr(D, f"b{D.img_resolution}").architecture != "resnet", "its architecture is not 'resnet'"),
        (epi.mbstd is None or epi.mbstd.group_size != 4 or epi.mbstd.num_channels != 1,
         "its minibatch-stddev layer is not group 4 / 1 channel"),
    ] if bad]
    return "; ".join(reasons) or None


def export(nets: dict[str, nn.Module], path: str | Path) -> list[str]:
    """Write G_ema (and G, D when present and expressible) as a rosinality checkpoint; return the keys written."""
    G_ema = nets.get("G_ema", nets.get("G"))
    if G_ema is None:
        raise CheckpointError("nothing to export: rosinality's format needs a generator (G_ema or G)")
    out: dict[str, object] = {}
    for name, key in KEYS.items():
        net = nets.get(name) if name != "G_ema" else G_ema
        if net is None:
            continue
        if name == "D":
            reason = _exportable_discriminator(net)
            if reason:
                warnings.warn(f"the discriminator is left out: rosinality's format cannot hold it ({reason})",
                              stacklevel=2)
                continue
            resolutions = list(net.block_resolutions)
            table = discriminator_table(resolutions)
            extra = {f"convs.{k}.{part}.0.kernel": _kernel(BLUR, 1) for k in range(1, len(resolutions) + 1)
                     for part in ("conv2", "skip")}
        else:
            _check_generator(net)
            resolutions = net.synthesis.block_resolutions
            table = generator_table(net.mapping.num_layers, resolutions)
            extra = {f"convs.{2 * k}.conv.blur.kernel": _kernel(BLUR, 4) for k in range(len(resolutions) - 1)}
            extra.update({f"to_rgbs.{k}.upsample.kernel": _kernel(BLUR, 4) for k in range(len(resolutions) - 1)})
        own = net.state_dict()
        state = {theirs: own[ours].detach().cpu().reshape(SHAPES[kind](tuple(own[ours].shape))).clone()
                 for ours, theirs, kind in table}
        out[key] = {**state, **extra}
    out["latent_avg"] = G_ema.mapping.w_avg.detach().cpu().clone()
    write_atomic(path, lambda f: torch.save(out, f))
    return list(out)
