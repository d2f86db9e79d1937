"""The studio's connection limits on a real server (uvicorn on a loopback port): silent sockets cannot lock the
page out, idle and slow connections are timed out (short timeouts configured here), a request in progress is
not, busy connections are bounded per client, and websockets are refused."""
import socket
import threading
import time
import warnings

import pytest
from conftest import DATA

from stylegan.studio.connections import Limits
from stylegan.studio.session import Session

pytest.importorskip("uvicorn")
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette prefers httpx2 but still works with httpx
    from starlette.testclient import TestClient  # noqa: E402
    from starlette.websockets import WebSocketDisconnect  # noqa: E402

from stylegan.studio.server import Studio, create_app  # noqa: E402

SG2 = DATA / "tf_sg2_skip_resnet_32.pkl"
TOKEN = "connection-test-token"
WAIT = 30  # seconds a test waits at most for the server to act; never a measure of speed


@pytest.fixture
def session(tmp_path):
    return Session([str(SG2)], outdir=tmp_path / "captures")


@pytest.fixture
def serve(session):
    """Start a studio with the given limits; stopped after the test."""
    studios = []

    def start(limits: Limits = Limits()) -> Studio:
        studios.append(Studio(session, token=TOKEN, limits=limits))
        return studios[-1]
    yield start
    for studio in studios:
        studio.stop()


def _connect(studio: Studio, data: bytes = b"") -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", studio.port))
    sock.settimeout(WAIT)
    if data:
        sock.sendall(data)
    return sock


def _head(method: str, path: str, length: int | None = None, close: bool = False) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", f"Authorization: token {TOKEN}"]
    if length is not None:
        lines += ["Content-Type: application/json", f"Content-Length: {length}"]
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    sock.close()
    return b"".join(chunks)


def _one_answer(sock: socket.socket) -> bytes:
    """One answer on a connection that stays open: its head and Content-Length bytes of body."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length:"))
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


def _status(studio: Studio, path: str = "/") -> int:
    answer = _until_closed(_connect(studio, _head("GET", path, close=True)))
    return int(answer.split(b" ", 2)[1])


def test_silent_sockets_cannot_lock_the_page_out(serve):
    studio = serve()
    silent = [_connect(studio) for _ in range(70)]  # no token, not a byte sent
    try:
        assert _status(studio, "/") == 200
        assert _status(studio, "/api/networks") == 200
        _until(lambda: len(studio.connections) <= Limits().per_client)
    finally:
        for sock in silent:
            sock.close()


def test_sockets_without_the_token_never_close_the_pages_connections(serve):
    studio = serve(Limits(per_client=4, header_timeout=WAIT, keep_alive=WAIT))  # only the bound closes them
    page = _connect(studio, _head("GET", "/api/networks"))  # the page's keep-alive connection, idle after this
    assert _one_answer(page).startswith(b"HTTP/1.1 200")
    tokenless = _connect(studio, b"GET /api/networks HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert _one_answer(tokenless).startswith(b"HTTP/1.1 403")
    silent = [_connect(studio) for _ in range(20)]  # each one past the bound closes another idle one
    try:
        page.sendall(_head("GET", "/api/networks"))
        assert _one_answer(page).startswith(b"HTTP/1.1 200")
        assert _until_closed(tokenless) == b""
    finally:
        for sock in [page, *silent]:
            sock.close()


def test_idle_and_slow_connections_are_timed_out(serve):
    studio = serve(Limits(header_timeout=2.0, body_timeout=0.5))
    silent = _connect(studio)
    trickled = _connect(studio, b"GET /api/netw")
    slow_body = _connect(studio, _head("POST", "/api/render", 100) + b'{"settings"')
    kept_alive = _connect(studio, _head("GET", "/api/networks"))
    assert _until_closed(silent) == b""  # closed without a word
    answer = _until_closed(trickled)
    assert answer.startswith(b"HTTP/1.1 408") and b"did not arrive in time" in answer
    answer = _until_closed(slow_body)
    assert answer.startswith(b"HTTP/1.1 408") and b"request body did not arrive" in answer
    answer = _until_closed(kept_alive)  # answered, then closed once idle for the header timeout
    assert answer.startswith(b"HTTP/1.1 200") and answer.count(b"HTTP/1.1") == 1
    assert _status(studio) == 200


def test_a_request_in_progress_is_not_timed_out(serve, session, monkeypatch):
    started, release = threading.Event(), threading.Event()

    def slow_render(settings, view=None):
        started.set()
        release.wait(WAIT)
        return {"seed": settings["seed"]}
    monkeypatch.setattr(session, "render", slow_render)
    studio = serve(Limits(header_timeout=1.0, body_timeout=0.2))
    body = b'{"settings": {"seed": 4}}'
    sock = _connect(studio, _head("POST", "/api/render", len(body), close=True) + body)
    assert started.wait(WAIT)
    threading.Timer(2.0, release.set).start()  # the render outlasts both timeouts
    answer = _until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b'{"seed":4}')


def test_busy_connections_are_bounded_per_client(serve):
    studio = serve(Limits(per_client=3, header_timeout=WAIT, body_timeout=WAIT, keep_alive=WAIT, grace=1.0))
    busy = []
    try:
        busy += [_connect(studio, _head("POST", "/api/render", 100) + b"{") for _ in range(2)]
        assert _status(studio, "/api/networks") == 200  # the third slot
        busy.append(_connect(studio, _head("POST", "/api/render", 100) + b"{"))
        _until(lambda: studio.connections.busy() == 3)
        refused = _until_closed(_connect(studio, _head("GET", "/api/networks")))
        assert refused.startswith(b"HTTP/1.1 503") and b"too many connections" in refused
        busy[0].sendall(b" " * 98 + b"}")  # its body is complete: answered, then idle, so it may be closed
        assert _one_answer(busy[0]).startswith(b"HTTP/1.1 400")
        newer = _connect(studio, _head("GET", "/api/networks"))
        busy.append(newer)
        assert _one_answer(newer).startswith(b"HTTP/1.1 200")
        assert _until_closed(busy[0]) == b""  # the longest idle made room
    finally:
        for sock in busy:
            sock.close()


def _until(condition) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_websockets_are_refused(session):
    with TestClient(create_app(session, token=TOKEN), base_url="http://127.0.0.1",
                    headers={"authorization": f"token {TOKEN}"}) as client:
        with pytest.raises(WebSocketDisconnect) as refused:
            with client.websocket_connect("/"):
                pass
        assert refused.value.code == 1008
        assert client.get("/api/networks").status_code == 200


def test_an_upgrade_request_gets_a_plain_answer(serve):
    studio = serve()
    upgrade = (b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade, close\r\nUpgrade: websocket\r\n"
               b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
               b"Authorization: token " + TOKEN.encode() + b"\r\n\r\n")
    answer = _until_closed(_connect(studio, upgrade))
    assert answer.startswith(b"HTTP/1.1 200") and b"stylegan studio" in answer
