"""Where pretrained feature-network weights come from: local files only, never a download.

Search order for each network: an explicit path (a command-line flag), an environment variable, then
the torch hub cache (`$TORCH_HOME/hub/checkpoints`, by default `~/.cache/torch/hub/checkpoints`), where
PyTorch tools keep the files they download. Weight files are read as data: state dicts with
`torch.load(weights_only=True)`, TorchScript archives with the reader in `torchscript.py`.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import torch

from ..errors import CheckpointError, StyleGANError
from .torchscript import is_torchscript, read_torchscript_state


class WeightsMissingError(StyleGANError):
    """A pretrained weight file is needed but was not found in any of the places searched."""


@dataclass(frozen=True)
class WeightFiles:
    """The accepted files of one feature network, where the user may point to them, and what needs them."""
    what: str
    files: tuple[str, ...]
    env: str
    flag: str
    uses: str


INCEPTION = WeightFiles("InceptionV3", ("pt_inception-2015-12-05-6726825d.pth", "inception-2015-12-05.pt"),
                        "STYLEGAN_INCEPTION", "--detector", "FID and KID")
VGG16 = WeightFiles("VGG16", ("vgg16-397923af.pth", "vgg16.pt"), "STYLEGAN_VGG16", "--vgg", "precision/recall and PPL")
LPIPS_HEADS_ENV = "STYLEGAN_LPIPS"


def hub_dir() -> Path:
    """The torch hub checkpoint folder, where downloaded weight files are kept."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def find_weights(spec: WeightFiles, path: str | Path | None = None, purpose: str | None = None) -> Path:
    """The weight file for `spec`: `path` if given, else the environment variable, else the hub cache. The
    error when none is found names `purpose` (what the weights are wanted for), else the spec's uses."""
    if path is not None:
        path = Path(path).expanduser()
        if not path.is_file():
            raise WeightsMissingError(f"{spec.flag} {path}: no such file")
        return path
    env = os.environ.get(spec.env)
    if env:
        path = Path(env).expanduser()
        if not path.is_file():
            raise WeightsMissingError(f"{spec.env}={env}: no such file")
        return path
    for name in spec.files:
        if (hub_dir() / name).is_file():
            return hub_dir() / name
    raise WeightsMissingError(
        f"{spec.what} weights, needed for {purpose or spec.uses}, are missing: put {' or '.join(spec.files)} in "
        f"{hub_dir()}, set {spec.env}=PATH, or pass {spec.flag} PATH (nothing is downloaded)")


def find_lpips_heads() -> Path | None:
    """The LPIPS linear heads for VGG16: $STYLEGAN_LPIPS, else `weights/v0.1/vgg.pth` of an installed
    `lpips` package (located without importing it), else None."""
    env = os.environ.get(LPIPS_HEADS_ENV)
    if env:
        if not Path(env).is_file():
            raise WeightsMissingError(f"{LPIPS_HEADS_ENV}={env}: no such file")
        return Path(env)
    spec = importlib.util.find_spec("lpips")
    for folder in (spec.submodule_search_locations or []) if spec is not None else []:
        candidate = Path(folder) / "weights" / "v0.1" / "vgg.pth"
        if candidate.is_file():
            return candidate
    return None


def read_state(path: str | Path) -> dict[str, torch.Tensor]:
    """The tensors of a weight file, by name: a state dict or a TorchScript archive, read as data."""
    path = Path(path)
    try:
        if zipfile.is_zipfile(path) and is_torchscript(path):
            return read_torchscript_state(path)
        state = torch.load(path, map_location="cpu", weights_only=True)
    except CheckpointError:
        raise
    except Exception as exc:  # torch.load raises many types for damaged or unsafe files
        raise CheckpointError(f"{path}: cannot read the weights ({type(exc).__name__}: {exc})") from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{path}: not a state dict of tensors")
    return dict(state)


def file_digest(path: str | Path) -> str:
    """SHA-256 of a file, for cache keys that must change when the weights do."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
