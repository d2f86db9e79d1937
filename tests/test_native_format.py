"""The native format (safetensors + JSON config) round-trips every network exactly."""
import errno
import json
import os

import pytest
import safetensors.torch
import torch

import stylegan
from stylegan.errors import CheckpointError
from stylegan.formats import native
from stylegan.models import Discriminator, StyleGAN2Generator, StyleGAN3Generator

from conftest import DATA, max_diff


def _tiny_networks():
    return {
        "sg2": StyleGAN2Generator(z_dim=8, c_dim=2, w_dim=8, img_resolution=16, img_channels=3,
                                  mapping_kwargs=dict(num_layers=2), channel_base=256, channel_max=16,
                                  architecture="resnet"),
        "sg3": StyleGAN3Generator(z_dim=8, c_dim=0, w_dim=8, img_resolution=16, img_channels=3,
                                  channel_base=512, channel_max=16, num_layers=6, num_critical=1),
        "D": Discriminator(c_dim=2, img_resolution=16, img_channels=3, channel_base=256, channel_max=16),
    }


@pytest.mark.parametrize("key", ["sg2", "sg3", "D"])
def test_save_load_round_trip_is_exact(tmp_path, key):
    net = _tiny_networks()[key].eval()
    with torch.no_grad():
        for p in net.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    path = tmp_path / "net.safetensors"
    stylegan.save(net, path)
    loaded = stylegan.load(path, which="D" if key == "D" else "G_ema")
    assert type(loaded) is type(net)
    ours, theirs = net.state_dict(), loaded.state_dict()
    assert sorted(ours) == sorted(theirs)
    assert all(torch.equal(ours[k], theirs[k]) for k in ours)
    assert not loaded.training
    assert [p.name for p in tmp_path.iterdir()] == ["net.safetensors"]  # no temporary file left behind


@pytest.mark.parametrize("name", ["sg2_skip_32.pkl", "sg3t_32.pkl"])
def test_convert_then_load_gives_identical_outputs(tmp_path, name):
    src = DATA / name
    nets = stylegan.load_networks(src)
    dst = tmp_path / "converted.safetensors"
    stylegan.save(nets, dst)
    again = stylegan.load_networks(dst)
    assert sorted(again) == sorted(nets)
    z = torch.randn(2, nets["G_ema"].z_dim)
    for key in nets:
        with torch.no_grad():
            assert torch.equal(nets[key](z, None, truncation_psi=0.7), again[key](z, None, truncation_psi=0.7))


def test_discriminator_and_generators_together(tmp_path):
    nets = stylegan.load_networks(DATA / "sg2_cond_orig_32.pkl")
    path = tmp_path / "all.safetensors"
    stylegan.save(nets, path, extra={"note": "converted"})
    meta = native.read_metadata(path)
    assert sorted(meta["networks"]) == ["D", "G", "G_ema"]
    assert meta["extra"] == {"note": "converted"}
    D = stylegan.load(path, which="D")
    img = torch.randn(2, 3, 32, 32)
    c = torch.eye(3)[:2]
    with torch.no_grad():
        assert torch.equal(D(img, c), nets["D"](img, c))


def test_interrupted_save_leaves_no_file(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise OSError(errno.ENOSPC, "disk full")

    monkeypatch.setattr(os, "fsync", broken)  # the bytes are written, then flushing them to disk fails
    path = tmp_path / "net.safetensors"
    with pytest.raises(OSError):
        stylegan.save(_tiny_networks()["sg2"], path)
    assert list(tmp_path.iterdir()) == []


def test_native_errors(tmp_path):
    plain = tmp_path / "plain.safetensors"
    safetensors.torch.save_file({"w": torch.zeros(2)}, str(plain))
    with pytest.raises(CheckpointError, match="without stylegan metadata"):
        stylegan.load(plain)

    net = _tiny_networks()["sg2"]
    path = tmp_path / "net.safetensors"
    stylegan.save(net, path)
    raw = path.read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(raw[:-100])
    with pytest.raises(CheckpointError, match="truncated|corrupt|damaged"):
        stylegan.load(tmp_path / "cut.safetensors")

    records = {"G_ema": {"arch": "stylegan9.Generator", "config": {}}}
    safetensors.torch.save_file({"G_ema.x": torch.zeros(1)}, str(tmp_path / "future.safetensors"),
                                metadata={native.FORMAT_KEY: "1", native.NETWORKS_KEY: json.dumps(records)})
    with pytest.raises(CheckpointError, match="stylegan9.Generator"):
        stylegan.load(tmp_path / "future.safetensors")
    with pytest.raises(CheckpointError, match="holds no 'D' network"):
        stylegan.load(path, which="D")


def test_native_file_keeps_the_exact_architecture(tmp_path):
    """Channel widths read from the file, not from a preset, survive the round trip."""
    nets = stylegan.load_networks(DATA / "sg2_resnet_gray_32.pkl")
    path = tmp_path / "gray.safetensors"
    stylegan.save(nets["G_ema"], path)
    G = stylegan.load(path)
    assert G.img_channels == 1 and G.w_dim == 48 and G.mapping.num_layers == 3
    assert G.synthesis.b32.architecture == "resnet" and G.synthesis.b32.conv1.conv_clamp is None
    z = torch.randn(1, 32)
    with torch.no_grad():
        assert max_diff(G(z), nets["G_ema"](z)) == 0
