"""The studio's web server: a Starlette app over a `Session`, behind the `Gate` (token, same origin), its request
bodies checked by `schema`, served by uvicorn (blocking or in a thread) with the `connections` limits."""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import sys
import threading
from pathlib import Path
from typing import Any, Callable

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ..errors import InputError, StyleGANError
from . import schema
from .connections import Connections, Limits, Watch, protocol_factory
from .gate import Gate, check_exposure, new_token, studio_url
from .paths import Refused
from .render import Busy, LatestWins, Superseded
from .session import MAX_UPLOAD, Session

STATIC = Path(__file__).parent / "static"
MAX_JSON = 256 * 1024  # settings are a few KiB
INTERNAL = "internal error (see the server log)"
log = logging.getLogger("stylegan.studio")


class TooLarge(InputError):
    """A request body over its limit (answered with 413)."""


STATUS = [(Refused, 403), (Busy, 409), (TooLarge, 413), (StyleGANError, 400)]


def _error(message: str, status: int = 400) -> Response:
    """{"error": message} as ASCII JSON (a message quoting odd input, even a lone surrogate, still encodes)."""
    return Response(json.dumps({"error": message}), status_code=status, media_type="application/json")


async def _body(request: Request, limit: int) -> bytes:
    """The request body, refused with TooLarge as soon as it passes `limit` bytes."""
    too_large = TooLarge(f"the request body is too large (the limit is {limit // 1024} KiB)")
    size = request.headers.get("content-length", "")
    if size.isdigit() and int(size) > limit:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise too_large
    return bytes(body)


async def _json(request: Request) -> Any:
    """The parsed JSON body (its shape is checked by `schema`)."""
    body = await _body(request, MAX_JSON)
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        raise StyleGANError("the request body is not valid JSON") from None


async def _disconnected(request: Request) -> None:
    """Returns when the client hangs up (call after the body has been read)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


def _guarded(handler: Callable) -> Callable:
    """User errors become 4xx answers with their message; anything else a 500 that says only to look in the
    server log, where the traceback goes. A client gone while its body was read gets nothing (499 unsent)."""
    async def wrapper(request: Request):
        try:
            return await handler(request)
        except ClientDisconnect:
            return Response(status_code=499)
        except StyleGANError as exc:
            return _error(str(exc), next(status for kind, status in STATUS if isinstance(exc, kind)))
        except Exception:  # the server keeps running; the page shows no internals
            log.exception("studio: %s %s failed", request.method, request.url.path)
            return _error(INTERNAL, 500)
    return wrapper


def create_app(session: Session, host: str = "127.0.0.1", token: str = "") -> Starlette:
    """The ASGI app: every request must carry `token` (none when empty) and come from the studio's own page;
    bound to a loopback address it answers only to loopback host names (no DNS rebinding)."""
    scheduler = LatestWins()

    async def run(func: Callable, *args):
        return await asyncio.get_running_loop().run_in_executor(None, func, *args)

    async def index(request: Request):
        return FileResponse(STATIC / "index.html")

    async def networks(request: Request):
        return JSONResponse({"networks": session.networks})

    async def network(request: Request):
        name, settings = schema.network_body(await _json(request))
        return JSONResponse(await run(session.switch, name, settings))

    async def render(request: Request):
        settings, view, client = schema.render_body(await _json(request))
        client = client or "%s:%s" % (request.client or ("?", "?"))
        job = asyncio.wrap_future(scheduler.submit(lambda: session.render(settings, view), client))
        gone = asyncio.ensure_future(_disconnected(request))
        try:
            await asyncio.wait({job, gone}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            gone.cancel()
        if not job.done():  # the client hung up: a waiting render never runs, a running one is dropped
            job.cancel()
            return Response(status_code=499)
        try:
            return JSONResponse(job.result())
        except Superseded:
            return JSONResponse({"superseded": True})

    async def capture(request: Request):
        return JSONResponse(await run(session.capture, schema.capture_body(await _json(request))))

    async def direction(request: Request):
        file, name = schema.direction_body(await _json(request))
        return JSONResponse({"count": await run(session.direction_count, file, name)})

    async def start_projection(request: Request):
        network, steps, class_idx = schema.projection_query(request.query_params)
        session.check_projection_free()  # before reading an upload that would be refused
        body = await _body(request, MAX_UPLOAD)
        await run(session.start_projection, body, network, steps, class_idx)
        return JSONResponse(session.projection)

    async def projection(request: Request):
        return JSONResponse(session.projection)

    routes = [
        Route("/", index),
        Route("/api/networks", _guarded(networks)),
        Route("/api/network", _guarded(network), methods=["POST"]),
        Route("/api/render", _guarded(render), methods=["POST"]),
        Route("/api/capture", _guarded(capture), methods=["POST"]),
        Route("/api/direction", _guarded(direction), methods=["POST"]),
        Route("/api/project", _guarded(start_projection), methods=["POST"]),
        Route("/api/project", _guarded(projection), methods=["GET"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        yield
        scheduler.close()

    gate = Middleware(Gate, host=host, token=token, uploads=["/api/project"])
    app = Starlette(routes=routes, middleware=[gate], lifespan=lifespan)
    app.state.scheduler = scheduler
    return app


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on at the moment."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class Studio:
    """A studio server running in a background thread (for notebooks, tests and the CLI): `url` (with the
    token), `token`, `session`, `wait()`, then `stop()`. A random token is made unless `token` is given
    ('' turns it off, on loopback only); off loopback a warning is printed. `limits` times out idle and slow
    connections and bounds their number (see connections.py)."""

    def __init__(self, session: Session, host: str = "127.0.0.1", port: int | None = None,
                 token: str | None = None, limits: Limits = Limits()):
        import uvicorn
        self.session = session
        self.token = new_token() if token is None else token
        warning = check_exposure(host, self.token)
        if warning:
            print(warning, file=sys.stderr)
        self.port = port or free_port(host)
        self.url = studio_url(host, self.port, self.token)
        self.app = create_app(session, host, self.token)
        self.connections = Connections(limits)
        config = uvicorn.Config(Watch(self.app, self.connections), host=host, port=self.port, log_level="warning",
                                http=protocol_factory(self.connections), ws="none", server_header=False,
                                timeout_keep_alive=limits.keep_alive)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="studio-server", daemon=True)
        self._thread.start()
        while not self._server.started:
            if not self._thread.is_alive():
                raise StyleGANError(f"the studio could not start on {host}:{self.port} (is the port in use?)")
            self._thread.join(0.05)

    def wait(self) -> None:
        """Block until the server stops (Ctrl+C stops it)."""
        try:
            while self._thread.is_alive():
                self._thread.join(0.5)
        except KeyboardInterrupt:
            self.stop()

    def stop(self) -> None:
        """Shut the server down and wait for it."""
        self._server.should_exit = True
        self._thread.join()
