"""Fetch a file over HTTP(S) into the cache, safely: standard library only, nothing is executed.

The bytes go to `NAME.part` and become `NAME` only once complete and verified, so the cache never
holds a partial or unverified file under its real name. A connection that drops mid-file is resumed
with an HTTP Range request (guarded by If-Range, so a file changed on the server starts over); a run
that is interrupted (Ctrl-C) keeps `NAME.part` and resumes it next time. Every failure (HTTP status,
no network, timeout, size or hash mismatch, a web page instead of a file) removes what was written and
raises `DownloadError` with one line.
"""
from __future__ import annotations

import contextlib
import http.client
import json
import os
import socket
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from ..errors import StyleGANError
from .cache import digest_path, is_offline, sha256_of

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

DEFAULT_TIMEOUT = 60.0   # seconds without a byte before a connection is given up
MAX_ATTEMPTS = 5         # connections per download; each one after the first must follow progress
CHUNK = 1 << 20
USER_AGENT = "stylegan-downloader"


class DownloadError(StyleGANError):
    """A file could not be downloaded or verified; nothing was left in the cache."""


class OfflineError(DownloadError):
    """A file is needed from the network, but offline mode forbids it."""


class _Redirects(urllib.request.HTTPRedirectHandler):
    """Follow redirects to http(s) only, and never from https down to plain http."""

    def http_error_302(self, req, fp, code, msg, headers):
        newurl = urljoin(req.full_url, headers.get("Location") or headers.get("URI") or "")
        old, new = urlsplit(req.full_url).scheme, urlsplit(newurl).scheme.lower()
        if new not in ("http", "https") or (old == "https" and new == "http"):
            fp.close()
            raise DownloadError(f"{req.full_url}: refused a redirect to {newurl}")
        return super().http_error_302(req, fp, code, msg, headers)

    http_error_301 = http_error_303 = http_error_307 = http_error_308 = http_error_302


_OPENER = urllib.request.build_opener(_Redirects)


def verify_cached(path: Path, sha256: str | None = None) -> Path:
    """`path` if its SHA-256 matches `sha256` or the digest recorded at its download; a damaged cache
    file is removed (with its record) and reported."""
    expected = sha256 or (digest_path(path).read_text().strip() if digest_path(path).is_file() else None)
    if expected and sha256_of(path) != expected.lower():
        _remove(path, digest_path(path))
        raise DownloadError(f"{path}: the cached file no longer matches its recorded SHA-256 (damaged or "
                            f"changed); it was removed, run again to download it afresh")
    return path


def fetch(url: str, dest: Path, sha256: str | None = None, hash_prefix: str | None = None,
          timeout: float | None = None, progress: bool = True) -> Path:
    """`dest`, downloaded from `url` unless it is already cached (then verified, without network).

    `sha256`: the file's known digest; `hash_prefix`: the leading hex digits of it (torch hub's
    file-name convention). Without either, the digest of this first download is recorded and later
    uses are checked against it. `timeout`: seconds without data before giving up (default 60, or
    $STYLEGAN_TIMEOUT). Processes that fetch the same file at once (torchrun) download it once: the
    others wait for it.
    """
    if dest.is_file():
        return verify_cached(dest, sha256)
    if is_offline():
        raise OfflineError(f"{url} is not in the cache ({dest}) and offline mode is on (--offline or "
                           f"STYLEGAN_OFFLINE=1): download it where there is network (`stylegan download`) "
                           f"and copy it to that path")
    if timeout is None:
        try:
            timeout = float(os.environ.get("STYLEGAN_TIMEOUT", DEFAULT_TIMEOUT))
        except ValueError:
            raise DownloadError(f"STYLEGAN_TIMEOUT={os.environ['STYLEGAN_TIMEOUT']!r}: give a number of "
                                f"seconds") from None
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        lock = _lock(dest)
    except OSError as exc:
        raise DownloadError(f"{url}: cannot write to the cache {dest.parent} ({_one_line(exc)}); set "
                            f"STYLEGAN_CACHE to a writable folder") from None
    with lock:
        if dest.is_file():   # another process finished it while this one waited
            return verify_cached(dest, sha256)
        _fetch_unlocked(url, dest, sha256, hash_prefix, timeout, progress)
    return dest


@contextlib.contextmanager
def _lock(dest: Path):
    """Hold an exclusive lock on `dest`: the file `.NAME.lock` beside it, removed by its holder when done (a
    waiter that then finds its lock file gone, or replaced, opens the new one); without fcntl (Windows)
    nothing is locked."""
    if fcntl is None:
        yield
        return
    path = dest.with_name(f".{dest.name}.lock")
    while True:
        f = open(path, "a")
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            if os.stat(path).st_ino == os.fstat(f.fileno()).st_ino:
                break
        except FileNotFoundError:
            pass
        f.close()  # the holder before us removed this file: lock the current one
    try:
        yield
    finally:
        path.unlink(missing_ok=True)
        fcntl.flock(f, fcntl.LOCK_UN)
        f.close()


def _fetch_unlocked(url: str, dest: Path, sha256: str | None, hash_prefix: str | None, timeout: float,
                    progress: bool) -> None:
    part = dest.with_name(dest.name + ".part")
    meta = dest.with_name(dest.name + ".part.json")
    record = digest_path(dest).with_name(digest_path(dest).name + ".tmp")
    try:
        _download(url, part, meta, timeout, progress)
        digest = sha256_of(part)
        if sha256 and digest != sha256.lower():
            raise DownloadError(f"{url}: hash mismatch: SHA-256 {digest}, expected {sha256}")
        if hash_prefix and not digest.startswith(hash_prefix.lower()):
            raise DownloadError(f"{url}: hash mismatch: SHA-256 {digest} does not start with {hash_prefix} "
                                f"as its file name says")
        record.write_text(digest + "\n")
        os.replace(record, digest_path(dest))
        os.replace(part, dest)
        meta.unlink(missing_ok=True)
    except Exception as exc:
        _remove(part, meta, record)
        if isinstance(exc, DownloadError):
            raise
        raise DownloadError(f"{url}: cannot write {dest} ({exc.__class__.__name__}: {_one_line(exc)})") from None


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def _remove(*paths: Path) -> None:
    for path in paths:
        try:
            path.unlink(missing_ok=True)
        except OSError:
            pass


def _download(url: str, part: Path, meta: Path, timeout: float, progress: bool) -> None:
    """Fill `part` with the whole file, resuming it across dropped connections."""
    from tqdm import tqdm

    validator = json.loads(meta.read_text()).get("validator") if meta.is_file() and part.is_file() else None
    if part.is_file() and not validator:
        part.unlink()   # a leftover we cannot safely continue
    bar, total = None, None
    try:
        for _ in range(MAX_ATTEMPTS):
            offset = part.stat().st_size if part.is_file() else 0
            response = _open(url, offset, validator, timeout)
            if response is None:
                part.unlink()
                validator = None
                continue
            with response:
                if response.status == 200 and offset:
                    offset = 0   # the server ignored the range or the file changed: start over
                length = _length(response)
                total = offset + length if length is not None else None
                validator = response.headers.get("ETag") or response.headers.get("Last-Modified")
                meta.write_text(json.dumps({"url": url, "validator": validator}))
                if bar is None:
                    bar = tqdm(total=total, initial=offset, unit="B", unit_scale=True, unit_divisor=1024,
                               desc=part.name[:-5], disable=not progress, leave=False)
                else:
                    bar.reset(total=total)
                    bar.update(offset)
                received, clean = _copy(response, part, offset, timeout, bar)
            size = part.stat().st_size
            if size == total or (total is None and clean):
                return
            if received == 0:
                break   # no progress on this connection: do not hammer the server
        raise DownloadError(f"{url}: size mismatch: the server announced {total} bytes but sent "
                            f"{part.stat().st_size}")
    finally:
        if bar is not None:
            bar.close()


def _open(url: str, offset: int, validator: str | None, timeout: float):
    """The server's response to a GET of `url` from byte `offset` (None when the server has nothing
    past `offset`)."""
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
        if validator:
            headers["If-Range"] = validator
    host = urlsplit(url).netloc
    try:
        response = _OPENER.open(urllib.request.Request(url, headers=headers), timeout=timeout)
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code == 416 and offset:
            return None   # nothing past what we hold (a complete leftover?): the caller starts over
        reason = "too many redirects (a redirect loop?)" if 300 <= exc.code < 400 else _one_line(exc.reason)
        raise DownloadError(f"{url}: HTTP {exc.code} {reason}") from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, (socket.timeout, TimeoutError)):
            raise DownloadError(f"{url}: no answer from {host} within {timeout:g} s (timeout)") from None
        raise DownloadError(f"{url}: cannot reach {host} ({_one_line(reason)}); check the network, or use files "
                            f"already downloaded with --offline") from None
    except (socket.timeout, TimeoutError):
        raise DownloadError(f"{url}: no answer from {host} within {timeout:g} s (timeout)") from None
    except (http.client.HTTPException, OSError) as exc:
        raise DownloadError(f"{url}: the connection to {host} failed ({exc.__class__.__name__}: "
                            f"{_one_line(exc)})") from None
    if response.status not in (200, 206):
        response.close()
        raise DownloadError(f"{url}: HTTP {response.status} {response.reason}")
    if offset and response.status == 206 and not response.headers.get("Content-Range", "").startswith(
            f"bytes {offset}-"):
        response.close()
        raise DownloadError(f"{url}: the server resumed at the wrong place "
                            f"({response.headers.get('Content-Range')}, expected byte {offset})")
    if response.headers.get_content_type() == "text/html":
        response.close()
        raise DownloadError(f"{url}: the server sent a web page, not the file (a login or a download "
                            f"confirmation page?); download it in a browser and pass the file instead")
    return response


def _length(response) -> int | None:
    value = response.headers.get("Content-Length")
    return int(value) if value is not None and value.strip().isdigit() else None


def _copy(response, part: Path, offset: int, timeout: float, bar) -> tuple[int, bool]:
    """Append the response body to `part` (truncated to `offset`): the number of bytes received, and
    whether the body ended normally. A connection that drops or stalls after sending something ends
    the copy (the caller decides whether to resume); one that sends nothing at all is an error."""
    received = 0
    with open(part, "r+b" if part.is_file() else "wb") as f:
        f.truncate(offset)
        f.seek(offset)
        while True:
            try:
                chunk = response.read(CHUNK)
            except (http.client.IncompleteRead, ConnectionError, socket.timeout, TimeoutError, OSError):
                if received == 0:
                    raise _stalled(response, timeout) from None
                return received, False
            if not chunk:
                return received, True
            f.write(chunk)
            received += len(chunk)
            bar.update(len(chunk))


def _stalled(response, timeout: float) -> DownloadError:
    return DownloadError(f"{response.url}: the connection dropped or sent nothing for {timeout:g} s "
                         f"(timeout)")


def remote_size(url: str, timeout: float = 10.0) -> int | None:
    """The size the server announces for `url` (a HEAD request), or None when it says nothing or
    cannot be reached. Never called in offline mode."""
    if is_offline():
        return None
    request = urllib.request.Request(url, method="HEAD", headers={"User-Agent": USER_AGENT,
                                                                  "Accept-Encoding": "identity"})
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            if response.headers.get_content_type() == "text/html":
                return None
            return _length(response)
    except (urllib.error.URLError, http.client.HTTPException, OSError, DownloadError):
        return None
