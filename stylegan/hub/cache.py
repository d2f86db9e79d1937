"""Where downloaded files live, and the user's say on whether the network may be used.

`$STYLEGAN_CACHE` (default `~/.cache/stylegan`) holds `networks/` (checkpoints fetched by URL or
model-zoo name) and `weights/` (feature-network weights). Each cached file has a `NAME.sha256` beside
it: the digest it was verified against, or, when none was published, the digest of its first download,
so that later uses notice a changed or damaged file. `STYLEGAN_OFFLINE=1` (`--offline`) forbids any
network access; `STYLEGAN_DOWNLOAD=1` (`--download-weights`) allows feature-network weights to be fetched.
"""
from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

from ..errors import CheckpointError
from ..runtime import CACHE_ENV, cache_root  # noqa: F401 (the cache's home, re-exported)

OFFLINE_ENV = "STYLEGAN_OFFLINE"
DOWNLOAD_ENV = "STYLEGAN_DOWNLOAD"
_TRUE = ("1", "true", "yes", "on")


def is_offline() -> bool:
    """True when the user forbade network access (STYLEGAN_OFFLINE=1 or --offline)."""
    return os.environ.get(OFFLINE_ENV, "").strip().lower() in _TRUE


def downloads_allowed() -> bool:
    """True when the user agreed to fetch missing feature-network weights (STYLEGAN_DOWNLOAD=1 or
    --download-weights)."""
    return os.environ.get(DOWNLOAD_ENV, "").strip().lower() in _TRUE


def is_url(text: str | os.PathLike) -> bool:
    """True for http:// and https:// addresses."""
    return str(text).lower().startswith(("http://", "https://"))


def check_url(url: str) -> str:
    """`url` when it is a well-formed http(s) address with a host; a CheckpointError saying what is wrong
    otherwise."""
    try:
        parts = urlsplit(url)
        parts.port  # parsing the port raises ValueError for a bad one
    except ValueError as exc:
        raise CheckpointError(f"{url}: not a valid address ({exc})") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise CheckpointError(f"{url}: not a valid address (http:// or https:// and a host name are needed)")
    return url


def url_file_name(url: str) -> str:
    """The last path segment of a URL, reduced to safe characters ('download' when there is none)."""
    name = unquote(urlsplit(url).path.rsplit("/", 1)[-1])
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._")
    return name or "download"


def network_cache_path(url: str, file_name: str | None = None) -> Path:
    """The cache file of a network URL: `networks/<first 12 hex of SHA-256(url)>-<file name>`, so that
    equal file names from different addresses never collide (`file_name` overrides the URL's)."""
    key = hashlib.sha256(url.encode()).hexdigest()[:12]
    return cache_root() / "networks" / f"{key}-{file_name or url_file_name(url)}"


def weights_cache_path(file_name: str) -> Path:
    """The cache file of a feature-network weight file, under its official name."""
    return cache_root() / "weights" / file_name


def digest_path(path: Path) -> Path:
    """The file beside `path` that records its SHA-256."""
    return path.with_name(path.name + ".sha256")


def sha256_of(path: str | Path) -> str:
    """SHA-256 of a file, as hex."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
