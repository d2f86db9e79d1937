"""The studio's HTTP interface: the page, frames, clear answers to bad input, and the guards: the host check,
the token, same origin only, content types, confined paths, 500s without internals, size limits, one
projection at a time, and a client that hangs up costing nothing."""
import http.client
import io
import json
import logging
import os
import socket
import threading
import time
import warnings
from urllib.parse import urlsplit

import numpy as np
import PIL.Image
import pytest
from click.testing import CliRunner

import stylegan
import stylegan.studio
import stylegan.studio.session as session_module
from stylegan.cli import cli
from stylegan.formats.native import save_networks
from stylegan.io import save_directions
from stylegan.studio.session import MAX_UPLOAD, Session

from conftest import DATA

pytest.importorskip("starlette")
pytest.importorskip("httpx")
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette prefers httpx2 but still works with httpx
    from starlette.testclient import TestClient  # noqa: E402

from stylegan.studio.gate import cookie_name  # noqa: E402
from stylegan.studio.server import INTERNAL, MAX_JSON, Studio, create_app  # noqa: E402

SG2 = DATA / "tf_sg2_skip_resnet_32.pkl"
TOKEN = "test-token-1234"
AUTH = {"authorization": f"token {TOKEN}"}
ORIGIN = "http://127.0.0.1"


@pytest.fixture
def session(tmp_path):
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    return Session([str(SG2)], [str(allowed)], outdir=tmp_path / "captures")


@pytest.fixture
def client(session):
    with TestClient(create_app(session, token=TOKEN), base_url=ORIGIN, headers=AUTH) as client:
        yield client


@pytest.fixture
def anonymous(session):
    """A client that brings no token."""
    with TestClient(create_app(session, token=TOKEN), base_url=ORIGIN) as client:
        yield client


def _network(client) -> str:
    return client.get("/api/networks").json()["networks"][0]


def test_page_and_frames(client):
    page = client.get("/")
    assert page.status_code == 200 and "stylegan studio" in page.text
    assert client.get("/static/app.js").status_code == 200
    networks = client.get("/api/networks").json()["networks"]
    assert networks[0].endswith(SG2.name)
    answer = client.post("/api/network", json={"network": networks[0], "settings": {"seed": 9, "class_idx": 4}})
    info, settings = answer.json()["info"], answer.json()["settings"]
    assert (info["num_ws"], info["resolution"], settings["seed"], settings["class_idx"]) == (8, 32, 9, None)
    assert any(layer["name"] == "b8.conv1" for layer in info["layers"])
    frame = client.post("/api/render", json={"settings": settings, "view": {"layer": "b8.conv1", "channel": 1}})
    body = frame.json()
    assert frame.status_code == 200 and body["image"].startswith("data:image/png")
    assert body["activations"].startswith("data:image/png") and body["device"] == "cpu"


def test_bad_input_answers_with_a_message(client):
    network = _network(client)
    cases = [
        client.post("/api/render", content=b"{oops", headers={"content-type": "application/json"}),
        client.post("/api/render", content=b"[" * 100_000, headers={"content-type": "application/json"}),
        client.post("/api/render", json={"settings": {"network": network, "sharpness": 1}}),
        client.post("/api/render", json={"settings": {"network": network, "psi": "nan"}}),
        client.post("/api/render", json={"settings": {"network": network}, "view": {"layer": "b8.conv1",
                                                                                     "channel": 99}}),
        client.post("/api/network", json={"network": str(DATA / "nothing.pkl")}),
        client.post(f"/api/project?network={network}&steps=2", content=b"not an image",
                    headers={"content-type": "application/octet-stream"}),
        client.post(f"/api/project?network={network}&steps=lots", content=b"x",
                    headers={"content-type": "application/octet-stream"}),
    ]
    for answer in cases:
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"]
    assert "not valid JSON" in cases[1].json()["error"]
    assert "not a readable image" in cases[6].json()["error"]
    huge = client.post(f"/api/project?network={network}", content=b"0" * (MAX_UPLOAD + 1),
                       headers={"content-type": "application/octet-stream"})
    assert huge.status_code == 413 and "too large" in huge.json()["error"]
    big = client.post("/api/render", json={"settings": {"network": network}, "pad": "x" * MAX_JSON})
    assert big.status_code == 413 and "too large" in big.json()["error"]
    assert client.get("/api/project").json()["state"] == "idle"
    assert client.get("/api/networks").status_code == 200  # still serving


def _json_post(client, path: str, body: str):
    return client.post(path, content=body.encode(), headers={"content-type": "application/json"})


def test_malformed_requests_are_told_why(client, session):
    """Each kind of request that once got a 500: now a 4xx with a message naming what is wrong."""
    network = _network(client)
    allowed = next(folder for folder in session.guard.folders if folder.name == "allowed")
    native = allowed / "net.safetensors"
    save_networks({"G_ema": stylegan.load(SG2)}, native)
    damaged = allowed / "damaged.safetensors"  # a native loader bug: ValueError, not a CheckpointError
    damaged.write_bytes(native.read_bytes().replace(b'\\"4\\": ', b'\\"j\\": ', 1))
    render = {"settings": {"network": network}}
    cases = [
        (_json_post(client, "/api/render", '{"settings": {"network": "%s", "dx": Infinity}}' % network), "'dx'"),
        (_json_post(client, "/api/render", '{"settings": {"network": "%s", "seed": %s}}' % (network, "9" * 400)),
         "'seed'"),
        (_json_post(client, "/api/render", '{"settings": {"network": "%s", "psi": %s}}' % (network, "9" * 400)),
         "'psi'"),
        (client.post("/api/network", json={"network": 7}), "'network'"),
        (client.post("/api/network", json={"network": "a\x00b"}), "NUL"),
        (client.post("/api/network", json={"network": "a" * 3000}), "no such checkpoint"),
        (client.post("/api/network", json={"network": "/" + "a" * 3000}), "outside the folders"),
        (client.post("/api/network", json={"network": "~nosuchuser/net.pkl"}), "home folder"),
        (client.post("/api/network", json={"network": str(damaged)}), "damaged"),
        (client.post("/api/render", json={"settings": {"network": network, "psi": 1e308}}), "'psi'"),
        (client.post("/api/render", json={"settings": {"network": network, "noise_seed": 2 ** 64}}), "'noise_seed'"),
        (client.post("/api/render", json={**render, "view": "b8.conv1"}), "'view'"),
        (client.post("/api/render", json={**render, "view": {"layer": "b8.conv1", "channel": "1"}}), "'view.channel'"),
        (client.post("/api/direction", json={"file": str(allowed / "d.npz:\u00b2"), "network": network}),
         "direction files end in .npz or .npy"),  # (":²" is no index: the file name is "d.npz:²")
        (client.post("/api/direction", json={"file": ["d.npz"], "network": network}), "'file'"),
        (client.post("/api/network", json={"network": network, "settings": [1, 2]}), "'settings'"),
        (client.post("/api/render", json={"settings": {"network": network, "ws_file": "~nosuchuser/w.npz"}}),
         "home folder"),
        (client.post("/api/render", json={"settings": {"network": network, "untransform": "no"}}), "'untransform'"),
        (client.post("/api/render", json={**render, "client": "x" * 65}), "'client'"),
        (client.post("/api/render", json={**render, "extra": 1}), "unknown keys"),
        (client.post(f"/api/project?network={network}&steps=\u0661", content=_png_bytes(),
                     headers={"content-type": "application/octet-stream"}), "'steps'"),
        (client.post(f"/api/project?network={network}&class=3", content=_png_bytes(),
                     headers={"content-type": "application/octet-stream"}), "unconditional"),
    ]
    for answer, fragment in cases:
        assert answer.status_code in (400, 403), (fragment, answer.status_code, answer.text)
        assert fragment in answer.json()["error"], (fragment, answer.text)
    assert cases[-1][0].status_code == 400 and session.projection["state"] == "idle"
    for origin in ("http://[", "http://127.0.0.1]"):
        assert client.get("/api/networks", headers={"origin": origin}).status_code == 403
    assert client.get("/api/networks").status_code == 200


def test_other_host_names_are_refused(client):
    assert client.get("/api/networks", headers={"host": "attacker.example"}).status_code == 400
    assert client.get("/api/networks", headers={"host": "127.0.0.1.attacker.example"}).status_code == 400
    assert client.get("/api/networks", headers={"host": "localhost:7860"}).status_code == 200


def test_the_token_is_needed_and_accepted_three_ways(anonymous, session):
    for answer in (anonymous.get("/"), anonymous.get("/api/networks"), anonymous.get("/static/app.js"),
                   anonymous.post("/api/capture", json={"settings": {"network": str(SG2)}}),
                   anonymous.get("/api/networks", params={"token": "wrong"}),
                   anonymous.get("/api/networks", headers={"authorization": "token wrong"}),
                   anonymous.get("/api/networks", headers={"authorization": f"Bearer{TOKEN}"})):
        assert answer.status_code == 403 and "token" in answer.json()["error"]
    assert not session.outdir.exists()
    assert anonymous.get("/api/networks", headers=AUTH).status_code == 200
    assert anonymous.get("/api/networks", params={"token": TOKEN}).status_code == 200
    page = anonymous.get("/", params={"token": TOKEN})
    assert page.status_code == 200
    cookie = page.headers["set-cookie"]
    assert cookie.startswith(f"{cookie_name(TOKEN)}={TOKEN};") and "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    assert anonymous.get("/api/networks").status_code == 200  # the cookie alone now
    anonymous.cookies.clear()
    assert anonymous.get("/api/networks").status_code == 403


def test_requests_from_other_origins_are_refused(client, session):
    settings = {"settings": {"network": str(SG2)}}
    foreign = [{"origin": "http://127.0.0.1:9999"}, {"origin": "http://attacker.example"}, {"origin": "null"},
               {"referer": "http://127.0.0.1:9999/page.html"}, {"sec-fetch-site": "same-site"},
               {"sec-fetch-site": "cross-site"}, {"origin": "https://127.0.0.1"}, {"referer": "ftp://127.0.0.1/"},
               {"origin": "http://["}, {"referer": "http://127.0.0.1]/"}]
    for headers in foreign:
        answer = client.post("/api/capture", json=settings, headers=headers)
        assert answer.status_code == 403 and "other sites" in answer.json()["error"], headers
        assert client.get("/api/networks", headers=headers).status_code == 403
    assert client.options("/api/capture", headers={"origin": "http://127.0.0.1:9999",
                                                   "access-control-request-method": "POST"}).status_code == 403
    assert not session.outdir.exists()
    own = client.post("/api/capture", json=settings, headers={"origin": ORIGIN, "referer": ORIGIN + "/",
                                                               "sec-fetch-site": "same-origin"})
    assert own.status_code == 200 and (session.outdir / "capture0000.png").is_file()
    navigation = client.get("/", headers={"referer": "http://127.0.0.1:8888/notebook", "sec-fetch-site": "cross-site"})
    assert navigation.status_code == 200  # a link from elsewhere opens the page (the token is still needed)
    framed = client.get("/", headers={"sec-fetch-site": "cross-site", "sec-fetch-dest": "iframe"})
    assert framed.status_code == 403
    for answer in (own, navigation, framed, client.get("/api/networks")):
        assert not any(name.startswith("access-control-") for name in answer.headers)
        assert answer.headers["x-frame-options"] == "DENY"


def test_state_changing_requests_need_their_content_type(client, session):
    body = json.dumps({"settings": {"network": str(SG2)}})
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", None):
        headers = {"content-type": content_type} if content_type else {}
        answer = client.post("/api/capture", content=body, headers=headers)
        assert answer.status_code == 415 and "application/json" in answer.json()["error"]
    upload = client.post(f"/api/project?network={SG2}", content=b"x", headers={"content-type": "text/plain"})
    assert upload.status_code == 415 and "application/octet-stream" in upload.json()["error"]
    assert not session.outdir.exists() and session.projection["state"] == "idle"


def test_paths_outside_the_allowed_folders_are_refused(client, session, tmp_path):
    network = _network(client)
    secret = tmp_path / "secret"
    secret.mkdir()
    save_directions(secret / "d.npz", np.eye(2, 10, dtype=np.float32), np.ones(2), np.ones(2), "t")
    os.symlink(secret / "d.npz", tmp_path / "allowed" / "link.npz")
    answers = [client.post("/api/network", json={"network": "/etc/passwd"}),
               client.post("/api/direction", json={"file": "/etc/hosts", "network": network}),
               client.post("/api/direction", json={"file": str(tmp_path / "allowed" / "link.npz:1"),
                                                   "network": network}),
               client.post("/api/render", json={"settings": {"network": network, "ws_file": str(secret / "w.npz")}})]
    for answer in answers:
        assert answer.status_code == 403 and "outside the folders" in answer.json()["error"], answer.text
    os.symlink(tmp_path / "allowed" / "link.npz", tmp_path / "allowed" / "inner.npz")
    (tmp_path / "allowed" / "ok.npz").write_bytes((secret / "d.npz").read_bytes())
    ok = client.post("/api/direction", json={"file": str(tmp_path / "allowed" / "ok.npz:1"), "network": network})
    assert ok.status_code == 200 and ok.json()["count"] == 2


def test_internal_errors_name_no_internals(client, session, monkeypatch, caplog):
    def broken(*args):
        raise RuntimeError("secret detail /home/someone/file")
    monkeypatch.setattr(session, "render", broken)
    with caplog.at_level(logging.ERROR, logger="stylegan.studio"):
        answer = client.post("/api/render", json={"settings": {}})
    assert answer.status_code == 500 and answer.json() == {"error": INTERNAL}
    assert "secret detail" not in answer.text
    assert "secret detail" in caplog.text and "Traceback" in caplog.text


def test_one_projection_at_a_time(client, session, monkeypatch):
    started, release = threading.Event(), threading.Event()

    def slow_project(*args, **kwargs):
        started.set()
        release.wait(30)
        raise RuntimeError("internal detail")
    monkeypatch.setattr(session_module, "project", slow_project)
    upload = _png_bytes()
    url, headers = f"/api/project?network={SG2}&steps=2", {"content-type": "application/octet-stream"}
    assert client.post(url, content=upload, headers=headers).status_code == 200
    assert started.wait(30)
    second = client.post(url, content=upload, headers=headers)
    assert second.status_code == 409 and "already running" in second.json()["error"]
    release.set()
    session.worker.join(30)
    state = client.get("/api/project").json()
    assert state["state"] == "error" and "internal detail" not in state["error"]
    assert "see the server log" in state["error"]
    assert client.post(url, content=upload, headers=headers).status_code == 200  # free again
    session.worker.join(30)


def _png_bytes() -> bytes:
    buffer = io.BytesIO()
    PIL.Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def _request(port: int, body: dict) -> socket.socket:
    data = json.dumps(body).encode()
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(f"POST /api/render HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: token {TOKEN}\r\n"
                 f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\nConnection: close\r\n\r\n"
                 .encode() + data)
    return sock


def _answer(sock: socket.socket) -> bytes:
    """The whole answer (the server closes the connection after it)."""
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    sock.close()
    return b"".join(chunks)


def _until(condition, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_a_client_that_hangs_up_costs_no_render(session, monkeypatch):
    started, release = threading.Event(), threading.Event()
    rendered = []

    def render(settings, view=None):
        rendered.append(settings["seed"])
        if settings["seed"] == 0:
            started.set()
            release.wait(30)
        return {"seed": settings["seed"]}
    monkeypatch.setattr(session, "render", render)
    studio = Studio(session, token=TOKEN)
    try:
        busy = _request(studio.port, {"settings": {"seed": 0}, "client": "a"})
        assert started.wait(30)
        scheduler = studio.app.state.scheduler
        waiting = _request(studio.port, {"settings": {"seed": 1}, "client": "b"})
        _until(lambda: scheduler.waiting() == 1)
        waiting.close()  # hangs up while its render waits
        _until(lambda: scheduler.waiting() == 0)
        release.set()
        assert _answer(busy).endswith(b'{"seed":0}')
        assert _answer(_request(studio.port, {"settings": {"seed": 2}, "client": "c"})).endswith(b'{"seed":2}')
        assert rendered == [0, 2]
    finally:
        release.set()
        studio.stop()


def test_no_token_only_on_loopback():
    result = CliRunner().invoke(cli, ["studio", "--network", str(SG2), "--host", "0.0.0.0", "--token", ""])
    assert result.exit_code != 0 and "only on a loopback address" in result.output
    assert "Traceback" not in result.output


def test_start_returns_the_url_with_its_token(tmp_path):
    studio = stylegan.studio.start([str(SG2)], outdir=str(tmp_path / "captures"))
    try:
        base, _, token = studio.url.partition("?token=")
        assert len(token) >= 40 and token == studio.token
        assert _get(base + "api/networks") == 403
        assert _get(studio.url) == 200
        assert _get(f"{base}api/networks?token={token}") == 200
    finally:
        studio.stop()
    other = stylegan.studio.start([str(SG2)], outdir=str(tmp_path / "captures"))
    other.stop()
    assert other.token != token  # a new token each start


def _get(url: str) -> int:
    """The status of a GET on the loopback server (no proxy on the way)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.request("GET", parts.path + ("?" + parts.query if parts.query else ""))
        return conn.getresponse().status
    finally:
        conn.close()
