"""A short, seeded fuzzing pass over every studio route (tests/studio_fuzz.py): mutated JSON and raw bodies,
query strings, headers, paths and methods, in-process; no answer may be a 5xx or show internals, the server
keeps answering, and the files it may read are left as they were."""
import logging
import warnings

import pytest
from conftest import DATA
from studio_fuzz import Files, fuzz, make_files, quick_projections

from stylegan.studio.session import Session

pytest.importorskip("starlette")
pytest.importorskip("httpx")
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette prefers httpx2 but still works with httpx
    from starlette.testclient import TestClient  # noqa: E402

from stylegan.studio.server import create_app  # noqa: E402

SG2 = DATA / "tf_sg2_skip_resnet_32.pkl"
TOKEN = "fuzz-token"
REQUESTS = 400


@pytest.mark.filterwarnings("ignore")
def test_fuzzed_requests_get_no_5xx(tmp_path, caplog):
    allowed, outside = tmp_path / "allowed", tmp_path / "outside"
    allowed.mkdir()
    outside.mkdir()
    files: Files = make_files(allowed, outside, SG2)
    files.token = TOKEN
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    session = Session([str(SG2)], [str(allowed)], outdir=tmp_path / "captures")
    app = create_app(session, token=TOKEN)
    with quick_projections(), caplog.at_level(logging.WARNING), TestClient(
            app, base_url="http://127.0.0.1", headers={"authorization": f"token {TOKEN}"},
            raise_server_exceptions=False) as client:
        tally = fuzz(client, files, REQUESTS, seed=1)
        assert client.get("/api/networks").status_code == 200
    print(tally.table())
    assert not tally.failures, "\n".join(tally.failures[:20])
    statuses = {status for _, status in tally.by_kind}
    assert {200, 400, 403}.issubset(statuses)  # valid requests got through, bad ones were told why
    assert sum(tally.by_kind.values()) == REQUESTS
    assert {p: p.read_bytes() for p in before} == before
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text[-2000:]
