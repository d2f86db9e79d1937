"""The studio's HTTP interface: the page, frames, clear answers to bad input, and the host check."""
import warnings

import pytest

from stylegan.studio.session import MAX_UPLOAD, Session

from conftest import DATA

pytest.importorskip("starlette")
pytest.importorskip("httpx")
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette prefers httpx2 but still works with httpx
    from starlette.testclient import TestClient  # noqa: E402

from stylegan.studio.server import create_app  # noqa: E402

SG2 = DATA / "tf_sg2_skip_resnet_32.pkl"


@pytest.fixture
def client(tmp_path):
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    session = Session([str(SG2)], [str(allowed)], outdir=tmp_path / "captures")
    with TestClient(create_app(session), base_url="http://127.0.0.1") as client:
        yield client


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
    network = client.get("/api/networks").json()["networks"][0]
    cases = [
        client.post("/api/render", content=b"{oops", headers={"content-type": "application/json"}),
        client.post("/api/render", json={"settings": {"network": network, "sharpness": 1}}),
        client.post("/api/render", json={"settings": {"network": network, "psi": "nan"}}),
        client.post("/api/render", json={"settings": {"network": network}, "view": {"layer": "b8.conv1",
                                                                                     "channel": 99}}),
        client.post("/api/network", json={"network": "/etc/passwd"}),
        client.post("/api/network", json={"network": str(DATA / "nothing.pkl")}),
        client.post("/api/direction", json={"file": "/etc/hosts", "network": network}),
        client.post(f"/api/project?network={network}&steps=2", content=b"not an image"),
        client.post(f"/api/project?network={network}&steps=lots", content=b"x"),
    ]
    for answer in cases:
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"]
    assert "outside the directories" in cases[4].json()["error"]
    assert "not a readable image" in cases[7].json()["error"]
    huge = client.post(f"/api/project?network={network}", content=b"0" * (MAX_UPLOAD + 1))
    assert huge.status_code == 413 and "too large" in huge.json()["error"]
    assert client.get("/api/project").json()["state"] == "idle"
    assert client.get("/api/networks").status_code == 200  # still serving


def test_other_host_names_are_refused(client):
    assert client.get("/api/networks", headers={"host": "attacker.example"}).status_code == 400
    assert client.get("/api/networks", headers={"host": "localhost:7860"}).status_code == 200
