"""Rebuild a StyleGAN3 generator from the per-layer records of an NVIDIA pickle."""
from __future__ import annotations

import numpy as np
from torch import nn

from ..models.stylegan3 import Generator as Generator3
from .safe_pickle import PersistentObject

LAYER_FIELDS = ("is_torgb", "is_critically_sampled", "use_fp16", "in_channels", "out_channels", "in_size",
                "out_size", "in_sampling_rate", "out_sampling_rate", "in_cutoff", "out_cutoff", "in_half_width",
                "out_half_width")


def _plain(value):
    """numpy scalars/arrays -> Python values (sizes become [w, h] lists)."""
    if isinstance(value, np.ndarray):
        return [int(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        return value.item()
    return value


def stylegan3_generator(g: PersistentObject, mapping_kwargs: dict) -> nn.Module:
    """A StyleGAN3 Generator whose every layer has the sampling rates, cutoffs and sizes the file records."""
    s = g.get("synthesis")
    inp = s.get("input")
    layers = [s.get(name) for name in s.get("layer_names")]
    specs = [{k: _plain(layer.get(k)) for k in LAYER_FIELDS} for layer in layers]
    # Options shared by all layers, read back from the first non-ToRGB layer.
    first = layers[0]
    resampling = next((layer for layer in layers if not layer.get("is_torgb") and layer.get("up_factor", 1) > 1),
                      first)
    layer_kwargs = dict(
        conv_kernel=int(first.get("conv_kernel")),
        filter_size=int(resampling.get("up_taps")) // int(resampling.get("up_factor")),
        lrelu_upsampling=int(round(first.get("tmp_sampling_rate")
                                   / max(first.get("in_sampling_rate"), first.get("out_sampling_rate")))),
        use_radial_filters=any(bool(layer.get("down_radial", False)) for layer in layers),
        conv_clamp=_plain(first.get("conv_clamp")),
        magnitude_ema_beta=float(first.get("magnitude_ema_beta", 0.999)),
    )
    input_spec = dict(channels=int(inp.get("channels")), size=_plain(inp.get("size")),
                      sampling_rate=_plain(inp.get("sampling_rate")), bandwidth=_plain(inp.get("bandwidth")))
    return Generator3(
        z_dim=int(g.get("z_dim")), c_dim=int(g.get("c_dim")), w_dim=int(g.get("w_dim")),
        img_resolution=int(g.get("img_resolution")), img_channels=int(g.get("img_channels")),
        mapping_kwargs=mapping_kwargs,
        margin_size=int(s.get("margin_size", 10)), output_scale=float(s.get("output_scale", 0.25)),
        num_fp16_res=int(s.get("num_fp16_res", 4)), input_spec=input_spec, layer_specs=specs, **layer_kwargs)
