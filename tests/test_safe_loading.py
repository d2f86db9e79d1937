"""Loading never runs code from the file; every kind of bad file gives a one-line, named error."""
import io
import os
import pickle
import pickletools
import re
import sys
import types

import numpy as np
import pytest
import torch
from conftest import DATA

import stylegan
from stylegan.errors import CheckpointError, UnsafePickleError
from stylegan.formats.safe_pickle import PersistentObject, safe_load


class _RunsCommand:
    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


class _CallsEval:
    def __reduce__(self):
        return eval, ("1 + 1",)


def test_pickle_that_would_run_a_command_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"G_ema": _RunsCommand(f"touch {marker}")}))
    with pytest.raises(UnsafePickleError) as err:
        stylegan.load(path)
    assert "system" in str(err.value) and ("posix" in str(err.value) or "os" in str(err.value))
    assert not marker.exists()


@pytest.mark.parametrize("payload", [_CallsEval(), types.SimpleNamespace(a=1)])
def test_other_globals_are_refused(tmp_path, payload):
    path = tmp_path / "bad.pkl"
    path.write_bytes(pickle.dumps({"G_ema": payload}))
    with pytest.raises(UnsafePickleError, match="not on the allowlist"):
        stylegan.load(path)


class _Persistent:
    """Pickles like an NVIDIA persistent object: _reconstruct_persistent_obj(meta)."""

    def __init__(self, meta):
        self.meta = meta

    def __reduce__(self):
        return sys.modules["torch_utils.persistence"]._reconstruct_persistent_obj, (self.meta,)


def _repickle(obj, module_src=None):
    """Turn PersistentObjects back into pickleable stand-ins with the official reconstruct call."""
    if isinstance(obj, PersistentObject):
        meta = dict(type="class", version=obj.version, class_name=obj.class_name,
                    module_src=module_src or "# source\n", state=_repickle(obj.state, module_src))
        return _Persistent(meta)
    if isinstance(obj, dict):
        return type(obj)((k, _repickle(v, module_src)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return type(obj)(_repickle(v, module_src) for v in obj)
    return obj


@pytest.fixture
def official_reconstruct_global(monkeypatch):
    """A stand-in module so that test pickles can name torch_utils.persistence._reconstruct_persistent_obj."""
    package = types.ModuleType("torch_utils")
    module = types.ModuleType("torch_utils.persistence")

    def _reconstruct_persistent_obj(meta):
        raise AssertionError("the loader must not call the original reconstruct function")

    _reconstruct_persistent_obj.__module__ = "torch_utils.persistence"
    _reconstruct_persistent_obj.__qualname__ = "_reconstruct_persistent_obj"
    module._reconstruct_persistent_obj = _reconstruct_persistent_obj
    package.persistence = module
    monkeypatch.setitem(sys.modules, "torch_utils", package)
    monkeypatch.setitem(sys.modules, "torch_utils.persistence", module)


def _fixture_data():
    with open(DATA / "sg2_skip_32.pkl", "rb") as f:
        return safe_load(f)


def _assert_is_the_fixture(G):
    """G has exactly the weights and buffers of the fixture's G_ema (whose outputs test_official_equivalence
    checks), so it computes the same function."""
    expected = stylegan.load(DATA / "sg2_skip_32.pkl").state_dict()
    got = G.state_dict()
    assert sorted(got) == sorted(expected)
    assert all(torch.equal(got[k], expected[k]) for k in expected)


def test_module_source_in_the_file_is_never_executed(tmp_path, official_reconstruct_global):
    marker = tmp_path / "pwned"
    src = f"import os\nos.system('touch {marker}')\n"
    path = tmp_path / "trojan.pkl"
    path.write_bytes(pickle.dumps(_repickle(_fixture_data(), module_src=src), protocol=4))
    G = stylegan.load(path)
    assert not marker.exists()
    _assert_is_the_fixture(G)


def _without_frames(raw: bytes) -> bytes:
    """The same pickle without FRAME opcodes (they are optional), so strings can change length."""
    ops = list(pickletools.genops(raw))
    out = bytearray()
    for i, (op, _, pos) in enumerate(ops):
        end = ops[i + 1][2] if i + 1 < len(ops) else len(raw)
        if op.name != "FRAME":
            out += raw[pos:end]
    return bytes(out)


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
@pytest.mark.parametrize("numpy_module", ["numpy._core.multiarray", "numpy.core.multiarray"])
def test_pickles_from_numpy_1_and_2_and_every_protocol_load(tmp_path, official_reconstruct_global, protocol,
                                                            numpy_module):
    data = _repickle(_fixture_data())
    # A numpy scalar and array among the saved attributes, as real files have (e.g. SG3 sizes, gains).
    data["G_ema"].meta["state"]["extra_scalar"] = np.float64(0.5)
    data["G_ema"].meta["state"]["extra_array"] = np.arange(3)
    raw = pickle.dumps(data, protocol=protocol)
    if numpy_module == "numpy.core.multiarray":
        # numpy 1.x wrote the same globals under numpy.core.*; rewrite the names to what those files hold:
        # "c<module>\n<name>\n" text for protocols 2-3, length-prefixed strings for protocols 4-5.
        assert b"numpy._core." in raw
        raw = _without_frames(raw).replace(b"cnumpy._core.", b"cnumpy.core.")
        raw = re.sub(rb"\x8c(.)numpy\._core\.", lambda m: b"\x8c" + bytes([m.group(1)[0] - 1]) + b"numpy.core.", raw)
        assert b"numpy._core" not in raw
    path = tmp_path / "net.pkl"
    path.write_bytes(raw)
    with open(path, "rb") as f:
        loaded = safe_load(f)
    assert loaded["G_ema"].state["extra_scalar"] == 0.5
    assert list(loaded["G_ema"].state["extra_array"]) == [0, 1, 2]
    G = stylegan.load(path)
    _assert_is_the_fixture(G)


def test_easydict_kwargs_and_augment_pipe_are_read_as_data():
    with open(DATA / "sg2_cond_orig_32.pkl", "rb") as f:
        data = safe_load(f)
    assert isinstance(data["augment_pipe"], PersistentObject)
    assert data["augment_pipe"].class_name == "AugmentPipe"
    assert data["G"].init_kwargs["mapping_kwargs"].num_layers == 2  # dnnlib.EasyDict reads as attributes
    nets = stylegan.load_networks(DATA / "sg2_cond_orig_32.pkl")
    assert sorted(nets) == ["D", "G", "G_ema"]


def _png_bytes():
    import PIL.Image
    buf = io.BytesIO()
    PIL.Image.new("RGB", (4, 4)).save(buf, format="PNG")
    return buf.getvalue()


@pytest.mark.parametrize("content,message", [
    (b"", "empty"),
    (b"\x80\x04\x95", "truncated or corrupt"),
    (b"\x80\x04" + bytes(range(200)), "truncated or corrupt"),
    (b"hello, this is text", "unknown file format"),
    ("png", "PNG image"),
    (pickle.dumps([1, 2, 3]), "not a StyleGAN network pickle"),
    (pickle.dumps({"G_ema": 3}), "not a saved network"),
])
def test_bad_files_give_clear_errors(tmp_path, content, message):
    path = tmp_path / "model.pkl"
    path.write_bytes(_png_bytes() if content == "png" else content)
    with pytest.raises(CheckpointError, match=message) as err:
        stylegan.load(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_truncated_real_pickle(tmp_path):
    raw = (DATA / "sg2_skip_32.pkl").read_bytes()
    path = tmp_path / "cut.pkl"
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        stylegan.load(path)


def test_missing_file_directory_and_missing_network(tmp_path):
    with pytest.raises(CheckpointError, match="no such file"):
        stylegan.load(tmp_path / "absent.pkl")
    with pytest.raises(CheckpointError, match="is a directory"):
        stylegan.load(tmp_path)
    with pytest.raises(CheckpointError, match="holds no 'D' network"):
        stylegan.load(DATA / "sg2_skip_32.pkl", which="D")
    with pytest.raises(CheckpointError, match="which must be one of"):
        stylegan.load(DATA / "sg2_skip_32.pkl", which="generator")


def test_unsupported_network_class_is_named(tmp_path, official_reconstruct_global):
    data = _repickle(_fixture_data())
    data["G_ema"].meta["class_name"] = "FancyGenerator"
    path = tmp_path / "fancy.pkl"
    path.write_bytes(pickle.dumps(data))
    with pytest.raises(CheckpointError, match="FancyGenerator"):
        stylegan.load(path)


def test_tensors_that_do_not_fit_are_reported(tmp_path, official_reconstruct_global):
    data = _repickle(_fixture_data())
    state = data["G_ema"].meta["state"]["_modules"]["synthesis"].meta["state"]
    state["_modules"]["b4"].meta["state"]["_parameters"]["const"] = torch.zeros(3, 3, 3)
    path = tmp_path / "odd.pkl"
    path.write_bytes(pickle.dumps(data))
    with pytest.raises(CheckpointError, match="wrong shape: synthesis.b4.const"):
        stylegan.load(path)
