"""Connection limits for the studio's HTTP server, so that sockets opened and left silent, or fed a byte at a
time, cannot keep the studio's own page from answering.

- A request's head must be complete within `header_timeout` seconds of the connection opening or of the last
  answer on it, and its body within `body_timeout` seconds of its head. These are deadlines, not idle timers:
  trickling bytes does not extend them. A request in progress (from its head to its answer) is not timed
  otherwise: a render waiting for its turn waits as long as it needs.
- A client (an IP address) holds at most `per_client` connections, all clients `total`. Past either bound,
  idle connections (no request in progress) of that client, or of all, are closed `grace` seconds later (time
  for a new connection's request, already on its way, to arrive): first those that never had a request
  through the gate and sent nothing, then those that never had one through (requests without the token,
  partial heads), oldest first, then the longest idle. Only when every connection in the way is busy is a new
  one answered 503 and closed. So sockets opened and reopened without the token only ever close each other,
  never the page's own connections.

uvicorn calls `Connections.opened`/`closed` from the protocol made by `protocol_factory`; `Watch`, an ASGI
wrapper, tells them when a request starts, when its body is in and when it is answered. Both run on the
server's event loop, so no locks are needed.
"""
from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from dataclasses import dataclass
from typing import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .gate import ADMITTED

Key = tuple[str, int]  # the client's (address, port): what an ASGI scope calls "client"
LINGER = 2.0  # seconds a refused connection stays half-open, so that the client reads its 503


@dataclass(frozen=True)
class Limits:
    """Timeouts (seconds) and connection bounds; see the module docstring."""
    header_timeout: float = 10.0
    body_timeout: float = 60.0
    keep_alive: int = 5  # uvicorn closes a connection idle this long after an answer (bytes reset it)
    per_client: int = 32
    total: int = 64
    grace: float = 0.05  # how long connections may be past a bound before idle ones are closed


def _answer(status: int, reason: str, message: str) -> bytes:
    body = json.dumps({"error": message}).encode()
    return (f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n"
            f"connection: close\r\n\r\n").encode() + body


BUSY = _answer(503, "Service Unavailable", "the studio has too many connections open; try again")
HEAD_TIMEOUT = _answer(408, "Request Timeout", "the request did not arrive in time")
BODY_TIMEOUT = _answer(408, "Request Timeout", "the request body did not arrive in time")


class _Connection:
    def __init__(self, transport: asyncio.Transport) -> None:
        self.transport = transport
        self.request = 0  # which request on this connection is in progress (0: none)
        self.partial = False  # bytes of the next request head have arrived
        self.admitted = False  # a request on it passed the gate (it holds the token)
        self.idle_since = time.monotonic()
        self.timer: asyncio.TimerHandle | None = None


class Connections:
    """The open connections of one server, their deadlines and bounds (see the module docstring)."""

    def __init__(self, limits: Limits = Limits()) -> None:
        self.limits = limits
        self._open: dict[Key, _Connection] = {}
        self._requests = 0
        self._trim: asyncio.TimerHandle | None = None

    def __len__(self) -> int:
        return len(self._open)

    def busy(self) -> int:
        """How many connections have a request in progress (callable from any thread: the values are copied
        in one step)."""
        return sum(1 for connection in list(self._open.values()) if connection.request)

    def opened(self, key: Key, transport: asyncio.Transport) -> bool:
        """Admit a new connection (past a bound, idle ones are closed `grace` seconds later); False (the caller
        refuses it) when every connection in the way is busy."""
        mine = [c for k, c in self._open.items() if k[0] == key[0]]
        crowd = mine if len(mine) >= self.limits.per_client else list(self._open.values())
        if len(mine) >= self.limits.per_client or len(self._open) >= self.limits.total:
            if all(c.request for c in crowd):
                return False
            if self._trim is None:
                self._trim = asyncio.get_running_loop().call_later(self.limits.grace, self._close_surplus)
        connection = self._open[key] = _Connection(transport)
        self._deadline(connection, self.limits.header_timeout, HEAD_TIMEOUT)
        return True

    def _close_surplus(self) -> None:
        """Close idle connections, in the order of the module docstring, until every client and all together
        are within their bounds (or no idle one is left)."""
        self._trim = None
        for client, count in Counter(k[0] for k in self._open).items():
            if count > self.limits.per_client:
                self._close_idle([k for k in self._open if k[0] == client], count - self.limits.per_client)
        if len(self._open) > self.limits.total:
            self._close_idle(list(self._open), len(self._open) - self.limits.total)

    def _close_idle(self, keys: list[Key], count: int) -> None:
        idle = [k for k in keys if not self._open[k].request]
        idle.sort(key=lambda k: (self._open[k].admitted, self._open[k].partial, self._open[k].idle_since))
        for key in idle[:count]:
            victim = self._open.pop(key)
            self._cancel(victim)
            victim.transport.close()

    def closed(self, key: Key, transport: asyncio.Transport) -> None:
        """Forget a connection that has gone."""
        connection = self._open.get(key)
        if connection is not None and connection.transport is transport:
            del self._open[key]
            self._cancel(connection)

    def received(self, key: Key) -> None:
        """Bytes arrived on the connection."""
        connection = self._open.get(key)
        if connection is not None and not connection.request:
            connection.partial = True

    def request_started(self, key: Key, has_body: bool) -> int:
        """A request head is in: its body (if any) is now due within body_timeout. Returns the request's
        number, for `body_received` and `answered`."""
        connection = self._open.get(key)
        if connection is None:
            return 0
        self._requests += 1
        connection.request, connection.partial = self._requests, False
        self._cancel(connection)
        if has_body:
            self._deadline(connection, self.limits.body_timeout, BODY_TIMEOUT)
        return self._requests

    def body_received(self, key: Key, request: int) -> None:
        """The whole body of request `request` is in: no deadline until its answer."""
        connection = self._open.get(key)
        if connection is not None and request and connection.request == request:
            self._cancel(connection)

    def answered(self, key: Key, request: int, admitted: bool) -> None:
        """Request `request` is answered (`admitted`: it passed the gate): the next request head is due within
        header_timeout."""
        connection = self._open.get(key)
        if connection is None or not request or connection.request != request:
            return
        connection.admitted = connection.admitted or admitted
        connection.request, connection.idle_since = 0, time.monotonic()
        self._cancel(connection)
        self._deadline(connection, self.limits.header_timeout, HEAD_TIMEOUT)

    def _deadline(self, connection: _Connection, seconds: float, answer: bytes) -> None:
        def expire() -> None:
            connection.timer = None
            if connection.request or connection.partial:  # a silent idle connection is just closed
                connection.transport.write(answer)
            connection.transport.close()
        connection.timer = asyncio.get_running_loop().call_later(seconds, expire)

    @staticmethod
    def _cancel(connection: _Connection) -> None:
        if connection.timer is not None:
            connection.timer.cancel()
            connection.timer = None


def _key(client: object) -> Key | None:
    if isinstance(client, (tuple, list)) and len(client) >= 2:
        return str(client[0]), int(client[1])
    return None


def protocol_factory(connections: Connections) -> Callable[..., asyncio.Protocol]:
    """uvicorn's HTTP/1.1 protocol class (for `uvicorn.Config(http=...)`) reporting to `connections`."""
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class Guarded(H11Protocol):
        key: Key | None = None
        refused = False

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self.key = _key(transport.get_extra_info("peername"))
            if self.key is not None and not connections.opened(self.key, transport):
                self.key, self.refused = None, True
                transport.write(BUSY)
                if transport.can_write_eof():
                    transport.write_eof()  # the client reads the answer; what it sent is read and dropped,
                asyncio.get_running_loop().call_later(LINGER, transport.close)  # so closing sends no reset

        def data_received(self, data: bytes) -> None:
            if self.refused:
                return
            if self.key is not None:
                connections.received(self.key)
            super().data_received(data)

        def connection_lost(self, exc: Exception | None) -> None:
            if self.key is not None:
                connections.closed(self.key, self.transport)
            super().connection_lost(exc)

    return Guarded


class Watch:
    """ASGI wrapper telling `connections` when each request starts, when its body is in and when it is
    answered (requests on connections it does not know, e.g. in-process tests, pass untouched)."""

    def __init__(self, app: ASGIApp, connections: Connections) -> None:
        self.app = app
        self.connections = connections

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = _key(scope.get("client")) if scope["type"] == "http" else None
        if key is None:
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        has_body = headers.get(b"content-length", b"0") not in (b"0", b"") or b"transfer-encoding" in headers
        connections = self.connections
        request = connections.request_started(key, has_body)

        async def watched_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request" and not message.get("more_body", False):
                connections.body_received(key, request)
            return message

        async def watched_send(message: Message) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                connections.answered(key, request, scope.get(ADMITTED, False))
        try:
            await self.app(scope, watched_receive, watched_send)
        finally:
            connections.answered(key, request, scope.get(ADMITTED, False))
