"""Face landmark files, for aligning faces with points from one's own detector: 5 points (left eye, right eye,
nose, left and right mouth corner, left and right as seen in the picture) or dlib's 68, as x, y in pixels.

- JSON: a list of [x, y] pairs (one face of one image); or an object mapping image file names to such a
  list, or to a list of them (several faces).
- CSV: rows `x,y` (one face of one image) or `name,x,y` (the rows of one name, in order, are that image's
  face); a first row that is not numbers is a header.
"""
from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import numpy as np

from ..errors import InputError
from .files import read_json, read_text

POINT_COUNTS = (5, 68)


def _face(path: Path, where: str, value) -> np.ndarray:
    try:
        points = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{path}: {where}: landmarks must be [x, y] number pairs") from None
    if points.ndim != 2 or points.shape[1] != 2 or len(points) not in POINT_COUNTS:
        raise InputError(f"{path}: {where}: expected 5 or 68 [x, y] points, got an array of shape "
                         f"{tuple(points.shape)}")
    if not np.isfinite(points).all():
        raise InputError(f"{path}: {where}: landmarks must be finite numbers")
    return points


def _faces(path: Path, where: str, value) -> list[np.ndarray]:
    """One face (a list of pairs) or several (a list of such lists)."""
    nested = isinstance(value, list) and value and isinstance(value[0], list) and value[0] \
        and isinstance(value[0][0], list)
    return [_face(path, f"{where} face {i + 1}", v) for i, v in enumerate(value)] if nested \
        else [_face(path, where, value)]


def _from_json(path: Path) -> dict[str | None, list[np.ndarray]]:
    value = read_json(path, "landmarks")
    if isinstance(value, dict):
        if not value:
            raise InputError(f"{path}: no landmarks in this file")
        return {str(name): _faces(path, repr(name), points) for name, points in value.items()}
    return {None: _faces(path, "landmarks", value)}


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _from_csv(path: Path) -> dict[str | None, list[np.ndarray]]:
    rows = [[cell.strip() for cell in row] for row in csv.reader(io.StringIO(read_text(path, "landmarks")))
            if any(cell.strip() for cell in row)]
    if rows and any(_number(cell) is None for cell in rows[0][-2:]):
        rows = rows[1:]  # a header
    if not rows:
        raise InputError(f"{path}: no landmarks in this file")
    width = len(rows[0])
    points: dict[str | None, list[list[float]]] = {}
    for number, row in enumerate(rows, 1):
        values = [_number(cell) for cell in row[-2:]]
        if len(row) != width or width not in (2, 3) or None in values:
            raise InputError(f"{path}: row {number}: expected 'x,y' or 'name,x,y' with finite numbers, got "
                             f"{','.join(row)!r}")
        points.setdefault(row[0] if width == 3 else None, []).append(values)
    return {name: [_face(path, repr(name) if name else "landmarks", face)] for name, face in points.items()}


def read_landmarks(path: str | Path) -> dict[str | None, list[np.ndarray]]:
    """The faces [K, 2] (K = 5 or 68) of a JSON or CSV landmark file, by image file name (None: the file gives
    the points of one image without naming it). A missing or malformed file is an InputError naming it."""
    path = Path(path)
    if path.suffix.lower() not in (".json", ".csv"):
        raise InputError(f"{path}: landmark files are .json or .csv")
    return _from_json(path) if path.suffix.lower() == ".json" else _from_csv(path)


def landmarks_for(table: dict[str | None, list[np.ndarray]], image: Path) -> list[np.ndarray] | None:
    """The faces a landmark table gives for `image`: by its file name, else by its stem, else the table's
    unnamed faces; None when there are none."""
    for key in (image.name, image.stem, None):
        if key in table:
            return table[key]
    return None
