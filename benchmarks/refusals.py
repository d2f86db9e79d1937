"""What refusing a hostile file costs: wall time and peak memory of `stylegan.load` on each, in its own process.

    python -m benchmarks.refusals [--timeout 120]

Files (made in a temporary folder): a 35-byte pickle asking for bytearray(3 GiB); a torch zip whose data.pkl
(100 MB of None values, a list) is deflated to about 100 KB; a legacy .pt whose storage claims 4 GiB; a
native file whose config asks for img_resolution 2**16 with channels from a huge base; a symlink to
/dev/zero given as an image. Each line: the file, its size, the seconds the load took, how much it raised
the process's peak RSS in MB (ru_maxrss, Linux; importing torch before it not counted), and the first 100
characters of what the load said.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import pickle
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import safetensors.torch
import torch

from stylegan.formats import native
from stylegan.models import StyleGAN2Generator

CHILD = ("import resource, sys, time, stylegan, stylegan.formats.native, stylegan.models.stylegan3\n"
         "from stylegan.io.images import decode_image\np = sys.argv[1]\n"
         "rss = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\nbefore, start = rss(), time.perf_counter()\n"
         "try:\n    (decode_image if p.endswith('.png') else stylegan.load)(p)\n    said = 'loaded'\n"
         "except BaseException as exc:\n    said = type(exc).__name__ + ': ' + str(exc).replace(chr(10), ' / ')\n"
         "print(time.perf_counter() - start, rss() - before, said, sep='\\t')\n")


def _deflated_pt(path: Path, nones: int = 100_000_000) -> None:
    buffer = io.BytesIO()
    torch.save({"g_ema": {}}, buffer)
    with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as src, zipfile.ZipFile(path, "w") as dst:
        for info in src.infolist():
            if info.filename.endswith("data.pkl"):
                dst.writestr(info.filename, b"\x80\x02](" + b"N" * nones + b"e.", zipfile.ZIP_DEFLATED, 9)
            else:
                dst.writestr(info.filename, src.read(info))


def _legacy_pt(path: Path, numel: int = 1 << 30) -> None:
    class Storage:
        pass

    class Tree(pickle.Pickler):
        def persistent_id(self, obj):
            return ("storage", torch.FloatStorage, "0", "cpu", numel, None) if isinstance(obj, Storage) else None

    tree = io.BytesIO()
    Tree(tree, protocol=2).dump({"g_ema": Storage()})
    info = dict(protocol_version=1001, little_endian=True, type_sizes=dict(short=2, int=4, long=4))
    path.write_bytes(pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2) + pickle.dumps(1001, protocol=2)
                     + pickle.dumps(info, protocol=2) + tree.getvalue() + pickle.dumps(["0"], protocol=2)
                     + struct.pack("<q", 4) + b"\0" * 16)


def _huge_native(path: Path) -> None:
    G = StyleGAN2Generator(z_dim=8, c_dim=0, w_dim=8, img_resolution=16, img_channels=3,
                           mapping_kwargs=dict(num_layers=2), channel_base=256, channel_max=16)
    config = json.loads(json.dumps(G.config))
    del config["channels"]
    config.update(img_resolution=1 << 16, channel_base=1 << 40)
    tensors = {f"G_ema.{k}": v.contiguous() for k, v in G.state_dict().items()}
    safetensors.torch.save_file(tensors, str(path), metadata={
        native.FORMAT_KEY: "1", native.NETWORKS_KEY: json.dumps({"G_ema": {"arch": native.arch_name(G),
                                                                            "config": config}})})


def make_files(folder: Path) -> list[Path]:
    """The hostile files, in the order they are measured."""
    files = [folder / "bytearray.pkl", folder / "deflated.pt", folder / "legacy.pt", folder / "resolution.safetensors",
             folder / "zero.png"]
    files[0].write_bytes(b"\x80\x02c__builtin__\nbytearray\n\x8a\x05\x00\x00\x00\xc0\x00\x85R.")
    _deflated_pt(files[1])
    _legacy_pt(files[2])
    _huge_native(files[3])
    files[4].symlink_to("/dev/zero")
    return files


def measure(path: Path, timeout: float) -> tuple[float, float, str]:
    """Seconds the load took, how far it raised the child's peak RSS (MB; the imports before it not counted),
    and what it said (or 'timed out')."""
    try:
        out = subprocess.run([sys.executable, "-c", CHILD, str(path)], capture_output=True, text=True,
                             timeout=timeout, env=dict(os.environ, OMP_NUM_THREADS="1")).stdout
    except subprocess.TimeoutExpired:
        return float("nan"), float("nan"), "timed out"
    seconds, growth, said = ((out.strip().splitlines() or [""])[-1].split("\t", 2) + ["nan", "nan", "no answer"])[:3]
    return float(seconds), float(growth) / 1024, said


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--timeout", type=float, default=120)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        for path in make_files(Path(folder)):
            size = os.lstat(path).st_size if path.is_symlink() else path.stat().st_size
            seconds, peak, said = measure(path, args.timeout)
            print(f"{path.name:24s} {size:>9d} B {seconds:8.3f} s {peak:7.0f} MB  {said[:100]}")


if __name__ == "__main__":
    main()
