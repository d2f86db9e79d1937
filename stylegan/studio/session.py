"""What one studio serves: the networks in memory, the file allow-list, frames, captures and projections."""
from __future__ import annotations

import base64
import copy
import io
import logging
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import PIL.Image
import torch

from .. import hub
from ..errors import InputError, StyleGANError
from ..hub import is_url, zoo
from ..hub.builtin import DEMO, PREFIX, has_demo
from ..io.images import read_image, save_png
from ..io.latents import load_directions, load_ws, save_ws
from ..latent.projection import project
from ..latent.settings import (
    Direction,
    Resolver,
    Settings,
    adapt,
    has_transform,
    render_settings,
    save_settings,
    synthesize,
)
from ..models.common import style_ranges
from . import layers
from .paths import PathGuard, is_file, reading, real, shown
from .render import Busy
from .schema import View

MAX_UPLOAD = 20 * 1024 * 1024
BUSY = "a projection is already running; wait for it to finish"


def png_data_url(image: np.ndarray) -> str:
    """uint8 [H, W, C] -> a data: URL of its PNG."""
    image = image[:, :, 0] if image.shape[2] == 1 else image
    buffer = io.BytesIO()
    PIL.Image.fromarray(image).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


class _Resolver(Resolver):
    """The settings' resolver, with direction files read through `reading` (a damaged file is an InputError)."""

    def direction(self, G: torch.nn.Module, d: Direction) -> tuple[np.ndarray, float]:
        """See Resolver.direction."""
        if d.kind != "file":
            return super().direction(G, d)
        with reading(d.file or "direction file"):
            return super().direction(G, d)


class Session:
    """Networks given at start, paths typed in (confined to the networks' folders, the current folder, the
    capture folder and `allow_dirs`), captures and projections written to `outdir`, one projection at a time.
    Methods raise StyleGANError for bad input (`paths.Refused` for a path outside, `Busy` when projecting)."""

    def __init__(self, networks: list[str], allow_dirs: list[str] = (), outdir: str | Path = "studio-captures",
                 device: torch.device | str = "cpu"):
        self.outdir = Path(outdir).resolve()
        self.guard = PathGuard.for_studio(networks, allow_dirs, self.outdir)
        self.device = torch.device(device)
        self.given = [self._name(n) for n in networks]
        self.networks = self.given + ([DEMO] if has_demo() and DEMO not in self.given else [])
        self._models: dict[str, torch.nn.Module] = {}
        self._lock = threading.Lock()  # one user of G at a time
        self._files = threading.Lock()  # one writer of the capture folder at a time
        self.resolver = _Resolver(check=self.check_path)
        self.projection: dict[str, Any] = {"state": "idle"}
        self._projecting = threading.Lock()  # held while a projection runs
        self.worker: threading.Thread | None = None

    @staticmethod
    def _name(name: str) -> str:
        if str(name).startswith(PREFIX) or is_url(name) or zoo.find(name) is not None:
            return str(name)  # downloaded into the cache by hub.load; only those given at start are offered
        return str(real(name))

    def check_path(self, path: str | Path) -> Path:
        """The resolved path (symlinks followed), if it lies inside a folder the studio may read."""
        return self.guard.check(path)

    def model(self, name: str) -> torch.nn.Module:
        """The network `name` (loaded once); paths not given at start go through the allow-list."""
        if not name:
            raise InputError("no network chosen: type a checkpoint path or pick one from the list")
        name = self._name(name)
        if name not in self._models:
            if name not in self.given and not name.startswith(PREFIX):
                if not is_file(self.check_path(name)):
                    raise InputError(f"{shown(name)}: no such checkpoint file")
            with reading(name):
                G = hub.load(name, device=self.device)
            self._models = {name: G}  # keep one network in memory
            if name not in self.networks:
                self.networks.append(name)
        return self._models[name]

    def info(self, name: str) -> dict[str, Any]:
        """What the page needs to build its controls for network `name`."""
        G = self.model(name)
        s = Settings(network=name, class_idx=0 if G.c_dim else None)
        with self._lock:
            table = layers.layer_table(G, lambda: synthesize(G, render_settings(G, s, self.resolver)[1], s))
        return {"network": self._name(name), "networks": self.networks, "generation": G.generation,
                "resolution": G.img_resolution, "num_ws": G.num_ws, "c_dim": G.c_dim,
                "noise_layers": len(G.synthesis.noise_layers()), "transform": has_transform(G),
                "ranges": style_ranges(G),
                "layers": [vars(info) for info in table], "device": str(self.device)}

    def switch(self, name: str, settings: dict[str, Any]) -> dict[str, Any]:
        """Info for network `name` and the current settings adapted to it."""
        s = Settings.from_dict({**settings, "network": name})
        info = self.info(name)
        G = self.model(name)
        s.network = info["network"]
        s = adapt(s, G)
        if s.ws_file is not None:
            try:
                self._ws(s, G)
            except InputError:
                s.ws_file = None  # ws of another network: back to the seed
        return {"info": info, "settings": s.to_dict()}

    def _ws(self, s: Settings, G: torch.nn.Module) -> torch.Tensor | None:
        """The ws of the settings' ws file (None without one), read through the allow-list and `reading`."""
        if s.ws_file is None:
            return None
        path = self.resolver.path(s.ws_file)
        with reading(path):
            return load_ws(path, G)[:1]

    def render(self, settings: dict[str, Any], view: View | None = None) -> dict[str, Any]:
        """One frame: the image as a PNG data URL, the render time, and the layer view when asked for."""
        s = Settings.from_dict(settings)
        G = self.model(s.network)
        base_ws = self._ws(s, G)
        with self._lock:
            start = time.perf_counter()
            image, ws = render_settings(G, s, self.resolver, base_ws)
            ms = (time.perf_counter() - start) * 1000
            out = {"image": png_data_url(image), "ms": ms, "device": str(self.device)}
            if view is not None:
                features = layers.capture(G, view.layer, lambda: synthesize(G, ws, s))
                out["activations"] = png_data_url(layers.activation_image(features, view.channel, view.rgb))
                out["spectrum"] = png_data_url(layers.spectrum_image(features, view.channel, view.rgb))
        return out

    def capture(self, settings: dict[str, Any]) -> dict[str, str]:
        """Write captureNNNN.png, its ws (.npz) and its settings (.json) to the capture folder."""
        s = Settings.from_dict(settings)
        G = self.model(s.network)
        base_ws = self._ws(s, G)
        with self._lock:
            image, ws = render_settings(G, s, self.resolver, base_ws)
        with self._files:
            stem = self._next_name("capture")
            save_ws(stem.with_suffix(".npz"), ws)
            save_settings(stem.with_suffix(".json"), s)
            save_png(image, stem.with_suffix(".png"))
        return {kind: str(stem.with_suffix("." + kind)) for kind in ("png", "npz", "json")}

    def _next_name(self, prefix: str) -> Path:
        self.outdir.mkdir(parents=True, exist_ok=True)
        taken = {p.stem for p in self.outdir.glob(f"{prefix}*")}
        return self.outdir / next(f"{prefix}{i:04d}" for i in range(len(taken) + 1) if f"{prefix}{i:04d}" not in taken)

    def direction_count(self, file: str, network: str) -> int:
        """How many directions a direction file holds (checked against the network's w size)."""
        G = self.model(network)
        path, _ = self.guard.check_spec(file)
        with reading(path):
            return len(load_directions(path, G.w_dim)[0])

    def start_projection(self, data: bytes, network: str, steps: int, class_idx: int | None = None) -> None:
        """Project an uploaded image in a background thread; `projection` reports progress and the result."""
        self.check_projection_free()
        if len(data) > MAX_UPLOAD:
            raise InputError(f"the upload is too large ({len(data) // 2 ** 20} MiB; the limit is "
                             f"{MAX_UPLOAD // 2 ** 20} MiB)")
        if not 1 <= steps <= 10000:
            raise InputError(f"projection steps must be between 1 and 10000, got {steps}")
        G = self.model(network)
        if class_idx is not None and not 0 <= class_idx < G.c_dim:
            raise InputError(f"class {class_idx} is out of range: this network has classes 0..{G.c_dim - 1}"
                             if G.c_dim else "this network is unconditional: leave the class out")
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "upload"
            path.write_bytes(data)
            try:
                with reading("the upload"):
                    target = read_image(path, resolution=G.img_resolution, channels=G.img_channels)
            except InputError:
                raise InputError("the upload is not a readable image (PNG, JPEG, ...)") from None
        with self._lock:
            G = copy.deepcopy(G)
        if not self._projecting.acquire(blocking=False):
            raise Busy(BUSY)
        self.projection = {"state": "running", "step": 0, "steps": steps, "loss": None}
        self.worker = threading.Thread(target=self._project, args=(G, target, steps, class_idx), daemon=True)
        self.worker.start()

    def check_projection_free(self) -> None:
        """Busy while a projection runs (the studio runs one at a time)."""
        if self._projecting.locked():
            raise Busy(BUSY)

    def _project(self, G, target: np.ndarray, steps: int, class_idx: int | None) -> None:
        def progress(step: int, info: dict) -> None:
            self.projection = {**self.projection, "step": step + 1, "loss": info["loss"]}
        try:
            result = project(G, target, num_steps=steps, class_idx=class_idx, callback=progress, progress=False)
            with self._files:
                path = self._next_name("projected").with_suffix(".npz")
                save_ws(path, result.ws[:1])
            self.projection = {**self.projection, "state": "done", "ws_file": str(path)}
        except StyleGANError as exc:
            self.projection = {**self.projection, "state": "error", "error": str(exc)}
        except Exception:  # never kill the server; the traceback goes to the log, not to the page
            logging.getLogger("stylegan.studio").exception("studio: the projection failed")
            self.projection = {**self.projection, "state": "error", "error": "the projection failed: internal "
                               "error (see the server log)"}
        finally:
            self._projecting.release()
