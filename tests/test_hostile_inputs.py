"""Files made to hurt the reader: checkpoints whose architecture JSON lies, pickles and torch files that ask
for more memory than they hold, special files where a file belongs, and images whose damage the decoders
pass over. Each is refused before any large allocation, in one line naming the file, with nothing written.

Cases that would allocate gigabytes on a reader without these checks run in a child process whose address
space is limited to what it already uses plus LIMIT_HEADROOM, so that such a reader fails fast there
(with a message other than the expected one) instead of exhausting the machine."""
from __future__ import annotations

import collections
import io
import json
import math
import os
import pickle
import re
import struct
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import numpy as np
import PIL.Image
import pytest
import safetensors.torch
import torch
from click.testing import CliRunner
from test_bad_inputs import NETWORK, visible_lines

import stylegan
from stylegan.cli import cli
from stylegan.errors import CheckpointError, InputError, UnsafePickleError
from stylegan.formats import native
from stylegan.models.encoder import Encoder
from stylegan.models.noise import noise_inputs
from stylegan.io import decode_image, load_arrays, save_ws
from stylegan.models import Discriminator, StyleGAN1Discriminator, StyleGAN1Generator, StyleGAN2Generator, \
    StyleGAN3Generator

DATA = Path(__file__).parent / "data"
LIMIT_HEADROOM = 512 << 20
GIB = 1 << 30
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C  # the first record of a legacy torch stream


# ---------------------------------------------------------------------------------------------- pickles, by hand

def _long(n: int) -> bytes:
    """A LONG1 opcode pushing n."""
    raw = n.to_bytes((n.bit_length() + 8) // 8, "little", signed=True)
    return b"\x8a" + bytes([len(raw)]) + raw


def _unicode(text: str) -> bytes:
    raw = text.encode()
    return b"X" + struct.pack("<I", len(raw)) + raw


def bytearray_bomb() -> bytes:
    """35 bytes: bytearray(3 GiB)."""
    return b"\x80\x02c__builtin__\nbytearray\n" + _long(3 * GIB) + b"\x85R."


def tensor_bomb() -> bytes:
    """torch.Tensor(1 << 30): 4 GiB of floats."""
    return b"\x80\x02ctorch\nTensor\n" + _long(GIB) + b"\x85R."


def ndarray_bomb() -> bytes:
    """numpy's _reconstruct(ndarray, (1 << 30,), 'f8'): 8 GiB."""
    return (b"\x80\x02cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\n" + _long(GIB) + b"\x85"
            + _unicode("f8") + b"\x87R.")


def memo_copies(items: int = 1000, copies: int = 5000) -> bytes:
    """set(L) called `copies` times on one memoised list L of `items` ints: each call copies L."""
    head = b"\x80\x02c__builtin__\nset\nq\x00](" + b"K\x01" * items + b"e\x85q\x01](" + b"h\x00h\x01R" * copies
    return head + b"e."


def hex_chain(levels: int = 40) -> bytes:
    """_codecs.encode(..., 'hex') nested `levels` times on 2 bytes: the result doubles at every level."""
    return (b"\x80\x03c_codecs\nencode\nq\x00" + b"h\x00" * levels + b"C\x02ab"
            + (_unicode("hex") + b"\x86R") * levels + b".")


def legacy_stream(numel: int, data: bytes = b"\0" * 16) -> bytes:
    """A legacy torch stream (the format of each storage inside NVIDIA pickles and of pre-zip .pt files) whose
    one float storage claims `numel` elements but holds `data`."""
    class Storage:
        pass

    class Tree(pickle.Pickler):
        def persistent_id(self, obj):
            return ("storage", torch.FloatStorage, "0", "cpu", numel, None) if isinstance(obj, Storage) else None

    tree = io.BytesIO()
    Tree(tree, protocol=2).dump(Storage())
    sys_info = dict(protocol_version=1001, little_endian=True, type_sizes=dict(short=2, int=4, long=4))
    return (pickle.dumps(LEGACY_MAGIC, protocol=2) + pickle.dumps(1001, protocol=2) + pickle.dumps(sys_info, protocol=2)
            + tree.getvalue() + pickle.dumps(["0"], protocol=2) + struct.pack("<q", len(data) // 4) + data)


class _StorageBytes:
    def __init__(self, blob: bytes):
        self.blob = blob

    def __reduce__(self):
        return torch.storage._load_from_bytes, (self.blob,)


def memo_index_bomb(index: int = 0x3FFFFFFF) -> bytes:
    """9 bytes storing None at memo entry `index` (LONG_BINPUT): the C unpickler grows its memo table to twice
    the index and clears it (16 GiB) before it stores."""
    return b"\x80\x02Nr" + struct.pack("<I", index) + b"."


def length_bomb() -> bytes:
    """A pickle stating 4 GiB of BINBYTES data and holding 8 bytes: the C unpickler allocates the stated
    length before it reads."""
    return b"\x80\x03B" + struct.pack("<I", 0xFFFFFFF0) + b"8 bytes." + b"."


def zip_with_tree(tree: bytes) -> bytes:
    """A torch.save-like zip whose object tree (data.pkl) is `tree`."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("archive/data.pkl", tree)
        archive.writestr("archive/version", "3\n")
    return out.getvalue()


def storage_bomb() -> bytes:
    """A network pickle whose tensor storage (a legacy stream) claims 1 << 30 floats and holds 4."""
    return pickle.dumps({"G_ema": _StorageBytes(legacy_stream(GIB))}, protocol=4)


def _tiny_sg2() -> StyleGAN2Generator:
    return StyleGAN2Generator(z_dim=8, c_dim=0, w_dim=8, img_resolution=16, img_channels=3,
                              mapping_kwargs=dict(num_layers=2), channel_base=256, channel_max=16)


def _write_native(path: Path, records: dict, tensors: dict) -> Path:
    safetensors.torch.save_file(tensors, str(path), metadata={native.FORMAT_KEY: "1",
                                                              native.NETWORKS_KEY: json.dumps(records)})
    return path


def _native_parts(net) -> tuple[dict, dict]:
    name = "D" if not hasattr(net, "synthesis") else "G_ema"
    tensors = {f"{name}.{k}": v.detach().contiguous().clone() for k, v in net.state_dict().items()}
    return {name: {"arch": native.arch_name(net), "config": json.loads(json.dumps(net.config))}}, tensors


def huge_resolution_native(path: Path) -> Path:
    """A tiny generator's file whose config says img_resolution 2**16 (noise maps of 4 G values), its channel
    table following the base."""
    records, tensors = _native_parts(_tiny_sg2())
    config = records["G_ema"]["config"]
    del config["channels"]
    config.update(img_resolution=1 << 16, channel_base=1 << 40, channel_max=16)
    return _write_native(path, records, tensors)


# ------------------------------------------------------------------------------------- the limited child process

CHILD = r"""
import os, resource, sys
import stylegan
from stylegan.io import decode_image
size = int(open("/proc/self/statm").read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
resource.setrlimit(resource.RLIMIT_AS, (size + int(sys.argv[1]), resource.RLIM_INFINITY))
for path in sys.argv[2:]:
    try:
        (decode_image if path.endswith(".png") else stylegan.load)(path)
        print(f"{path}\tloaded\t")
    except BaseException as exc:
        print(f"{path}\t{type(exc).__name__}\t{str(exc).replace(chr(10), ' / ')}")
"""


def _in_limited_child(paths: list[Path]) -> dict[str, tuple[str, str]]:
    """Load each path in a child process limited to its size plus LIMIT_HEADROOM: name -> (exception, message)."""
    pytest.importorskip("resource")
    if not Path("/proc/self/statm").exists():
        pytest.skip("needs /proc to size the child's memory limit")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    result = subprocess.run([sys.executable, "-c", CHILD, str(LIMIT_HEADROOM), *map(str, paths)],
                            capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    rows = [line.split("\t", 2) for line in result.stdout.splitlines()]
    return {Path(path).name: (kind, message) for path, kind, message in rows}


def test_sizes_a_file_asks_for_are_bounded_by_the_file(tmp_path):
    """Every size a file can ask for is checked against the file's own size before anything is allocated:
    each case would allocate 3 to 8 GiB (or double without end) on a reader that trusts it, and is refused
    here in a child that could not even hold that much."""
    cases = {
        "bytearray.pkl": (bytearray_bomb(), "a bytearray of 3221225472 bytes, more than its 35 bytes"),
        "tensor.pkl": (tensor_bomb(), "calls torch.Tensor(...) directly"),
        "ndarray.pkl": (ndarray_bomb(), "an array of 8589934592 bytes"),
        "memo.pkl": (memo_copies(), "more than 4 times its"),
        "hex.pkl": (hex_chain(), "_codecs.encode other than on text as latin1"),
        "storage.pkl": (storage_bomb(), "claim 4294967296 bytes of data, but only 24 bytes follow"),
        "legacy.pt": (legacy_stream(GIB), "claim 4294967296 bytes of data, but only 24 bytes follow"),
    }
    for name, (data, _) in cases.items():
        (tmp_path / name).write_bytes(data)
    assert len(bytearray_bomb()) == 35
    huge_resolution_native(tmp_path / "resolution.safetensors")
    zero = tmp_path / "zero.png"
    zero.symlink_to("/dev/zero")
    results = _in_limited_child([tmp_path / n for n in [*cases, "resolution.safetensors", "zero.png"]])
    for name, (_, expected) in cases.items():
        kind, message = results[name]
        assert kind in ("CheckpointError", "UnsafePickleError") and expected in message, (name, kind, message)
        assert message.startswith(str(tmp_path / name)), message
    kind, message = results["resolution.safetensors"]
    assert kind == "CheckpointError" and "far larger than the tensors the file stores" in message, message
    kind, message = results["zero.png"]
    assert kind == "InputError" and message == f"{zero}: is a character device, not a regular image file", message


def test_memo_indices_and_lengths_a_pickle_states_are_bounded_by_the_file(tmp_path):
    """The C unpickler acts on two sizes before it reads further: a memo index (it grows its memo table to twice
    the index) and a stated length (it allocates that many bytes). In network pickles, torch zips' object trees
    and legacy torch streams, an index beyond the entries stored so far and a length beyond the bytes left are
    refused before the unpickler runs, in a child that could not hold what they ask for."""
    magic = pickle.dumps(LEGACY_MAGIC, protocol=2)
    cases = {
        "memo.pkl": (memo_index_bomb(), "stores memo entry 1073741823 after 0 entries"),
        "memo.pt": (zip_with_tree(memo_index_bomb()), "stores memo entry 1073741823 after 0 entries"),
        "memo-legacy.pt": (magic + memo_index_bomb(), "stores memo entry 1073741823 after 0 entries"),
        "length.pkl": (length_bomb(), "states BINBYTES data of 4294967280 bytes where 9 remain"),
        "length.pt": (zip_with_tree(length_bomb()), "states BINBYTES data of 4294967280 bytes where 9 remain"),
    }
    for name, (data, _) in cases.items():
        (tmp_path / name).write_bytes(data)
    results = _in_limited_child([tmp_path / name for name in cases])
    for name, (_, expected) in cases.items():
        kind, message = results[name]
        assert kind == "CheckpointError" and expected in message, (name, kind, message)
        assert message.startswith(str(tmp_path / name)) and "\n" not in message, message
    from stylegan.formats.pickle_guard import check_pickle
    for value in ([[1, 2]] * 3, {"a": "x" * 300, "b": b"y" * 70000}, list(range(1000))):  # real pickles pass
        for protocol in range(6):
            stream = io.BytesIO(pickle.dumps(value, protocol=protocol))
            check_pickle(stream)
            assert stream.tell() == 0


def test_a_pickled_value_named_in_a_refusal_takes_one_line():
    """An array where the pickle should name a class (an index into the memo changed by one byte): the refusal
    shows it in one short line, not the array's repr over several."""
    from stylegan.formats.safe_pickle import safe_load
    array = pickle.dumps(np.arange(400.0).reshape(20, 20), protocol=2)
    reconstruct = re.search(rb"c[\w.]+\n_reconstruct\n", array).group()
    data = b"\x80\x02" + reconstruct + array[2:-1] + b"K\x00\x85C\x01b\x87R."
    with pytest.raises(UnsafePickleError, match=r"rebuild an array of class array\(\[\[ 0\., 1\.,") as caught:
        safe_load(io.BytesIO(data))
    assert "\n" not in str(caught.value) and len(str(caught.value)) < 200, str(caught.value)


def test_budget_allows_what_real_pickles_do(tmp_path):
    """The same globals used as real pickles use them load: protocol-2 bytes (text -> bytes -> a storage),
    sets, ordered dicts and numpy arrays, within the file's size."""
    value = {"t": torch.arange(1000, dtype=torch.float32), "a": np.arange(300), "s": {1, 2, 3},
             "o": collections.OrderedDict(x=1), "b": bytearray(b"abc")}
    from stylegan.formats.safe_pickle import safe_load
    for protocol in (2, 4, 5):
        loaded = safe_load(io.BytesIO(pickle.dumps(value, protocol=protocol)))
        assert torch.equal(loaded["t"], value["t"]) and list(loaded["a"]) == list(range(300))
        assert loaded["s"] == {1, 2, 3} and loaded["o"] == {"x": 1} and loaded["b"] == b"abc"


# -------------------------------------------------------------------------------------------------- torch files

def _rosinality_bytes() -> bytes:
    from checkpoint_builders import rosinality_generator
    buffer = io.BytesIO()
    torch.save({"g_ema": rosinality_generator(), "latent_avg": torch.randn(8)}, buffer)
    return buffer.getvalue()


def _rezip(data: bytes, compress: str = "", extra: dict[str, bytes] | None = None) -> bytes:
    """The torch.save zip `data` rewritten with the members ending in `compress` deflated, plus `extra`."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            deflate = bool(compress) and info.filename.endswith(compress)
            dst.writestr(info.filename, src.read(info), zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED)
        for name, content in (extra or {}).items():
            dst.writestr(name, content, zipfile.ZIP_STORED)
    return out.getvalue()


def test_torch_zip_with_compressed_or_oversized_members_is_refused(tmp_path, monkeypatch):
    from stylegan.formats import torch_files
    data = _rosinality_bytes()
    intact = tmp_path / "intact.pt"
    intact.write_bytes(_rezip(data))
    assert stylegan.load(intact).img_resolution == 16  # a rewritten zip as such loads
    deflated = tmp_path / "deflated.pt"
    deflated.write_bytes(_rezip(data, compress="data.pkl"))
    with pytest.raises(CheckpointError, match="data.pkl is compressed, which torch.save never does") as err:
        stylegan.load(deflated)
    assert str(err.value).startswith(str(deflated)) and "\n" not in str(err.value)
    monkeypatch.setattr(torch_files, "PICKLE_LIMIT", 100)
    with pytest.raises(CheckpointError, match="its object tree .data.pkl. is [0-9]+ bytes, more than the 100"):
        stylegan.load(intact)


def test_torch_zip_needing_an_unknown_zip_version_is_refused(tmp_path):
    data = bytearray(_rezip(_rosinality_bytes()))
    for match in re.finditer(b"PK\x01\x02", bytes(data)):  # every entry's "version needed to extract": 24.5
        data[match.start() + 6:match.start() + 8] = struct.pack("<H", 245)
    path = tmp_path / "version.pt"
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=r"damaged zip archive \(NotImplementedError: zip file version 24.5\)"):
        stylegan.load(path)


def _rosinality_file(path: Path, change) -> Path:
    from checkpoint_builders import rosinality_discriminator, rosinality_generator
    state = {"g_ema": rosinality_generator(), "d": rosinality_discriminator(), "latent_avg": torch.randn(8)}
    change(state)
    torch.save(state, path)
    return path


def test_damaged_rosinality_state_dicts_are_refused_in_one_line(tmp_path):
    """State dicts of the rosinality layout whose tensors are read as data: a tensor of another size, a missing
    tensor, a blur kernel that is no blur kernel (its taps become the network's filter), a name holding a line
    break. Each is refused in one line naming the problem (they used to end in a reshape error, a KeyError,
    a network computing non-finite values, and a message over two lines)."""
    def resized(state):
        state["g_ema"]["conv1.conv.modulation.weight"] = torch.randn(17, 8)

    def missing(state):
        del state["g_ema"]["style.1.weight"]

    def blur(state):
        state["g_ema"]["convs.0.conv.blur.kernel"] = torch.eye(4)

    def renamed(state):
        state["g_ema"]["to_rgb1.bi\nas"] = state["g_ema"].pop("to_rgb1.bias")

    cases = {"resized": (resized, "'conv1.conv.modulation.weight' is (17, 8), where this network needs a tensor of "
                                  "shape (16, 8)"),
             "missing": (missing, "whose tensors do not make a network (KeyError: 'style.1.weight')"),
             "blur": (blur, "'convs.0.conv.blur.kernel' is not a blur kernel"),
             "renamed": (renamed, "has tensors this package has no place for: to_rgb1.bi\\nas")}
    for name, (change, expected) in cases.items():
        path = _rosinality_file(tmp_path / f"{name}.pt", change)
        result = CliRunner().invoke(cli, ["generate", "--network", str(path), "--seeds", "0",
                                          "--outdir", str(tmp_path / "out")])
        lines = visible_lines(result.output)
        assert result.exit_code == 1 and len(lines) == 1 and expected in lines[0], (name, result.output)
        assert "Traceback" not in result.output and not (tmp_path / "out").exists()
    assert stylegan.load(_rosinality_file(tmp_path / "intact.pt", lambda state: None)).img_resolution == 16


def test_storage_claiming_more_than_its_zip_entry_is_refused(tmp_path):
    """A zip whose object tree says a storage has more elements than its entry holds."""
    data = _rosinality_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        name = next(n for n in archive.namelist() if n.endswith("data.pkl"))
        tree = archive.read(name)
        entries = {i.filename: i.file_size for i in archive.infolist()}
    key = next(n for n in entries if "/data/" in n)
    size = entries[key] // 4  # float32 elements
    patched = tree.replace(b"K" + bytes([size]), b"M" + struct.pack("<H", 60000), 1) if size < 256 else None
    if patched is None or patched == tree:
        pytest.skip("the first storage's element count is not a one-byte opcode in this torch version")
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            dst.writestr(info.filename, patched if info.filename == name else src.read(info))
    path = tmp_path / "claims.pt"
    path.write_bytes(out.getvalue())
    with pytest.raises(CheckpointError, match="claims 240000 bytes but has an entry of"):
        stylegan.load(path)


def test_out_of_memory_while_reading_is_one_line_at_the_command_line(tmp_path, monkeypatch):
    path = tmp_path / "r.pt"
    path.write_bytes(_rosinality_bytes())

    def no_memory(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(torch, "load", no_memory)
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["generate", "--network", str(path), "--seeds", "0", "--outdir", str(out)])
    assert result.exit_code == 1 and visible_lines(result.output) == [
        f"Error: {path}: not enough memory to read this file"], result.output
    assert not out.exists()


def test_weights_only_refusals_are_one_line_without_torchs_advice(tmp_path):
    """A one-byte change in an NVIDIA pickle's storage record, and a .pt holding a code global: one line,
    never PyTorch's suggestion to load with weights_only=False (which would run code from the file)."""
    raw = (DATA / "sg2_skip_32.pkl").read_bytes()
    at = raw.index(b"FloatStorage")
    flipped = tmp_path / "flipped.pkl"
    flipped.write_bytes(raw[:at + 5] + b"f" + raw[at + 6:])  # FloatStorage -> FloatftorageX
    evil = tmp_path / "evil.pt"
    buffer = io.BytesIO()
    torch.save({"g_ema": {"x": torch.zeros(1)}, "code": _RunsEval()}, buffer)
    evil.write_bytes(buffer.getvalue())
    for path in (flipped, evil):
        with pytest.raises(CheckpointError) as err:
            stylegan.load(path)
        message = str(err.value)
        assert message.startswith(str(path)) and "\n" not in message, message
        reason = message[len(str(path)):]
        assert "weights_only" not in reason and "can still be loaded" not in reason, message
    assert "eval" in str(err.value)


class _RunsEval:
    def __reduce__(self):
        return eval, ("1",)


# -------------------------------------------------------------------------------------------- native configs

def _load_with(tmp_path: Path, mutate, net=None):
    records, tensors = _native_parts(net if net is not None else _tiny_sg2())
    name = next(iter(records))
    mutate(records[name]["config"]) if callable(mutate) else records.update(mutate)
    path = _write_native(tmp_path / "net.safetensors", records, tensors)
    return path, lambda: stylegan.load(path, which=name)


@pytest.mark.parametrize("mutate,field", [
    (lambda c: c.pop("z_dim"), "config field 'z_dim' is missing"),
    (lambda c: c.update(colour="blue"), "config field 'colour' is not a field of this architecture"),
    (lambda c: c["mapping_kwargs"].update(activation="relu6"), "config field 'mapping_kwargs.activation' is "
                                                               "'relu6'; expected one of 'linear', 'relu'"),
    (lambda c: c.update(activation="relu6"), "config field 'activation' is 'relu6'"),
    (lambda c: c.update(w_dim=math.inf), "config field 'w_dim' is inf; expected an integer >= 1"),
    (lambda c: c["channels"].update({"8": -16}), "config field 'channels.8' is -16; expected an integer >= 1"),
    (lambda c: c.update(c_dim=-1), "config field 'c_dim' is -1; expected an integer >= 0"),
    (lambda c: c.update(kernel_size=2), "config field 'kernel_size' is 2; expected an odd integer"),
    (lambda c: c.update(resample_filter=[1, -1]), "config field 'resample_filter' is .1, -1.; expected a list"),
    (lambda c: c.update(img_resolution=24), "config field 'img_resolution' is 24; expected a power of two"),
    (lambda c: c.update(img_resolution=1 << 20), "config field 'img_resolution' is 1048576; expected a power "
                                                 "of two >= 4 and <= 65536"),
    (lambda c: c["channels"].pop("16"), "config field 'channels' lacks resolution 16"),
    ({"G_ema": None}, "network 'G_ema' has no record of an architecture name and a config"),
    ({"G_ema": {"arch": "stylegan2.Generator", "config": None}}, "has no record of an architecture name"),
])
def test_native_config_damage_names_the_field(tmp_path, mutate, field):
    path, load = _load_with(tmp_path, mutate)
    with pytest.raises(CheckpointError) as err:
        load()
    message = str(err.value)
    assert message.startswith(str(path)) and "\n" not in message, message
    assert __import__("re").search(field, message), message


@pytest.mark.parametrize("net,mutate,field", [
    ("D", lambda c: c.update(conv_clamp="x"), "'conv_clamp' is 'x'"),  # loaded, then D(img) failed
    ("D", lambda c: c["epilogue_kwargs"].update(mbstd_num_channels=3), "a divisor of the 16 channels"),
    ("sg3", lambda c: c["input_spec"].update(size=-1), "'input_spec.size' is -1"),  # G(z) failed
    ("sg3", lambda c: c["layer_specs"][2].update(in_channels=5), r"'layer_specs\[2\].in_channels' is 5; "
                                                                 r"expected 16, what the layer before gives"),
    ("sg3", lambda c: c.update(filter_size=7), r"'layer_specs\[0\]' gives synthesis.L0_36_16.up_filter 14 taps, "
                                               r"but the file stores 12 taps"),
    ("sg1", lambda c: c.update(blur_filter=[0]), "'blur_filter' is .0."),
    ("sg1D", lambda c: c.update(mbstd_num_features=5), "a divisor of the 16 channels"),
])
def test_configs_that_loaded_and_failed_later_are_refused(tmp_path, net, mutate, field):
    path, load = _load_with(tmp_path, mutate, _small_networks()[net])
    with pytest.raises(CheckpointError, match=field):
        load()


def _small_networks() -> dict:
    torch.manual_seed(0)
    return {
        "sg2": _tiny_sg2(),
        "sg3": StyleGAN3Generator(z_dim=8, c_dim=0, w_dim=8, img_resolution=16, img_channels=3, channel_base=512,
                                  channel_max=16, num_layers=4, num_critical=1),
        "D": Discriminator(c_dim=2, img_resolution=16, img_channels=3, channel_base=256, channel_max=16),
        "sg1": StyleGAN1Generator(z_dim=8, c_dim=0, w_dim=8, img_resolution=16, img_channels=3, channel_base=256,
                                  channel_max=16),
        "sg1D": StyleGAN1Discriminator(c_dim=0, img_resolution=16, img_channels=3, channel_base=256, channel_max=16),
        "E": Encoder(img_resolution=16, img_channels=3, num_ws=6, w_dim=8, channel_base=256, channel_max=16,
                     features=8),
    }


MUTATIONS = [None, -1, 0, 2, 1 << 20, 1 << 64, -(10 ** 56), math.inf, 0.5, "relu6", True, [], {}]


def _leaves(obj, path=()):
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, list) else ()
    for key, value in items:
        if not (path[:1] == ("layer_specs",) and path[1:2] not in ((0,), ())):  # one SG3 layer spec stands for all
            yield path + (key,)
        yield from _leaves(value, path + (key,))


@pytest.mark.parametrize("key", ["sg2", "sg3", "D", "sg1", "sg1D", "E"])
def test_every_field_changed_either_loads_a_working_network_or_is_refused(tmp_path, key):
    """The fuzzing property, over every field of a small network of each architecture and values of every
    kind: loading raises a one-line CheckpointError, or the network loads and computes finite outputs."""
    net = _small_networks()[key]
    records, tensors = _native_parts(net)
    name = next(iter(records))
    loaded_count = 0
    for path in _leaves(records[name]["config"]):
        for value in MUTATIONS:
            mutated = json.loads(json.dumps(records))
            target = mutated[name]["config"]
            for step in path[:-1]:
                target = target[step]
            target[path[-1]] = value
            file = _write_native(tmp_path / "m.safetensors", mutated, tensors)
            try:
                loaded = stylegan.load(file, which=name)
            except CheckpointError as exc:
                assert "\n" not in str(exc) and str(exc).startswith(str(file)), str(exc)
                continue
            loaded_count += 1
            with torch.no_grad():
                images = torch.randn(2, loaded.img_channels, loaded.img_resolution, loaded.img_resolution)
                if isinstance(loaded, Encoder):
                    out = loaded(images, images)
                elif name == "D":
                    c = torch.eye(max(loaded.c_dim, 1))[:1, :loaded.c_dim].repeat(2, 1)
                    out = loaded(images, c)
                else:
                    out = loaded(torch.randn(2, loaded.z_dim), torch.zeros(2, loaded.c_dim))
            assert torch.isfinite(out).all(), (path, value)
    assert loaded_count > 0  # some changes (an option the weights do not depend on) still give a network


def test_schema_knows_every_option_of_the_constructors():
    """The schema is complete: every keyword a network's constructors take from its config is a field."""
    from stylegan.formats import native_schema
    records = {arch: set(schema.fields) for arch, (schema, _) in native_schema.ARCHITECTURE_SCHEMAS.items()}
    assert set(records) == set(native.ARCHITECTURES)
    for net in _small_networks().values():
        assert set(net.config) <= records[native.arch_name(net)], native.arch_name(net)


def test_config_refusal_at_the_command_line(tmp_path):
    path, _ = _load_with(tmp_path, lambda c: c.update(activation="relu6"))
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["generate", "--network", str(path), "--seeds", "0", "--outdir", str(out)])
    assert result.exit_code == 1 and len(visible_lines(result.output)) == 1, result.output
    assert "config field 'activation' is 'relu6'" in result.output and not out.exists()


# ------------------------------------------------------------------------------------------------ special files

class _FifoUnblocker:
    """Opens the write end of a FIFO whenever a reader waits on it and closes it at once, so that a reader
    that opens it gets end-of-file instead of waiting forever."""

    def __init__(self, path: Path):
        self.path, self.stop = path, threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.wait(0.05):
            try:
                os.close(os.open(self.path, os.O_WRONLY | os.O_NONBLOCK))
            except OSError:
                pass

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join()


SPECIAL_INPUTS = {
    "checkpoint": ("net.pkl", ["generate", "--network", "{file}", "--seeds", "0", "--outdir", "{out}"]),
    "image": ("target.png", ["project", "--network", str(NETWORK), "--target", "{file}", "--num-steps", "1",
                             "--outdir", "{out}"]),
    "ws": ("ws.npz", ["generate", "--network", str(NETWORK), "--projected-w", "{file}", "--outdir", "{out}"]),
    "direction": ("d.npy", ["edit", "--network", str(NETWORK), "--seeds", "0", "--direction", "{file}",
                            "--strength", "0,1", "--outdir", "{out}"]),
    "settings": ("s.json", ["generate", "--network", str(NETWORK), "--settings", "{file}", "--outdir", "{out}"]),
    "recipe": ("r.toml", ["pipeline", "{file}", "--seeds", "0", "--outdir", "{out}"]),
    "scores": ("scores.csv", ["directions", "interfacegan", "--network", str(NETWORK), "--scores", "{file}",
                              "--out", "{out}/b.npy"]),
    "labels": ("labels.json", ["dataset", "--source", "{images}", "--labels", "{file}", "--dest", "{out}/d.zip"]),
}


@pytest.mark.parametrize("special", ["device", "fifo"])
@pytest.mark.parametrize("kind", list(SPECIAL_INPUTS))
def test_special_files_are_refused_before_reading(tmp_path, kind, special):
    """A symlink to a device (here /dev/null; /dev/zero would be read without end) or a FIFO (whose open
    waits for a writer) where any verb reads a file: one line naming it, exit status 1, nothing written."""
    name, command = SPECIAL_INPUTS[kind]
    images = tmp_path / "images"
    images.mkdir()
    PIL.Image.new("RGB", (8, 8)).save(images / "a.png")
    file = tmp_path / name
    if special == "device":
        file.symlink_to("/dev/null")
    else:
        os.mkfifo(file)
    out = tmp_path / "out"
    args = [a.replace("{file}", str(file)).replace("{out}", str(out)).replace("{images}", str(images))
            for a in command]
    with _FifoUnblocker(file) if special == "fifo" else _no_context():
        result = CliRunner().invoke(cli, args)
    lines = visible_lines(result.output)
    what = "a character device" if special == "device" else "a FIFO (named pipe)"
    assert result.exit_code == 1 and len(lines) == 1, result.output
    assert f"{file}: is {what}, not a regular" in lines[0], lines[0]
    assert not out.exists() or not any(out.rglob("*")), sorted(out.rglob("*"))


class _no_context:
    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        pass


def test_a_folder_of_targets_refuses_a_fifo_among_the_images(tmp_path):
    folder = tmp_path / "targets"
    folder.mkdir()
    os.mkfifo(folder / "b.png")
    with _FifoUnblocker(folder / "b.png"), pytest.raises(InputError, match="b.png: is a FIFO"):
        decode_image(folder / "b.png")


def test_compressed_array_bundle_that_unpacks_far_beyond_its_size_is_refused(tmp_path):
    bomb = tmp_path / "ws.npz"
    np.savez_compressed(bomb, w=np.zeros((1, 4096, 64), np.float32))  # 1 MiB of zeros in about 1 KiB
    with pytest.raises(InputError, match="unpack to 1048[0-9]+ bytes from a file of [0-9]+ .more than 64 times"):
        load_arrays(bomb, "ws")
    fine = tmp_path / "fine.npz"
    save_ws(fine, torch.randn(2, 4, 8))
    assert load_arrays(fine, "ws")["w"].shape == (2, 4, 8)


def _npy(shape: tuple, descr: str = "<f4", data: bytes = b"\0" * 64) -> bytes:
    """An .npy whose header states `shape` and `descr`, followed by `data`."""
    out = io.BytesIO()
    np.lib.format.write_array_header_1_0(out, {"descr": descr, "fortran_order": False, "shape": shape})
    return out.getvalue() + data


def _npz(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return out.getvalue()


def test_array_files_whose_members_lie_are_refused_in_one_line(tmp_path):
    """An .npy header claiming 8 GiB over 64 bytes (numpy allocates the claim before it reads), the same inside
    an .npz, an .npz member that is no .npy (numpy hands it over as bytes), noise maps of raw bytes, an empty
    direction file and scales that are text: each is refused in one line by the verb that reads it."""
    G = stylegan.load(NETWORK)
    ws, noise, dirs = tmp_path / "ws", tmp_path / "noise", tmp_path / "dirs"
    for folder in (ws, noise, dirs):
        folder.mkdir()
    bad_noise = _npz({f"{name}.npy": _npy((r, r), "|V4", b"\0" * 4 * r * r)
                      for name, r in noise_inputs(G)})
    cases = {
        "claim.npy": (ws / "claim.npy", _npy((1 << 31,)), "its header claims 8589934592 bytes of array data, but 64 "
                                                          "follow"),
        "claim.npz": (ws / "claim.npz", _npz({"w.npy": _npy((1 << 31,))}), "w.npy: its header claims 8589934592"),
        "bytes.npz": (ws / "bytes.npz", _npz({"w.npy": b"not an array"}), "its member 'w' is not an array"),
        "noise.npz": (noise / "noise.npz", bad_noise, "of |V4 values, not numbers"),
        "empty.npz": (dirs / "empty.npz", _npz({"directions.npy": _npy((0, G.w_dim), data=b"")}),
                      "holds no direction vectors"),
        "scales.npz": (dirs / "scales.npz", _npz({"directions.npy": _npy((1, G.w_dim), data=b"\0" * 4 * G.w_dim),
                                                  "scales.npy": _npy((1,), "<U4", "abcd".encode("utf-32-le"))}),
                       "holds <U4 scales, not numbers"),
    }
    save_ws(noise / "w.npz", torch.zeros(1, G.num_ws, G.w_dim))
    for name, (path, data, expected) in cases.items():
        path.write_bytes(data)
        if path.parent == ws:
            args = ["generate", "--projected-w", str(path)]
        elif path.parent == noise:
            args = ["generate", "--projected-w", str(noise / "w.npz")]
        else:
            args = ["edit", "--seeds", "0", "--direction", str(path), "--strength", "0,1"]
        out = tmp_path / f"out-{name}"
        result = CliRunner().invoke(cli, [*args, "--network", str(NETWORK), "--outdir", str(out)])
        lines = visible_lines(result.output)
        assert result.exit_code == 1 and len(lines) == 1 and expected in lines[0], (name, result.output)
        assert not out.exists() or not any(out.rglob("*")), name


# ---------------------------------------------------------------------------------------------------- images

def _noisy(size: int = 64) -> PIL.Image.Image:
    rng = np.random.RandomState(0)
    x = np.linspace(0, 255, size)
    return PIL.Image.fromarray((np.add.outer(x, x)[:, :, None] / 2 + rng.randint(0, 40, (size, size, 3)))
                               .clip(0, 255).astype(np.uint8))


def _encoded(fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    _noisy().save(buffer, format=fmt, **options)
    return buffer.getvalue()


def test_png_with_a_wrong_crc_is_refused():
    data = _encoded("PNG")
    assert decode_image(data)[0].size == (64, 64)
    idat = data.index(b"IDAT")
    length = int.from_bytes(data[idat - 4:idat], "big")
    crc_at = idat + 4 + length
    bad = data[:crc_at] + bytes([data[crc_at] ^ 1]) + data[crc_at + 1:]
    with PIL.Image.open(io.BytesIO(bad)) as image:
        image.load()  # Pillow itself does not check the image data's CRC
    with pytest.raises(InputError, match="damaged PNG: the checksum .CRC. of its 'IDAT' chunk does not match"):
        decode_image(bad)


@pytest.mark.parametrize("progressive", [False, True])
def test_jpeg_whose_compressed_data_ends_early_is_refused(progressive):
    """A stretch cut out of the entropy-coded data (markers and EOI intact): Pillow decodes it and fills the
    rest grey, the marker walk sees nothing wrong, libjpeg warns; the strict decoder turns that into damage."""
    data = _encoded("JPEG", quality=90, progressive=progressive)
    assert decode_image(data)[0].size == (64, 64)
    sos = data.rindex(b"\xff\xda") if not progressive else data.index(b"\xff\xda")
    start = sos + (len(data) - sos) // 3
    stop = start + (len(data) - sos) // 3
    cut = data[:start] + data[stop:]
    with PIL.Image.open(io.BytesIO(cut)) as image:
        image.load()
    with pytest.raises(InputError, match="damaged JPEG: Corrupt JPEG data"):
        decode_image(cut)


def test_jpeg_header_claiming_other_dimensions_is_refused():
    data = _encoded("JPEG", quality=90)
    sof = data.index(b"\xff\xc0")
    claims = data[:sof + 5] + struct.pack(">HH", 1, 65500) + data[sof + 9:]  # height 1, width 65500
    with PIL.Image.open(io.BytesIO(claims)) as image:
        image.load()
        assert image.size == (65500, 1)
    with pytest.raises(InputError, match="damaged JPEG"):
        decode_image(claims)


def test_unsafe_globals_stay_refused(tmp_path):
    """The budget wrappers keep the allowlist an allowlist: globals outside it are still refused."""
    path = tmp_path / "g.pkl"
    path.write_bytes(b"\x80\x02cos\nsystem\n" + _unicode("true") + b"\x85R.")
    with pytest.raises(UnsafePickleError, match="'posix.system'|'os.system'"):
        stylegan.load(path)
