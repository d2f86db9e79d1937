"""Studio under load, on loopback: N clients render as fast as answers come while a projection runs, bad
requests are mixed in and silent sockets are held open; prints renders/s, latency, errors and the server's
memory, then checks that the server still answers. Stops by itself after --seconds (at most 120).

    python -m benchmarks.studio_load [--seconds 60] [--clients 8] [--idle 70] [--network builtin:demo]
                                     [--device cpu]

The server is `stylegan studio` in its own process (so that its memory is its own), on a free 127.0.0.1 port
with a fixed token. Bad requests (one every 0.2 s, in turn): no token, a foreign Origin, a text/plain body,
broken JSON, an oversized body, a path outside the allowed folders, an unknown setting, a second projection,
Infinity in a number field, an Origin that is not a URL; each must get its own 4xx answer. Silent sockets:
--idle connections that send nothing, each reopened as soon as the server closes it. Memory is the server's
VmRSS/VmHWM from /proc (Linux).
"""
from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import select
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import PIL.Image

from stylegan.studio.server import MAX_JSON, free_port

from .machine import describe

TOKEN = "load-test-token"
MAX_SECONDS = 120


class Client:
    """One keep-alive HTTP connection to the studio. Like a browser, it sends a request again on a new
    connection when the server has closed the idle one it reused before answering (`reconnects` counts those)."""

    reconnects = 0  # over all clients

    def __init__(self, port: int, timeout: float = 60):
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)

    def call(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None,
             token: bool = True) -> tuple[int, dict]:
        sent = {"Content-Type": "application/json", **(headers or {})}
        if token:
            sent["Authorization"] = f"token {TOKEN}"
        reused = self.conn.sock is not None
        try:
            return self._exchange(method, path, body, sent)
        except (ConnectionError, http.client.RemoteDisconnected):
            if not reused:
                raise
            Client.reconnects += 1
            return self._exchange(method, path, body, sent)

    def _exchange(self, method: str, path: str, body: bytes | None, headers: dict) -> tuple[int, dict]:
        try:
            self.conn.request(method, path, body=body, headers=headers)
            answer = self.conn.getresponse()
            data = answer.read()
        except (OSError, http.client.HTTPException):
            self.conn.close()  # reconnect on the next call
            raise
        if answer.getheader("connection", "").lower() == "close":
            self.conn.close()
        try:
            return answer.status, json.loads(data) if data else {}
        except ValueError:  # e.g. uvicorn's own plain-text answers
            return answer.status, {"error": data[:100].decode("latin-1")}


def memory(pid: int) -> dict[str, float]:
    """The process's resident memory now and at its peak, in MiB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0]) / 1024
    return fields


def png_bytes(size: int = 64) -> bytes:
    buffer = io.BytesIO()
    PIL.Image.fromarray(np.random.RandomState(0).randint(0, 255, (size, size, 3), np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


def start_server(network: str, device: str, folder: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    command = [sys.executable, "-m", "stylegan.cli", "studio", "--network", network, "--port", str(port),
               "--token", TOKEN, "--no-browser", "--outdir", str(folder / "captures"), "--device", device]
    server = subprocess.Popen(command, cwd=folder, stdout=subprocess.DEVNULL, stderr=open(folder / "log", "w"))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the studio did not start:\n{(folder / 'log').read_text()}")
        try:
            if Client(port, timeout=5).call("GET", "/api/networks")[0] == 200:
                return server, port
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit("the studio did not answer within 120 s")


def bad_requests(network: str, outside: str) -> list[tuple[str, str, bytes, dict, bool, int]]:
    """(method, path, body, headers, with token, expected status) for each kind of bad request."""
    settings = json.dumps({"settings": {"network": network}}).encode()
    return [
        ("POST", "/api/render", settings, {}, False, 403),
        ("POST", "/api/render", settings, {"Origin": "http://127.0.0.1:1"}, True, 403),
        ("POST", "/api/capture", settings, {"Content-Type": "text/plain"}, True, 415),
        ("POST", "/api/render", b"{broken", {}, True, 400),
        ("POST", "/api/render", b" " * (MAX_JSON + 1), {}, True, 413),
        ("POST", "/api/network", json.dumps({"network": outside}).encode(), {}, True, 403),
        ("POST", "/api/render", json.dumps({"settings": {"network": network, "x": 1}}).encode(), {}, True, 400),
        ("POST", f"/api/project?network={network}&steps=5", png_bytes(),
         {"Content-Type": "application/octet-stream"}, True, 409),
        ("POST", "/api/render", ('{"settings": {"network": "%s", "dx": Infinity}}' % network).encode(), {}, True, 400),
        ("GET", "/api/networks", None, {"Origin": "http://["}, True, 403),
    ]


def hold_silent_sockets(port: int, count: int, deadline: float) -> int:
    """Keep `count` connections open that send nothing, reopening each one the server closes, until
    `deadline`; returns how many the server closed."""
    sockets = [socket.create_connection(("127.0.0.1", port)) for _ in range(count)]
    closed = 0
    while time.monotonic() < deadline:
        readable, _, _ = select.select(sockets, [], [], 0.2)
        for sock in readable:  # a silent socket turns readable when the server closes it
            sock.close()
            sockets[sockets.index(sock)] = socket.create_connection(("127.0.0.1", port))
            closed += 1
    for sock in sockets:
        sock.close()
    return closed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--idle", type=int, default=70, help="silent sockets held open throughout")
    parser.add_argument("--network", default="builtin:demo")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--steps", type=int, default=10000, help="projection steps (it runs through the test)")
    args = parser.parse_args()
    seconds = min(args.seconds, MAX_SECONDS)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        server, port = start_server(args.network, args.device, folder)
        try:
            run(server, port, args, seconds, folder)
        finally:
            server.kill()
            server.wait()


def run(server: subprocess.Popen, port: int, args: argparse.Namespace, seconds: float, folder: Path) -> None:
    network = args.network
    warm = Client(port)
    status, _ = warm.call("POST", "/api/render", json.dumps({"settings": {"network": network}}).encode())
    assert status == 200, status
    before = memory(server.pid)
    status, answer = warm.call("POST", f"/api/project?network={network}&steps={args.steps}", png_bytes(),
                               {"Content-Type": "application/octet-stream"})
    assert status == 200, (status, answer)
    latencies: list[float] = []
    errors: list[str] = []
    refused = {"expected": 0}
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def renderer(k: int) -> None:
        client, seed = Client(port), k * 1000
        while time.monotonic() < deadline:
            seed += 1
            body = json.dumps({"settings": {"network": network, "seed": seed, "psi": 0.7}, "client": f"c{k}"})
            start = time.perf_counter()
            try:
                status, answer = client.call("POST", "/api/render", body.encode())
            except (OSError, http.client.HTTPException) as exc:
                status, answer = 0, {"error": repr(exc)}
            with lock:
                if status == 200 and "image" in answer:
                    latencies.append(time.perf_counter() - start)
                else:
                    errors.append(f"render: {status} {answer.get('error', answer)}")

    def troublemaker() -> None:
        client, cases, i = Client(port), bad_requests(network, str(folder.parent / "elsewhere.pkl")), 0
        while time.monotonic() < deadline:
            method, path, body, headers, token, expected = cases[i % len(cases)]
            i += 1
            try:
                status, answer = client.call(method, path, body, headers, token)
            except (OSError, http.client.HTTPException) as exc:
                status, answer = 0, {"error": repr(exc)}
            with lock:
                if status == expected and answer.get("error"):
                    refused["expected"] += 1
                else:
                    errors.append(f"bad request {path}: {status} (expected {expected})")
            time.sleep(0.2)

    silent = {"closed": 0}

    def silent_sockets() -> None:
        silent["closed"] = hold_silent_sockets(port, args.idle, deadline)

    threads = [threading.Thread(target=renderer, args=(k,)) for k in range(args.clients)]
    threads += [threading.Thread(target=troublemaker), threading.Thread(target=silent_sockets)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    projection = Client(port).call("GET", "/api/project")[1]
    after = memory(server.pid)
    alive = Client(port).call("POST", "/api/render", json.dumps({"settings": {"network": network}}).encode())[0]
    ms = sorted(1000 * t for t in latencies)
    print(describe(args.device) + " (this process; the server is a `stylegan studio` started from it)")
    print(f"{args.clients} clients, {args.idle} silent sockets, {elapsed:.0f} s, network {network}, "
          f"device {args.device}, {os.cpu_count()} CPUs seen, load average {os.getloadavg()[0]:.1f}")
    print(f"silent sockets closed by the server (and reopened): {silent['closed']}; requests sent again after the "
          f"server closed an idle keep-alive connection: {Client.reconnects}")
    print("| renders | renders/s | p50 ms | p99 ms | refused as expected | errors | projection steps | "
          "server RSS before / after MiB | server peak RSS before / after MiB | answers afterwards |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    p99 = ms[min(len(ms) - 1, int(0.99 * len(ms)))] if ms else float("nan")
    print(f"| {len(ms)} | {len(ms) / elapsed:.1f} | {statistics.median(ms) if ms else float('nan'):.0f} | "
          f"{p99:.0f} | {refused['expected']} | {len(errors)} | {projection.get('step')} ({projection.get('state')}) "
          f"| {before['VmRSS']:.0f} / {after['VmRSS']:.0f} | {before['VmHWM']:.0f} / {after['VmHWM']:.0f} | "
          f"{'yes' if alive == 200 else f'no ({alive})'} |")
    for error in sorted(set(errors))[:10]:
        print("error:", error)


if __name__ == "__main__":
    main()
