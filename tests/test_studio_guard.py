"""The studio's guards without HTTP: path confinement (defaults, --allow-dir, symlinks, the ':N' suffix),
per-client latest-wins scheduling with cancellation, and the rules for the token and the host."""
import os
import threading

import numpy as np
import pytest
from conftest import DATA

from stylegan.errors import InputError
from stylegan.io import save_directions
from stylegan.latent.settings import Direction, Settings
from stylegan.studio.gate import check_exposure, host_name, is_loopback, studio_url
from stylegan.studio.paths import PathGuard, Refused, split_index
from stylegan.studio.render import Busy, LatestWins, Superseded
from stylegan.studio.session import Session

SG2 = DATA / "tf_sg2_skip_resnet_32.pkl"
W_DIM = 10  # the test network's w size


@pytest.fixture
def folders(tmp_path, monkeypatch):
    """models/ (with a network and a direction file), work/ (the current folder), secret/ (elsewhere)."""
    models, work, secret = (tmp_path / name for name in ("models", "work", "secret"))
    for folder in (models, work, secret):
        folder.mkdir()
    (models / "net.pkl").write_bytes(SG2.read_bytes())
    for folder in (models, secret):
        save_directions(folder / "dirs.npz", np.eye(3, W_DIM, dtype=np.float32), np.ones(3, np.float32),
                        np.ones(3, np.float32), "test")
    (secret / "net.pkl").write_bytes(SG2.read_bytes())
    monkeypatch.chdir(work)
    return models, work, secret


def test_default_confinement_is_the_networks_their_folders_and_the_current_folder(folders, tmp_path):
    models, work, secret = folders
    session = Session([str(models / "net.pkl")], outdir=tmp_path / "captures")
    assert session.direction_count(str(models / "dirs.npz"), str(models / "net.pkl")) == 3
    (work / "here.npz").write_bytes((models / "dirs.npz").read_bytes())
    assert session.direction_count("here.npz", str(models / "net.pkl")) == 3
    assert session.check_path(tmp_path / "captures" / "capture0000.npz").parent == tmp_path / "captures"
    for refused in (secret / "net.pkl", models / ".." / "secret" / "net.pkl", tmp_path / "other.pkl"):
        with pytest.raises(Refused, match="outside the folders this studio may read.*--allow-dir"):
            session.model(str(refused))
    with pytest.raises(Refused):
        session.direction_count(str(secret / "dirs.npz"), str(models / "net.pkl"))
    allowed = Session([str(models / "net.pkl")], [str(secret)], outdir=tmp_path / "captures")
    assert allowed.direction_count(str(secret / "dirs.npz:2"), str(models / "net.pkl")) == 3


def test_symlinks_out_of_an_allowed_folder_are_refused(folders):
    models, work, secret = folders
    os.symlink(secret / "dirs.npz", models / "link.npz")
    os.symlink(secret / "net.pkl", work / "link.pkl")
    os.symlink(secret, models / "linked-folder")
    session = Session([str(models / "net.pkl")], outdir=work / "captures")
    network = str(models / "net.pkl")
    with pytest.raises(Refused):  # the ':N' suffix is split off before the path is resolved
        session.direction_count(str(models / "link.npz:1"), network)
    with pytest.raises(Refused):
        session.direction_count(str(models / "linked-folder" / "dirs.npz:0"), network)
    with pytest.raises(Refused):
        session.model(str(work / "link.pkl"))
    escaping = Settings(network=network, directions=[Direction("file", 0, 1.0, "all", str(models / "link.npz"))])
    with pytest.raises(Refused):
        session.render(escaping.to_dict())
    with pytest.raises(Refused):
        session.render(Settings(network=network, ws_file=str(models / "linked-folder" / "w.npz")).to_dict())
    os.symlink(models / "dirs.npz", work / "inside.npz")  # a symlink that stays inside is fine
    assert session.direction_count("inside.npz:1", network) == 3


def test_split_index_and_guard_of_files():
    assert split_index("a/b.npz:3") == ("a/b.npz", 3)
    assert split_index("a/b.npz") == ("a/b.npz", None)
    assert split_index("a/b.npz:x") == ("a/b.npz:x", None)
    guard = PathGuard(files=[SG2])
    assert guard.check(SG2) == SG2.resolve()
    assert not guard.allows(SG2.parent / "other.pkl")


def test_latest_wins_per_client_and_cancelled_jobs_never_run():
    scheduler = LatestWins(max_waiting=3)
    started, release = threading.Event(), threading.Event()
    ran = []

    def job(name):
        def run():
            ran.append(name)
            return name
        return run

    def slow():
        started.set()
        release.wait(30)
        return "slow"
    first = scheduler.submit(slow, "a")
    assert started.wait(30)
    b1 = scheduler.submit(job("b1"), "b")
    c1 = scheduler.submit(job("c1"), "c")
    b2 = scheduler.submit(job("b2"), "b")  # replaces b1, keeps b's place before c
    gone = scheduler.submit(job("gone"), "d")
    with pytest.raises(Busy, match="busy"):
        scheduler.submit(job("e"), "e")
    assert gone.cancel() and scheduler.waiting() == 2
    with pytest.raises(Superseded):
        b1.result(30)
    release.set()
    assert (first.result(30), b2.result(30), c1.result(30)) == ("slow", "b2", "c1")
    assert scheduler.submit(job("after"), "d").result(30) == "after"
    assert ran == ["b2", "c1", "after"]
    scheduler.close()


def test_token_and_host_rules():
    assert all(is_loopback(h) for h in ("127.0.0.1", "localhost:7860", "[::1]:80", "127.0.0.2"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "192.168.1.2", "attacker.example", "127.0.0.1.nip.io"))
    assert host_name("[::1]:7860") == "::1" and host_name("localhost:1") == "localhost"
    assert check_exposure("127.0.0.1", "") is None
    with pytest.raises(InputError, match="only on a loopback address"):
        check_exposure("0.0.0.0", "")
    warning = check_exposure("0.0.0.0", "secret")
    assert "every machine" in warning and "token" in warning
    assert studio_url("127.0.0.1", 7860, "abc") == "http://127.0.0.1:7860/?token=abc"
    assert studio_url("::1", 80, "") == "http://[::1]:80/"
