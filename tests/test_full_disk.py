"""A real full disk: a small tmpfs filled to the last byte (needs the right to mount; skipped otherwise).
Each verb ends with one line naming the file and the lack of space, and leaves no file behind. Fault
injection in test_outputs.py covers every verb on any machine; this file checks the writers that do not go
through Python's file objects (safetensors, torch.save, torch.jit.save), which fail differently for real."""
from __future__ import annotations

import errno
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

import stylegan
from stylegan.cli import cli
from stylegan.models import StyleGAN2Generator


@pytest.fixture(scope="module")
def network(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    G = StyleGAN2Generator(z_dim=8, c_dim=0, w_dim=8, img_resolution=16, img_channels=3,
                           mapping_kwargs=dict(num_layers=2), channel_base=256, channel_max=16)
    path = tmp_path_factory.mktemp("net") / "sg2.safetensors"
    stylegan.save(G, path)
    return path


@pytest.fixture
def full_disk(tmp_path):
    """A 1 MiB tmpfs with every byte taken by a filler file."""
    if shutil.which("mount") is None or os.geteuid() != 0:
        pytest.skip("mounting a small file system needs root")
    mount = tmp_path / "disk"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.decode().strip()}")
    try:
        with open(mount / "filler", "wb", buffering=0) as f:
            try:
                while True:
                    f.write(b"\0" * 4096)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


TRAIN = ["--cfg", "stylegan2", "--batch", "4", "--gamma", "1", "--kimg", "0.004", "--tick", "0.004", "--snap", "1",
         "--aug", "noaug", "--cbase", "256", "--cmax", "16", "--map-depth", "2", "--workers", "0"]


@pytest.mark.parametrize("verb", ["convert", "convert-rosinality", "export-torchscript", "export-onnx", "generate",
                                  "train"])
def test_a_full_disk_gives_one_line_and_leaves_nothing(network, full_disk, tmp_path, verb):
    args = {
        "convert": ["convert", network, full_disk / "copy.safetensors"],
        "convert-rosinality": ["convert", network, full_disk / "copy.pt", "--to", "rosinality"],
        "export-torchscript": ["export", "--network", network, "--format", "torchscript", "--out", full_disk / "g.pt"],
        "export-onnx": ["export", "--network", network, "--format", "onnx", "--out", full_disk / "g.onnx"],
        "generate": ["generate", "--network", network, "--seeds", "0-1", "--outdir", full_disk / "out"],
        "train": ["train", "--outdir", full_disk / "runs", "--data", "builtin:toonfaces", *TRAIN],
    }[verb]
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    errors = [line for line in result.output.splitlines() if "Error:" in line]
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    assert len(errors) == 1 and "no space left on the device" in errors[0], result.output
    left = sorted(str(p.relative_to(full_disk)) for p in full_disk.rglob("*") if p.is_file() and p.name != "filler")
    assert not [name for name in left if ".tmp" in name], left  # no temporary file
    if verb != "train":  # a run folder keeps what it wrote before the disk filled (its options, the reals)
        assert left == [], left
