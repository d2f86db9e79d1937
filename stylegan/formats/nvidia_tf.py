"""TF-era NVIDIA pickles (StyleGAN1, StyleGAN2, StyleGAN2-ADA TensorFlow), read without TensorFlow.

Such a file is the tuple (G, D, Gs) of `dnnlib.tflib.network.Network` states: a build function name,
the keyword arguments the network was built with, sub-networks ('mapping', 'synthesis') and a list of
(variable name, array). Widths are read from the arrays' shapes, options from the recorded kwargs (with
the official defaults), and the arrays are copied into our modules with TensorFlow's layouts converted:
HWIO kernels become OIHW, [in, out] dense weights [out, in], the learned constant loses its batch axis,
StyleGAN2's style biases gain the +1 its graph adds at run time, and the kernels of StyleGAN2's
upsampling convolutions are flipped (TF applies them as transposed convolutions of the flipped kernel).
"""
from __future__ import annotations

import re
from typing import Any, BinaryIO

import numpy as np
from torch import nn

from ..errors import CheckpointError
from ..models.discriminator import Discriminator as Discriminator2
from ..models.stylegan1 import Discriminator as Discriminator1
from ..models.stylegan1 import Generator as Generator1
from ..models.stylegan2 import Generator as Generator2
from .common import fill_module, listing
from .safe_pickle import TFNetworkState, safe_load, shown

NETWORK_KEYS = ("G", "D", "G_ema")
# StyleGAN2 configs E-F, configs B-D, and StyleGAN2-ADA TF (same variables as configs E-F).
SYNTHESIS_FUNCS = ("G_synthesis_stylegan2", "G_synthesis_stylegan_revised", "G_synthesis")


def read_pickle(file: BinaryIO) -> dict[str, TFNetworkState]:
    """Unpickle a TF-era network pickle and return {'G': ..., 'D': ..., 'G_ema': Gs} as data records."""
    data = safe_load(file)
    if not (isinstance(data, tuple) and len(data) == 3 and all(isinstance(n, TFNetworkState) for n in data)):
        raise CheckpointError("not a TF-era network pickle: expected the tuple (G, D, Gs) of TensorFlow networks")
    return dict(zip(NETWORK_KEYS, data))


def collect_variables(net: TFNetworkState, prefix: str = "") -> dict[str, np.ndarray]:
    """All variables of a network and its sub-networks, named 'component/scope/variable'."""
    out = {prefix + name: value for name, value in net.variables.items()}
    for name, sub in net.components.items():
        if isinstance(sub, TFNetworkState):
            out.update(collect_variables(sub, f"{prefix}{name}/"))
    return out


class _Variables(dict):
    """Variable name -> array, remembering which names were read so leftovers can be reported."""

    def __init__(self, variables: dict):
        super().__init__(variables)
        self.used: set[str] = set()

    def __getitem__(self, name: str) -> np.ndarray:
        self.used.add(name)
        return super().__getitem__(name)

    def ignore(self, pattern: str) -> None:
        """Mark the variables matching `pattern` as accounted for (state the network does not need)."""
        self.used.update(name for name in self if re.fullmatch(pattern, name))

    def unused(self) -> list[str]:
        return sorted(set(self) - self.used)


def _kwargs(net: TFNetworkState) -> dict:
    """The build kwargs of a network merged with those of its sub-networks (the top level wins)."""
    merged: dict[str, Any] = {}
    for sub in net.components.values():
        if isinstance(sub, TFNetworkState):
            merged.update(sub.static_kwargs)
    return {**merged, **net.static_kwargs}


def _conv(w: np.ndarray, flip: bool = False) -> np.ndarray:
    """HWIO kernel -> OIHW, optionally flipped in space."""
    return (w[::-1, ::-1] if flip else w).transpose(3, 2, 0, 1)


def _resolutions(v: dict, pattern: str) -> list[int]:
    return sorted({int(m.group(1)) for name in v if (m := re.fullmatch(pattern, name))})


def _resample_filter(kw: dict) -> list[float]:
    """The resampling filter taps; None in the TF code means the box filter [1, 1]."""
    taps = kw.get("resample_kernel", [1, 3, 3, 1])
    return [1.0, 1.0] if taps is None else [float(t) for t in taps]


def _refuse_options(kw: dict, what: str, **expected) -> None:
    for key, value in expected.items():
        if key in kw and kw[key] != value:
            raise CheckpointError(f"{what} was built with {key}={shown(kw[key])}, a variant this package does not "
                                  f"rebuild (only {key}={value!r})")


def _stylegan2_layout(v: dict, prefix: str, conv: str, rgb: str,
                      revised: bool) -> tuple[list[int], dict[int, int], dict[int, str], str]:
    """Resolutions, channels per resolution, the image-layer scopes (ToRGB or FromRGB) and the architecture
    of a TF StyleGAN2 synthesis network (prefix 'synthesis/', conv 'Conv1') or discriminator ('', 'Conv0')."""
    res = [4] + _resolutions(v, rf"{prefix}(\d+)x\d+/{conv}/weight")
    channels = {r: v[f"{prefix}{r}x{r}/{'Conv' if r == 4 else conv}/weight"].shape[-1] for r in res}
    scopes = {r: f"{prefix}{r}x{r}/{rgb}" for r in res if f"{prefix}{r}x{r}/{rgb}/weight" in v}
    if revised:
        scopes = {res[-1]: f"{prefix}{rgb}_lod0"}
    architecture = ("resnet" if any(name.endswith("/Skip/weight") for name in v) else
                    "skip" if len(scopes) > 1 else "orig")
    return res, channels, scopes, architecture


def _check_lod(v: dict, name: str, what: str) -> None:
    if name in v and float(v[name]) != 0:
        raise CheckpointError(f"{what} is a progressive-growing snapshot ({name}={float(v[name]):g}); only "
                              f"finished networks (lod 0) of this kind can be rebuilt")


def _stylegan1_generator(net: TFNetworkState) -> tuple[nn.Module, dict, _Variables]:
    kw, v = _kwargs(net), _Variables(collect_variables(net))
    _refuse_options(kw, "this StyleGAN1 generator", use_styles=True, const_input_layer=True, use_pixel_norm=False,
                    use_instance_norm=True, use_wscale=True)
    res = [4] + _resolutions(v, r"synthesis/(\d+)x\d+/Conv1/weight")
    top, log2 = res[-1], int(np.log2(res[-1]))
    channels = {r: v[f"synthesis/{r}x{r}/{'Conv' if r == 4 else 'Conv1'}/weight"].shape[-1] for r in res}
    num_layers = len(_resolutions(v, r"mapping/Dense(\d+)/weight"))
    c_dim, z_dim = v["mapping/LabelConcat/weight"].shape if "mapping/LabelConcat/weight" in v else (
        0, v["mapping/Dense0/weight"].shape[0])
    psi, cutoff = kw.get("truncation_psi", 0.7), kw.get("truncation_cutoff", 8)
    G = Generator1(
        z_dim=int(z_dim), c_dim=int(c_dim), w_dim=int(v["dlatent_avg"].shape[0]), img_resolution=top,
        img_channels=int(v["synthesis/ToRGB_lod0/weight"].shape[-1]),
        mapping_kwargs=dict(num_layers=num_layers, lr_multiplier=float(kw.get("mapping_lrmul", 0.01)),
                            layer_features=int(v["mapping/Dense0/weight"].shape[1]) if num_layers > 1 else None,
                            activation=str(kw.get("mapping_nonlinearity", "lrelu")),
                            normalize_latents=bool(kw.get("normalize_latents", True)),
                            w_avg_beta=kw.get("dlatent_avg_beta", 0.995)),
        default_truncation=(1.0, None) if psi is None or cutoff is None else (psi, cutoff),
        channels=channels, fused_scale=kw.get("fused_scale", "auto"), blur_filter=kw.get("blur_filter", [1, 2, 1]),
        use_noise="synthesis/noise0" in v, activation=str(kw.get("nonlinearity", "lrelu")),
        progressive=all(f"synthesis/ToRGB_lod{k}/weight" in v for k in range(log2 - 1)))
    state = {"mapping.w_avg": v["dlatent_avg"], "synthesis.lod": v["lod"],
             "synthesis.b4.const": v["synthesis/4x4/Const/const"][0]}
    for i in range(num_layers):
        state[f"mapping.fc{i}.weight"] = v[f"mapping/Dense{i}/weight"].T
        state[f"mapping.fc{i}.bias"] = v[f"mapping/Dense{i}/bias"]
    if c_dim:
        state["mapping.embed.weight"] = v["mapping/LabelConcat/weight"].T
    layers = [("b4.input", "4x4/Const"), ("b4.conv1", "4x4/Conv")]
    layers += [(f"b{r}.conv{i}", f"{r}x{r}/{scope}") for r in res[1:] for i, scope in enumerate(["Conv0_up", "Conv1"])]
    for idx, (key, scope) in enumerate(layers):
        key, scope = f"synthesis.{key}", f"synthesis/{scope}"
        if key.endswith(("conv0", "conv1")):
            state[f"{key}.conv.weight"] = _conv(v[f"{scope}/weight"])
        if "synthesis/noise0" in v:
            state[f"{key}.noise_const"] = v[f"synthesis/noise{idx}"][0, 0]
            state[f"{key}.noise_strength"] = v[f"{scope}/Noise/weight"]
        state[f"{key}.bias"] = v[f"{scope}/bias"]
        state[f"{key}.style.weight"] = v[f"{scope}/StyleMod/weight"].T
        state[f"{key}.style.bias"] = v[f"{scope}/StyleMod/bias"]
    for r in res if G.synthesis.progressive else [top]:
        scope = f"synthesis/ToRGB_lod{log2 - int(np.log2(r))}"
        state[f"synthesis.b{r}.torgb.weight"] = _conv(v[f"{scope}/weight"])
        state[f"synthesis.b{r}.torgb.bias"] = v[f"{scope}/bias"]
    v.ignore("synthesis/lod")  # overwritten by G's own lod before every run
    return G, state, v


def _stylegan1_discriminator(net: TFNetworkState) -> tuple[nn.Module, dict, _Variables]:
    kw, v = _kwargs(net), _Variables(collect_variables(net))
    _refuse_options(kw, "this StyleGAN1 discriminator", use_wscale=True)
    res = [4] + _resolutions(v, r"(\d+)x\d+/Conv0/weight")
    top, log2 = res[-1], int(np.log2(res[-1]))
    channels = {r: v[f"{r}x{r}/{'Conv' if r == 4 else 'Conv0'}/weight"].shape[-1] for r in res}
    outputs = v["4x4/Dense1/weight"].shape[1]
    mbstd = int(kw.get("mbstd_group_size", 4))
    D = Discriminator1(
        c_dim=int(kw.get("label_size", 0)) if outputs == 1 else int(outputs), img_resolution=top,
        img_channels=int(v["FromRGB_lod0/weight"].shape[2]), channels=channels,
        fused_scale=kw.get("fused_scale", "auto"), blur_filter=kw.get("blur_filter", [1, 2, 1]),
        mbstd_group_size=mbstd, mbstd_num_features=int(kw.get("mbstd_num_features", 1)),
        activation=str(kw.get("nonlinearity", "lrelu")), dense_features=int(v["4x4/Dense0/weight"].shape[1]),
        progressive=all(f"FromRGB_lod{k}/weight" in v for k in range(log2 - 1)))
    state = {"lod": v["lod"]}

    def layer(key: str, scope: str) -> None:
        state[f"{key}.weight"] = _conv(v[f"{scope}/weight"])
        state[f"{key}.bias"] = v[f"{scope}/bias"]

    for r in res[1:]:
        layer(f"b{r}.conv0", f"{r}x{r}/Conv0")
        layer(f"b{r}.conv1", f"{r}x{r}/Conv1_down")
    for r in res if D.architecture == "progressive" else [top]:
        layer(f"b{r}.fromrgb", f"FromRGB_lod{log2 - int(np.log2(r))}")
    layer("b4.conv", "4x4/Conv")
    for key, scope in (("b4.fc", "4x4/Dense0"), ("b4.out", "4x4/Dense1")):
        state[f"{key}.weight"] = v[f"{scope}/weight"].T
        state[f"{key}.bias"] = v[f"{scope}/bias"]
    return D, state, v


def _stylegan2_generator(net: TFNetworkState) -> tuple[nn.Module, dict, _Variables]:
    kw, v = _kwargs(net), _Variables(collect_variables(net))
    synthesis_func = net.components["synthesis"].build_func_name
    mapping_func = net.components["mapping"].build_func_name
    if synthesis_func not in SYNTHESIS_FUNCS or mapping_func != "G_mapping":
        raise CheckpointError(f"this StyleGAN2 generator uses {synthesis_func}/{mapping_func}, which this package "
                              f"does not rebuild (only {', '.join(SYNTHESIS_FUNCS)} with G_mapping)")
    if "mapping/LabelConcat/weight" in v:
        raise CheckpointError("this conditional StyleGAN2 generator concatenates the label to z (LabelConcat); only "
                              "StyleGAN2-ADA's embedded labels (LabelEmbed) are supported")
    _refuse_options(kw, "this StyleGAN2 generator", normalize_latents=True)
    revised = synthesis_func == "G_synthesis_stylegan_revised"
    if revised:
        _check_lod(v, "lod", "this StyleGAN2 generator")
    res, channels, torgb, architecture = _stylegan2_layout(v, "synthesis/", "Conv1", "ToRGB", revised)
    top = res[-1]
    num_layers = len(_resolutions(v, r"mapping/Dense(\d+)/weight"))
    c_dim, embed = v["mapping/LabelEmbed/weight"].shape if "mapping/LabelEmbed/weight" in v else (0, 0)
    beta = kw.get("dlatent_avg_beta", kw.get("w_avg_beta", 0.995))
    G = Generator2(
        z_dim=int(v["mapping/Dense0/weight"].shape[0] - embed), c_dim=int(c_dim),
        w_dim=int(v["dlatent_avg"].shape[0]), img_resolution=top,
        img_channels=int(v[f"{torgb[top]}/weight"].shape[-1]),
        mapping_kwargs=dict(num_layers=num_layers, embed_features=int(embed) if c_dim else None,
                            layer_features=int(v["mapping/Dense0/weight"].shape[1]) if num_layers > 1 else None,
                            activation=str(kw.get("mapping_nonlinearity", "lrelu")),
                            lr_multiplier=float(kw.get("mapping_lrmul", 0.01)),
                            w_avg_beta=1.0 if beta is None else float(beta)),
        channels=channels, num_fp16_res=int(kw.get("num_fp16_res", 0)), conv_clamp=kw.get("conv_clamp"),
        architecture=architecture, resample_filter=_resample_filter(kw),
        use_noise="synthesis/noise0" in v, activation=str(kw.get("nonlinearity", "lrelu")))
    state = {"mapping.w_avg": v["dlatent_avg"], "synthesis.b4.const": v["synthesis/4x4/Const/const"][0]}
    for i in range(num_layers):
        state[f"mapping.fc{i}.weight"] = v[f"mapping/Dense{i}/weight"].T
        state[f"mapping.fc{i}.bias"] = v[f"mapping/Dense{i}/bias"]
    if c_dim:
        state["mapping.embed.weight"] = v["mapping/LabelEmbed/weight"].T
        state["mapping.embed.bias"] = v["mapping/LabelEmbed/bias"]

    def modulated(key: str, scope: str, flip: bool = False, noise: int | None = None) -> None:
        state[f"{key}.weight"] = _conv(v[f"{scope}/weight"], flip)
        state[f"{key}.bias"] = v[f"{scope}/bias"]
        state[f"{key}.affine.weight"] = v[f"{scope}/mod_weight"].T
        state[f"{key}.affine.bias"] = v[f"{scope}/mod_bias"] + 1
        if noise is not None and "synthesis/noise0" in v:
            state[f"{key}.noise_const"] = v[f"synthesis/noise{noise}"][0, 0]
            state[f"{key}.noise_strength"] = v[f"{scope}/noise_strength"]

    modulated("synthesis.b4.conv1", "synthesis/4x4/Conv", noise=0)
    for r in res[1:]:
        r_log2 = int(np.log2(r))
        modulated(f"synthesis.b{r}.conv0", f"synthesis/{r}x{r}/Conv0_up", flip=True, noise=2 * r_log2 - 5)
        modulated(f"synthesis.b{r}.conv1", f"synthesis/{r}x{r}/Conv1", noise=2 * r_log2 - 4)
        if architecture == "resnet":
            state[f"synthesis.b{r}.skip.weight"] = _conv(v[f"synthesis/{r}x{r}/Skip/weight"], flip=True)
    for r, scope in torgb.items():
        modulated(f"synthesis.b{r}.torgb", scope)
    v.ignore(r"lod|synthesis/lod|synthesis/ToRGB_lod[1-9]\d*/.*")  # lod 0 (checked): only the top ToRGB counts
    return G, state, v


def _stylegan2_discriminator(net: TFNetworkState) -> tuple[nn.Module, dict, _Variables]:
    kw, v = _kwargs(net), _Variables(collect_variables(net))
    revised = net.build_func_name == "D_stylegan"
    if revised:
        _check_lod(v, "lod", "this StyleGAN2 discriminator")
    res, channels, fromrgb, architecture = _stylegan2_layout(v, "", "Conv0", "FromRGB", revised)
    top = res[-1]
    c_dim = int(kw.get("label_size", 0))
    if c_dim and "LabelEmbed/weight" not in v:
        raise CheckpointError("this conditional StyleGAN2 discriminator scores each label with its own output "
                              "(no LabelEmbed); only StyleGAN2-ADA's projection discriminator is supported")
    # StyleGAN2 TF: stddev over groups of 4 (disabled by a group size <= 1); StyleGAN2-ADA TF: over the
    # whole minibatch by default (disabled by mbstd_num_features=0).
    if net.build_func_name == "D_main":
        group, features = kw.get("mbstd_group_size"), int(kw.get("mbstd_num_features", 1))
    else:
        group = int(kw.get("mbstd_group_size", 4))
        features = int(kw.get("mbstd_num_features", 1)) if group > 1 else 0
    mapping_layers = len(_resolutions(v, r"Mapping(\d+)/weight"))
    mapping_kwargs = {}
    if c_dim:
        mapping_kwargs = dict(num_layers=mapping_layers, embed_features=int(v["LabelEmbed/weight"].shape[1]),
                              layer_features=int(v["Mapping0/weight"].shape[1]) if mapping_layers > 1 else None,
                              activation=str(kw.get("nonlinearity", "lrelu")),
                              lr_multiplier=float(kw.get("mapping_lrmul", 0.1)))
    D = Discriminator2(
        c_dim=c_dim, img_resolution=top, img_channels=int(v[f"{fromrgb[top]}/weight"].shape[2]),
        architecture=architecture, channels=channels, num_fp16_res=int(kw.get("num_fp16_res", 0)),
        conv_clamp=kw.get("conv_clamp"), cmap_dim=int(v["Output/weight"].shape[1]) if c_dim else None,
        block_kwargs=dict(activation=str(kw.get("nonlinearity", "lrelu")), resample_filter=_resample_filter(kw),
                          freeze_layers=int(kw.get("freeze_layers", 0))),
        mapping_kwargs=mapping_kwargs,
        epilogue_kwargs=dict(mbstd_group_size=None if group is None else int(group), mbstd_num_channels=features))
    state = {}

    def layer(key: str, scope: str, dense: bool = False) -> None:
        state[f"{key}.weight"] = v[f"{scope}/weight"].T if dense else _conv(v[f"{scope}/weight"])
        if f"{scope}/bias" in v:
            state[f"{key}.bias"] = v[f"{scope}/bias"]

    for r in res[1:]:
        layer(f"b{r}.conv0", f"{r}x{r}/Conv0")
        layer(f"b{r}.conv1", f"{r}x{r}/Conv1_down")
        if architecture == "resnet":
            layer(f"b{r}.skip", f"{r}x{r}/Skip")
    for r, scope in fromrgb.items():
        layer(f"b{r}.fromrgb", scope)
    layer("b4.conv", "4x4/Conv")
    layer("b4.fc", "4x4/Dense0", dense=True)
    layer("b4.out", "Output", dense=True)
    if c_dim:
        layer("mapping.embed", "LabelEmbed", dense=True)
        for i in range(mapping_layers):
            layer(f"mapping.fc{i}", f"Mapping{i}", dense=True)
    v.ignore(r"lod|FromRGB_lod[1-9]\d*/.*")  # lod 0 (checked): only the top FromRGB counts
    return D, state, v


BUILDERS = {
    "G_style": _stylegan1_generator,
    "D_basic": _stylegan1_discriminator,
    "G_main": _stylegan2_generator,
    "D_stylegan2": _stylegan2_discriminator,
    "D_stylegan": _stylegan2_discriminator,
    "D_main": _stylegan2_discriminator,
}


def build_network(net: TFNetworkState, key: str) -> nn.Module:
    """Rebuild one TF-era network (G, D or Gs) as our module, with its saved weights."""
    builder = BUILDERS.get(net.build_func_name)
    if builder is None:
        raise CheckpointError(f"'{key}' was built by {net.build_func_name}, which this package cannot rebuild "
                              f"(it reads {', '.join(BUILDERS)})")
    try:
        module, state, variables = builder(net)
    except KeyError as exc:
        raise CheckpointError(f"'{key}' ({net.build_func_name}) lacks the variable {exc.args[0]}") from None
    except (AttributeError, TypeError, ValueError, IndexError) as exc:
        raise CheckpointError(f"'{key}' does not look like a published {net.build_func_name} network "
                              f"({type(exc).__name__}: {exc})") from None
    what = f"'{key}' ({net.build_func_name})"
    if variables.unused():
        raise CheckpointError(f"{what} has variables the rebuilt network has no place for: "
                              f"{listing(variables.unused())}; it is a variant this package does not read")
    module = fill_module(module, state, what, derived=("resample_filter",))
    module.source_kwargs = dict(net.static_kwargs)
    return module


def load_networks(file: BinaryIO, which: tuple[str, ...] = NETWORK_KEYS) -> dict[str, nn.Module]:
    """Rebuild the requested networks ('G', 'D', 'G_ema' = Gs) from a TF-era pickle."""
    nets = read_pickle(file)
    return {k: build_network(nets[k], k) for k in which if k in nets}
