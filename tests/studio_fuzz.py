"""A request fuzzer for the studio: seeded mutations of valid requests to every route (JSON bodies, raw bodies,
query strings, headers and URL paths), sent to the app in-process; every answer must be below 500 and show no
internals (no traceback, no "internal error").

tests/test_studio_fuzz.py runs a short pass; `python -m benchmarks.fuzz_studio --requests N` runs a longer one
and prints the tally. To extend it, add values to the NASTY_* lists or HEADER_VALUES, or a mutator to
MUTATORS (a function (Request, random.Random, Files) -> Request).

Projections are replaced by a stub that finishes at once (`quick_projections`): the fuzzer tests how requests
are handled, not the optimiser, and a fuzzed `steps=10000` must not keep the CPU busy.
"""
from __future__ import annotations

import contextlib
import copy
import io
import json
import random
import struct
import types
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import PIL.Image
import torch

import stylegan
import stylegan.studio.session as session_module
from stylegan.formats.native import save_networks
from stylegan.io import save_directions
from stylegan.latent import save_ws
from stylegan.latent.settings import Direction, Settings
from stylegan.studio.gate import cookie_name

NASTY_NUMBERS = [0, -1, 1, 7, 2 ** 31, 2 ** 32, 2 ** 63, 2 ** 64, 10 ** 400, -10 ** 400, 1e308, -1e308, 1e30,
                 float("inf"), float("-inf"), float("nan"), 0.5, -0.0, 5e-324, True, False]
NASTY_TEXTS = ["", " ", "\x00", "a\x00b", "a" * 3000, "/a" * 1500, "é²", "\ud800", "~nosuchuser/x.npz", "~",
               "~/x.pkl", "../../../etc/passwd", "/etc/passwd", "/", ".", "builtin:demo", "builtin:", "builtin:x",
               "https://example.invalid/x.pkl", "ffhq", "x.npz:²", "x.npz:-1", "x.npz:" + "9" * 30, "a:b:c",
               "coarse", "0-3", "fine,coarse", "99-0", "ganspace", "sefa", "file", "const", "random", "none",
               "b8.conv1", "%s%n", "<img src=x onerror=alert(1)>", "C:\\Windows", "\\\\server\\share\\x.pkl"]
NASTY_CONTAINERS: list[Any] = [None, [], {}, [[]], {"": None}, [1, 2, 3], list(range(300)), [None] * 3,
                               {"layer": None}, {"kind": "file"}]
HEADER_VALUES: dict[str, list[str | bytes]] = {
    "origin": ["http://[", "http://127.0.0.1]", "null", "", "http://127.0.0.1:1", "https://127.0.0.1",
               "HTTP://127.0.0.1", "http://user@127.0.0.1", "http://attacker.example", "file://", "::::",
               b"http://\xff\xfe", "http://127.0.0.1 "],
    "referer": ["http://[", "/relative", "http://127.0.0.1/", "https://127.0.0.1/", "", "%%%", b"\xff"],
    "host": ["[", "]", "", "[::1", "127.0.0.1:", "127.0.0.1:99999", "localhost:abc", "a" * 3000, "[::ffff:127.0.0.1]",
             "127.0.0.1.attacker.example", "LOCALHOST", b"127.0.0.1\xff"],
    "content-type": ["", "text/plain", "application/JSON", "application/json; charset=utf-16",
                     "application/octet-stream", "multipart/form-data; boundary=x", ";;;", "application/json;" * 100,
                     b"application/json\xff"],
    "authorization": ["", "token", "token ", "Token TOKEN", "token TOKENx", "Bearer TOKEN", "token \x01",
                      b"token \xff", "token " + "x" * 5000],
    "cookie": ["=", ";;;", "a=b; " * 300, "COOKIE=wrong", "COOKIE", "COOKIE=TOKEN; COOKIE=x", b"\xff=\xff"],
    "sec-fetch-site": ["cross-site", "same-site", "none", "same-origin", "", "???"],
    "sec-fetch-dest": ["iframe", "document", "", "empty", "worker"],
    "range": ["bytes=0-0", "bytes=5-1", "bytes=-", "bytes=a-b", "bytes=" + ",".join(["0-1"] * 500),
              "bytes=99999999999999999999-", "lines=1-2"],
    "if-none-match": ["*", '"x"', "", '"' + "x" * 3000 + '"'],
    "if-modified-since": ["yesterday", "Thu, 01 Jan 1970 00:00:00 GMT", "Sun, 31 Dec 9999 23:59:59 GMT"],
    "upgrade": ["websocket", "h2c"],
    "connection": ["upgrade", "close", "keep-alive, upgrade"],
    "x-forwarded-host": ["attacker.example"],
    "accept-encoding": ["gzip;q=nan", "*"],
}
NASTY_QUERY = ["", "0", "-1", "1", "2", "10001", "1e308", "nan", "²", "١٢", "9" * 400, " 5", "5 ", "0x10", "+3",
               "\x00", "%00", "%ff", "a" * 3000]
NASTY_PATHS = ["/static/%00", "/static/..%2f..%2fsession.py", "/static/../server.py", "/static/" + "a" * 3000,
               "/static/app.js%00", "/static/", "/static", "/static/app.js/", "/api/render/", "/api//render", "//",
               "/%ff", "/api/networks/%2e%2e", "/api", "/api/project/x", "/index.html", "/static/%c0%af"]
METHODS = ["GET", "POST", "HEAD", "OPTIONS", "PUT", "DELETE", "PATCH", "TRACE", "FOO"]


@dataclass
class Request:
    """One request: method, path, query, headers, and its body as a JSON value (`json`) or bytes (`raw`)."""
    route: str
    method: str
    path: str
    query: list[tuple[str, str]] = field(default_factory=list)
    headers: dict[str, str | bytes] = field(default_factory=dict)
    json: Any = None
    raw: bytes | None = None


@dataclass
class Files:
    """The files fuzzed requests may name: the network, a ws and a direction file, damaged files (all in the
    allowed folder), a file outside it, and an image to upload."""
    network: str
    ws: str
    directions: str
    damaged: list[str]
    outside: str
    image: bytes
    token: str = ""

    def texts(self) -> list[str]:
        """Path-like texts worth trying wherever a path goes."""
        return [self.network, self.ws, self.directions, self.directions + ":1", self.directions + ":²",
                self.directions + ":99", self.outside, str(Path(self.ws).parent), *self.damaged]


def _png(size: int = 32) -> bytes:
    buffer = io.BytesIO()
    PIL.Image.fromarray(np.random.RandomState(0).randint(0, 255, (size, size, 3), np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


def _huge_png_header() -> bytes:
    """The first bytes of a PNG that says it is 100000 x 100000 pixels (a decompression bomb)."""
    ihdr = struct.pack(">IIBBBBB", 100000, 100000, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr + b"\0\0\0\0"


def make_files(allowed: Path, outside: Path, network: Path, seed: int = 0) -> Files:
    """Write the ws, direction and damaged files into `allowed` and a valid ws file into `outside`."""
    rng = random.Random(seed)
    G = stylegan.load(network)
    save_ws(allowed / "w.npz", torch.zeros(1, G.num_ws, G.w_dim))
    save_ws(outside / "w.npz", torch.zeros(1, G.num_ws, G.w_dim))
    save_directions(allowed / "dirs.npz", np.eye(3, G.w_dim, dtype=np.float32), np.ones(3, np.float32),
                    np.ones(3, np.float32), "fuzz")
    save_networks({"G_ema": G}, allowed / "net.safetensors")
    data, native = network.read_bytes(), (allowed / "net.safetensors").read_bytes()
    flipped = bytearray(data)
    for _ in range(8):
        flipped[rng.randrange(len(flipped))] = rng.randrange(256)
    damaged = {
        "empty.pkl": b"",
        "noise.pkl": rng.randbytes(4096),
        "half.pkl": data[:len(data) // 2],
        "flipped.pkl": bytes(flipped),
        "junk.pt": b"PK\x03\x04" + rng.randbytes(512),
        "torn.safetensors": native[:len(native) // 3],
        # metadata naming a channel count by a letter: the native loader raises ValueError, not a CheckpointError
        "metadata.safetensors": native.replace(b'\\"4\\": ', b'\\"j\\": ', 1),
        "junk.npz": rng.randbytes(300),
        "junk.npy": b"\x93NUMPY\x01\x00" + rng.randbytes(100),
        "torn-w.npz": (allowed / "w.npz").read_bytes()[:200],
        "image.png.pkl": _png(),
    }
    for name, content in damaged.items():
        (allowed / name).write_bytes(content)
    np.save(allowed / "wide-dirs.npy", np.ones((2, G.w_dim + 3), np.float32))  # directions of another w size
    return Files(str(network), str(allowed / "w.npz"), str(allowed / "dirs.npz"),
                 [str(allowed / name) for name in [*damaged, "wide-dirs.npy"]], str(outside / "w.npz"), _png())


def valid_requests(files: Files) -> list[Request]:
    """One valid request per route (two for render), the bases the mutators start from."""
    settings = Settings(network=files.network, seed=3, dx=0.25, dy=0.5, mix_seed=1, mix_layers=[0, 1], psi=0.7,
                        cutoff=4, noise_mode="random", noise_seed=5, noise_off=[0],
                        directions=[Direction("sefa", 0, 1.0, "coarse"),
                                    Direction("file", 1, -1.0, "0-3", files.directions)]).to_dict()
    projected = {**settings, "ws_file": files.ws, "directions": []}
    json_post = {"content-type": "application/json"}
    return [
        Request("page", "GET", "/", [("token", files.token)]),
        Request("static", "GET", "/static/app.js"),
        Request("networks", "GET", "/api/networks"),
        Request("projection", "GET", "/api/project"),
        Request("network", "POST", "/api/network", headers=json_post,
                json={"network": files.network, "settings": settings}),
        Request("render", "POST", "/api/render", headers=json_post,
                json={"settings": settings, "view": {"layer": "b8.conv1", "channel": 1, "rgb": False},
                      "client": "fuzz"}),
        Request("render", "POST", "/api/render", headers=json_post, json={"settings": projected, "view": None}),
        Request("capture", "POST", "/api/capture", headers=json_post, json={"settings": settings}),
        Request("direction", "POST", "/api/direction", headers=json_post,
                json={"file": files.directions + ":1", "network": files.network}),
        Request("project", "POST", "/api/project", [("network", files.network), ("steps", "2"), ("class", "")],
                {"content-type": "application/octet-stream"}, raw=files.image),
    ]


def _nasty(rng: random.Random, files: Files, like: Any = None) -> Any:
    """A nasty JSON value; with `like`, half the time one of the same kind (a number for a number, ...)."""
    if like is not None and rng.random() < 0.5:
        if isinstance(like, bool):
            return rng.choice([True, False, 0, 1, "true", None])
        if isinstance(like, (int, float)):
            return rng.choice(NASTY_NUMBERS)
        if isinstance(like, str):
            return rng.choice(NASTY_TEXTS + files.texts())
    pool = rng.choice([NASTY_NUMBERS, NASTY_TEXTS, files.texts(), NASTY_CONTAINERS])
    return copy.deepcopy(rng.choice(pool))


def _nodes(value: Any, trail: tuple = ()) -> Iterator[tuple[tuple, Any]]:
    """Every (path of keys/indices, node) in a JSON value, the root first."""
    yield trail, value
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in items:
        yield from _nodes(child, trail + (key,))


def _set(value: Any, trail: tuple, new: Any) -> Any:
    if not trail:
        return new
    parent = value
    for key in trail[:-1]:
        parent = parent[key]
    parent[trail[-1]] = new
    return value


def mutate_json(request: Request, rng: random.Random, files: Files) -> Request:
    """One to three edits of the JSON body: a node replaced (often by one of its kind), a key dropped or added,
    a list grown, or the body itself replaced."""
    if request.json is None:
        return mutate_raw(request, rng, files)
    body = copy.deepcopy(request.json)
    for _ in range(rng.randint(1, 3)):
        trail, node = rng.choice(list(_nodes(body)))
        action = rng.random()
        if action < 0.6:
            body = _set(body, trail, _nasty(rng, files, like=node))
        elif action < 0.75 and isinstance(node, dict) and node:
            del node[rng.choice(sorted(node))]
        elif action < 0.85 and isinstance(node, dict):
            node[rng.choice(["x", "", "format", "__proto__", "view", "settings", "\x00"])] = _nasty(rng, files)
        elif action < 0.95 and isinstance(node, list):
            node.extend([copy.deepcopy(node[0]) if node else None] * rng.choice([1, 50]))
        else:
            body = _set(body, trail, _nasty(rng, files))
    return replace(request, json=body)


def mutate_raw(request: Request, rng: random.Random, files: Files) -> Request:
    """The body as bytes, broken: cut, bytes flipped, odd numbers and encodings, deep nesting, or replaced."""
    data = request.raw if request.raw is not None else json.dumps(request.json).encode()
    choice = rng.randrange(9)
    if choice == 0 and data:
        data = data[:rng.randrange(len(data))]
    elif choice == 1 and data:
        flipped = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            flipped[rng.randrange(len(flipped))] = rng.randrange(256)
        data = bytes(flipped)
    elif choice == 2:
        data = data.replace(b"0.7", rng.choice([b"1e999", b"NaN", b"-Infinity", b"9" * 5000, b"0x10", b"07"]), 1)
    elif choice == 3:
        data = rng.choice([b"[" * 100_000, b"{\"a\":" * 50_000, b"\"" + b"\\u0000" * 1000 + b"\""])
    elif choice == 4:
        data = rng.choice([b"\xef\xbb\xbf" + data, data.decode("latin-1").encode("utf-16"), b"\xff\xfe\xfd"])
    elif choice == 5:
        data = rng.choice([b"", b"null", b"[]", b"\"x\"", b"0", b"true", b"{}", b"{\"settings\": {}, \"settings\": 1}"])
    elif choice == 6:
        data = rng.choice([_huge_png_header(), files.image[:100], rng.randbytes(1000), b"GIF89a" + rng.randbytes(50)])
    elif choice == 7:
        data = data + rng.choice([b"", b" ", b"\x00", b"}", b"garbage"])
    else:
        data = data.replace(b"\"", b"'", 1)
    return replace(request, json=None, raw=data)


def mutate_headers(request: Request, rng: random.Random, files: Files) -> Request:
    """One to three headers set to odd values, or one dropped."""
    headers = dict(request.headers)
    for _ in range(rng.randint(1, 3)):
        if headers and rng.random() < 0.2:
            del headers[rng.choice(sorted(headers))]
            continue
        name = rng.choice(sorted(HEADER_VALUES))
        value = rng.choice(HEADER_VALUES[name])
        if isinstance(value, str):
            value = value.replace("COOKIE", cookie_name(files.token)).replace("TOKEN", files.token)
        headers[name] = value
    return replace(request, headers=headers)


def mutate_query(request: Request, rng: random.Random, files: Files) -> Request:
    """Query parameters set to odd values, repeated, or added (a token among them)."""
    query = list(request.query)
    names = [name for name, _ in query] + ["token", "network", "steps", "class", "x"]
    for _ in range(rng.randint(1, 3)):
        name = rng.choice(names)
        value = rng.choice(NASTY_QUERY + files.texts() + [files.token])
        if rng.random() < 0.7:
            query = [(n, v) for n, v in query if n != name]
        query.append((name, value))
    return replace(request, query=query)


def mutate_path(request: Request, rng: random.Random, files: Files) -> Request:
    """Another path or method."""
    if rng.random() < 0.5:
        return replace(request, path=rng.choice(NASTY_PATHS))
    return replace(request, method=rng.choice(METHODS))


MUTATORS: dict[str, Callable[[Request, random.Random, Files], Request]] = {
    "json body": mutate_json, "raw body": mutate_raw, "headers": mutate_headers, "query": mutate_query,
    "path or method": mutate_path,
}
WEIGHTS = {"valid": 0.05, "json body": 0.45, "raw body": 0.15, "headers": 0.15, "query": 0.1, "path or method": 0.1}


@dataclass
class Tally:
    """What was sent and what came back: counts per (kind, status) and per (route, status class), and the
    requests that failed the checks (status 5xx or internals shown)."""
    by_kind: Counter = field(default_factory=Counter)
    by_route: Counter = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

    def table(self) -> str:
        """A Markdown table: one row per kind of mutation, one column per status seen."""
        statuses = sorted({status for _, status in self.by_kind})
        kinds = list(WEIGHTS) + sorted({kind for kind, _ in self.by_kind} - set(WEIGHTS))
        lines = ["| kind | requests | " + " | ".join(str(s) for s in statuses) + " |",
                 "| --- | --- | " + " | ".join("---" for _ in statuses) + " |"]
        for kind in kinds:
            counts = [self.by_kind[kind, s] for s in statuses]
            if sum(counts):
                lines.append(f"| {kind} | {sum(counts)} | " + " | ".join(str(c) for c in counts) + " |")
        total = [sum(self.by_kind[k, s] for k in kinds) for s in statuses]
        lines.append(f"| all | {sum(total)} | " + " | ".join(str(c) for c in total) + " |")
        return "\n".join(lines)


def _summary(request: Request) -> str:
    body = json.dumps(request.json)[:200] if request.json is not None else repr((request.raw or b"")[:80])
    return f"{request.method} {request.path[:80]} {request.query!r:.120} {request.headers!r:.200} {body}"


def send(client: Any, request: Request) -> tuple[int, str]:
    """Send `request` with the test client; (status, body text). Status 0: the client could not send it."""
    import httpx
    content = request.raw if request.raw is not None else (
        json.dumps(request.json).encode() if request.json is not None else None)
    try:
        answer = client.request(request.method, request.path, params=request.query or None, content=content,
                                headers=request.headers)
    except (httpx.HTTPError, ValueError, UnicodeError):
        return 0, ""
    return answer.status_code, answer.content.decode("utf-8", "replace")


def fuzz(client: Any, files: Files, count: int, seed: int = 0, tally: Tally | None = None) -> Tally:
    """Send `count` seeded requests (valid ones and mutants of them) and tally the answers; each must be
    below 500 and show no traceback or internal error, else it is listed in `failures`."""
    rng = random.Random(seed)
    tally = tally or Tally()
    bases = valid_requests(files)
    kinds, weights = list(WEIGHTS), list(WEIGHTS.values())
    for _ in range(count):
        kind = rng.choices(kinds, weights)[0]
        request = rng.choice(bases)
        if kind != "valid":
            request = MUTATORS[kind](request, rng, files)
        status, text = send(client, request)
        tally.by_kind[kind, status] += 1
        tally.by_route[request.route, f"{status // 100}xx" if status else "unsent"] += 1
        if status >= 500 or "Traceback" in text or "internal error" in text:
            tally.failures.append(f"{status} {text[:200]!r} <- {kind}: {_summary(request)}")
    return tally


@contextlib.contextmanager
def quick_projections() -> Iterator[None]:
    """Replace the studio's projector with a stub that reports one step and returns zero ws at once."""
    def project(G, target, num_steps=1000, class_idx=None, callback=None, progress=True, **kwargs):
        if callback is not None:
            callback(0, {"loss": 0.0})
        return types.SimpleNamespace(ws=torch.zeros(1, G.num_ws, G.w_dim))
    real = session_module.project
    session_module.project = project
    try:
        yield
    finally:
        session_module.project = real
