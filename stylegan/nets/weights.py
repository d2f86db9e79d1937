"""Where pretrained feature-network weights come from: local files, or their official URL on request.

Search order for each network: an explicit path (a command-line flag), an environment variable, the
torch hub cache (`$TORCH_HOME/hub/checkpoints`, by default `~/.cache/torch/hub/checkpoints`), where
PyTorch tools keep the files they download, then this package's cache (`$STYLEGAN_CACHE/weights`).
When all miss and the user agreed (`--download-weights` or STYLEGAN_DOWNLOAD=1, never in offline mode),
the official file is downloaded into that cache, checked against the hash prefix its name carries.
Weight files are read as data: state dicts with `torch.load(weights_only=True)`, TorchScript archives
with the reader in `torchscript.py`.
"""
from __future__ import annotations

import importlib.util
import os
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import torch

from ..errors import CheckpointError, StyleGANError
from ..formats.torch_files import read_torch_file, torch_error_reason
from ..hub.cache import downloads_allowed, is_offline, sha256_of as file_digest, weights_cache_path
from ..hub.download import fetch
from ..io.files import regular_file_size
from .torchscript import is_torchscript, read_torchscript_state


class WeightsMissingError(StyleGANError):
    """A pretrained weight file is needed but was not found in any of the places searched."""


@dataclass(frozen=True)
class WeightFiles:
    """The accepted files of one feature network, where the user may point to them, the official file
    fetched on request (`url`, kept in the cache as `cached_as`), and what needs them (`uses`)."""
    what: str
    files: tuple[str, ...]
    env: str
    flag: str
    url: str
    cached_as: str
    uses: str = ""


# pytorch-fid's port of the 2015-12-05 graph (its name carries its hash prefix); NVIDIA's vgg16.pt, the
# file of the official precision/recall, PPL and projector, which brings the LPIPS heads with it.
INCEPTION = WeightFiles("InceptionV3", ("pt_inception-2015-12-05-6726825d.pth", "inception-2015-12-05.pt"),
                        "STYLEGAN_INCEPTION", "--detector",
                        "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"
                        "pt_inception-2015-12-05-6726825d.pth", "pt_inception-2015-12-05-6726825d.pth", "FID and KID")
VGG16 = WeightFiles("VGG16", ("vgg16-397923af.pth", "vgg16.pt"), "STYLEGAN_VGG16", "--vgg",
                    "https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/metrics/vgg16.pt", "vgg16.pt",
                    "precision/recall, PPL and perceptual losses")
LPIPS_HEADS_ENV = "STYLEGAN_LPIPS"
LPIPS_HEADS = WeightFiles("LPIPS heads for VGG16", ("lpips-v0.1-vgg.pth",), LPIPS_HEADS_ENV, "",
                          "https://github.com/richzhang/PerceptualSimilarity/raw/master/lpips/weights/v0.1/vgg.pth",
                          "lpips-v0.1-vgg.pth")
_HASH_PREFIX = re.compile(r"-([0-9a-f]{8,})\.[A-Za-z]+$")
_CONSENT = "--download-weights (or STYLEGAN_DOWNLOAD=1)"


def hub_dir() -> Path:
    """The torch hub checkpoint folder, where downloaded weight files are kept."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def find_weights(spec: WeightFiles, path: str | Path | None = None, purpose: str | None = None) -> Path:
    """The weight file for `spec`: `path` if given, else the environment variable, else the torch hub
    cache, else this package's cache, else (with the user's consent) downloaded. The error when none is
    found names `purpose` (what the weights are wanted for), else the spec's uses."""
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
    if weights_cache_path(spec.cached_as).is_file() or (downloads_allowed() and not is_offline()):
        return download_weights(spec)
    how = ("offline mode is on, so nothing is downloaded" if is_offline() else
           f"or fetch {spec.cached_as} from its official address with {_CONSENT}")
    needed = f", needed for {purpose or spec.uses}," if purpose or spec.uses else ""
    raise WeightsMissingError(
        f"{spec.what} weights{needed} are missing: put {' or '.join(spec.files)} in {hub_dir()}, "
        f"set {spec.env}=PATH, pass {spec.flag} PATH, {how}")


def download_weights(spec: WeightFiles) -> Path:
    """The official weight file of `spec` in the cache, downloaded now if needed and verified against
    the hash prefix its official name carries (else the digest recorded at its first download)."""
    match = _HASH_PREFIX.search(spec.url)
    return fetch(spec.url, weights_cache_path(spec.cached_as), hash_prefix=match.group(1) if match else None)


def find_lpips_heads() -> Path | None:
    """The LPIPS linear heads for VGG16: $STYLEGAN_LPIPS, else `weights/v0.1/vgg.pth` of an installed
    `lpips` package (located without importing it), else the cached (or, on consent, downloaded)
    official file, else None."""
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
    if weights_cache_path(LPIPS_HEADS.cached_as).is_file() or (downloads_allowed() and not is_offline()):
        return download_weights(LPIPS_HEADS)
    return None


def read_state(path: str | Path) -> dict[str, torch.Tensor]:
    """The tensors of a weight file, by name: a state dict or a TorchScript archive, read as data."""
    path = Path(path)
    regular_file_size(path, "weights", CheckpointError)
    try:
        if zipfile.is_zipfile(path) and is_torchscript(path):
            return read_torchscript_state(path)
    except CheckpointError:
        raise
    except Exception as exc:  # zipfile raises many types for damaged archives
        raise CheckpointError(f"{path}: cannot read the weights ({torch_error_reason(exc)})") from None
    state = read_torch_file(path)
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{path}: not a state dict of tensors")
    return dict(state)
