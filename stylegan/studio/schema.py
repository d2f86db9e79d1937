"""The requests the studio accepts, checked before anything acts on them: each route's JSON body (its keys, their
types, text lengths, number ranges) and the projection's query string. The settings record inside a body is
checked by `Settings.from_dict` (stylegan/latent/settings.py). A violation is an InputError (answered 400) that
names the field."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping

from ..errors import InputError
from ..latent.settings import MAX_INDEX, MAX_PATH, Settings

MAX_CLIENT_ID = 64
MAX_LAYER_NAME = 200
MAX_STEPS = 10000
DEFAULT_STEPS = 100
_DIGITS = re.compile(r"[0-9]{1,10}")  # ASCII digits only: int() would also take '١٢' or '²'-like digits


@dataclass(frozen=True)
class View:
    """The layer view asked for with a frame: one layer's channel (or three channels from it, as RGB)."""
    layer: str
    channel: int = 0
    rgb: bool = False


def _show(value: Any) -> str:
    text = repr(value) if not isinstance(value, int) or value.bit_length() <= 256 else "a very large number"
    return text if len(text) <= 60 else text[:57] + "..."


def _invalid(name: str, wanted: str, value: Any) -> InputError:
    return InputError(f"invalid {name!r}: {wanted}, got {_show(value)}")


def _object(data: Any, name: str, required: tuple[str, ...], optional: tuple[str, ...]) -> dict[str, Any]:
    """`data` as a dict holding every required key and no key outside required + optional."""
    if not isinstance(data, dict):
        raise _invalid(name, "a JSON object is needed", data)
    unknown = sorted(set(data) - set(required) - set(optional))
    if unknown:
        raise InputError(f"unknown keys {_show(unknown)} in {name}; known ones are {sorted(required + optional)}")
    missing = [key for key in required if key not in data]
    if missing:
        raise InputError(f"{name} needs {', '.join(repr(key) for key in missing)}")
    return data


def _text(value: Any, name: str, limit: int = MAX_PATH) -> str:
    """A JSON string of at most `limit` characters, without NUL, that UTF-8 can encode."""
    if not isinstance(value, str):
        raise _invalid(name, "a text is needed", value)
    if len(value) > limit or "\x00" in value:
        raise _invalid(name, f"a text of at most {limit} characters, without NUL, is needed", value)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise _invalid(name, "valid Unicode text is needed", value) from None
    return value


def _settings(value: Any, name: str) -> dict[str, Any]:
    """A settings record (a JSON object), checked by Settings.from_dict and passed on as it came."""
    if not isinstance(value, dict):
        raise _invalid(name, "a JSON object is needed", value)
    Settings.from_dict(value)
    return value


def network_body(data: Any) -> tuple[str, dict[str, Any]]:
    """POST /api/network {"network": path or name, "settings"?: settings} -> (network, settings)."""
    data = _object(data, "the request", ("network",), ("settings",))
    return _text(data["network"], "network"), _settings(data.get("settings", {}), "settings")


def render_body(data: Any) -> tuple[dict[str, Any], View | None, str | None]:
    """POST /api/render {"settings"?, "view"?: null or {"layer", "channel"?, "rgb"?}, "client"?: text}
    -> (settings, view or None when no layer is chosen, client)."""
    data = _object(data, "the request", (), ("settings", "view", "client"))
    client = data.get("client")
    client = None if client is None else _text(client, "client", MAX_CLIENT_ID)
    return _settings(data.get("settings", {}), "settings"), _view(data.get("view")), client


def _view(value: Any) -> View | None:
    if value is None:
        return None
    value = _object(value, "view", ("layer",), ("channel", "rgb"))
    layer = _text(value["layer"], "view.layer", MAX_LAYER_NAME)
    channel, rgb = value.get("channel", 0), value.get("rgb", False)
    if isinstance(channel, bool) or not isinstance(channel, int) or not 0 <= channel <= MAX_INDEX:
        raise _invalid("view.channel", f"a whole number from 0 to {MAX_INDEX} is needed", channel)
    if not isinstance(rgb, bool):
        raise _invalid("view.rgb", "true or false is needed", rgb)
    return View(layer, channel, rgb) if layer else None


def capture_body(data: Any) -> dict[str, Any]:
    """POST /api/capture {"settings": settings} -> settings."""
    return _settings(_object(data, "the request", ("settings",), ())["settings"], "settings")


def direction_body(data: Any) -> tuple[str, str]:
    """POST /api/direction {"file": path[:N], "network": name} -> (file, network)."""
    data = _object(data, "the request", ("file", "network"), ())
    return _text(data["file"], "file"), _text(data["network"], "network")


def projection_query(query: Mapping[str, str]) -> tuple[str, int, int | None]:
    """POST /api/project?network=...&steps=N&class=K (other parameters, such as the token, are not read)
    -> (network, steps, class or None)."""
    network = _text(query.get("network", ""), "network")
    steps = query.get("steps", str(DEFAULT_STEPS))
    if not _DIGITS.fullmatch(steps) or not 1 <= int(steps) <= MAX_STEPS:
        raise _invalid("steps", f"projection steps are a whole number from 1 to {MAX_STEPS}", steps)
    class_idx = query.get("class", "")
    if class_idx != "" and not _DIGITS.fullmatch(class_idx):
        raise _invalid("class", "a class is a whole number from 0", class_idx)
    return network, int(steps), int(class_idx) if class_idx != "" else None
