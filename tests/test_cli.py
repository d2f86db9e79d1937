"""The command line: files written, official seed convention, clear errors for bad input."""
import subprocess
import sys
import sysconfig
from pathlib import Path

import numpy as np
import PIL.Image
import pytest
import torch
from click.testing import CliRunner

import stylegan
from stylegan.cli import cli
from stylegan.io import save_directions, to_uint8

from conftest import DATA, reference


def _read_png(path):
    with PIL.Image.open(path) as image:
        return np.asarray(image)


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def test_generate_writes_official_seed_images(tmp_path):
    path = DATA / "sg2_skip_32.pkl"
    result = run("generate", "--network", path, "--seeds", "0-3", "--trunc", "0.7", "--outdir", tmp_path,
                 "--grid", "2x2", "--device", "cpu")
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["grid.png", "seed0000.png", "seed0001.png", "seed0002.png", "seed0003.png",
                     "stylegan-generate.json"]
    # Seeds 0..3 with psi 0.7 are the official reference images: compare the 8-bit pixels.
    expected = to_uint8(torch.from_numpy(reference(path)["img_psi07_const"]))
    for i in range(4):
        png = _read_png(tmp_path / f"seed{i:04d}.png")
        diff = np.abs(png.astype(int) - expected[i].astype(int))
        assert diff.max() <= 1 and (diff > 0).mean() < 0.01
    grid = _read_png(tmp_path / "grid.png")
    assert grid.shape == (64, 64, 3)
    assert np.array_equal(grid[32:, :32], _read_png(tmp_path / "seed0002.png"))


def test_generate_conditional_and_noise_modes(tmp_path):
    path = DATA / "sg2_cond_orig_32.pkl"
    result = run("generate", "--network", path, "--seeds", "5", "--class", "2", "--noise-mode", "none",
                 "--outdir", tmp_path)
    assert result.exit_code == 0, result.output
    G = stylegan.load(path)
    c = torch.zeros(1, 3)
    c[0, 2] = 1
    with torch.no_grad():
        img = to_uint8(G(stylegan.seed_to_z(5, G.z_dim), c, noise_mode="none"))[0]
    assert np.array_equal(_read_png(tmp_path / "seed0005.png"), img)


def test_generate_grayscale_network_writes_grayscale_png(tmp_path):
    result = run("generate", "--network", DATA / "sg2_resnet_gray_32.pkl", "--seeds", "1", "--outdir", tmp_path)
    assert result.exit_code == 0, result.output
    with PIL.Image.open(tmp_path / "seed0001.png") as image:
        assert image.mode == "L"


@pytest.mark.parametrize("args,message", [
    (["--seeds", "a-b"], "cannot parse seeds"),
    (["--seeds", "5-2"], "runs backwards"),
    (["--seeds", "99999999999"], "too large"),
    (["--seeds", "1", "--trunc", "nan"], "finite"),
    (["--seeds", "1", "--trunc", "abc"], "is not a valid float"),
    (["--seeds", "1", "--trunc-cutoff", "40"], "between 0 and num_ws"),
    (["--seeds", "0-5", "--grid", "2x2"], "holds 4 images"),
    (["--seeds", "1", "--projected-w", "x.npz"], "either --seeds or --projected-w"),
    (["--seeds", "1", "--grid", "two"], "COLSxROWS"),
    (["--seeds", "1", "--translate", "0.5,0"], "need a StyleGAN3 network"),
    (["--seeds", "1", "--device", "cuda:7"], "cuda"),
])
def test_generate_bad_input(tmp_path, args, message):
    result = run("generate", "--network", DATA / "sg2_skip_32.pkl", "--outdir", tmp_path, *args)
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output
    assert not any(tmp_path.iterdir())


GRAY = DATA / "sg2_resnet_gray_32.pkl"
PROJECT = ["project", "--network", GRAY, "--target", "{image}", "--num-steps", "1", "--loss", "pixel"]
EDIT = ["edit", "--network", GRAY, "--seeds", "0", "--direction", "{image}.npz:1", "--strength"]


@pytest.mark.parametrize("args,message", [
    (["generate", "--network", GRAY, "--seeds", "0", "--trunc", "1e308"], "truncation psi must be a finite number"),
    (["generate", "--network", GRAY, "--seeds", "0-1", "--grid", "1x99999999"], "leaves rows or columns empty"),
    (["generate", "--network", GRAY, "--seeds", "0", "--device", "meta"], "unknown device 'meta'"),
    (["generate", "--network", GRAY, "--seeds", "0", "--device", "xla"], "unknown device 'xla'"),
    (["truncation", "--network", GRAY, "--seeds", "1", "--trunc", "0,1e308"], "truncation psi must be a finite"),
    (["mix", "--network", GRAY, "--rows", "1", "--cols", "2", "--weight", "-1e308"], "mixing weight must be a finite"),
    (["mix", "--network", GRAY, "--rows", "1", "--cols", "2", "--trunc", "1e308"], "truncation psi must be a finite"),
    (["interpolate", "--network", GRAY, "--seeds", "1,2", "--fps", "nan", "--output", "{out}/w.gif"],
     "fps must be a number from 0.01 to 1000, got nan"),
    (["interpolate", "--network", GRAY, "--seeds", "1,2", "--fps", "1e-320", "--output", "{out}/w.gif"],
     "fps must be a number from 0.01 to 1000"),
    (["export", "--network", GRAY, "--format", "torchscript", "--out", "{out}/g.pt", "--batch", "9" * 30],
     "batch must be a number from 1 to 4096"),
    (["convert", GRAY, ""], "'': is a folder, but a file goes here"),
    ([*PROJECT, "--lr", "nan"], "the learning rate must be a positive number, got nan"),
    ([*PROJECT, "--lr", "-1e308"], "the learning rate must be a positive number"),
    ([*PROJECT, "--seed", "9" * 30], "is not in the range 0<=x<=4294967295"),
    (["noise", "--network", GRAY, "--seeds", "1", "--noise-seed", "9" * 30], "is not in the range 0<=x<=4294967295"),
    ([*EDIT, "0:1:0"], "--strength must look like -3:3:7 (at most 256 values)"),
    ([*EDIT, "0:1:1000000000"], "--strength must look like -3:3:7 (at most 256 values)"),
    ([*EDIT, "nan:1:3"], "with finite numbers; got 'nan:1:3'"),
])
def test_odd_option_values_are_refused_in_one_line(tmp_path, monkeypatch, args, message):
    """Values the input fuzzer (tests/input_fuzz.py) found ending in a traceback or a multi-GiB allocation:
    each is refused in one line, and nothing is written."""
    monkeypatch.chdir(tmp_path)
    PIL.Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(tmp_path / "target.png")
    save_directions(tmp_path / "target.png.npz", np.eye(2, 48, dtype=np.float32), np.ones(2), np.ones(2), "test")
    out = tmp_path / "out"
    args = [str(a).replace("{image}", str(tmp_path / "target.png")).replace("{out}", str(out)) for a in args]
    if "--output" not in args and "--out" not in args and args[0] != "convert":
        args += ["--outdir", str(out)]
    result = CliRunner().invoke(cli, args)
    lines = [line for line in result.output.splitlines() if line.strip() and not line.startswith(("Usage:", "Try "))]
    assert result.exit_code in (1, 2) and not isinstance(result.exception, (MemoryError, RuntimeError, ValueError))
    assert len(lines) == 1 and message in lines[0], result.output
    assert not out.exists() or not any(out.rglob("*"))
    assert sorted(p.name for p in tmp_path.iterdir()) in (["target.png", "target.png.npz"],
                                                          ["out", "target.png", "target.png.npz"])


def test_conditional_network_needs_a_valid_class(tmp_path):
    path = DATA / "sg2_cond_orig_32.pkl"
    result = run("generate", "--network", path, "--seeds", "1", "--outdir", tmp_path)
    assert result.exit_code != 0 and "--class" in result.output
    result = run("generate", "--network", path, "--seeds", "1", "--class", "3", "--outdir", tmp_path)
    assert result.exit_code != 0 and "out of range" in result.output


def test_bad_checkpoint_on_the_command_line(tmp_path):
    bad = tmp_path / "model.pkl"
    bad.write_bytes(b"not a checkpoint")
    result = run("generate", "--network", bad, "--seeds", "1", "--outdir", tmp_path / "out")
    assert result.exit_code != 0 and "unknown file format" in result.output
    assert "Traceback" not in result.output


def test_info_describes_generators_and_discriminators():
    result = run("info", "--network", DATA / "sg2_cond_orig_32.pkl")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "NVIDIA network pickle" in out and "StyleGAN2" in out and "32x32" in out
    assert "c_dim           3 (conditional" in out and "num_ws          8" in out
    assert "coarse 0-3, middle 4-7, fine -" in out and "D:" in out and "resnet" in out
    result = run("info", "--network", DATA / "sg3t_32.pkl")
    assert "StyleGAN3" in result.output and "L14_32_3" in result.output and "sampling rate" in result.output


def test_convert_and_generate_from_native(tmp_path):
    src = DATA / "sg2_skip_32.pkl"
    dst = tmp_path / "model.safetensors"
    assert run("convert", src, dst).exit_code == 0
    assert run("generate", "--network", dst, "--seeds", "3", "--outdir", tmp_path / "a").exit_code == 0
    assert run("generate", "--network", src, "--seeds", "3", "--outdir", tmp_path / "b").exit_code == 0
    a = _read_png(tmp_path / "a" / "seed0003.png")
    b = _read_png(tmp_path / "b" / "seed0003.png")
    assert np.array_equal(a, b)


@pytest.mark.parametrize("entry", ["script", "module"])
def test_console_entry_point_runs(tmp_path, entry):
    """The installed `stylegan` command and `python -m stylegan.cli` run a verb end to end: the official seed
    image is written, and a warning prints as one line."""
    if entry == "script":
        script = Path(sysconfig.get_path("scripts")) / ("stylegan.exe" if sys.platform == "win32" else "stylegan")
        if not script.is_file():
            pytest.skip("the package is not installed with its console script here")
        command = [str(script)]
    else:
        command = [sys.executable, "-m", "stylegan.cli"]
    path = DATA / "sg2_skip_32.pkl"
    result = subprocess.run(command + ["generate", "--network", str(path), "--seeds", "0", "--trunc", "0.7",
                                       "--class", "1", "--outdir", str(tmp_path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    expected = to_uint8(torch.from_numpy(reference(path)["img_psi07_const"][:1]))[0]
    assert np.array_equal(_read_png(tmp_path / "seed0000.png"), expected)
    warnings = [line for line in result.stderr.splitlines() if "--class is ignored" in line]
    assert warnings == ["warning: --class is ignored: this network is unconditional"]
