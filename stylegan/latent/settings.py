"""The settings record of one image: a `Settings` record (JSON-able) turned into ws, then into an image.

Everything the studio's page can change lives here, so that `stylegan generate --settings FILE.json`
renders exactly what the studio showed, and the rules can be tested without a browser.
"""
from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import InputError
from ..io.files import read_json, write_json
from ..io.images import to_uint8
from ..io.latents import load_direction, load_ws
from ..models.mapping import truncate
from ..models.noise import NOISE_MODES, random_noise
from .edit import Directions, apply_direction, ganspace, sefa
from .generate import set_input_transform
from .seeds import MAX_SEED
from .space import blend, check_truncation, class_label, device_of, resolve_layers, seeds_to_z

SEED_ROW = 100  # the 2-D seed lattice: the point (i, j) stands for seed i + SEED_ROW * j (mod 2**32)
COMPONENTS = 10  # SeFa and GANSpace components offered
GANSPACE_SAMPLES = 20_000
FORMAT = "stylegan-studio-settings"
DIRECTION_KINDS = ("sefa", "ganspace", "file")
MAX_INDEX = 2 ** 31 - 1  # classes, ws rows, noise layers and components: far beyond any network
MAX_OFFSET = float(MAX_SEED + 1)  # |dx|, |dy| on the seed lattice
MAX_SCALE = 1e6  # |psi|, mix weight, strengths, translate, rotate: far past any use, and safe in float32
MAX_PATH = 4096  # characters in a path
MAX_LAYER_SPEC = 1000  # characters in a layer spec ('coarse', '0-3,6', ...)


@dataclass
class Direction:
    """One editing slider: a SeFa or GANSpace component of G (`kind='sefa'/'ganspace'`, `index`) or a direction
    file (`kind='file'`, `file`, `index`), moved by `strength` units on the ws rows `layers` (a layer spec)."""
    kind: str = "sefa"
    index: int = 0
    strength: float = 0.0
    layers: str = "all"
    file: str | None = None


@dataclass
class Settings:
    """What the studio renders. The latent is the seed lattice at (seed + dx, dy), blended bilinearly over
    the four surrounding seeds, or a ws file (`ws_file`, e.g. a projection) when given."""
    network: str = ""
    seed: int = 0
    dx: float = 0.0
    dy: float = 0.0
    ws_file: str | None = None
    class_idx: int | None = None
    mix_seed: int | None = None
    mix_layers: list[int] = field(default_factory=list)
    mix_weight: float = 1.0
    psi: float = 1.0
    cutoff: int | None = None
    noise_mode: str = "const"
    noise_seed: int = 0
    noise_off: list[int] = field(default_factory=list)
    translate: tuple[float, float] = (0.0, 0.0)
    rotate: float = 0.0
    untransform: bool = False
    directions: list[Direction] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able values, tagged with the file format."""
        return {"format": FORMAT, **asdict(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Settings":
        """Settings from JSON values: unknown keys, wrong types (a string for a number, a float for a whole
        number, ...), numbers out of range and paths that cannot name a file are InputErrors."""
        if not isinstance(data, dict):
            raise InputError("studio settings must be a JSON object")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known - {"format"})
        if unknown:
            raise InputError(f"unknown studio settings {_show(unknown)}; known ones are {sorted(known)}")
        v = {**asdict(cls()), **data}
        translate = v["translate"]
        if not isinstance(translate, (list, tuple)) or len(translate) != 2:
            raise _invalid("translate", "two numbers (x, y) are needed", translate)
        directions = v["directions"]
        if not isinstance(directions, (list, tuple)):
            raise _invalid("directions", "a list is needed", directions)
        return cls(
            network=_path(v["network"], "network"),
            seed=_whole(v["seed"], "seed", 0, MAX_SEED),
            dx=_number(v["dx"], "dx", MAX_OFFSET),
            dy=_number(v["dy"], "dy", MAX_OFFSET),
            ws_file=_optional(_path, v["ws_file"], "ws_file"),
            class_idx=_optional(_whole, v["class_idx"], "class_idx", 0, MAX_INDEX),
            mix_seed=_optional(_whole, v["mix_seed"], "mix_seed", 0, MAX_SEED),
            mix_layers=_indices(v["mix_layers"], "mix_layers"),
            mix_weight=_number(v["mix_weight"], "mix_weight", MAX_SCALE),
            psi=_number(v["psi"], "psi", MAX_SCALE),
            cutoff=_optional(_whole, v["cutoff"], "cutoff", 0, MAX_INDEX),
            noise_mode=_choice(v["noise_mode"], "noise_mode", NOISE_MODES),
            noise_seed=_whole(v["noise_seed"], "noise_seed", 0, MAX_SEED),
            noise_off=_indices(v["noise_off"], "noise_off"),
            translate=tuple(_number(t, "translate", MAX_SCALE) for t in translate),
            rotate=_number(v["rotate"], "rotate", MAX_SCALE),
            untransform=_flag(v["untransform"], "untransform"),
            directions=[_direction(d, f"directions[{k}]") for k, d in enumerate(directions)],
        )


def _show(value: Any) -> str:
    """A value for an error message: its repr, cut short (a 400-digit number or a long text stays readable)."""
    if isinstance(value, int) and value.bit_length() > 256:
        return f"a number of about {round(value.bit_length() * math.log10(2))} digits"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _invalid(name: str, wanted: str, value: Any) -> InputError:
    return InputError(f"invalid studio setting {name!r}: {wanted}, got {_show(value)}")


def _whole(value: Any, name: str, lo: int, hi: int) -> int:
    """A JSON whole number (5 or 5.0, not true or "5") within [lo, hi]."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (
            isinstance(value, float) and not value.is_integer()):
        raise _invalid(name, "a whole number is needed", value)
    if not lo <= value <= hi:
        raise _invalid(name, f"it must be between {lo} and {hi}", value)
    return int(value)


def _number(value: Any, name: str, bound: float) -> float:
    """A finite JSON number within [-bound, bound]."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _invalid(name, "a number is needed", value)
    if not abs(value) <= bound:  # also false for NaN; a 400-digit int is compared, never converted to float
        raise _invalid(name, f"it must be a finite number within ±{bound:.0f}", value)
    return float(value)


def _flag(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise _invalid(name, "true or false is needed", value)
    return value


def _choice(value: Any, name: str, choices: tuple[str, ...]) -> str:
    if value not in choices or not isinstance(value, str):
        raise _invalid(name, f"one of {choices} is needed", value)
    return value


def _path(value: Any, name: str) -> str:
    """A text that can name a file: no NUL, at most MAX_PATH characters, UTF-8 encodable, and a '~user' that
    exists (the path itself is checked only when it is read)."""
    if not isinstance(value, str):
        raise _invalid(name, "a path (text) is needed", value)
    if "\x00" in value or len(value) > MAX_PATH:
        raise _invalid(name, f"a path has no NUL character and at most {MAX_PATH} characters", value)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise _invalid(name, "a path must be valid Unicode text", value) from None
    if value.startswith("~") and os.path.expanduser(value).startswith("~"):
        raise _invalid(name, "'~' names no known home folder", value)
    return value


def _optional(check: Callable[..., Any], value: Any, name: str, *args: Any) -> Any:
    return None if value is None else check(value, name, *args)


def _indices(value: Any, name: str) -> list[int]:
    if not isinstance(value, (list, tuple)):
        raise _invalid(name, "a list of whole numbers is needed", value)
    return [_whole(v, name, 0, MAX_INDEX) for v in value]


def _direction(value: Any, name: str) -> Direction:
    if not isinstance(value, dict):
        raise _invalid(name, "an object is needed", value)
    unknown = sorted(set(value) - {f.name for f in fields(Direction)})
    if unknown:
        raise _invalid(name, f"unknown keys {_show(unknown)}", value)
    d = Direction(**value)
    layers = d.layers
    if isinstance(layers, (list, tuple)):
        layers = _indices(layers, f"{name}.layers")
    elif isinstance(layers, str):
        if len(layers) > MAX_LAYER_SPEC:
            raise _invalid(f"{name}.layers", f"a layer spec has at most {MAX_LAYER_SPEC} characters", layers)
    else:
        layers = _whole(layers, f"{name}.layers", 0, MAX_INDEX)
    return Direction(kind=_choice(d.kind, f"{name}.kind", DIRECTION_KINDS),
                     index=_whole(d.index, f"{name}.index", 0, MAX_INDEX),
                     strength=_number(d.strength, f"{name}.strength", MAX_SCALE), layers=layers,
                     file=_optional(_path, d.file, f"{name}.file"))


def save_settings(path: str | Path, settings: Settings) -> None:
    """Write settings as JSON, atomically."""
    write_json(path, settings.to_dict())


def load_settings(path: str | Path) -> Settings:
    """Read a settings JSON written by the studio."""
    return Settings.from_dict(read_json(path, "JSON settings"))


def adapt(settings: Settings, G: nn.Module) -> Settings:
    """The settings that apply to G: layers, classes and transforms G lacks are dropped (used when switching
    networks, so that the seed and the rest carry over)."""
    s = Settings.from_dict(settings.to_dict())
    s.mix_layers = [i for i in s.mix_layers if 0 <= i < G.num_ws]
    s.noise_off = [i for i in s.noise_off if 0 <= i < len(G.synthesis.noise_layers())]
    if G.c_dim == 0:
        s.class_idx = None
    elif s.class_idx is None or not 0 <= s.class_idx < G.c_dim:
        s.class_idx = 0
    if s.cutoff is not None:
        s.cutoff = min(max(s.cutoff, 0), G.num_ws)
    if not has_transform(G):
        s.translate, s.rotate, s.untransform = (0.0, 0.0), 0.0, False
    return s


def has_transform(G: nn.Module) -> bool:
    """True for StyleGAN3 networks, whose input layer can be translated and rotated."""
    return hasattr(G.synthesis, "input") and hasattr(G.synthesis.input, "transform")


def lattice_seeds(seed: int, dx: float, dy: float) -> list[tuple[int, float]]:
    """The seeds around the point (seed + dx, dy) of the seed lattice and their bilinear weights
    (zero weights left out; an integer point gives its one seed with weight 1)."""
    x, y = seed + dx, dy
    x0, y0 = math.floor(x), math.floor(y)
    out = []
    for ix, iy in ((x0, y0), (x0 + 1, y0), (x0, y0 + 1), (x0 + 1, y0 + 1)):
        weight = (1 - abs(x - ix)) * (1 - abs(y - iy))
        if weight > 0:
            out.append(((ix + SEED_ROW * iy) % (MAX_SEED + 1), weight))
    return out


@torch.no_grad()
def seed_ws(G: nn.Module, seed: int, dx: float, dy: float, psi: float, cutoff: int | None,
            class_idx: int | None) -> torch.Tensor:
    """ws [1, num_ws, w_dim] at a point of the seed lattice: the weighted sum of its seeds' truncated ws."""
    pairs = lattice_seeds(seed, dx, dy)
    z = seeds_to_z([s for s, _ in pairs], G.z_dim, device_of(G))
    ws = G.mapping(z, class_label(G, class_idx, len(pairs)), truncation_psi=psi, truncation_cutoff=cutoff)
    if len(pairs) == 1:
        return ws
    weights = torch.tensor([w for _, w in pairs], dtype=ws.dtype, device=ws.device)
    return (ws * weights[:, None, None]).sum(0, keepdim=True)


class Resolver:
    """Finds the files settings name (ws and direction files), relative to `base`, through `check`
    (e.g. the studio's allow-list), and caches G's SeFa and GANSpace components."""

    def __init__(self, base: str | Path | None = None, check: Callable[[Path], Path] | None = None):
        self.base = Path(base) if base is not None else None
        self.check = check or (lambda p: p)
        self._computed: dict[tuple[int, str], Directions] = {}

    def path(self, name: str) -> Path:
        path = Path(name).expanduser()
        if not path.is_absolute() and self.base is not None:
            path = self.base / path
        return self.check(path)

    def direction(self, G: nn.Module, d: Direction) -> tuple[np.ndarray, float]:
        """The direction's unit vector and its strength unit (the w spread along it for GANSpace, else 1
        or what the file says)."""
        if d.kind in ("sefa", "ganspace"):
            key = (id(G), d.kind)
            if key not in self._computed:
                found = (sefa(G, num=COMPONENTS) if d.kind == "sefa"
                         else ganspace(G, num_samples=GANSPACE_SAMPLES, num=COMPONENTS,
                                       class_idx=0 if G.c_dim else None))
                self._computed = {k: v for k, v in self._computed.items() if k[0] == id(G)}
                self._computed[key] = found
            found = self._computed[key]
            if not 0 <= d.index < len(found.directions):
                raise InputError(f"{d.kind} component {d.index} is out of range 0..{len(found.directions) - 1}")
            return found.directions[d.index], float(found.scales[d.index])
        if d.kind == "file":
            if not d.file:
                raise InputError("a direction of kind 'file' needs a file")
            return load_direction(f"{self.path(d.file)}:{d.index}", G.w_dim)
        raise InputError(f"direction kind must be 'sefa', 'ganspace' or 'file', got {d.kind!r}")


@torch.no_grad()
def settings_to_ws(G: nn.Module, s: Settings, resolver: Resolver | None = None,
                   base_ws: torch.Tensor | None = None) -> torch.Tensor:
    """ws [1, num_ws, w_dim] for the settings: latent (seed lattice or ws), truncation, mixing, directions.

    `base_ws` stands in for the ws file (the studio keeps a fresh projection in memory)."""
    resolver = resolver or Resolver()
    check_truncation(G, s.psi, s.cutoff)
    if s.ws_file is not None or base_ws is not None:
        ws = base_ws if base_ws is not None else load_ws(resolver.path(s.ws_file), G)[:1]
        ws = ws.to(device_of(G))
        if s.psi != 1:
            ws = truncate(ws, G.mapping.w_avg, s.psi, s.cutoff)
    else:
        ws = seed_ws(G, s.seed, s.dx, s.dy, s.psi, s.cutoff, s.class_idx)
    if s.mix_seed is not None and s.mix_layers:
        mix = seed_ws(G, s.mix_seed, 0.0, 0.0, s.psi, s.cutoff, s.class_idx)
        ws = blend(ws, mix, resolve_layers(G, s.mix_layers), s.mix_weight)
    for d in s.directions:
        if d.strength != 0:
            vector, unit = resolver.direction(G, d)
            ws = apply_direction(ws, vector, d.strength * unit, resolve_layers(G, d.layers))
    return ws


def noise_arguments(G: nn.Module, s: Settings) -> dict[str, Any]:
    """The noise_mode/noise arguments of G.synthesis: random noise drawn from the noise seed, and layers
    switched off given mode 'none'."""
    layers = G.synthesis.noise_layers()
    if not layers:
        return {"noise_mode": s.noise_mode}
    modes = ["none" if i in s.noise_off else s.noise_mode for i in range(len(layers))]
    if s.noise_mode == "random":
        noise = random_noise(G, 1, torch.Generator().manual_seed(s.noise_seed))
        return {"noise_mode": modes, "noise": [None if m == "none" else n for m, n in zip(modes, noise)]}
    return {"noise_mode": modes}


def untransform(img: torch.Tensor, translate, rotate: float) -> torch.Tensor:
    """Resample images [N, C, H, W] so that a StyleGAN3 input transform (translate in image units, rotate in
    degrees) is undone in pixel space: the output shows the untransformed image (blank where unseen)."""
    angle = math.radians(rotate)
    c, s = math.cos(angle), math.sin(angle)
    theta = torch.tensor([[c, s, 2 * translate[0]], [-s, c, 2 * translate[1]]], dtype=torch.float32)
    grid = F.affine_grid(theta[None].to(img.device), list(img.shape), align_corners=False)
    return F.grid_sample(img.float(), grid.expand(len(img), -1, -1, -1), mode="bilinear", padding_mode="zeros",
                         align_corners=False)


@torch.no_grad()
def synthesize(G: nn.Module, ws: torch.Tensor, s: Settings) -> torch.Tensor:
    """G.synthesis(ws) in [-1, 1] with the settings' noise and StyleGAN3 transform."""
    if has_transform(G):
        set_input_transform(G, s.translate, s.rotate)
    elif any(s.translate) or s.rotate:
        raise InputError("translate/rotate need a StyleGAN3 network")
    img = G.synthesis(ws, **noise_arguments(G, s))
    if s.untransform and has_transform(G):
        img = untransform(img, s.translate, s.rotate)
    return img


def render_settings(G: nn.Module, s: Settings, resolver: Resolver | None = None,
                    base_ws: torch.Tensor | None = None) -> tuple[np.ndarray, torch.Tensor]:
    """(uint8 image [H, W, C], ws [1, num_ws, w_dim]) for the settings."""
    ws = settings_to_ws(G, s, resolver, base_ws)
    return to_uint8(synthesize(G, ws, s))[0], ws
