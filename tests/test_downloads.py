"""Networks and weights by URL: a loopback HTTP server started here stands in for the internet.

Each fault (404, a dropped connection, a wrong Content-Length, a hash mismatch, redirects, a stalled
server) must give one line and leave nothing in the cache; a dropped connection must be resumed with
an HTTP Range request; a second use must be served from the cache without any network.
"""
from __future__ import annotations

import hashlib
import json
import pickle
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest
import torch
from click.testing import CliRunner

import stylegan
from stylegan import hub
from stylegan.cli import cli
from stylegan.errors import CheckpointError, UnsafePickleError
from stylegan.hub import zoo
from stylegan.hub.cache import digest_path, network_cache_path, sha256_of
from stylegan.hub.download import DownloadError, OfflineError, fetch, remote_size
from stylegan.nets import weights as weight_files

from conftest import DATA
from test_safe_loading import _RunsCommand

NETWORK = DATA / "tf_sg2_orig_orig_32.pkl"


class Server:
    """Serves `files` (name -> bytes) with Range/ETag support, plus misbehaving routes:
    /cut/NAME drops the first connection halfway, /wrong-length/NAME announces 100 bytes too many,
    /redirect/NAME answers 302 to /files/NAME, /loop redirects to itself, /to-file redirects to a
    file: URL, /slow/NAME waits 3 s before answering, /html answers a web page, others 404."""

    def __init__(self, files: dict[str, bytes]):
        self.files, self.requests, self.cut_done = files, [], set()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_HEAD(self):
                self.do_GET(head=True)

            def do_GET(self, head=False):
                server.requests.append((self.path, self.headers.get("Range"), self.headers.get("If-Range")))
                parts = self.path.strip("/").split("/")
                route, name = parts[0], parts[-1]
                if route == "redirect":
                    return self._redirect(f"/files/{name}")
                if route == "loop":
                    return self._redirect("/loop")
                if route == "to-file":
                    return self._redirect("file:///etc/hostname")
                if route == "html":
                    return self._send(b"<!DOCTYPE html><html>confirm download</html>", ctype="text/html")
                if route == "slow":
                    time.sleep(3)
                data = server.files.get(name)
                if data is None or route not in ("files", "cut", "wrong-length", "slow"):
                    self.send_error(404, "Not Found")
                    return
                if route == "wrong-length":
                    return self._send(data, length=len(data) + 100)
                start = 0
                if self.headers.get("Range") == f"bytes={len(data)}-":
                    self.send_error(416, "Range Not Satisfiable")
                    return
                if self.headers.get("Range") and self.headers.get("If-Range", self._etag(data)) == self._etag(data):
                    start = int(self.headers["Range"].split("=")[1].split("-")[0])
                if route == "cut" and name not in server.cut_done:
                    server.cut_done.add(name)
                    return self._send(data, start=start, stop=len(data) // 2)
                self._send(data, start=start, head=head)

            def _etag(self, data):
                return '"' + hashlib.sha256(data).hexdigest()[:16] + '"'

            def _redirect(self, where):
                self.send_response(302)
                self.send_header("Location", where)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def _send(self, data, start=0, stop=None, length=None, ctype="application/octet-stream", head=False):
                self.send_response(206 if start else 200)
                self.send_header("Content-Type", ctype)
                self.send_header("ETag", self._etag(data))
                self.send_header("Content-Length", str(length if length is not None else len(data) - start))
                if start:
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                self.end_headers()
                if not head:
                    self.wfile.write(data[start:stop])
                self.close_connection = True

        class Quiet(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass  # a client that gave up (the timeout test) is expected here

        self.httpd = Quiet(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def url(self, route: str, name: str = "") -> str:
        return f"{self.base}/{route}/{name}" if name else f"{self.base}/{route}"

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty cache in tmp_path; network allowed, no download consent, no torch hub weights."""
    root = tmp_path / "cache"
    monkeypatch.setenv("STYLEGAN_CACHE", str(root))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    for name in ("STYLEGAN_OFFLINE", "STYLEGAN_DOWNLOAD", "STYLEGAN_TIMEOUT", "STYLEGAN_VGG16", "STYLEGAN_INCEPTION",
                 "STYLEGAN_LPIPS"):
        monkeypatch.delenv(name, raising=False)
    return root


@pytest.fixture
def server():
    srv = Server({"net.pkl": NETWORK.read_bytes()})
    yield srv
    srv.stop()


def cache_files(root) -> list[str]:
    """The files in the cache."""
    files = root.rglob("*") if root.exists() else []
    return sorted(str(p.relative_to(root)) for p in files if p.is_file())


def test_load_by_url_equals_the_local_file_and_is_then_served_from_the_cache(cache, server):
    url = server.url("files", "net.pkl")
    G_url, G_local = stylegan.load(url), stylegan.load(NETWORK)
    z = torch.randn(2, G_local.z_dim)
    assert torch.equal(G_url(z, None), G_local(z, None))
    cached = network_cache_path(url)
    assert cached.read_bytes() == NETWORK.read_bytes()
    assert digest_path(cached).read_text().strip() == hashlib.sha256(NETWORK.read_bytes()).hexdigest()
    assert cache_files(cache) == sorted([f"networks/{cached.name}", f"networks/{cached.name}.sha256"])
    server.stop()
    seen = len(server.requests)
    G_again = stylegan.load(url)
    assert torch.equal(G_again(z, None), G_local(z, None)) and len(server.requests) == seen


def test_a_damaged_cache_file_is_noticed_and_removed(cache, server):
    url = server.url("files", "net.pkl")
    path = fetch(url, network_cache_path(url), progress=False)
    with open(path, "r+b") as f:
        f.seek(1000)
        f.write(b"\0" * 8)
    with pytest.raises(DownloadError, match="no longer matches its recorded SHA-256") as err:
        stylegan.load(url)
    assert "\n" not in str(err.value) and cache_files(cache) == []


def test_a_dropped_connection_is_resumed_with_a_range_request(cache, server):
    url = server.url("cut", "net.pkl")
    path = fetch(url, network_cache_path(url), progress=False)
    assert path.read_bytes() == NETWORK.read_bytes()
    half = len(NETWORK.read_bytes()) // 2
    assert [r[1] for r in server.requests] == [None, f"bytes={half}-"]
    assert cache_files(cache) == sorted([f"networks/{path.name}", f"networks/{path.name}.sha256"])


def _leftover(url: str, size: int):
    """What a killed run leaves behind: the first `size` bytes in NAME.part and the server's ETag."""
    dest, data = network_cache_path(url), NETWORK.read_bytes()
    dest.parent.mkdir(parents=True)
    dest.with_name(dest.name + ".part").write_bytes(data[:size])
    etag = '"' + hashlib.sha256(data).hexdigest()[:16] + '"'
    dest.with_name(dest.name + ".part.json").write_text(json.dumps({"url": url, "validator": etag}))
    return dest, data, etag


def test_an_interrupted_download_resumes_where_it_stopped(cache, server):
    url = server.url("files", "net.pkl")
    dest, data, etag = _leftover(url, 1000)
    assert fetch(url, dest, progress=False).read_bytes() == data
    assert server.requests == [("/files/net.pkl", "bytes=1000-", etag)]
    assert cache_files(cache) == sorted([f"networks/{dest.name}", f"networks/{dest.name}.sha256"])


def test_a_leftover_of_a_changed_file_starts_over(cache, server):
    url = server.url("files", "net.pkl")
    dest = network_cache_path(url)
    dest.parent.mkdir(parents=True)
    dest.with_name(dest.name + ".part").write_bytes(b"x" * 1000)
    dest.with_name(dest.name + ".part.json").write_text(json.dumps({"url": url, "validator": '"old"'}))
    assert fetch(url, dest, progress=False).read_bytes() == NETWORK.read_bytes()


FAULTS = [
    ("files", "missing.pkl", {}, r"HTTP 404 Not Found"),
    ("wrong-length", "net.pkl", {}, r"size mismatch: the server announced \d+ bytes but sent \d+"),
    ("files", "net.pkl", {"sha256": "0" * 64}, r"hash mismatch: SHA-256 [0-9a-f]{64}, expected 0{64}"),
    ("files", "net.pkl", {"hash_prefix": "00000000"}, r"hash mismatch: .* does not start with 00000000"),
    ("loop", "", {}, r"HTTP 302 too many redirects"),
    ("to-file", "", {}, r"refused a redirect to file:///etc/hostname"),
    ("slow", "net.pkl", {"timeout": 0.5}, r"within 0.5 s \(timeout\)"),
    ("html", "", {}, r"sent a web page, not the file"),
]


@pytest.mark.parametrize("route,name,kwargs,message", FAULTS, ids=[f[0] + str(i) for i, f in enumerate(FAULTS)])
def test_faults_give_one_line_and_leave_nothing_in_the_cache(cache, server, route, name, kwargs, message):
    url = server.url(route, name)
    with pytest.raises(DownloadError, match=message) as err:
        fetch(url, network_cache_path(url), progress=False, **kwargs)
    assert "\n" not in str(err.value) and str(err.value).startswith(url)
    assert cache_files(cache) == []


def test_a_redirect_is_followed(cache, server):
    url = server.url("redirect", "net.pkl")
    assert fetch(url, network_cache_path(url), progress=False).read_bytes() == NETWORK.read_bytes()


def test_no_network_is_one_line(cache, server):
    url = server.url("files", "net.pkl")
    server.stop()
    with pytest.raises(DownloadError, match=r"cannot reach 127\.0\.0\.1:\d+ .*--offline") as err:
        stylegan.load(url)
    assert "\n" not in str(err.value) and cache_files(cache) == []


def test_a_malicious_pickle_by_url_is_refused_like_a_local_one(cache, server, tmp_path):
    marker = tmp_path / "pwned"
    server.files["evil.pkl"] = pickle.dumps({"G_ema": _RunsCommand(f"touch {marker}")})
    with pytest.raises(UnsafePickleError, match="system"):
        stylegan.load(server.url("files", "evil.pkl"))
    assert not marker.exists()


def test_offline_mode_never_touches_the_network_and_names_what_is_missing(cache, server, monkeypatch):
    url = server.url("files", "net.pkl")
    monkeypatch.setenv("STYLEGAN_OFFLINE", "1")
    with pytest.raises(OfflineError, match="is not in the cache .* offline mode is on") as err:
        stylegan.load(url)
    assert str(network_cache_path(url)) in str(err.value) and server.requests == []
    assert remote_size(url) is None and server.requests == []
    monkeypatch.delenv("STYLEGAN_OFFLINE")
    stylegan.load(url)
    monkeypatch.setenv("STYLEGAN_OFFLINE", "1")
    stylegan.load(url)  # cached: fine offline
    assert len(server.requests) == 1


def test_remote_size_asks_the_server(cache, server):
    assert remote_size(server.url("files", "net.pkl")) == NETWORK.stat().st_size
    assert remote_size(server.url("files", "missing.pkl")) is None


def test_the_zoo_parses_with_unique_names_https_urls_and_every_name_resolves(cache, monkeypatch):
    names = [entry.name for entry in zoo.ZOO]
    assert len(names) == len(set(names)) and len(names) >= 30
    for entry in zoo.ZOO:
        assert entry.url.startswith("https://") and entry.download_url.startswith("https://")
        assert entry.file.endswith(".pkl") and entry.generation and entry.dataset
        w, h = (int(v) for v in entry.resolution.split("x"))
        assert entry.name.split("-")[1] == str(w) and h <= w
        assert entry.sha256 is None or len(entry.sha256) == 64
        assert zoo.get(entry.name.upper()) is entry
    generations = {entry.generation for entry in zoo.ZOO}
    assert {"StyleGAN", "StyleGAN2 config F", "StyleGAN2-ADA", "StyleGAN3-T", "StyleGAN3-R"} <= generations
    monkeypatch.setenv("STYLEGAN_OFFLINE", "1")  # resolving goes to the entry's URL and cache file, not further
    for entry in zoo.ZOO:
        with pytest.raises(OfflineError) as err:
            hub.resolve_network(entry.name)
        assert entry.download_url in str(err.value) and str(hub.network_path(entry)) in str(err.value)
    with pytest.raises(CheckpointError, match="did you mean ffhq-1024-sg3t"):
        hub.resolve_network("ffhq-1024-sg3")


def test_drive_links_use_the_direct_download_endpoint():
    entry = zoo.get("ffhq-1024-sg1")
    assert entry.url == "https://drive.google.com/uc?id=1MEGjdvVpUsu1jB4zrXZN7Y4kBBOzizDQ"
    assert urlsplit(entry.download_url).netloc == "drive.usercontent.google.com"
    assert "id=1MEGjdvVpUsu1jB4zrXZN7Y4kBBOzizDQ" in entry.download_url


@pytest.fixture
def tiny_zoo(server, monkeypatch):
    entry = zoo.Checkpoint("tiny-32-sg2", "StyleGAN2", "test", "32x32", server.url("files", "net.pkl"),
                           "net.pkl")
    monkeypatch.setitem(zoo._BY_NAME, entry.name, entry)
    monkeypatch.setattr(zoo, "ZOO", zoo.ZOO + (entry,))
    return entry


def test_cli_download_then_generate_offline_by_name(cache, server, tiny_zoo, tmp_path, monkeypatch):
    monkeypatch.setenv("STYLEGAN_OFFLINE", "0")  # restored after the test, whatever --offline sets
    runner = CliRunner()
    result = runner.invoke(cli, ["download", "tiny-32-sg2"])
    assert result.exit_code == 0, result.output
    assert f"tiny-32-sg2: {hub.network_path(tiny_zoo)}" in result.output
    server.stop()
    out = tmp_path / "out"
    result = runner.invoke(cli, ["generate", "--network", "tiny-32-sg2", "--seeds", "0", "--outdir", str(out),
                                 "--device", "cpu", "--offline"])
    assert result.exit_code == 0, result.output
    assert (out / "seed0000.png").is_file()
    listing = runner.invoke(cli, ["models"]).output
    assert all(entry.name in listing for entry in zoo.ZOO)
    assert "tiny-32-sg2" in listing and f"{NETWORK.stat().st_size / 1e6:.1f} MB" in listing


def test_cli_failures_are_one_line(cache, server, monkeypatch):
    monkeypatch.setenv("STYLEGAN_OFFLINE", "0")
    runner = CliRunner()
    result = runner.invoke(cli, ["download", server.url("files", "missing.pkl"), "no-such-net"])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 2 and "HTTP 404" in lines[0] and "not a published checkpoint name" in lines[1]
    url = server.url("files", "net.pkl")
    result = runner.invoke(cli, ["generate", "--network", url, "--seeds", "0", "--offline"])
    assert result.exit_code == 1 and "offline mode is on" in result.output
    assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output
    result = runner.invoke(cli, ["--offline", "download", url])   # the flag also goes before the verb
    assert result.exit_code == 1 and "offline mode is on" in result.output
    assert server.requests[-1][0] == "/files/missing.pkl" and cache_files(cache) == []


def _weights_file(tmp_path):
    state = {"features.0.weight": torch.randn(4, 3, 3, 3), "features.0.bias": torch.randn(4)}
    path = tmp_path / "w.pth"
    torch.save(state, path)
    return state, path.read_bytes()


def test_feature_weights_download_on_consent_verified_by_the_name_hash(cache, server, tmp_path, monkeypatch):
    state, data = _weights_file(tmp_path)
    prefix = hashlib.sha256(data).hexdigest()[:8]
    name = f"vgg16-{prefix}.pth"
    server.files[name] = data
    spec = weight_files.WeightFiles("VGG16", (name,), "STYLEGAN_VGG16", "--vgg", server.url("files", name), name)
    with pytest.raises(weight_files.WeightsMissingError, match="--download-weights") as err:
        weight_files.find_weights(spec)
    assert "STYLEGAN_DOWNLOAD=1" in str(err.value) and server.requests == []
    monkeypatch.setenv("STYLEGAN_DOWNLOAD", "1")
    monkeypatch.setenv("STYLEGAN_OFFLINE", "1")
    with pytest.raises(weight_files.WeightsMissingError, match="offline mode is on"):
        weight_files.find_weights(spec)
    assert server.requests == []
    monkeypatch.delenv("STYLEGAN_OFFLINE")
    path = weight_files.find_weights(spec)
    assert path == cache / "weights" / name and sha256_of(path).startswith(prefix)
    loaded = weight_files.read_state(path)  # the same safe conversion as local files
    assert loaded.keys() == state.keys() and all(torch.equal(loaded[k], state[k]) for k in state)
    monkeypatch.delenv("STYLEGAN_DOWNLOAD")
    assert weight_files.find_weights(spec) == path and len(server.requests) == 1   # cached: no consent needed


def test_feature_weights_with_a_wrong_hash_prefix_are_refused(cache, server, tmp_path, monkeypatch):
    _, data = _weights_file(tmp_path)
    name = "pt_inception-2015-12-05-6726825d.pth"
    server.files[name] = data
    spec = weight_files.WeightFiles("InceptionV3", (name,), "STYLEGAN_INCEPTION", "--detector",
                                    server.url("files", name), name)
    monkeypatch.setenv("STYLEGAN_DOWNLOAD", "1")
    with pytest.raises(DownloadError, match="does not start with 6726825d"):
        weight_files.find_weights(spec)
    assert cache_files(cache) == []


def test_official_weight_sources():
    for spec in (weight_files.INCEPTION, weight_files.VGG16, weight_files.LPIPS_HEADS):
        assert spec.url.startswith("https://") and spec.cached_as in spec.files
    assert weight_files.INCEPTION.url.endswith("/pt_inception-2015-12-05-6726825d.pth")


def test_studio_offers_a_url_given_at_start_but_never_fetches_one_typed_later(cache, server, tmp_path):
    from stylegan.errors import InputError
    from stylegan.studio.session import Session

    given = server.url("files", "net.pkl")
    session = Session([given], outdir=tmp_path / "captures")
    assert given in session.networks and session.model(given).img_resolution == 32
    seen = len(server.requests)
    with pytest.raises(InputError, match="no such checkpoint file"):
        session.model(server.url("redirect", "net.pkl"))
    assert len(server.requests) == seen


def test_ctrl_c_keeps_the_partial_file_and_the_next_run_resumes_it(cache, server, monkeypatch):
    import tqdm
    from stylegan.hub import download

    url = server.url("files", "net.pkl")
    dest = network_cache_path(url)
    monkeypatch.setattr(download, "CHUNK", 50_000)
    real_update = tqdm.tqdm.update

    def interrupt_on_second_chunk(bar, n=1):
        if bar.n >= 50_000:
            raise KeyboardInterrupt
        return real_update(bar, n)

    monkeypatch.setattr(tqdm.tqdm, "update", interrupt_on_second_chunk)
    with pytest.raises(KeyboardInterrupt):
        fetch(url, dest)
    monkeypatch.setattr(tqdm.tqdm, "update", real_update)
    part = dest.with_name(dest.name + ".part")
    assert not dest.exists() and part.stat().st_size == 100_000
    assert fetch(url, dest, progress=False).read_bytes() == NETWORK.read_bytes()
    assert [r[1] for r in server.requests] == [None, "bytes=100000-"] and server.requests[1][2]
    assert cache_files(cache) == sorted([f"networks/{dest.name}", f"networks/{dest.name}.sha256"])


def test_a_complete_leftover_is_downloaded_again(cache, server):
    url = server.url("files", "net.pkl")
    dest, data, _ = _leftover(url, len(NETWORK.read_bytes()))   # killed between the last byte and the rename
    assert fetch(url, dest, progress=False).read_bytes() == data
    assert [r[1] for r in server.requests] == [f"bytes={len(data)}-", None]


def test_processes_fetching_the_same_file_at_once_download_it_once(cache, server):
    url = server.url("files", "net.pkl")
    results, errors = [], []

    def worker():
        try:
            results.append(fetch(url, network_cache_path(url), progress=False).read_bytes())
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and results == [NETWORK.read_bytes()] * 4 and len(server.requests) == 1


def test_the_missing_weights_message_says_how_to_download(cache, monkeypatch):
    from stylegan.nets import load_inception_net

    with pytest.raises(weight_files.WeightsMissingError) as err:
        load_inception_net()
    message = str(err.value)
    assert "fetch pt_inception-2015-12-05-6726825d.pth" in message and "--download-weights" in message
    assert "STYLEGAN_DOWNLOAD=1" in message and "\n" not in message
