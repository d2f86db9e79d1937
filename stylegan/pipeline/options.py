"""What each option of a recipe step may hold, checked before anything runs (`pipeline._check`): a recipe is
data from a file, and a value of the wrong kind (a text where a number goes, NaN, a date, a missing option)
would otherwise surface as an exception deep inside a step."""
from __future__ import annotations

import inspect
import math
from typing import Any, Callable

from ..errors import InputError, one_line
from ..latent import PROJECTION_METHODS
from ..latent.seeds import MAX_SEED
from ..latent.space import FLOAT32_MAX

MAX_SIZE = 8192  # pixels a side of a resized picture


def finite_number(value: Any) -> bool:
    """A finite number within float32's range (not a truth value)."""
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and (isinstance(value, int) or math.isfinite(value)) and abs(value) <= FLOAT32_MAX)


def _whole(lo: int, hi: int) -> Callable[[Any], bool]:
    return lambda value: isinstance(value, int) and not isinstance(value, bool) and lo <= value <= hi


def _seed_or_file(value: Any) -> bool:
    """A seed (a whole number, or its ASCII digits) in the official range, or the name of a ws file."""
    if isinstance(value, str) and value.isdigit():
        return value.isascii() and len(value) <= 10 and int(value) <= MAX_SEED
    return _whole(0, MAX_SEED)(value) or (isinstance(value, str) and bool(value.strip()))


def _layers(value: Any) -> bool:
    """A layer spec `resolve_layers` reads: text, a row number, or a list of row numbers."""
    def row(v: Any) -> bool:
        return isinstance(v, int) and not isinstance(v, bool)
    return isinstance(value, str) or row(value) or (isinstance(value, list) and all(map(row, value)))


def _box(value: Any) -> bool:
    return (isinstance(value, list) and len(value) == 4 and all(finite_number(v) and 0 <= v <= 1 for v in value)
            and value[0] < value[2] and value[1] < value[3])


def _name(value: Any) -> bool:
    """A plain file name (outputs are named after it): no folders, no control characters."""
    return (isinstance(value, str) and 0 < len(value) <= 100 and value.isprintable() and value not in (".", "..")
            and not any(c in value for c in "/\\"))


def _sources(value: Any) -> bool:
    return isinstance(value, dict) and bool(value) and all(_name(k) and _seed_or_file(v) for k, v in value.items())


RULES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "network": (lambda v: isinstance(v, str), "the name of a network under [networks]"),
    "psi": (finite_number, "a finite number"),
    "class_idx": (_whole(0, 1 << 31), "a whole number from 0"),
    "source": (_seed_or_file, f"a seed from 0 to {MAX_SEED} or a ws file"),
    "layers": (_layers, "'all', a band such as 'coarse', rows such as '0-3', or a list of row numbers"),
    "mode": (lambda v: isinstance(v, str) and v in ("replace", "average", "weight"),
             "'replace', 'average' or 'weight'"),
    "weight": (finite_number, "a finite number"),
    "cutoff": (_whole(0, 1 << 31), "a whole number from 0"),
    "direction": (lambda v: isinstance(v, str) and bool(v.strip()),
                  "a direction file (dirs.npz:INDEX or boundary.npy)"),
    "strength": (finite_number, "a finite number"),
    "box": (_box, "[left, top, right, bottom] in 0..1 with left < right and top < bottom"),
    "size": (_whole(1, MAX_SIZE), f"a whole number from 1 to {MAX_SIZE}"),
    "space": (lambda v: isinstance(v, str) and v in ("w", "w+"), "'w' or 'w+'"),
    "steps": (_whole(1, 1 << 31), "a whole number from 1"),
    "loss": (lambda v: isinstance(v, str) and bool(v.strip()), "a loss such as 'pixel+msssim'"),
    "method": (lambda v: isinstance(v, str) and v in PROJECTION_METHODS, f"one of {', '.join(PROJECTION_METHODS)}"),
    "seed": (_whole(0, MAX_SEED), f"a seed from 0 to {MAX_SEED}"),
    "sources": (_sources, "a table of names (plain file names) to seeds or ws files"),
    "name": (_name, "a plain file name (no folders)"),
}


def shown(value: Any) -> str:
    """A value from a recipe for an error message: one line, cut short."""
    if isinstance(value, int) and value.bit_length() > 256:
        return f"a number of about {round(value.bit_length() * math.log10(2))} digits"
    text = one_line(repr(value))
    return text if len(text) <= 60 else text[:57] + "..."


def check_options(step: Callable, options: dict[str, Any], where: str) -> None:
    """Raise InputError (prefixed by `where`) for a missing option of `step` or a value of the wrong kind."""
    parameters = list(inspect.signature(step).parameters.values())[2:]  # (after ctx, state)
    missing = [p.name for p in parameters if p.default is inspect.Parameter.empty and p.name not in options]
    if missing:
        raise InputError(f"{where}: {step.__name__[5:]} needs the option {', '.join(missing)}")
    defaults = {p.name: p.default for p in parameters}
    for key, value in options.items():
        check, wanted = RULES[key]
        if not (check(value) or (value is None and defaults[key] is None)):
            raise InputError(f"{where}: {key} must be {wanted}, got {shown(value)}")


def crop_bounds(box: list[float], height: int, width: int) -> tuple[int, int, int, int]:
    """The pixel bounds (left, top, right, bottom) of a relative crop box on a picture of this size."""
    left, top, right, bottom = (int(round(v * s)) for v, s in zip(box, (width, height, width, height)))
    return left, top, right, bottom
