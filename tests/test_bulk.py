"""Generation at scale: sharding across processes, resuming, zip output."""
import os
import subprocess
import sys
import zipfile

import pytest
from click.testing import CliRunner
from conftest import DATA

from stylegan.cli import cli
from stylegan.latent.bulk import shard


def _generate(monkeypatch, outdir, rank=0, world=1, *extra):
    monkeypatch.setenv("RANK", str(rank))
    monkeypatch.setenv("WORLD_SIZE", str(world))
    monkeypatch.setenv("LOCAL_RANK", str(rank))
    result = CliRunner().invoke(cli, ["generate", "--network", str(DATA / "sg2_skip_32.pkl"), "--seeds", "0-10",
                                      "--batch", "3", "--outdir", str(outdir), "--device", "cpu", *extra],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_shard_splits_fixed_batches_round_robin():
    seeds = list(range(11))
    parts = [shard(seeds, 3, r, 2) for r in range(2)]
    assert parts[0] == [[0, 1, 2], [6, 7, 8]] and parts[1] == [[3, 4, 5], [9, 10]]
    assert sorted(s for p in parts for b in p for s in b) == seeds


def test_two_processes_write_the_same_files_as_one(tmp_path, monkeypatch):
    single = tmp_path / "single"
    out = _generate(monkeypatch, single)
    assert "11 images written" in out and "img/s" in out
    split = tmp_path / "split"
    for rank in range(2):
        out = _generate(monkeypatch, split, rank, 2)
        assert f"rank {rank} of 2" in out
    names = sorted(p.name for p in single.glob("seed*.png"))
    assert len(names) == 11 and names == sorted(p.name for p in split.glob("seed*.png"))
    for name in names:
        assert (single / name).read_bytes() == (split / name).read_bytes()


def test_resume_rewrites_only_missing_images_identically(tmp_path, monkeypatch):
    _generate(monkeypatch, tmp_path)
    reference = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    for name in ("seed0004.png", "seed0010.png"):
        (tmp_path / name).unlink()
    (tmp_path / "seed0000.png").write_bytes(b"kept as it is")  # existing files are never overwritten
    out = _generate(monkeypatch, tmp_path)
    assert "2 images written, 9 already there" in out
    assert (tmp_path / "seed0000.png").read_bytes() == b"kept as it is"
    for name in ("seed0004.png", "seed0010.png"):
        assert (tmp_path / name).read_bytes() == reference[name]


def test_zip_shards(tmp_path, monkeypatch):
    png = tmp_path / "png"
    _generate(monkeypatch, png)
    for rank in range(2):
        _generate(monkeypatch, tmp_path / "zips", rank, 2, "--format", "zip")
    entries = {}
    for path in sorted((tmp_path / "zips").glob("*.zip")):
        with zipfile.ZipFile(path) as zf:
            entries.update({name: zf.read(name) for name in zf.namelist()})
    assert sorted(entries) == sorted(p.name for p in png.glob("seed*.png"))
    assert all(entries[name] == (png / name).read_bytes() for name in entries)
    out = _generate(monkeypatch, tmp_path / "zips", 0, 2, "--format", "zip")
    assert "0 images written" in out


def test_grid_is_refused_for_sharded_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    result = CliRunner().invoke(cli, ["generate", "--network", str(DATA / "sg2_skip_32.pkl"), "--seeds", "0-3",
                                      "--grid", "2x2", "--outdir", str(tmp_path)])
    assert result.exit_code != 0 and "single process" in result.output


@pytest.mark.slow
def test_torchrun_launch(tmp_path):
    """A real two-process launch through torchrun writes every image once, as one process would. torchrun
    runs each process on one thread; a different thread count changes the kernels' summation order and so
    may move a pixel by one level, so the single-process run uses one thread too."""
    args = ["-m", "stylegan.cli", "generate", "--network", str(DATA / "sg2_skip_32.pkl"), "--seeds", "0-10",
            "--batch", "3", "--device", "cpu", "--outdir"]
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env["OMP_NUM_THREADS"] = "1"
    single = tmp_path / "single"
    result = subprocess.run([sys.executable, *args, str(single)], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
           *args, str(tmp_path / "launched")]
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    images = sorted(path.name for path in single.glob("seed*.png"))  # the folder also holds the settings record
    assert len(images) == 11
    assert sorted(path.name for path in (tmp_path / "launched").glob("seed*.png")) == images
    for name in images:
        assert (tmp_path / "launched" / name).read_bytes() == (single / name).read_bytes()
