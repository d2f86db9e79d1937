"""NVIDIA network pickles (stylegan2-ada-pytorch, stylegan3): read as data, rebuilt as our modules.

The architecture is read from what the file says about each saved object (its attributes, its
submodules and the shapes of its tensors), not from one preset's defaults, so files trained with
other widths, depths or options load as they are.
"""
from __future__ import annotations

from typing import Any, BinaryIO

import torch
from torch import nn

from ..errors import CheckpointError
from ..models.discriminator import Discriminator
from ..models.stylegan2 import Generator as Generator2
from .common import fill_module
from .nvidia_sg3 import stylegan3_generator
from .safe_pickle import PersistentObject, safe_load

NETWORK_KEYS = ("G", "D", "G_ema")


def _filter_taps(obj: PersistentObject, name: str = "resample_filter") -> list[float]:
    """The 1-D taps whose normalised outer product is the stored 2-D resampling filter."""
    f = obj.get(name)
    if f is None:
        return [1, 3, 3, 1]
    f = torch.as_tensor(f, dtype=torch.float64)
    return (f.sum(dim=0) if f.ndim == 2 else f).tolist()


def _mapping_kwargs(m: PersistentObject) -> dict:
    """MappingNetwork options from a saved mapping network."""
    num_layers = int(m.get("num_layers"))
    fc0 = m.get("fc0")
    kwargs: dict[str, Any] = dict(num_layers=num_layers, activation=fc0.get("activation", "lrelu"),
                                  lr_multiplier=float(fc0.get("bias_gain", 0.01)), w_avg_beta=m.get("w_avg_beta"))
    if num_layers > 1:
        kwargs["layer_features"] = int(fc0.get("out_features"))
    if m.get("embed") is not None:
        kwargs["embed_features"] = int(m.get("embed").get("out_features"))
    return kwargs


def _fp16_count(blocks: list[PersistentObject]) -> int:
    return sum(bool(b.get("use_fp16", False)) for b in blocks)


def _stylegan2_generator(g: PersistentObject) -> nn.Module:
    s = g.get("synthesis")
    resolutions = [int(r) for r in s.get("block_resolutions")]
    blocks = [s.get(f"b{r}") for r in resolutions]
    channels = {r: int(b.get("conv1").get("out_channels")) for r, b in zip(resolutions, blocks)}
    conv1 = blocks[0].get("conv1")
    kwargs = dict(
        z_dim=int(g.get("z_dim")), c_dim=int(g.get("c_dim")), w_dim=int(g.get("w_dim")),
        img_resolution=int(g.get("img_resolution")), img_channels=int(g.get("img_channels")),
        mapping_kwargs=_mapping_kwargs(g.get("mapping")),
        channels=channels, num_fp16_res=_fp16_count(blocks),
        architecture=str(blocks[-1].get("architecture", "skip")),
        conv_clamp=conv1.get("conv_clamp"),
        resample_filter=_filter_taps(blocks[0]),
        fp16_channels_last=bool(blocks[-1].get("channels_last", False)),
        fused_modconv_default=blocks[-1].get("fused_modconv_default", True),
        kernel_size=int(conv1.get("weight").shape[-1]),
        use_noise=bool(conv1.get("use_noise", True)),
        activation=str(conv1.get("activation", "lrelu")),
    )
    return Generator2(**kwargs)


def _discriminator(d: PersistentObject) -> nn.Module:
    resolutions = [int(r) for r in d.get("block_resolutions")]
    blocks = [d.get(f"b{r}") for r in resolutions]
    epi = d.get("b4")
    channels = {r: int(b.get("conv0").get("out_channels")) for r, b in zip(resolutions, blocks)}
    channels[4] = int(epi.get("conv").get("out_channels"))
    # Freeze-D stores the weights of the first frozen layers as buffers instead of parameters.
    layers = [b.get(n) for b in blocks for n in ("fromrgb", "conv0", "conv1", "skip") if b.get(n) is not None]
    frozen = next((i for i, layer in enumerate(layers) if "weight" in layer.params), len(layers))
    mbstd = epi.get("mbstd")
    c_dim = int(d.get("c_dim"))
    kwargs = dict(
        c_dim=c_dim, img_resolution=int(d.get("img_resolution")), img_channels=int(d.get("img_channels")),
        architecture=str(blocks[0].get("architecture", "resnet")), channels=channels,
        num_fp16_res=_fp16_count(blocks), conv_clamp=blocks[0].get("conv0").get("conv_clamp"),
        cmap_dim=int(epi.get("cmap_dim", 0)) or None,
        block_kwargs=dict(activation=str(blocks[0].get("conv0").get("activation", "lrelu")),
                          resample_filter=_filter_taps(blocks[0]), freeze_layers=frozen,
                          fp16_channels_last=bool(blocks[0].get("channels_last", False))),
        mapping_kwargs={k: v for k, v in _mapping_kwargs(d.get("mapping")).items() if k != "w_avg_beta"}
        if c_dim > 0 else {},
        epilogue_kwargs=dict(mbstd_group_size=mbstd.get("group_size") if mbstd is not None else None,
                             mbstd_num_channels=int(mbstd.get("num_channels")) if mbstd is not None else 0),
    )
    return Discriminator(**kwargs)


def build_network(obj: Any, key: str) -> nn.Module:
    """Rebuild one saved network (G, G_ema or D) as our module, with its saved weights."""
    if not isinstance(obj, PersistentObject):
        raise CheckpointError(f"'{key}' in this pickle is not a saved network (found {type(obj).__name__})")
    try:
        if obj.class_name == "Generator":
            synthesis = obj.get("synthesis")
            is_sg3 = isinstance(synthesis, PersistentObject) and synthesis.get("input") is not None
            net = (stylegan3_generator(obj, _mapping_kwargs(obj.get("mapping"))) if is_sg3
                   else _stylegan2_generator(obj))
        elif obj.class_name == "Discriminator":
            net = _discriminator(obj)
        else:
            raise CheckpointError(f"'{key}' is a {obj.class_name}, which this package cannot rebuild")
    except (AttributeError, TypeError, KeyError, ValueError) as exc:
        raise CheckpointError(f"'{key}' does not look like a published {obj.class_name} "
                              f"({type(exc).__name__}: {exc})") from None
    fill_module(net, obj.state_dict(), f"'{key}' ({obj.class_name})")
    net.source_kwargs = obj.init_kwargs
    return net


def read_pickle(file: BinaryIO) -> dict:
    """Unpickle an NVIDIA network pickle (PyTorch era) and return its top-level dict."""
    data = safe_load(file)
    if not isinstance(data, dict) or not any(k in data for k in NETWORK_KEYS):
        raise CheckpointError("the pickle holds no 'G', 'G_ema' or 'D' network; it is not a StyleGAN network pickle")
    return data


def load_networks(file: BinaryIO, which: tuple[str, ...] = NETWORK_KEYS) -> dict[str, nn.Module]:
    """Rebuild the requested networks (those present among `which`) from an NVIDIA pickle."""
    data = read_pickle(file)
    return {k: build_network(data[k], k) for k in which if data.get(k) is not None}

