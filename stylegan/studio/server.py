"""The studio's web server: a Starlette app over a `Session`, served by uvicorn (blocking or in a thread)."""
from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from pathlib import Path
from typing import Any, Callable

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ..errors import StyleGANError
from .render import LatestWins, Superseded
from .session import MAX_UPLOAD, Session

STATIC = Path(__file__).parent / "static"
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _error(message: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _json(request: Request) -> dict[str, Any]:
    try:
        data = await request.json()
    except ValueError:
        raise StyleGANError("the request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise StyleGANError("the request body must be a JSON object")
    return data


def _guarded(handler: Callable) -> Callable:
    """Turn user errors into 400 answers and anything else into a 500 answer with a message."""
    async def wrapper(request: Request):
        try:
            return await handler(request)
        except StyleGANError as exc:
            return _error(str(exc))
        except Exception as exc:  # the page shows it; the server keeps running
            return _error(f"internal error: {type(exc).__name__}: {exc}", 500)
    return wrapper


def create_app(session: Session, host: str = "127.0.0.1") -> Starlette:
    """The ASGI app. Bound to a loopback address it answers only to loopback host names (no DNS rebinding)."""
    scheduler = LatestWins()

    async def run(func: Callable, *args):
        return await asyncio.get_running_loop().run_in_executor(None, func, *args)

    async def index(request: Request):
        return FileResponse(STATIC / "index.html")

    async def networks(request: Request):
        return JSONResponse({"networks": session.networks})

    async def network(request: Request):
        data = await _json(request)
        return JSONResponse(await run(session.switch, str(data.get("network", "")), data.get("settings", {})))

    async def render(request: Request):
        data = await _json(request)
        future = scheduler.submit(lambda: session.render(data.get("settings", {}), data.get("view")))
        try:
            return JSONResponse(await asyncio.wrap_future(future))
        except Superseded:
            return JSONResponse({"superseded": True})

    async def capture(request: Request):
        data = await _json(request)
        return JSONResponse(await run(session.capture, data.get("settings", {})))

    async def direction(request: Request):
        data = await _json(request)
        count = await run(session.direction_count, str(data.get("file", "")), str(data.get("network", "")))
        return JSONResponse({"count": count})

    async def start_projection(request: Request):
        size = request.headers.get("content-length")
        if size is not None and size.isdigit() and int(size) > MAX_UPLOAD:
            return _error(f"the upload is too large (the limit is {MAX_UPLOAD // 2 ** 20} MiB)", 413)
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_UPLOAD:
                return _error(f"the upload is too large (the limit is {MAX_UPLOAD // 2 ** 20} MiB)", 413)
        query = request.query_params
        try:
            steps = int(query.get("steps", "100"))
            class_idx = int(query["class"]) if query.get("class", "") != "" else None
        except ValueError:
            raise StyleGANError("steps and class must be whole numbers") from None
        await run(session.start_projection, bytes(body), query.get("network", ""), steps, class_idx)
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
    hosts = list(LOOPBACK) if host in LOOPBACK else ["*"]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        yield
        scheduler.close()

    return Starlette(routes=routes, middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=hosts)],
                     lifespan=lifespan)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on at the moment."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class Studio:
    """A studio server running in a background thread (for notebooks and tests): `url`, then `stop()`."""

    def __init__(self, session: Session, host: str = "127.0.0.1", port: int | None = None):
        import uvicorn
        self.port = port or free_port(host)
        self.url = f"http://{host}:{self.port}/"
        config = uvicorn.Config(create_app(session, host), host=host, port=self.port, log_level="warning")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="studio-server", daemon=True)
        self._thread.start()
        while not self._server.started:
            if not self._thread.is_alive():
                raise StyleGANError(f"the studio could not start on {host}:{self.port} (is the port in use?)")
            self._thread.join(0.05)

    def stop(self) -> None:
        """Shut the server down and wait for it."""
        self._server.should_exit = True
        self._thread.join()
