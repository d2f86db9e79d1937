"""Fuzz the studio for longer than the test does: N seeded requests (valid ones and mutants of them: JSON and raw
bodies, query strings, headers, paths and methods, for every route), then a table of what was sent and what
came back, and every answer that was a 5xx or showed internals. Exits 1 when there was one.

    python -m benchmarks.fuzz_studio [--requests 5000] [--seed 0] [--live] [--network PATH]

In-process by default (the app called directly, as in tests/test_studio_fuzz.py); with --live, over HTTP to a
studio on a free 127.0.0.1 port, so that uvicorn's parser and the connection limits are on the way too. The
mutations live in tests/studio_fuzz.py; projections are stubbed there (they finish at once).
"""
from __future__ import annotations

import argparse
import contextlib
import logging
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from studio_fuzz import fuzz, make_files, quick_projections  # noqa: E402

from stylegan.studio.server import Studio, create_app  # noqa: E402
from stylegan.studio.session import Session  # noqa: E402

TOKEN = "fuzz-token"


@contextlib.contextmanager
def client_for(session: Session, live: bool):
    """An HTTP client bound to the studio with its token: in-process (TestClient) or over loopback (httpx)."""
    import httpx
    headers = {"authorization": f"token {TOKEN}"}
    if not live:
        from starlette.testclient import TestClient
        with TestClient(create_app(session, token=TOKEN), base_url="http://127.0.0.1", headers=headers,
                        raise_server_exceptions=False) as client:
            yield client
        return
    studio = Studio(session, token=TOKEN)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{studio.port}", headers=headers, timeout=60) as client:
            yield client
    finally:
        studio.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--live", action="store_true", help="over HTTP to a studio on a loopback port")
    parser.add_argument("--network", default=str(ROOT / "tests" / "data" / "tf_sg2_skip_resnet_32.pkl"))
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    logging.getLogger("stylegan.studio").setLevel(logging.ERROR)  # damaged files are logged as warnings
    with tempfile.TemporaryDirectory() as tmp:
        allowed, outside = Path(tmp) / "allowed", Path(tmp) / "outside"
        allowed.mkdir()
        outside.mkdir()
        files = make_files(allowed, outside, Path(args.network).resolve())
        files.token = TOKEN
        session = Session([files.network], [str(allowed)], outdir=Path(tmp) / "captures")
        start = time.perf_counter()
        with quick_projections(), client_for(session, args.live) as client:
            tally = fuzz(client, files, args.requests, seed=args.seed)
            alive = client.get("/api/networks").status_code
        seconds = time.perf_counter() - start
    where = "over HTTP (uvicorn on 127.0.0.1)" if args.live else "in-process"
    print(f"{args.requests} requests, seed {args.seed}, {where}, {seconds:.0f} s; answers afterwards: {alive}")
    print(tally.table())
    routes = sorted({route for route, _ in tally.by_route})
    classes = sorted({c for _, c in tally.by_route})
    print("\n| route | " + " | ".join(classes) + " |\n| --- | " + " | ".join("---" for _ in classes) + " |")
    for route in routes:
        print(f"| {route} | " + " | ".join(str(tally.by_route[route, c]) for c in classes) + " |")
    print(f"\n{len(tally.failures)} answers with a 5xx or internals")
    for failure in tally.failures[:50]:
        print(failure)
    sys.exit(1 if tally.failures or alive != 200 else 0)


if __name__ == "__main__":
    main()
