"""MMGeneration checkpoints (.pth: {'meta', 'state_dict': {'generator.*', 'generator_ema.*', 'discriminator.*'}})
of its StyleGANv1, StyleGAN2 and StyleGAN3 models, rebuilt as our modules.

- StyleGANv1 becomes our StyleGAN1 generator with flavor 'mmgen' (MMGeneration's own numerics: see
  models/stylegan1.py); its gains are folded into the weights, its AdaIN scale bias (initialised at 1)
  becomes our (1 + s) form, its scalar noise strengths per-channel ones.
- StyleGAN2 is rosinality's network under other names (equalized weights stored as `weight_orig`):
  renamed, then read as a rosinality checkpoint.
- StyleGAN3 uses NVIDIA's names; the layer schedule comes from the config, or is inferred from the layer
  names and checked against the stored filters.

Colour order: MMGeneration reads training images with OpenCV, so its generators draw BGR and its
discriminators take BGR, except where the config says the weights are RGB (StyleGAN3 `rgb2bgr=True`:
converted official weights whose output MMGeneration flips; discriminator `input_bgr2rgb=True`). Loaded
networks here always speak RGB: the ToRGB output channels (FromRGB input channels) are reordered.
MMGeneration's StyleGANv1/2 store no average w; it is estimated from 4096 seeded z, as their code does.
"""
from __future__ import annotations

import re
import warnings

import numpy as np
import torch
from torch import nn

from ..errors import CheckpointError
from ..models.discriminator import Discriminator
from ..models.stylegan1 import Generator as Generator1
from ..models.stylegan2 import Generator as Generator2
from ..models.stylegan3 import Generator as Generator3
from . import rosinality
from .common import estimate_w_avg, fill_module, listing
from .mmgen_config import Unknown, parse_text

PREFIXES = {"G_ema": "generator_ema", "G": "generator", "D": "discriminator"}
GENERATOR_TYPES = {1: "StyleGANv1Generator", 2: "StyleGANv2Generator", 3: "StyleGANv3Generator"}
SQRT2 = float(np.sqrt(2))


def is_mmgen(obj) -> bool:
    """Whether a loaded torch object is an MMGeneration checkpoint of a GAN (generator.* weights)."""
    state = obj.get("state_dict") if isinstance(obj, dict) else None
    return isinstance(state, dict) and any(str(k).startswith(("generator.", "generator_ema.")) for k in state)


def substate(obj: dict, name: str) -> dict:
    """The tensors of one network ('G_ema', 'G' or 'D'), prefix removed."""
    prefix = PREFIXES[name] + "."
    return {k[len(prefix):]: v for k, v in obj["state_dict"].items() if k.startswith(prefix)}


def generation(state: dict) -> int:
    """1, 2 or 3 from the generator's tensor names."""
    if "synthesis.input.freqs" in state:
        return 3
    if "constant_input.input" in state:
        return 2
    if "convs.0.conv1.input" in state:
        return 1
    raise CheckpointError("the generator is none of MMGeneration's StyleGANv1/StyleGAN2/StyleGAN3 generators")


def model_config_from_meta(obj: dict) -> dict:
    """The `model` dict of the config text MMGeneration saves in the checkpoint's meta, or {}."""
    text = (obj.get("meta") or {}).get("config") if isinstance(obj.get("meta"), dict) else None
    if not isinstance(text, str):
        return {}
    try:
        model = parse_text(text, "checkpoint meta config").get("model")
    except Exception:  # a config we cannot read is no worse than none
        return {}
    return model if isinstance(model, dict) and not isinstance(model, Unknown) else {}


def _flip_rgb_output(G: nn.Module) -> None:
    """Reverse the colour channels a generator draws (BGR <-> RGB) by reordering its ToRGB weights."""
    if G.img_channels != 3:
        return
    if G.generation == 3:
        layers = [getattr(G.synthesis, G.synthesis.layer_names[-1])]
    else:
        blocks = [getattr(G.synthesis, f"b{r}") for r in G.synthesis.block_resolutions]
        layers = [b.torgb for b in blocks if hasattr(b, "torgb")]
    with torch.no_grad():
        for layer in layers:
            layer.weight.copy_(layer.weight.flip(0))
            layer.bias.copy_(layer.bias.flip(0))


def _stylegan1(state: dict, cfg: dict, top: dict) -> nn.Module:
    num_mapping = sum(bool(re.fullmatch(r"style_mapping\.\d+\.linear\.weight_orig", k)) for k in state)
    num_blocks = sum(bool(re.fullmatch(r"convs\.\d+\.conv2\.conv\.weight_orig", k)) for k in state)
    resolutions = [4 * 2 ** i for i in range(num_blocks)]
    w_dim, z_dim = state["style_mapping.1.linear.weight_orig"].shape
    G = Generator1(
        z_dim=int(z_dim), c_dim=0, w_dim=int(w_dim), img_resolution=resolutions[-1],
        img_channels=int(state["to_rgbs.0.conv.weight_orig"].shape[0]),
        mapping_kwargs=dict(num_layers=num_mapping, lr_multiplier=float(cfg.get("lr_mlp", 0.01)),
                            layer_features=int(w_dim)),
        default_truncation=(1.0, None), flavor="mmgen", fused_scale=False,
        blur_filter=list(cfg.get("blur_kernel", [1, 2, 1])), progressive=True,
        channels={r: state[f"convs.{i}.conv2.conv.weight_orig"].shape[0] for i, r in enumerate(resolutions)})
    ours = {"synthesis.b4.const": state["convs.0.conv1.input"][0]}
    # MMGeneration: mapping gain 1 (ours sqrt 2), AdaIN and ToRGB gain sqrt 2 (ours 1), convolutions alike.
    for i in range(num_mapping):
        ours[f"mapping.fc{i}.weight"] = state[f"style_mapping.{i + 1}.linear.weight_orig"] / SQRT2
        ours[f"mapping.fc{i}.bias"] = state[f"style_mapping.{i + 1}.bias"]
    for i, res in enumerate(resolutions):
        block = f"synthesis.b{res}"
        for which, layer in ((1, f"{block}.input" if i == 0 else f"{block}.conv0"), (2, f"{block}.conv1")):
            channels = G.synthesis.channels[res]
            if which == 2:
                ours[f"{layer}.conv.weight"] = state[f"convs.{i}.conv2.conv.weight_orig"]
                ours[f"{layer}.bias"] = state[f"convs.{i}.conv2.conv.bias"]
            elif i > 0:
                ours[f"{layer}.conv.weight"] = state[f"convs.{i}.conv1.0.conv.weight_orig"]
                ours[f"{layer}.bias"] = state[f"convs.{i}.conv1.0.conv.bias"]
            else:
                ours[f"{layer}.bias"] = torch.zeros([channels])  # the constant input has no bias there
            noise_strength = state[f"convs.{i}.noise_injector{which}.weight"]
            ours[f"{layer}.noise_strength"] = noise_strength.reshape(1).expand(channels)
            ours[f"{layer}.noise_const"] = state[f"injected_noise_{2 * i + which - 1}"][0, 0]
            style_bias = state[f"convs.{i}.adain{which}.affine.bias"].clone()
            style_bias[:channels] -= 1  # their scale is the raw output (bias starts at 1), ours is 1 + s
            ours[f"{layer}.style.weight"] = state[f"convs.{i}.adain{which}.affine.weight_orig"] * SQRT2
            ours[f"{layer}.style.bias"] = style_bias
        ours[f"{block}.torgb.weight"] = state[f"to_rgbs.{i}.conv.weight_orig"] * SQRT2
        ours[f"{block}.torgb.bias"] = state[f"to_rgbs.{i}.conv.bias"]
    # Progressive growing: MMGeneration keeps the current scale and transition weight on the GAN object.
    scale, weight = top.get("_curr_scale_int"), top.get("_curr_transition_weight")
    lod = 0.0
    if scale is not None and int(scale) < G.img_resolution:
        lod = float(np.log2(G.img_resolution / int(scale)))
    if weight is not None and float(weight) < 1:
        lod += 1 - float(weight)
    ours["synthesis.lod"] = torch.tensor(lod)
    leftover = sorted(k for k in state if not k.startswith(("style_mapping.", "convs.", "to_rgbs.", "injected_noise_")))
    if leftover:
        raise CheckpointError(f"the StyleGANv1 generator has tensors this package has no place for: {leftover[:4]}")
    G = fill_module(G, {**ours, "mapping.w_avg": G.mapping.w_avg}, "the StyleGANv1 generator")
    G.mapping.w_avg.copy_(estimate_w_avg(G))
    return G


def _rename_stylegan2(state: dict) -> dict:
    """MMGeneration StyleGAN2 generator names -> rosinality's."""
    out = {}
    for key, value in state.items():
        key = re.sub(r"^style_mapping\.(\d+)\.linear\.weight_orig$", r"style.\1.weight", key)
        key = re.sub(r"^style_mapping\.(\d+)\.bias$", r"style.\1.bias", key)
        key = re.sub(r"^injected_noise_(\d+)$", r"noises.noise_\1", key)
        key = key.replace("constant_input.input", "input.input")
        key = key.replace(".style_modulation.linear.weight_orig", ".modulation.weight")
        key = key.replace(".style_modulation.bias", ".modulation.bias")
        key = key.replace(".conv.weight_orig", ".conv.weight").replace(".noise_injector.weight", ".noise.weight")
        out[key] = value
    return out


def _rename_discriminator(state: dict) -> dict:
    """MMGeneration StyleGAN2 discriminator names -> rosinality's (augmentation state dropped)."""
    out = {}
    for key, value in state.items():
        if key.startswith("ada_aug."):
            continue
        key = re.sub(r"\.conv\.weight_orig$", ".weight", key)
        key = re.sub(r"\.linear\.weight_orig$", ".weight", key)
        out[key] = value
    return out


def _stylegan3(state: dict, cfg: dict) -> nn.Module:
    found = sorted((int(m.group(2)), m.group(1), int(m.group(3)), int(m.group(4))) for k in state
                   if (m := re.fullmatch(r"synthesis\.(L(\d+)_(\d+)_(\d+))\.weight", k)))
    names = [name for _, name, _, _ in found]
    scfg = {k: v for k, v in (cfg.get("synthesis_cfg") or {}).items() if k != "type"}
    mcfg = {k: v for k, v in (cfg.get("mapping_cfg") or {}).items() if k != "type"}
    resolution, img_channels = found[-1][2], found[-1][3]
    mapping = {k[len("style_mapping."):]: v for k, v in state.items() if k.startswith("style_mapping.")}
    num_mapping = sum(bool(re.fullmatch(r"fc\d+\.weight", k)) for k in mapping)
    c_dim, embed = mapping["embed.weight"].shape[::-1] if "embed.weight" in mapping else (0, 0)
    first = state[f"synthesis.{names[0]}.weight"]
    kwargs = dict(
        channel_base=scfg.pop("channel_base", found[-2][3] * resolution),
        channel_max=scfg.pop("channel_max", max([ch for _, _, _, ch in found[:-1]])),
        num_layers=scfg.pop("num_layers", len(found) - 1),
        conv_kernel=scfg.pop("conv_kernel", int(first.shape[-1])),
        use_radial_filters=scfg.pop("use_radial_filters", any(
            v.ndim == 2 for k, v in state.items() if k.endswith(".down_filter"))),
        **scfg)
    G = Generator3(z_dim=int(mapping["fc0.weight"].shape[1] - embed), c_dim=int(c_dim),
                   w_dim=int(mapping["w_avg"].shape[0]), img_resolution=resolution, img_channels=img_channels,
                   mapping_kwargs=dict(num_layers=num_mapping, lr_multiplier=float(mcfg.get("lr_multiplier", 0.01)),
                                       w_avg_beta=float(mcfg.get("w_avg_beta", 0.998))),
                   **kwargs)
    if G.synthesis.layer_names != names:
        raise CheckpointError(f"the StyleGAN3 layers of this checkpoint ({listing(names[:3])}, ...) do not follow "
                              f"the schedule of {kwargs}; pass its MMGeneration config")
    own = G.state_dict()
    for key in own:
        if key.endswith(("up_filter", "down_filter")) and not torch.allclose(
                own[key], torch.as_tensor(state[key]).float(), atol=1e-6):
            raise CheckpointError(f"the stored filter {key} differs from the StyleGAN3 schedule of {kwargs}; pass "
                                  f"this checkpoint's MMGeneration config")
    ours = {("mapping." + k[len("style_mapping."):]) if k.startswith("style_mapping.") else k: v
            for k, v in state.items()}
    return fill_module(G, ours, "the StyleGAN3 generator")


def build_generator(state: dict, cfg: dict, top: dict | None = None) -> nn.Module:
    """Our generator (RGB output) from an MMGeneration generator state dict and its config (may be {})."""
    gen = generation(state)
    expected = cfg.get("type")
    if expected and expected != GENERATOR_TYPES[gen]:
        if expected in GENERATOR_TYPES.values():
            raise CheckpointError(f"the config describes a {expected}, but the checkpoint holds a {GENERATOR_TYPES[gen]}")
        # A generator class of the user's own (registered in MMGeneration): its tensors say what it is.
        warnings.warn(f"the config names the generator type {expected}, which this package does not know; its "
                      f"tensors are those of a {GENERATOR_TYPES[gen]}, so it was built as one", stacklevel=2)
    try:
        if gen == 1:
            G = _stylegan1(state, cfg, top or {})
        elif gen == 2:
            G = rosinality.build_generator(_rename_stylegan2(state), None, "the StyleGAN2 generator",
                                           lr_multiplier=float(cfg.get("lr_mlp", 0.01)))
        else:
            G = _stylegan3(state, cfg)
    except KeyError as exc:
        raise CheckpointError(f"the {GENERATOR_TYPES[gen]} lacks the tensor {exc.args[0]}") from None
    except TypeError as exc:
        raise CheckpointError(f"the config of the {GENERATOR_TYPES[gen]} has an option this package does not know "
                              f"({exc})") from None
    size = cfg.get("out_size")
    if size is not None and int(size) != G.img_resolution:
        raise CheckpointError(f"the config says out_size={size}, the checkpoint holds a {G.img_resolution}² generator")
    if not (gen == 3 and cfg.get("rgb2bgr", False)):
        _flip_rgb_output(G)
    return G


def build_discriminator(state: dict, cfg: dict) -> nn.Module | None:
    """Our discriminator (RGB input) from MMGeneration's StyleGAN2 discriminator; None for other kinds."""
    if "final_linear.0.linear.weight_orig" not in state:
        return None
    D = rosinality.build_discriminator(_rename_discriminator(state), "the discriminator")
    if not cfg.get("input_bgr2rgb", False) and D.img_channels == 3:
        top = getattr(D, f"b{D.img_resolution}").fromrgb
        with torch.no_grad():
            top.weight.copy_(top.weight.flip(1))
    return D


def network_names(obj: dict) -> list[str]:
    """The networks ('G_ema', 'G', 'D') this checkpoint holds in a form this package rebuilds."""
    names = [n for n in PREFIXES if any(k.startswith(PREFIXES[n] + ".") for k in obj["state_dict"])]
    if "D" in names and "discriminator.final_linear.0.linear.weight_orig" not in obj["state_dict"]:
        names.remove("D")
    return names


def load_networks(obj: dict, which: tuple[str, ...], model_cfg: dict | None = None) -> dict[str, nn.Module]:
    """Rebuild the requested networks from a loaded checkpoint; `model_cfg` is its config's `model` dict."""
    model_cfg = model_cfg or model_config_from_meta(obj)
    nets = {}
    for name in which:
        state = substate(obj, name)
        if not state:
            continue
        if name == "D":
            D = build_discriminator(state, model_cfg.get("discriminator") or {})
            if D is None:
                warnings.warn("the discriminator is not loaded: MMGeneration's StyleGANv1 discriminator is its own "
                              "design, which this package does not rebuild", stacklevel=2)
            else:
                nets[name] = D
        else:
            nets[name] = build_generator(state, model_cfg.get("generator") or {}, obj["state_dict"])
    return nets


def build_from_config(model_cfg: dict) -> dict[str, nn.Module]:
    """Randomly initialised networks ('G', 'G_ema', 'D') of the kinds a config's `model` dict describes."""
    g = dict(model_cfg.get("generator") or {})
    kind = g.pop("type", None)
    width = int(g.get("style_channels", 512))
    if kind == "StyleGANv1Generator":
        G = Generator1(z_dim=width, c_dim=0, w_dim=width, img_resolution=int(g["out_size"]), img_channels=3,
                       mapping_kwargs=dict(num_layers=int(g.get("num_mlps", 8)),
                                           lr_multiplier=float(g.get("lr_mlp", 0.01))),
                       default_truncation=(1.0, None), flavor="mmgen", fused_scale=False,
                       blur_filter=list(g.get("blur_kernel", [1, 2, 1])), channel_base=16384, channel_max=512)
    elif kind == "StyleGANv2Generator":
        G = Generator2(z_dim=width, c_dim=0, w_dim=width, img_resolution=int(g["out_size"]), img_channels=3,
                       mapping_kwargs=dict(num_layers=int(g.get("num_mlps", 8)),
                                           lr_multiplier=float(g.get("lr_mlp", 0.01))),
                       channel_base=16384 * int(g.get("channel_multiplier", 2)), channel_max=512, num_fp16_res=0,
                       conv_clamp=None, architecture="skip", resample_filter=list(g.get("blur_kernel", [1, 3, 3, 1])))
    elif kind == "StyleGANv3Generator":
        synthesis = {k: v for k, v in (g.get("synthesis_cfg") or {}).items() if k != "type"}
        mapping = {k: v for k, v in (g.get("mapping_cfg") or {}).items() if k != "type"}
        G = Generator3(z_dim=int(g.get("noise_size", 512)), c_dim=0, w_dim=width, img_resolution=int(g["out_size"]),
                       img_channels=int(g.get("img_channels", 3)),
                       mapping_kwargs=dict(num_layers=int(mapping.get("num_layers", 2)),
                                           lr_multiplier=float(mapping.get("lr_multiplier", 0.01)),
                                           w_avg_beta=float(mapping.get("w_avg_beta", 0.998))), **synthesis)
    else:
        raise CheckpointError(f"the config's generator is a {kind}; this package builds StyleGANv1Generator, "
                              f"StyleGANv2Generator and StyleGANv3Generator")
    G_ema = type(G)(**G.config)
    G_ema.load_state_dict(G.state_dict())
    nets = {"G": G.eval(), "G_ema": G_ema.eval()}
    d = dict(model_cfg.get("discriminator") or {})
    if d.get("type") in ("StyleGAN2Discriminator", "ADAStyleGAN2Discriminator"):
        size = int(d["in_size"])
        nets["D"] = Discriminator(c_dim=0, img_resolution=size, img_channels=3, architecture="resnet",
                                  channel_base=16384 * int(d.get("channel_multiplier", 2)), channel_max=512,
                                  num_fp16_res=0, conv_clamp=None,
                                  epilogue_kwargs=dict(mbstd_group_size=4, mbstd_num_channels=1)).eval()
    return nets
