"""Networks and weights from anywhere: URLs, published checkpoints by short name, and a verified cache.

`resolve_network(spec)` turns what a user passes as a network into a local file: `builtin:` names, local
paths (unchanged), http(s) URLs (downloaded once into the cache) and model-zoo names such as
`ffhq-1024-sg3t` (see `zoo.py`). `load` and `load_networks` (`stylegan.load`, `stylegan.load_networks`)
resolve first and then hand the local file to `stylegan.formats`, which reads local files only: parsing a
file never starts a download.
"""
from __future__ import annotations

import os
from pathlib import Path

from ..errors import CheckpointError
from . import builtin, zoo
from ..io.paths import user_path
from .cache import cache_root, check_url, is_offline, is_url, network_cache_path
from .download import DownloadError, OfflineError, fetch, verify_cached


def network_path(entry: zoo.Checkpoint) -> Path:
    """Where the cache keeps a zoo checkpoint."""
    return network_cache_path(entry.url, entry.file)


def download_network(spec: str, progress: bool = True) -> Path:
    """The cached file of a URL or zoo name, downloading it first when it is not cached yet."""
    if is_url(spec):
        return fetch(check_url(spec), network_cache_path(spec), progress=progress)
    entry = zoo.get(spec)
    return fetch(entry.download_url, network_path(entry), sha256=entry.sha256, progress=progress)


def resolve_network(spec: str | os.PathLike) -> str | Path:
    """The local file for a network given as a path, `builtin:` name, http(s) URL or zoo name."""
    text = str(spec)
    if text.startswith(builtin.PREFIX):
        return builtin.resolve(text)
    if is_url(text):
        return download_network(text)
    path = user_path(text)
    if path.exists():
        return path
    if zoo.find(text) is not None:
        return download_network(text)
    if "/" not in text and "\\" not in text and not path.suffix:
        raise CheckpointError(f"{text}: no such file, and not a published checkpoint name "
                              f"(`stylegan models` lists them){zoo.suggest(text)}")
    return path


def load_networks(spec: str | os.PathLike, which: tuple[str, ...] | None = None, device="cpu",
                  config: str | os.PathLike | dict | None = None) -> dict:
    """`stylegan.formats.load_networks` for a network given as a path, `builtin:` name, URL or zoo name."""
    from .. import formats
    return formats.load_networks(resolve_network(spec), which, device, config)


def load(spec: str | os.PathLike, device="cpu", which: str = "G_ema", config: str | os.PathLike | dict | None = None):
    """`stylegan.formats.load` for a network given as a path, `builtin:` name, URL or zoo name: one network
    ('G_ema', 'G' or 'D') on `device`, in eval mode."""
    from .. import formats
    return formats.load(resolve_network(spec), device, which, config)


__all__ = ["load", "load_networks", "DownloadError", "OfflineError", "cache_root", "download_network", "fetch",
           "is_offline", "is_url", "network_path", "resolve_network", "verify_cached", "zoo"]
