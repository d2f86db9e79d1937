"""TF-era NVIDIA pickles: StyleGAN2 files give the official TensorFlow outputs; files are read as data only."""
import os
import pickle
import shutil
import sys
import types

import numpy as np
import pytest
import torch

import stylegan
from stylegan.errors import CheckpointError, UnsafePickleError
from stylegan.formats import detect_format, nvidia_tf
from stylegan.models import Discriminator, StyleGAN2Generator

from conftest import DATA, assert_matches_to_rounding, max_diff, reference

SG2_FILES = {  # file: (generator architecture, discriminator architecture)
    "tf_sg2_skip_resnet_32.pkl": ("skip", "resnet"),
    "tf_sg2_resnet_skip_32.pkl": ("resnet", "skip"),
    "tf_sg2_orig_orig_32.pkl": ("orig", "orig"),
    "tf_sg2_revised_32.pkl": ("orig", "orig"),  # configs B-D: progressive-growing ToRGB/FromRGB at lod 0
    "tf_ada_cond_32.pkl": ("skip", "resnet"),  # StyleGAN2-ADA TF: labels embedded, projection D, clamping
}


@pytest.mark.parametrize("name", sorted(SG2_FILES))
def test_stylegan2_matches_official_tensorflow_outputs(name):
    path = DATA / name
    ref = reference(path)
    assert detect_format(path) == "nvidia-tf"
    nets = stylegan.load_networks(path)
    assert sorted(nets) == ["D", "G", "G_ema"]
    G, D = nets["G_ema"], nets["D"]
    assert isinstance(G, StyleGAN2Generator) and isinstance(D, Discriminator)
    assert (G.synthesis.b32.architecture, D.b32.architecture) == SG2_FILES[name]

    def compute(dtype):
        z, c = torch.from_numpy(ref["z"]).to(dtype), torch.from_numpy(ref["c"]).to(dtype)
        return dict(ws=G.mapping(z, c), img_psi07_const=G(z, c, truncation_psi=0.7), img_psi1_const=G(z, c),
                    d_logits=D(torch.from_numpy(ref["img_psi07_const"]).to(dtype), c))
    print(name, assert_matches_to_rounding(compute, ref, G, D))
    # G (the trained network) and Gs (its moving average) are distinct networks in the file.
    with torch.no_grad():
        trained = nets["G"](torch.from_numpy(ref["z"]), torch.from_numpy(ref["c"]))
    assert max_diff(trained, ref["img_psi1_const"]) > 0.1


def test_mapping_learning_rate_is_read_from_the_file():
    G = stylegan.load(DATA / "tf_sg2_orig_orig_32.pkl")
    assert G.mapping.fc0.weight_gain * np.sqrt(G.mapping.fc0.in_features) == pytest.approx(0.1)
    assert G.source_kwargs["mapping_lrmul"] == 0.1


def test_detection_is_by_content_not_name(tmp_path):
    odd = tmp_path / "weights.safetensors"
    shutil.copy(DATA / "tf_sg1_cond_lod_32.pkl", odd)
    assert detect_format(odd) == "nvidia-tf"
    assert stylegan.load(odd).generation == 1


class _Network:
    """Pickles like dnnlib.tflib.network.Network: NEWOBJ, then BUILD with the state dict."""

    def __init__(self, state):
        self.state = state

    def __reduce_ex__(self, protocol):
        return (sys.modules["dnnlib.tflib.network"].Network, (), self.state)


@pytest.fixture
def tf_pickle_writer(monkeypatch):
    """Write (G, D, Gs) records as a TF-era pickle (stand-in module so that pickle can name the class)."""
    module = types.ModuleType("dnnlib.tflib.network")

    class Network:
        pass

    Network.__module__, Network.__qualname__ = "dnnlib.tflib.network", "Network"
    module.Network = Network
    for name in ("dnnlib", "dnnlib.tflib"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    monkeypatch.setitem(sys.modules, "dnnlib.tflib.network", module)

    def state(net):
        return dict(version=net.version, name=net.name, static_kwargs=dict(net.static_kwargs),
                    components={k: _Network(state(v)) for k, v in net.components.items()},
                    build_module_src=net.source, build_func_name=net.build_func_name,
                    variables=list(net.variables.items()))

    def write(path, nets, source="# source\n"):
        for net in nets:
            for sub in [net, *net.components.values()]:
                sub.source = source
        with open(path, "wb") as f:
            pickle.dump(tuple(_Network(state(n)) for n in nets), f, protocol=4)

    return write


def _read(name):
    with open(DATA / name, "rb") as f:
        return list(nvidia_tf.read_pickle(f).values())


def test_module_source_is_never_run(tmp_path, tf_pickle_writer):
    marker = tmp_path / "ran"
    nets = _read("tf_sg1_cond_lod_32.pkl")
    path = tmp_path / "net.pkl"
    tf_pickle_writer(path, nets, source=f"open({str(marker)!r}, 'w').write('x')\nraise SystemExit\n")
    G = stylegan.load(path)
    assert G.generation == 1 and not marker.exists()


def test_unsupported_variants_are_refused_by_name(tmp_path, tf_pickle_writer):
    nets = _read("tf_sg1_cond_lod_32.pkl")
    nets[2].components["synthesis"].static_kwargs["use_pixel_norm"] = True
    tf_pickle_writer(tmp_path / "a.pkl", nets)
    with pytest.raises(CheckpointError, match="use_pixel_norm=True"):
        stylegan.load(tmp_path / "a.pkl")

    nets = _read("tf_sg2_skip_resnet_32.pkl")
    nets[2].components["synthesis"].variables["4x4/Extra/weight"] = np.zeros(3, np.float32)
    tf_pickle_writer(tmp_path / "b.pkl", nets)
    with pytest.raises(CheckpointError, match="no place for: synthesis/4x4/Extra/weight"):
        stylegan.load(tmp_path / "b.pkl")

    nets = _read("tf_sg2_skip_resnet_32.pkl")
    del nets[1].variables["4x4/Conv/weight"]
    tf_pickle_writer(tmp_path / "c.pkl", nets)
    with pytest.raises(CheckpointError, match="'D' .*4x4/Conv/weight"):
        stylegan.load(tmp_path / "c.pkl", which="D")
    assert stylegan.load(tmp_path / "c.pkl").img_resolution == 32  # the intact networks still load


class _RunsCommand:
    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


def test_other_globals_in_a_tf_pickle_are_refused(tmp_path, tf_pickle_writer):
    marker = tmp_path / "pwned"
    nets = _read("tf_sg1_cond_lod_32.pkl")
    nets[2].variables["lod"] = _RunsCommand(f"touch {marker}")
    tf_pickle_writer(tmp_path / "evil.pkl", nets)
    with pytest.raises(UnsafePickleError, match="system"):
        stylegan.load(tmp_path / "evil.pkl")
    assert not marker.exists()


def test_convert_tf_to_native_keeps_every_network(tmp_path):
    src = DATA / "tf_sg1_128.pkl"
    dst = tmp_path / "sg1.safetensors"
    nets = stylegan.load_networks(src)
    stylegan.save(nets, dst)
    again = stylegan.load_networks(dst)
    z = torch.randn(2, nets["G_ema"].z_dim)
    with torch.no_grad():
        for key in ("G", "G_ema"):
            assert torch.equal(again[key](z), nets[key](z))
        img = nets["G_ema"](z)
        assert torch.equal(again["D"](img), nets["D"](img))
