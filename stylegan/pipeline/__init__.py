"""Recipes: multi-step, multi-model pipelines run per seed (`stylegan pipeline recipe.toml`).

A recipe names its networks and lists steps. The state passed from step to step is the current network,
its ws (None once the picture has been cropped or resized) and the picture. Every step is an ordinary
function `step_<type>(ctx, state, **options) -> state`; `run` validates the whole recipe (step names,
files, layer indices, ws shapes) before rendering anything, writes each step's picture and ws under
outdir/seedNNNN/, a contact sheet per seed and run.json, and skips seeds already finished.
"""
from __future__ import annotations

import json
import platform
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import PIL.Image
import torch
from tqdm import tqdm

from .. import __version__
from ..errors import InputError, one_line
from ..hub import load as load_network
from ..io.files import atomic_path, read_text
from ..io.images import save_png
from ..io.latents import load_direction, load_ws, save_ws, split_index
from ..io.outputs import RunRecord, check_outputs, network_identity
from ..latent.edit import apply_direction
from ..latent.generate import render
from ..latent.projection import project_image
from ..latent.space import blend, check_truncation, resolve_layers, seeds_to_ws
from ..media.figures import labeled_grid
from ..models.mapping import truncate
from .options import check_options, crop_bounds, finite_number, shown

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


@dataclass
class State:
    """What flows between steps: the network in use, its ws (or None) and the current picture."""
    network: str
    ws: torch.Tensor | None
    image: np.ndarray


@dataclass
class Context:
    """Everything a step may need: the loaded networks, the seed, psi, and where files are resolved."""
    networks: dict[str, torch.nn.Module]
    seed: int
    psi: float
    base: Path
    outputs: list[tuple[str, np.ndarray, torch.Tensor | None]] = field(default_factory=list)


def _resolve(base: Path, name: str) -> Path:
    path = Path(name)
    return path if path.is_absolute() else base / path


def _path(ctx: Context, name: str) -> Path:
    return _resolve(ctx.base, name)


def _direction_spec(base: Path, spec: str) -> str:
    """'dirs.npz:3' with the file resolved against the recipe's folder."""
    name, index = split_index(spec)
    return str(_resolve(base, name)) + ("" if index is None else f":{index}")


def _source_ws(ctx: Context, network: str, source: str | int) -> torch.Tensor:
    G = ctx.networks[network]
    if isinstance(source, int) or str(source).isdigit():
        return seeds_to_ws(G, [int(source)], ctx.psi)
    return load_ws(_path(ctx, source), G)[:1]


def _rendered(ctx: Context, network: str, ws: torch.Tensor) -> State:
    return State(network, ws, render(ctx.networks[network], ws)[0])


def step_generate(ctx: Context, state: State | None, network: str | None = None, psi: float | None = None,
                  class_idx: int | None = None) -> State:
    """The seed's ws in `network` (truncated by psi), and its picture."""
    name = network or next(iter(ctx.networks))
    G = ctx.networks[name]
    return _rendered(ctx, name, seeds_to_ws(G, [ctx.seed], ctx.psi if psi is None else psi, class_idx=class_idx))


def step_mix(ctx: Context, state: State, source: str | int, layers: str | list = "all", mode: str = "replace",
             weight: float = 0.5) -> State:
    """Take `layers` from a stored ws file or a seed: replace them, average them, or blend by `weight`."""
    other = _source_ws(ctx, state.network, source)
    w = {"replace": 1.0, "average": 0.5, "weight": weight}[mode]
    return _rendered(ctx, state.network, blend(state.ws, other, resolve_layers(ctx.networks[state.network], layers), w))


def step_truncate(ctx: Context, state: State, psi: float, cutoff: int | None = None) -> State:
    """Move the ws toward the network's w_avg."""
    G = ctx.networks[state.network]
    return _rendered(ctx, state.network, truncate(state.ws, G.mapping.w_avg, psi, cutoff))


def step_edit(ctx: Context, state: State, direction: str, strength: float = 1.0, layers: str | list = "all") -> State:
    """Move the ws along a direction file (dirs.npz:INDEX or boundary.npy) in the chosen layers."""
    G = ctx.networks[state.network]
    vector, unit = load_direction(_direction_spec(ctx.base, direction), G.w_dim)
    return _rendered(ctx, state.network, apply_direction(state.ws, vector, strength * unit, resolve_layers(G, layers)))


def step_crop(ctx: Context, state: State, box: list[float]) -> State:
    """Crop the picture to a relative box [left, top, right, bottom] in 0..1 (the ws no longer apply)."""
    left, top, right, bottom = crop_bounds(box, *state.image.shape[:2])
    return State(state.network, None, state.image[top:bottom, left:right])


def step_resize(ctx: Context, state: State, size: int) -> State:
    """Resize the picture to size x size (Lanczos)."""
    image = PIL.Image.fromarray(state.image[:, :, 0] if state.image.shape[2] == 1 else state.image)
    array = np.asarray(image.resize((size, size), PIL.Image.LANCZOS))
    return State(state.network, None, array[:, :, None] if array.ndim == 2 else array)


def step_project(ctx: Context, state: State, network: str, space: str = "w+", steps: int = 300,
                 loss: str = "pixel+msssim", method: str = "image2stylegan", seed: int = 303) -> State:
    """Project the picture into another network (centre-cropped and resized to its resolution)."""
    _, result = project_image(ctx.networks[network], state.image, method=method, space=space, loss=loss,
                              num_steps=steps, seed=seed, progress=True)
    return _rendered(ctx, network, result.ws)


def step_variants(ctx: Context, state: State, sources: dict[str, str | int], layers: str | list = "all",
                  mode: str = "replace", weight: float = 0.5) -> State:
    """One extra output per named source (e.g. expressions): the current ws with `layers` mixed in."""
    for name, source in sources.items():
        variant = step_mix(ctx, state, source, layers, mode, weight)
        ctx.outputs.append((f"variant-{name}", variant.image, variant.ws))
    return state


def step_save(ctx: Context, state: State, name: str = "final") -> State:
    """Record the current picture (and ws) under a name of its own."""
    ctx.outputs.append((name, state.image, state.ws))
    return state


STEPS: dict[str, Callable[..., State]] = {
    "generate": step_generate, "mix": step_mix, "truncate": step_truncate, "edit": step_edit, "crop": step_crop,
    "resize": step_resize, "project": step_project, "variants": step_variants, "save": step_save,
}


def read_recipe(path: str | Path) -> tuple[dict, list[int]]:
    """A recipe dict from TOML (or YAML when PyYAML is installed) and the line number of every step."""
    path = Path(path)
    text = read_text(path, "recipe")
    if path.suffix in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError:
            raise InputError("YAML recipes need PyYAML (pip install pyyaml); TOML needs nothing") from None
        try:
            recipe = yaml.safe_load(text)
            node = yaml.compose(text)
        except yaml.YAMLError as exc:
            mark, problem = getattr(exc, "problem_mark", None), getattr(exc, "problem", None)
            reason = f"line {mark.line + 1}, column {mark.column + 1}: {problem}" if mark and problem else str(exc)
            raise InputError(f"{path}: invalid YAML ({' '.join(reason.split())})") from None
        steps_node = next((v for k, v in node.value if k.value == "steps"), None) \
            if isinstance(node, yaml.MappingNode) else None
        lines = [item.start_mark.line + 1 for item in steps_node.value] \
            if isinstance(steps_node, yaml.SequenceNode) else []
    else:
        try:
            recipe = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise InputError(f"{path}: invalid TOML ({exc})") from None
        lines = [i + 1 for i, line in enumerate(text.splitlines()) if re.match(r"\s*\[\[\s*steps\s*\]\]", line)]
    if not isinstance(recipe, dict) or not isinstance(recipe.get("steps"), list) or not recipe["steps"]:
        raise InputError(f"{path}: a recipe needs a non-empty list of steps ([[steps]] tables)")
    return recipe, lines + [0] * (len(recipe["steps"]) - len(lines))


def _check(recipe: dict, lines: list[int], networks: dict[str, torch.nn.Module], base: Path, label: str) -> None:
    """Raise InputError naming the recipe line of the first problem: step type, options, files, layers, shapes."""
    current, size = None, None
    for i, (step, line) in enumerate(zip(recipe["steps"], lines)):
        where = f"{label}, step {i + 1}" + (f" (line {line})" if line else "")
        if not isinstance(step, dict):
            raise InputError(f"{where}: a step is a table with a type, got {shown(step)}")
        kind = step.get("type")
        if not isinstance(kind, str) or kind not in STEPS:
            raise InputError(f"{where}: unknown step type {shown(kind)}; choose from {', '.join(STEPS)}")
        options = {k: v for k, v in step.items() if k != "type"}
        params = STEPS[kind].__code__.co_varnames[2:STEPS[kind].__code__.co_argcount]
        unknown = sorted(one_line(str(key)) for key in set(options) - set(params))
        if unknown:
            raise InputError(f"{where}: {kind} takes no option {', '.join(unknown)} (it takes {', '.join(params)})")
        check_options(STEPS[kind], options, where)
        target = options.get("network")
        if target is not None and target not in networks:
            raise InputError(f"{where}: network {target!r} is not listed under [networks]")
        if kind == "generate":
            current = target or next(iter(networks))
        elif kind == "project":
            if target is None:
                raise InputError(f"{where}: project needs network = <name of the target network>")
            current = target
        elif current is None:
            raise InputError(f"{where}: {kind} needs a latent: start the recipe with a generate step")
        G = networks[current]
        size = _picture_size(kind, options, G, size, where)
        if options.get("psi") is not None:
            try:
                check_truncation(G, options["psi"], options.get("cutoff"))
            except InputError as exc:
                raise InputError(f"{where}: {exc} (network {current!r})") from None
        if "layers" in options:
            try:
                resolve_layers(G, options["layers"])
            except InputError as exc:
                raise InputError(f"{where}: {exc} (network {current!r})") from None
        sources = list(options.get("sources", {}).values()) + ([options["source"]] if "source" in options else [])
        for source in sources:
            if not (isinstance(source, int) or str(source).isdigit()):
                try:
                    load_ws(_resolve(base, source), G)
                except InputError as exc:
                    raise InputError(f"{where}: {exc} (network {current!r})") from None
        if "direction" in options:
            try:
                load_direction(_direction_spec(base, options["direction"]), G.w_dim)
            except InputError as exc:
                raise InputError(f"{where}: {exc}") from None
        if kind in ("crop", "resize"):
            for later in (s.get("type") for s in recipe["steps"][i + 1:]):
                if later == "project":
                    break
                if later in ("mix", "truncate", "edit", "variants"):
                    raise InputError(f"{where}: {kind} drops the latent, but a later {later} step needs one; "
                                     f"project the picture first")


def _picture_size(kind: str, options: dict, G: torch.nn.Module, size: tuple[int, int] | None,
                  where: str) -> tuple[int, int]:
    """The picture's (height, width) after a step; a crop that would leave no pixel is refused."""
    if kind == "resize":
        return options["size"], options["size"]
    if kind == "crop":
        left, top, right, bottom = crop_bounds(options["box"], *size)
        if right <= left or bottom <= top:
            raise InputError(f"{where}: the box {options['box']} leaves no pixel of the {size[1]}x{size[0]} picture")
        return bottom - top, right - left
    if kind in ("variants", "save") and size is not None:
        return size
    return G.img_resolution, G.img_resolution


def run(recipe: str | Path | dict, seeds: list[int], psi: float | None = None, outdir: str | Path = "out",
        device: torch.device | str = "cpu", progress: Callable[[str], None] = print, overwrite: bool = False) -> dict:
    """Run a recipe for each seed; returns the run record that is also written to outdir/run.json.

    Seeds already finished in `outdir` are skipped when they were made with the same recipe and psi (recorded
    in outdir/stylegan-pipeline.json); other settings raise OutputError unless `overwrite` is given."""
    out = Path(outdir)
    check_outputs([out], [out / "run.json"] + [out / f"seed{seed:04d}" / "contact.png" for seed in seeds])
    if isinstance(recipe, dict):
        recipe_dict, lines, base, label = recipe, [0] * len(recipe.get("steps", [])), Path("."), "recipe"
    else:
        recipe_dict, lines = read_recipe(recipe)
        base, label = Path(recipe).resolve().parent, str(recipe)
    names = recipe_dict.get("networks") or {}
    if not isinstance(names, dict) or not names:
        raise InputError(f"{label}: a recipe needs a [networks] table naming at least one network")
    odd = next((path for path in names.values() if not isinstance(path, str) or not path.strip()), None)
    if odd is not None:
        raise InputError(f"{label}: [networks] names checkpoint files (text), got {shown(odd)}")
    if psi is None and not finite_number(recipe_dict.get("psi", 1.0)):
        raise InputError(f"{label}: psi must be a finite number, got {shown(recipe_dict['psi'])}")
    networks = {name: load_network(path if str(path).startswith("builtin:") else _resolve(base, path), device=device)
                for name, path in names.items()}
    _check(recipe_dict, lines, networks, base, label)
    psi = float(recipe_dict.get("psi", 1.0) if psi is None else psi)
    settings = {"recipe": recipe_dict, "psi": psi,
                "networks": {name: network_identity(str(path) if str(path).startswith("builtin:") else
                                                    str(_resolve(base, path))) for name, path in names.items()}}
    run_record = RunRecord(out, "pipeline", settings, overwrite, ("seed*/contact.png",)).check()
    record = {"recipe": recipe_dict, "seeds": seeds, "psi": psi, "versions": _versions(), "timings": {}}
    with run_record.started():
        for seed in seeds:
            folder = out / f"seed{seed:04d}"
            if (folder / "contact.png").exists():
                progress(f"seed {seed}: already done, skipping")
                continue
            record["timings"][str(seed)], count = _run_seed(recipe_dict["steps"], Context(networks, seed, psi, base),
                                                            folder)
            progress(f"seed {seed}: {count} picture{'s' * (count != 1)} in {folder}")
    with atomic_path(out / "run.json") as tmp:
        tmp.write_text(json.dumps(record, indent=2, default=str))
    return record


def _run_seed(steps: list[dict], ctx: Context, folder: Path) -> tuple[list[tuple[str, float]], int]:
    """Run the recipe's steps for one seed, writing each step's picture (and ws) and, last, the contact
    sheet that marks the seed done; returns the steps' timings and the number of pictures."""
    state, timings, sheet = None, [], []
    bar = tqdm(steps, desc=f"seed {ctx.seed}", unit="step", leave=False)
    for i, step in enumerate(bar):
        kind = step["type"]
        bar.set_postfix_str(kind)
        start = time.perf_counter()
        state = STEPS[kind](ctx, state, **{k: v for k, v in step.items() if k != "type"})
        timings.append((kind, round(time.perf_counter() - start, 3)))
        stem = f"{i + 1:02d}-{kind}"
        save_png(state.image, folder / f"{stem}.png")
        if state.ws is not None:
            save_ws(folder / f"{stem}.npz", state.ws)
        sheet.append((stem, state.image))
    for name, image, ws in ctx.outputs:
        save_png(image, folder / f"{name}.png")
        if ws is not None:
            save_ws(folder / f"{name}.npz", ws)
        sheet.append((name, image))
    save_png(_contact_sheet(sheet), folder / "contact.png")  # last: marks the seed as done
    return timings, len(sheet)


def _contact_sheet(items: list[tuple[str, np.ndarray]]) -> np.ndarray:
    size = max(image.shape[0] for _, image in items)
    cells = []
    for _, image in items:
        pil = PIL.Image.fromarray(image[:, :, 0] if image.shape[2] == 1 else image).convert("RGB")
        cells.append(np.asarray(pil.resize((size, size), PIL.Image.LANCZOS)))
    return labeled_grid([cells], None, [name for name, _ in items])


def _versions() -> dict[str, str]:
    return {"stylegan": __version__, "torch": torch.__version__, "numpy": np.__version__,
            "python": platform.python_version()}


__all__ = ["run", "read_recipe", "STEPS", "State", "Context"]
