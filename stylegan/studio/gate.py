"""Who may talk to the studio: its own page, holding its token. An ASGI middleware checks, in order, the
Host header (loopback names only when bound to loopback: no DNS rebinding), the token (cookie,
`Authorization: token VALUE` or `?token=`), that the request comes from the studio's own page (Origin,
Referer and Sec-Fetch-Site, when present) and that state-changing requests carry a content type no
other site can send without the browser asking first. No CORS headers are ever sent, and no websocket is
accepted (no route needs one)."""
from __future__ import annotations

import hashlib
import ipaddress
import secrets
from typing import Iterable
from urllib.parse import parse_qs, urlsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import InputError

ADMITTED = "stylegan.studio.admitted"  # set to True in the scope of a request the gate lets through
JSON = "application/json"
UPLOAD = "application/octet-stream"
SAFE_METHODS = ("GET", "HEAD")
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
    "content-security-policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
                               "form-action 'none'; base-uri 'none'",
}


def new_token() -> str:
    """A fresh random token (43 URL-safe characters)."""
    return secrets.token_urlsafe(32)


def host_name(host: str) -> str:
    """The name part of a Host header or address: 'localhost:7860' -> 'localhost', '[::1]:80' -> '::1'."""
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def is_loopback(host: str) -> bool:
    """True for 'localhost' and loopback addresses (127.0.0.0/8, ::1)."""
    name = host_name(host).lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_exposure(host: str, token: str) -> str | None:
    """None on loopback; off loopback, the warning to print (and an InputError when the token is off)."""
    if is_loopback(host):
        return None
    if not token:
        raise InputError(f"--token '' (no token) is allowed only on a loopback address, not on --host {host}; "
                         f"drop --token to get a random one")
    return (f"warning: --host {host} lets every machine that can reach this one use the studio: anyone who "
            f"learns the token (sent in clear over plain HTTP) can read the allowed folders, write captures and "
            f"use this machine's CPU/GPU. Prefer the default 127.0.0.1 with an SSH tunnel (ssh -L).")


def studio_url(host: str, port: int, token: str) -> str:
    """The URL to open: http://HOST:PORT/ with ?token=... when there is a token."""
    name = f"[{host}]" if ":" in host else host
    name = "127.0.0.1" if name in ("0.0.0.0", "[::]") else name
    return f"http://{name}:{port}/" + (f"?token={token}" if token else "")


def cookie_name(token: str) -> str:
    """The token cookie's name, distinct per token, so that studios on other ports keep their own."""
    return "stylegan-studio-" + hashlib.sha256(token.encode()).hexdigest()[:12]


class Gate:
    """ASGI middleware answering 400/403/415 (JSON `{"error": ...}`) to requests that are not the studio's
    own, and adding the security headers (and, for the page opened with ?token=, the cookie) to the rest.
    `uploads` are the paths whose POST body is a file (content type application/octet-stream)."""

    def __init__(self, app: ASGIApp, host: str, token: str, uploads: Iterable[str] = ()) -> None:
        self.app = app
        self.loopback = is_loopback(host)
        self.token = token
        self.cookie = cookie_name(token)
        self.uploads = set(uploads)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})  # before accepting: the server answers 403
            return
        if scope["type"] != "http":
            return
        headers = Headers(scope=scope)
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        refusal = self.refusal(scope, headers, query)
        if refusal is not None:
            status, message = refusal
            response = JSONResponse({"error": message}, status_code=status, headers=SECURITY_HEADERS)
            await response(scope, receive, send)
            return
        scope[ADMITTED] = True
        set_cookie = bool(self.token) and scope["path"] == "/" and self._matches(query.get("token", []))

        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                out = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    out[name] = value
                if set_cookie:
                    out.append("set-cookie", f"{self.cookie}={self.token}; Path=/; HttpOnly; SameSite=Strict")
            await send(message)
        await self.app(scope, receive, send_secured)

    def refusal(self, scope: Scope, headers: Headers, query: dict[str, list[str]]) -> tuple[int, str] | None:
        """(status, message) when the request must be refused, else None."""
        host = headers.get("host", "")
        if self.loopback and not is_loopback(host):
            return 400, "invalid host header: this studio answers only to loopback names (127.0.0.1, localhost)"
        if self.token and not self._has_token(headers, query):
            return 403, "this studio needs its token: open the URL it printed when it started (with ?token=...)"
        method, path = scope["method"], scope["path"]
        page = method in SAFE_METHODS and path == "/" and headers.get("sec-fetch-dest", "document") == "document"
        if not page and not self._same_origin(headers, scope.get("scheme", "http"), host):
            return 403, "requests from other sites are refused: use the studio's own page"
        if method not in SAFE_METHODS:
            wanted = UPLOAD if path in self.uploads else JSON
            given = headers.get("content-type", "").split(";")[0].strip().lower()
            if given != wanted:
                return 415, f"this request needs Content-Type: {wanted} (got {given or 'none'})"
        return None

    def _has_token(self, headers: Headers, query: dict[str, list[str]]) -> bool:
        scheme, _, value = headers.get("authorization", "").partition(" ")
        offered = [value.strip()] if scheme.lower() == "token" else []
        offered += query.get("token", [])
        offered += [v for k, v in _cookies(headers) if k == self.cookie]
        return self._matches(offered)

    def _matches(self, offered: list[str]) -> bool:
        return any(secrets.compare_digest(v.encode(), self.token.encode()) for v in offered)

    @staticmethod
    def _same_origin(headers: Headers, scheme: str, host: str) -> bool:
        """Origin (else Referer), when present, names this scheme and host; Sec-Fetch-Site, when present, says
        so too. An Origin or Referer that is not a URL (e.g. 'http://[') is another origin."""
        source = headers.get("origin") or headers.get("referer")
        if source is not None:
            try:
                parts = urlsplit(source)
            except ValueError:
                return False
            if (parts.scheme.lower(), parts.netloc.lower()) != (scheme.lower(), host.lower()):
                return False
        return headers.get("sec-fetch-site", "same-origin") in ("same-origin", "none")


def _cookies(headers: Headers) -> list[tuple[str, str]]:
    pairs = []
    for header in headers.getlist("cookie"):
        for part in header.split(";"):
            name, sep, value = part.strip().partition("=")
            if sep:
                pairs.append((name, value))
    return pairs
