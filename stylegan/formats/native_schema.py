"""The schema of the architecture JSON in native files: every field a network's constructor takes, its type and
range, which fields must be there, and how the fields agree with each other.

A native file's config is checked against this before anything is built; the first field at fault is named in
one line (`config field 'mapping_kwargs.activation' is 'relu6'; expected one of linear, relu, ...`). Sizes are
then checked against the file's tensors where the constructor would otherwise do work they do not bound
(StyleGAN3's filter taps, which are designed in numpy), and the build itself is bounded by `build_guard`.
"""
from __future__ import annotations

import math
from typing import Any, Callable

from ..errors import CheckpointError
from ..models import G_ARCHITECTURES
from ..ops.bias_act import ACTIVATIONS as LAYER_ACTIVATIONS


class Field:
    """One value of a config: `check` returns nothing or raises CheckpointError naming `where`."""

    expected = "a value"

    def accepts(self, value: Any) -> bool:
        """Whether `value` is of this field's type and range."""
        raise NotImplementedError

    def check(self, value: Any, where: str) -> None:
        """Raise CheckpointError naming `where` unless `value` is accepted."""
        if not self.accepts(value):
            raise SchemaError(where, value, self.expected)


class SchemaError(CheckpointError):
    """A config field of a native file that is missing, unknown, of the wrong type or out of range."""

    def __init__(self, where: str, value: Any = None, expected: str = "", problem: str | None = None):
        text = problem if problem is not None else f"is {_show(value)}; expected {expected}"
        super().__init__(f"config field '{where}' {text}" if where else f"the config {text}")


def _show(value: Any) -> str:
    text = "null" if value is None else "true" if value is True else "false" if value is False else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    """A float that is finite and below 1e300, or an integer that fits in 64 bits (torch takes no larger)."""
    if _is_int(value):
        return -(1 << 63) < value < (1 << 63)
    return isinstance(value, float) and math.isfinite(value) and abs(value) < 1e300


class Int(Field):
    """An integer in [lo, hi]; `odd` or `power_of_two` when the architecture needs it."""

    def __init__(self, lo: int = 0, hi: int | None = None, odd: bool = False, power_of_two: bool = False):
        self.lo, self.hi, self.odd, self.power_of_two = lo, hi, odd, power_of_two
        kind = "an odd integer" if odd else "a power of two" if power_of_two else "an integer"
        self.expected = f"{kind} >= {lo}" + (f" and <= {hi}" if hi is not None else "")

    def accepts(self, value: Any) -> bool:
        return (_is_int(value) and value >= self.lo and (self.hi is None or value <= self.hi)
                and (not self.odd or value % 2 == 1) and (not self.power_of_two or value & (value - 1) == 0))


class Number(Field):
    """A finite number above `above` (exclusive) or from `lo` (inclusive), up to `hi` (inclusive)."""

    def __init__(self, lo: float | None = None, hi: float | None = None, above: float | None = None):
        self.lo, self.hi, self.above = lo, hi, above
        parts = [f"> {above:g}" if above is not None else "", f">= {lo:g}" if lo is not None else "",
                 f"<= {hi:g}" if hi is not None else ""]
        self.expected = "a finite number" + "".join(f" {p}" for p in parts if p)

    def accepts(self, value: Any) -> bool:
        return (_is_number(value) and (self.lo is None or value >= self.lo) and (self.hi is None or value <= self.hi)
                and (self.above is None or value > self.above))


class Bool(Field):
    expected = "true or false"

    def accepts(self, value: Any) -> bool:
        return isinstance(value, bool)


class Choice(Field):
    """One of a fixed set of values (names, true/false, null)."""

    def __init__(self, *values: Any):
        self.values = values
        self.expected = "one of " + ", ".join(_show(v) for v in values)

    def accepts(self, value: Any) -> bool:
        return any(value is v or (type(value) is type(v) and value == v) for v in self.values)


class Optional(Field):
    """null, or a value of `field`."""

    def __init__(self, field: Field):
        self.field = field
        self.expected = f"null or {field.expected}"

    def accepts(self, value: Any) -> bool:
        return value is None or self.field.accepts(value)

    def check(self, value: Any, where: str) -> None:
        if value is not None:
            self.field.check(value, where)


class Filter(Field):
    """The taps of a resampling or blur filter: 1 to 64 finite numbers that do not sum to zero (the filter is
    divided by its sum); `empty` allows [] and null (no filter)."""

    def __init__(self, empty: bool = False):
        self.empty = empty
        self.expected = "a list of 1 to 64 finite numbers with a nonzero sum" + (", [] or null" if empty else "")

    def accepts(self, value: Any) -> bool:
        if self.empty and not value and (value is None or isinstance(value, list)):
            return True
        return (isinstance(value, list) and 1 <= len(value) <= 64 and all(map(_is_number, value))
                and sum(value) != 0)


class Text(Field):
    """A string of at most `longest` characters."""

    def __init__(self, longest: int):
        self.longest = longest
        self.expected = f"a text of at most {longest} characters"

    def accepts(self, value: Any) -> bool:
        return isinstance(value, str) and len(value) <= self.longest


class Size(Field):
    """A feature-map size: a positive integer, or [width, height]."""

    expected = "an integer >= 1 or a list [width, height] of them"

    def accepts(self, value: Any) -> bool:
        items = value if isinstance(value, list) and len(value) == 2 else [value]
        return all(_is_int(v) and v >= 1 for v in items)


class Record(Field):
    """A JSON object with known fields (some required) and nothing else."""

    expected = "a record (a JSON object)"

    def __init__(self, fields: dict[str, Field], required: tuple[str, ...] = ()):
        self.fields, self.required = fields, required

    def accepts(self, value: Any) -> bool:
        return isinstance(value, dict)

    def check(self, value: Any, where: str) -> None:
        super().check(value, where)
        prefix = f"{where}." if where else ""
        for name in self.required:
            if name not in value:
                raise SchemaError(prefix + name, problem="is missing")
        for name, item in value.items():
            field = self.fields.get(name)
            if field is None:
                raise SchemaError(prefix + str(name), problem="is not a field of this architecture")
            field.check(item, prefix + name)


class ListOf(Field):
    """A list of `low` to `high` values of `item`."""

    def __init__(self, item: Field, low: int, high: int):
        self.item, self.low, self.high = item, low, high
        self.expected = f"a list of {low} to {high} entries"

    def accepts(self, value: Any) -> bool:
        return isinstance(value, list) and self.low <= len(value) <= self.high

    def check(self, value: Any, where: str) -> None:
        super().check(value, where)
        for i, item in enumerate(value):
            self.item.check(item, f"{where}[{i}]")


class Channels(Field):
    """A channel table: resolution (a power of two >= 4, as a string) -> channels (an integer >= 1)."""

    expected = "a record of resolution -> channels"

    def accepts(self, value: Any) -> bool:
        return isinstance(value, dict)

    def check(self, value: Any, where: str) -> None:
        super().check(value, where)
        for key, channels in value.items():
            if not (isinstance(key, str) and key.isdigit() and int(key) >= 4 and int(key) & (int(key) - 1) == 0):
                raise SchemaError(f"{where}.{key}", problem="is not a resolution (a power of two >= 4)")
            Int(1).check(channels, f"{where}.{key}")


WIDTH = Int(1)
BETA = Number(lo=0, hi=1)
CLAMP = Optional(Number(above=0))
LAYER_ACTIVATION = Choice(*LAYER_ACTIVATIONS)
SG1_ACTIVATION = Choice("lrelu", "relu")
# Larger images than this (4 gigapixels) could not be made on any machine.
RESOLUTION = Int(4, hi=1 << 16, power_of_two=True)

MAPPING = {"num_layers": Int(1), "embed_features": Optional(WIDTH), "layer_features": Optional(WIDTH),
           "activation": LAYER_ACTIVATION, "lr_multiplier": Number(above=0), "w_avg_beta": Optional(BETA),
           "latent_norm": Choice("rms", "l2", None), "label_concat": Bool(), "gain_in_weights": Bool()}
GENERATOR = {"z_dim": WIDTH, "c_dim": Int(0), "w_dim": WIDTH, "img_channels": WIDTH, "channel_base": WIDTH,
             "channel_max": WIDTH, "num_fp16_res": Int(0)}
GENERATOR_REQUIRED = ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels")

STYLEGAN2_G = Record({
    **GENERATOR, "img_resolution": RESOLUTION, "mapping_kwargs": Record(MAPPING), "channels": Channels(),
    "architecture": Choice(*G_ARCHITECTURES), "resample_filter": Filter(), "conv_clamp": CLAMP,
    "fp16_channels_last": Bool(), "fused_modconv_default": Choice(True, False, "inference_only"),
    "kernel_size": Int(1, odd=True), "use_noise": Bool(), "activation": LAYER_ACTIVATION,
}, GENERATOR_REQUIRED)

SG3_INPUT = Record({"channels": WIDTH, "size": Size(), "sampling_rate": Number(above=0),
                    "bandwidth": Number(above=0)}, ("channels", "size", "sampling_rate", "bandwidth"))
SG3_LAYER_FIELDS = {"is_torgb": Bool(), "is_critically_sampled": Bool(), "use_fp16": Bool(), "in_channels": WIDTH,
                    "out_channels": WIDTH, "in_size": Size(), "out_size": Size(), "in_sampling_rate": Number(above=0),
                    "out_sampling_rate": Number(above=0), "in_cutoff": Number(above=0),
                    "out_cutoff": Number(above=0), "in_half_width": Number(above=0),
                    "out_half_width": Number(above=0)}
SG3_LAYER = Record(SG3_LAYER_FIELDS, tuple(SG3_LAYER_FIELDS))
STYLEGAN3_G = Record({
    **GENERATOR, "img_resolution": Int(1, hi=1 << 16), "mapping_kwargs": Record(MAPPING), "num_layers": Int(1),
    "num_critical": Int(0), "first_cutoff": Number(above=0), "first_stopband": Number(above=0),
    "last_stopband_rel": Number(above=0), "margin_size": Int(0), "output_scale": Number(),
    "input_spec": SG3_INPUT, "layer_specs": ListOf(SG3_LAYER, 1, 1024), "conv_kernel": Int(1),
    "filter_size": Int(1), "lrelu_upsampling": Int(1), "use_radial_filters": Bool(), "conv_clamp": CLAMP,
    "magnitude_ema_beta": BETA,
}, GENERATOR_REQUIRED + ("input_spec", "layer_specs"))

STYLEGAN1_G = Record({
    **GENERATOR, "img_resolution": RESOLUTION,
    "mapping_kwargs": Record({"num_layers": Int(1), "layer_features": Optional(WIDTH), "activation": SG1_ACTIVATION,
                              "lr_multiplier": Number(above=0), "w_avg_beta": Optional(BETA),
                              "normalize_latents": Bool()}),
    "default_truncation": ListOf(Optional(Number()), 2, 2), "flavor": Choice("nvidia", "mmgen"),
    "channels": Channels(), "fused_scale": Choice("auto", True, False), "blur_filter": Filter(empty=True),
    "use_noise": Bool(), "activation": SG1_ACTIVATION, "progressive": Bool(),
}, GENERATOR_REQUIRED)

DISCRIMINATOR_REQUIRED = ("c_dim", "img_resolution", "img_channels")
STYLEGAN2_D = Record({
    "c_dim": Int(0), "img_resolution": RESOLUTION, "img_channels": WIDTH,
    "architecture": Choice("orig", "skip", "resnet"), "channel_base": WIDTH, "channel_max": WIDTH, "num_fp16_res": Int(0), "conv_clamp": CLAMP,
    "cmap_dim": Optional(Int(0)), "channels": Channels(),
    "block_kwargs": Record({"activation": LAYER_ACTIVATION, "resample_filter": Filter(), "freeze_layers": Int(0),
                            "fp16_channels_last": Bool()}),
    "mapping_kwargs": Record({k: v for k, v in MAPPING.items() if k != "w_avg_beta"}),
    "epilogue_kwargs": Record({"mbstd_group_size": Optional(Int(0)), "mbstd_num_channels": Int(0),
                               "activation": LAYER_ACTIVATION}),
}, DISCRIMINATOR_REQUIRED)

STYLEGAN1_D = Record({
    "c_dim": Int(0), "img_resolution": RESOLUTION, "img_channels": WIDTH, "channel_base": WIDTH,
    "channel_max": WIDTH, "channels": Channels(), "fused_scale": Choice("auto", True, False),
    "blur_filter": Filter(empty=True), "mbstd_group_size": Int(0), "mbstd_num_features": Int(0),
    "activation": SG1_ACTIVATION, "progressive": Bool(), "dense_features": Optional(WIDTH),
}, DISCRIMINATOR_REQUIRED)


def _resolutions(config: dict) -> list[int]:
    top = config["img_resolution"]
    return [2 ** i for i in range(2, top.bit_length())]


def _check_channels(config: dict) -> None:
    """An explicit channel table names exactly the resolutions 4 ... img_resolution; without one, the channel
    base and maximum give at least one channel at every resolution."""
    resolutions = _resolutions(config)
    table = config.get("channels")
    if table is not None:
        have = {int(k) for k in table}
        missing, extra = sorted(set(resolutions) - have), sorted(have - set(resolutions))
        if missing or extra:
            problem = (f"lacks resolution {missing[0]}" if missing else
                       f"has resolution {extra[0]}, above img_resolution {config['img_resolution']}")
            raise SchemaError("channels", problem=problem)
    elif config.get("channel_base", 1) // resolutions[-1] < 1:
        raise SchemaError("channel_base", config.get("channel_base"), f"at least img_resolution "
                          f"({resolutions[-1]}) when no channel table is given")


def _check_minibatch_std(channels: int, group: Any, features: int, where: str) -> None:
    """The minibatch-stddev layer splits the 4x4 channels into `features` groups over groups of `group` samples."""
    if features > 0 and channels % features:
        raise SchemaError(where, features, f"a divisor of the {channels} channels at 4x4")
    if features > 0 and group is not None and group < 1:
        raise SchemaError(where.replace("num_channels", "group_size").replace("num_features", "group_size"), group,
                          "null or an integer >= 1 while the minibatch-stddev layer is on")


def _stylegan2_g(config: dict) -> None:
    _check_channels(config)


def _stylegan1_g(config: dict) -> None:
    _check_channels(config)
    psi, cutoff = config.get("default_truncation", [0.7, 8])
    if psi is None or (cutoff is not None and not (_is_int(cutoff) and cutoff >= 0)):
        raise SchemaError("default_truncation", [psi, cutoff], "[psi (a number), cutoff (an integer >= 0 or null)]")


def _channels_at_4(config: dict) -> int:
    table = config.get("channels")
    return int(table["4"]) if table is not None else min(config.get("channel_base", 32768) // 4,
                                                         config.get("channel_max", 512))


ENCODER = Record({
    "img_resolution": RESOLUTION, "img_channels": WIDTH, "num_ws": Int(1, hi=4096), "w_dim": WIDTH,
    "channel_base": WIDTH, "channel_max": WIDTH, "features": WIDTH, "iterations": Int(1, hi=1000),
    "generator": Text(64),
}, ("img_resolution", "img_channels", "num_ws", "w_dim"))


def _stylegan2_d(config: dict) -> None:
    _check_channels(config)
    epilogue = config.get("epilogue_kwargs", {})
    _check_minibatch_std(_channels_at_4(config), epilogue.get("mbstd_group_size", 4),
                         epilogue.get("mbstd_num_channels", 1), "epilogue_kwargs.mbstd_num_channels")
    if config["c_dim"] > 0 and config.get("cmap_dim") == 0:
        raise SchemaError("cmap_dim", 0, "null or an integer >= 1 for a conditional discriminator")


def _stylegan1_d(config: dict) -> None:
    _check_channels(config)
    group = config.get("mbstd_group_size", 4)
    if group > 1:
        _check_minibatch_std(_channels_at_4(config), group, config.get("mbstd_num_features", 1),
                             "mbstd_num_features")


def _pair(value: Any) -> Any:
    """A size as [width, height] (sizes are an integer or a pair)."""
    return [value, value] if _is_int(value) else value


def _stylegan3_g(config: dict) -> None:
    """The input and the layers form one chain: each layer takes what the one before gives (channels, size,
    sampling rate, cutoff, transition band), only the last is ToRGB and gives the image's channels and size,
    and sampling rates are integer multiples of each other."""
    specs, first = config["layer_specs"], config["input_spec"]
    before = {"channels": first["channels"], "size": first["size"], "sampling_rate": first["sampling_rate"],
              "cutoff": first["bandwidth"]}
    largest = config["img_resolution"] + 2 * config.get("margin_size", 10)
    for i, spec in enumerate(specs):
        where = f"layer_specs[{i}]"
        for key in ("in_size", "out_size"):
            if max(_pair(spec[key])) > largest:
                raise SchemaError(f"{where}.{key}", spec[key], f"at most img_resolution + 2 x margin_size ({largest})")
        for key, value in before.items():
            given = spec[f"in_{key}"]
            if (_pair(given) != _pair(value)) if key == "size" else given != value:
                raise SchemaError(f"{where}.in_{key}", given, f"{_show(value)}, what the layer before gives")
        if i > 0 and spec["in_half_width"] != specs[i - 1]["out_half_width"]:
            raise SchemaError(f"{where}.in_half_width", spec["in_half_width"], "the out_half_width of the layer "
                              "before")
        if spec["is_torgb"] != (i == len(specs) - 1):
            raise SchemaError(f"{where}.is_torgb", spec["is_torgb"], _show(i == len(specs) - 1) + " (only the last "
                              "layer is ToRGB)")
        before = {key: spec[f"out_{key}"] for key in before}
    last = specs[-1]
    if last["out_channels"] != config["img_channels"]:
        raise SchemaError(f"layer_specs[{len(specs) - 1}].out_channels", last["out_channels"],
                          f"img_channels ({config['img_channels']})")
    if _pair(last["out_size"]) != [config["img_resolution"]] * 2:
        raise SchemaError(f"layer_specs[{len(specs) - 1}].out_size", last["out_size"],
                          f"img_resolution ({config['img_resolution']})")


ARCHITECTURE_SCHEMAS: dict[str, tuple[Record, Callable[[dict], None]]] = {
    "stylegan1.Generator": (STYLEGAN1_G, _stylegan1_g),
    "stylegan1.Discriminator": (STYLEGAN1_D, _stylegan1_d),
    "stylegan2.Generator": (STYLEGAN2_G, _stylegan2_g),
    "stylegan3.Generator": (STYLEGAN3_G, _stylegan3_g),
    "stylegan2.Discriminator": (STYLEGAN2_D, _stylegan2_d),
    "encoder.Encoder": (ENCODER, _check_channels),
}


def check_config(arch: str, config: Any) -> None:
    """Check a network's config against the schema of its architecture; CheckpointError naming the first field
    at fault."""
    schema, agreement = ARCHITECTURE_SCHEMAS[arch]
    schema.check(config, "")
    agreement(config)


def check_stylegan3_filters(config: dict, shapes: dict[str, tuple[int, ...]]) -> None:
    """Each StyleGAN3 layer's up and down filters, designed in numpy while the network is built, must have the
    taps of the filters the file stores (`shapes`: tensor name -> shape, without the network's prefix)."""
    from ..models.stylegan3 import layer_resampling

    for i, spec in enumerate(config["layer_specs"]):
        size = spec["out_size"] if _is_int(spec["out_size"]) else spec["out_size"][0]
        name = f"synthesis.L{i}_{size}_{spec['out_channels']}"
        try:
            taps = layer_resampling(spec["in_sampling_rate"], spec["out_sampling_rate"], spec["is_torgb"],
                                    config.get("filter_size", 6), config.get("lrelu_upsampling", 2))[3:]
        except (ValueError, OverflowError):  # InputError (a ValueError): rates that are not integer multiples
            taps = None
        if taps is None:
            raise SchemaError(f"layer_specs[{i}]", problem="has sampling rates that are not integer multiples of "
                                                           "each other")
        for kind, count in zip(("up_filter", "down_filter"), taps):
            stored = shapes.get(f"{name}.{kind}")
            if (stored is None) != (count == 1) or (stored is not None and stored[0] != count):
                found = "none" if stored is None else f"{stored[0]} taps"
                raise SchemaError(f"layer_specs[{i}]", problem=f"gives {name}.{kind} {count} taps, but the file "
                                  f"stores {found}")
