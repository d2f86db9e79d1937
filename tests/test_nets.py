"""Feature networks: random-weight instances run, every weight-file flavour loads, no file code runs,
and a missing file is reported with its name and where it goes."""
import os
import pickle
import zipfile

import numpy as np
import pytest
import torch
from torch import nn

from stylegan.errors import CheckpointError, UnsafePickleError
from stylegan.nets import (InceptionV3, VGG16, WeightsMissingError, load_inception, load_inception_net, load_vgg16,
                           load_vgg16_net)
from stylegan.nets import inception as inception_module
from stylegan.nets.resize import resize_tf1
from stylegan.nets.torchscript import read_torchscript_state

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.*:DeprecationWarning")


def _randomize(net: nn.Module, seed: int = 0) -> nn.Module:
    """Random weights and batch-norm statistics, so that a wrong mapping changes the outputs."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in net.state_dict().items():
            if t.is_floating_point():
                v = torch.rand(t.shape, generator=gen) + 0.5 if name.endswith(("running_var", "lpips.0", "lpips.1",
                    "lpips.2", "lpips.3", "lpips.4")) else torch.randn(t.shape, generator=gen) * 0.1
                t.copy_(v)
    return net.eval()


def _images(n=2, size=40, seed=0):
    return torch.randint(0, 256, (n, 3, size, size), generator=torch.Generator().manual_seed(seed), dtype=torch.uint8)


class _Tree(nn.Module):
    """A module holding given tensors under dotted names, for building TorchScript archives."""

    def __init__(self, tensors: dict):
        super().__init__()
        children: dict = {}
        for name, value in tensors.items():
            head, _, rest = name.partition(".")
            if rest:
                children.setdefault(head, {})[rest] = value
            else:
                self.register_buffer(head, value.clone())
        for head, sub in children.items():
            self.add_module(head, _Tree(sub))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def _save_torchscript(tensors: dict, path):
    """Script and save a module tree (TorchScript is deprecated in recent torch, but the files still exist)."""
    torch.jit.save(torch.jit.script(_Tree(tensors)), str(path))
    return path


def test_resize_is_tensorflow1_bilinear():
    # TF1 resize_bilinear: output pixel j samples input position j * in / out, clamped at the last pixel.
    x = torch.randn(1, 2, 5, 7, dtype=torch.float64)
    out = resize_tf1(x, 9)
    def axis(n_in, j):
        s = j * n_in / 9
        i0 = int(np.floor(s))
        return i0, min(i0 + 1, n_in - 1), s - i0
    for i in range(9):
        y0, y1, fy = axis(5, i)
        for j in range(9):
            x0, x1, fx = axis(7, j)
            top = x[..., y0, x0] * (1 - fx) + x[..., y0, x1] * fx
            bottom = x[..., y1, x0] * (1 - fx) + x[..., y1, x1] * fx
            assert torch.allclose(out[..., i, j], top * (1 - fy) + bottom * fy, atol=1e-12)


def _same_weights(a: nn.Module, b: nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_inception_with_random_weights_runs_on_any_image_size():
    net = _randomize(InceptionV3())
    feats = net(_images(2, 48))
    assert feats.shape == (2, 2048) and torch.isfinite(feats).all()
    single = net(_images(2, 48)[1:])
    assert torch.allclose(feats[1:], single, atol=1e-4)  # batch-independent (no batch statistics)
    assert net(_images(1, 20)).shape == (1, 2048)


def test_inception_loads_a_pytorch_fid_state_dict(tmp_path):
    src = _randomize(InceptionV3(), seed=1)
    state = dict(src.state_dict())
    state["fc.weight"], state["fc.bias"] = torch.randn(1008, 2048), torch.randn(1008)  # the classifier is ignored
    path = tmp_path / "pt_inception-2015-12-05-6726825d.pth"
    torch.save(state, path)
    net = load_inception_net(path)
    assert _same_weights(net, src) and not net.training
    assert net.fingerprint.startswith("pt_inception-2015-12-05-6726825d.pth:")
    del state["Mixed_7c.branch_pool.conv.weight"]
    torch.save(state, path)
    with pytest.raises(CheckpointError, match="Mixed_7c.branch_pool.conv.weight"):
        load_inception_net(path)


def _nvidia_inception_tensors(net: InceptionV3) -> dict:
    """The tensors of `net` under the names of NVIDIA's TorchScript InceptionV3: blocks mixed..mixed_10,
    TensorFlow scopes nested (tower.conv_1) in blocks A-D and flat (tower_mixed_conv) in E blocks."""
    state = net.state_dict()
    names = {scope: inception_module._nvidia_layer(scope) for scope in ("conv", "conv_1", "conv_2", "conv_3", "conv_4")}
    for index, (block, kind) in enumerate(inception_module._MIXED):
        prefix = "mixed" if index == 0 else f"mixed_{index}"
        for flat in inception_module._BRANCHES[kind]:
            nested = flat if kind == "E" else (flat.replace("tower_2_", "tower_2.").replace("tower_1_", "tower_1.")
                                               .replace("tower_conv", "tower.conv"))
            names[f"{prefix}.{nested}"] = inception_module._nvidia_layer(f"{prefix}.{nested}")
    out = {"output.weight": torch.randn(1008, 2048), "output.bias": torch.randn(1008)}
    for scope, layer in names.items():
        assert layer is not None, scope
        out[f"layers.{scope}.weight"] = state[f"{layer}.conv.weight"]
        out[f"layers.{scope}.beta"] = state[f"{layer}.bn.bias"]
        out[f"layers.{scope}.mean"] = state[f"{layer}.bn.running_mean"]
        out[f"layers.{scope}.var"] = state[f"{layer}.bn.running_var"]
    return out


def test_nvidia_inception_names_map_onto_ours():
    assert inception_module._nvidia_layer("mixed_9.tower_mixed_conv_1") == "Mixed_7b.branch3x3_2b"
    assert inception_module._nvidia_layer("mixed_10.tower_1_mixed_conv") == "Mixed_7c.branch3x3dbl_3a"
    assert inception_module._nvidia_layer("mixed_3.tower.conv_2") == "Mixed_6a.branch3x3dbl_3"
    assert inception_module._nvidia_layer("mixed_4.tower_1.conv_4") == "Mixed_6b.branch7x7dbl_5"
    assert inception_module._nvidia_layer("mixed_8.tower_1.conv_3") == "Mixed_7a.branch7x7x3_4"
    assert inception_module._nvidia_layer("conv_4") == "Conv2d_4a_3x3"
    assert inception_module._nvidia_layer("mixed_11.conv") is None


def test_inception_loads_an_nvidia_torchscript_archive_without_running_it(tmp_path, monkeypatch):
    src = _randomize(InceptionV3(), seed=2)
    with torch.no_grad():  # the original graph has no batch-norm scale: it must load as ones
        for m in src.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.fill_(1)
    path = _save_torchscript(_nvidia_inception_tensors(src), tmp_path / "inception-2015-12-05.pt")
    monkeypatch.setattr(torch.jit, "load", lambda *a, **k: pytest.fail("TorchScript code must not be loaded"))
    net = load_inception_net(path)
    assert _same_weights(net, src)


def test_torchscript_reader_refuses_pickled_code(tmp_path):
    class RunsCommand:
        def __reduce__(self):
            return os.system, (f"touch {tmp_path / 'pwned'}",)
    path = tmp_path / "evil.pt"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", pickle.dumps({"x": RunsCommand()}, protocol=2))
        z.writestr("archive/code/__torch__.py", "def forward(self): pass\n")
    with pytest.raises(UnsafePickleError, match="system"):
        read_torchscript_state(path)
    with pytest.raises(UnsafePickleError):
        load_inception_net(path)
    assert not (tmp_path / "pwned").exists()


def test_vgg16_with_random_weights_gives_fc2_features_and_lpips_vectors():
    net = _randomize(VGG16())
    net.has_lpips = True
    feats = net(_images(1, 32))
    assert feats.shape == (1, 4096) and (feats >= 0).all() and torch.isfinite(feats).all()
    assert net.lpips_features(_images(2, 32).float()).shape == (2, 64 * 32 * 32 + 128 * 256 + 256 * 64 + 512 * 16 + 512 * 4)


def _direct_lpips(net: VGG16, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """LPIPS written out: unit-normalise each tap over channels, weight the squared difference per
    channel, average over positions, sum over the five taps."""
    taps = [3, 8, 15, 22, 29]
    total = torch.zeros(a.shape[0], dtype=torch.float64)
    xa = (a / 255 * 2 - 1 + torch.tensor([0.030, 0.088, 0.188]).view(1, 3, 1, 1)) / torch.tensor(
        [0.458, 0.448, 0.450]).view(1, 3, 1, 1)
    xb = (b / 255 * 2 - 1 + torch.tensor([0.030, 0.088, 0.188]).view(1, 3, 1, 1)) / torch.tensor(
        [0.458, 0.448, 0.450]).view(1, 3, 1, 1)
    for i, layer in enumerate(net.features[:30]):
        xa, xb = layer(xa), layer(xb)
        if i in taps:
            na = xa / (xa.norm(dim=1, keepdim=True) + 1e-10)
            nb = xb / (xb.norm(dim=1, keepdim=True) + 1e-10)
            w = net.lpips[taps.index(i)].view(1, -1, 1, 1)
            total += ((na - nb) ** 2 * w).sum(1).mean(dim=[1, 2]).double()
    return total


def test_lpips_vectors_give_the_lpips_distance():
    net = _randomize(VGG16(), seed=3)
    net.has_lpips = True
    a, b = _images(2, 48, seed=1).float(), _images(2, 48, seed=2).float()
    fa, fb = net.lpips_features(a), net.lpips_features(b)
    got = (fa - fb).double().square().sum(1)
    assert torch.allclose(got, _direct_lpips(net, a, b), rtol=1e-4)


def _torchvision_state(net: VGG16) -> dict:
    state = {k: v for k, v in net.state_dict().items() if not k.startswith("lpips")}
    state["classifier.6.weight"], state["classifier.6.bias"] = torch.randn(1000, 4096), torch.randn(1000)
    return state


def test_vgg16_loads_torchvision_weights_in_the_legacy_format_with_lpips_package_heads(tmp_path, monkeypatch):
    src = _randomize(VGG16(), seed=4)
    path = tmp_path / "vgg16-397923af.pth"
    torch.save(_torchvision_state(src), path, _use_new_zipfile_serialization=False)
    without_heads = load_vgg16_net(path)
    src_without_heads = {k: v for k, v in src.state_dict().items() if not k.startswith("lpips")}
    assert all(torch.equal(without_heads.state_dict()[k], v) for k, v in src_without_heads.items())
    with pytest.raises(CheckpointError, match="lpips"):
        without_heads.lpips_features(_images().float())
    # An installed `lpips` package is found by location only; its __init__ would fail if imported.
    package = tmp_path / "site" / "lpips"
    (package / "weights" / "v0.1").mkdir(parents=True)
    (package / "__init__.py").write_text("raise RuntimeError('must not be imported')\n")
    torch.save({f"lin{i}.model.1.weight": src.lpips[i].detach().view(1, -1, 1, 1) for i in range(5)},
               package / "weights" / "v0.1" / "vgg.pth")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    net = load_vgg16_net(path)
    assert net.has_lpips and _same_weights(net, src)


def test_vgg16_loads_an_nvidia_torchscript_archive(tmp_path):
    src = _randomize(VGG16(), seed=5)
    src.has_lpips = True
    state = src.state_dict()
    conv_index = [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28]
    tensors = {f"layers.conv{i + 1}.{p}": state[f"features.{k}.{p}"] for i, k in enumerate(conv_index)
               for p in ("weight", "bias")}
    tensors.update({f"layers.fc1.{p}": state[f"classifier.0.{p}"] for p in ("weight", "bias")})
    tensors.update({f"layers.fc2.{p}": state[f"classifier.3.{p}"] for p in ("weight", "bias")})
    tensors.update({"layers.fc3.weight": torch.randn(1000, 4096), "layers.fc3.bias": torch.randn(1000)})
    tensors.update({f"lpips{i}": state[f"lpips.{i}"] for i in range(5)})
    net = load_vgg16_net(_save_torchscript(tensors, tmp_path / "vgg16.pt"))
    assert net.has_lpips and _same_weights(net, src)


def test_missing_weights_name_the_file_and_where_it_goes(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv("STYLEGAN_INCEPTION", raising=False)
    monkeypatch.delenv("STYLEGAN_VGG16", raising=False)
    with pytest.raises(WeightsMissingError) as err:
        load_inception_net()
    message = str(err.value)
    assert "pt_inception-2015-12-05-6726825d.pth" in message and "inception-2015-12-05.pt" in message
    assert str(tmp_path / "torch" / "hub" / "checkpoints") in message and "--detector" in message
    assert "STYLEGAN_INCEPTION" in message
    with pytest.raises(WeightsMissingError, match="vgg16-397923af.pth.*--vgg"):
        load_vgg16_net()
    with pytest.raises(WeightsMissingError, match="no such file"):
        load_inception_net(tmp_path / "nope.pth")


def test_weight_search_order_flag_then_environment_then_hub(tmp_path, monkeypatch):
    hub = tmp_path / "torch" / "hub" / "checkpoints"
    hub.mkdir(parents=True)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    state = InceptionV3().state_dict()
    paths = {"hub": hub / "pt_inception-2015-12-05-6726825d.pth", "env": tmp_path / "env.pth",
             "flag": tmp_path / "flag.pth"}
    for value, path in enumerate(paths.values()):
        torch.save({**state, "Conv2d_1a_3x3.bn.bias": torch.full([32], float(value))}, path)
    which = lambda net: int(net.Conv2d_1a_3x3.bn.bias[0])  # noqa: E731
    monkeypatch.delenv("STYLEGAN_INCEPTION", raising=False)
    assert which(load_inception_net()) == 0
    monkeypatch.setenv("STYLEGAN_INCEPTION", str(paths["env"]))
    assert which(load_inception_net()) == 1
    assert which(load_inception_net(paths["flag"])) == 2


def test_a_state_dict_of_something_else_is_refused(tmp_path):
    path = tmp_path / "other.pth"
    torch.save({"weight": torch.zeros(3)}, path)
    with pytest.raises(CheckpointError, match="InceptionV3"):
        load_inception(torch.load(path, weights_only=True))
    with pytest.raises(CheckpointError, match="VGG16"):
        load_vgg16(torch.load(path, weights_only=True))
