"""The settings record of one image: a `Settings` record (JSON-able) turned into ws, then into an image.

Everything the studio's page can change lives here, so that `stylegan generate --settings FILE.json`
renders exactly what the studio showed, and the rules can be tested without a browser.
"""
from __future__ import annotations

import math
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
from ..models.noise import random_noise
from .edit import Directions, apply_direction, ganspace, sefa
from .generate import check_truncation, set_input_transform
from .seeds import MAX_SEED
from .space import blend, class_label, device_of, resolve_layers, seeds_to_z

SEED_ROW = 100  # the 2-D seed lattice: the point (i, j) stands for seed i + SEED_ROW * j (mod 2**32)
COMPONENTS = 10  # SeFa and GANSpace components offered
GANSPACE_SAMPLES = 20_000
FORMAT = "stylegan-studio-settings"


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
        """Settings from JSON values; unknown keys and wrongly typed values are InputErrors."""
        if not isinstance(data, dict):
            raise InputError("studio settings must be a JSON object")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known - {"format"})
        if unknown:
            raise InputError(f"unknown studio settings {unknown}; known ones are {sorted(known)}")
        values = dict(data)
        values.pop("format", None)
        try:
            values["directions"] = [Direction(**d) for d in values.get("directions", [])]
            settings = cls(**values)
            settings.seed, settings.noise_seed = int(settings.seed), int(settings.noise_seed)
            settings.dx, settings.dy, settings.psi = float(settings.dx), float(settings.dy), float(settings.psi)
            settings.mix_weight, settings.rotate = float(settings.mix_weight), float(settings.rotate)
            settings.translate = tuple(float(v) for v in settings.translate)
            settings.untransform = bool(settings.untransform)
            for name in ("class_idx", "mix_seed", "cutoff"):
                value = getattr(settings, name)
                setattr(settings, name, None if value is None else int(value))
            settings.mix_layers = [int(i) for i in settings.mix_layers]
            settings.noise_off = [int(i) for i in settings.noise_off]
            for d in settings.directions:
                d.index, d.strength = int(d.index), float(d.strength)
        except (TypeError, ValueError) as exc:
            raise InputError(f"invalid studio settings ({exc})") from None
        numbers = [settings.dx, settings.dy, settings.mix_weight, settings.rotate, *settings.translate]
        if not all(math.isfinite(v) for v in numbers + [d.strength for d in settings.directions]):
            raise InputError("studio settings must be finite numbers")
        if len(settings.translate) != 2:
            raise InputError("studio setting 'translate' needs two numbers (x, y)")
        return settings


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
