"""The output side of every verb: file-system faults give one line and leave nothing behind, resumed folders
are never silently stale, atomic writes get the usual permissions, and help needs no torch."""
from __future__ import annotations

import builtins
import errno
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import PIL.Image
import pytest
import torch
from click.testing import CliRunner

import stylegan
from stylegan.cli import cli
from stylegan.io import atomic_path
from stylegan.models import StyleGAN2Generator, StyleGAN3Generator

FAULTS = ("unwritable", "file", "directory", "disk-full")


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    """A tiny StyleGAN2 and StyleGAN3, a target image (and face landmarks for it), a folder of images and a
    recipe."""
    root = tmp_path_factory.mktemp("inputs")
    torch.manual_seed(0)
    sg2 = StyleGAN2Generator(z_dim=8, c_dim=0, w_dim=8, img_resolution=16, img_channels=3,
                             mapping_kwargs=dict(num_layers=2), channel_base=256, channel_max=16)
    sg3 = StyleGAN3Generator(z_dim=8, c_dim=0, w_dim=8, img_resolution=16, img_channels=3, channel_base=512,
                             channel_max=16, num_layers=6, num_critical=1)
    stylegan.save(sg2, root / "sg2.safetensors")
    stylegan.save(sg3, root / "sg3.safetensors")
    images = root / "images"
    images.mkdir()
    rng = np.random.RandomState(0)
    for i in range(8):
        PIL.Image.fromarray(rng.randint(0, 255, (16, 16, 3), dtype=np.uint8)).save(images / f"img{i}.png")
    (root / "landmarks.json").write_text("[[5, 6], [10, 6], [8, 8], [6, 11], [10, 11]]")
    (root / "recipe.toml").write_text(f'[networks]\na = "{(root / "sg2.safetensors").as_posix()}"\n\n'
                                      '[[steps]]\ntype = "generate"\n')
    return {"root": root, "sg2": root / "sg2.safetensors", "sg3": root / "sg3.safetensors",
            "images": images, "target": images / "img0.png", "recipe": root / "recipe.toml",
            "landmarks": root / "landmarks.json"}


# Every verb that writes: its arguments given the output folder OUT (--outdir, or the folder of the file it
# writes), and one file it writes in OUT (None for training, whose run folder is named at run time).
TRAIN = ["--cfg", "stylegan2", "--batch", "4", "--gamma", "1", "--kimg", "0.004", "--tick", "0.002", "--aug",
         "noaug", "--cbase", "256", "--cmax", "16", "--map-depth", "2", "--workers", "0"]
VERBS = {
    "align": (lambda i, o: ["align", "--target", i["target"], "--landmarks", i["landmarks"], "--size", "16",
                            "--outdir", o], "img0.png"),
    "generate": (lambda i, o: ["generate", "--network", i["sg2"], "--seeds", "0-1", "--outdir", o], "seed0000.png"),
    "mix": (lambda i, o: ["mix", "--network", i["sg2"], "--rows", "1", "--cols", "2", "--styles", "0-1",
                          "--outdir", o], "grid.png"),
    "noise": (lambda i, o: ["noise", "--network", i["sg2"], "--seeds", "1", "--samples", "1", "--std-samples", "2",
                            "--outdir", o], "noise-std-1.png"),
    "truncation": (lambda i, o: ["truncation", "--network", i["sg2"], "--seeds", "1", "--trunc", "0,1",
                                 "--outdir", o], "truncation.png"),
    "interpolate": (lambda i, o: ["interpolate", "--network", i["sg2"], "--seeds", "1,2", "--frames-per-step", "2",
                                  "--output", o / "walk.gif"], "walk.gif"),
    "layers": (lambda i, o: ["layers", "--network", i["sg2"], "--outdir", o], "layers-1-2.png"),
    "project": (lambda i, o: ["project", "--network", i["sg2"], "--target", i["target"], "--num-steps", "2",
                              "--loss", "pixel", "--outdir", o], "proj.png"),
    "demo": (lambda i, o: ["demo", "--network", i["sg2"], "--projection-steps", "1", "--tune-steps", "1",
                           "--outdir", o], "samples.png"),
    "convert": (lambda i, o: ["convert", i["sg2"], o / "copy.safetensors"], "copy.safetensors"),
    "directions": (lambda i, o: ["directions", "sefa", "--network", i["sg2"], "--out", o / "dirs.npz"], "dirs.npz"),
    "dataset": (lambda i, o: ["dataset", "--source", i["images"], "--dest", o / "data.zip"], "data.zip"),
    "pipeline": (lambda i, o: ["pipeline", i["recipe"], "--seeds", "0", "--outdir", o], "run.json"),
    "export": (lambda i, o: ["export", "--network", i["sg2"], "--format", "torchscript", "--out", o / "g.pt",
                             "--no-verify"], "g.pt"),
    "metrics": (lambda i, o: ["metrics", "--network", i["sg3"], "--data", i["images"], "--metrics", "eqt50k_int",
                              "--num-gen", "2", "--workers", "0", "--run-dir", o], "metric-eqt50k_int.jsonl"),
    "train": (lambda i, o: ["train", "--outdir", o, "--data", i["images"], *TRAIN], None),
}
DEVICE = {"generate", "mix", "noise", "truncation", "interpolate", "layers", "project", "demo", "directions",
          "pipeline", "metrics"}


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


def _unwritable(monkeypatch, folder: Path) -> None:
    """Make `folder` refuse new files and folders, as a folder without write permission does. Permission bits
    alone do not stop root, so the calls that create things are refused there too."""
    if os.geteuid() != 0:
        folder.chmod(stat.S_IRUSR | stat.S_IXUSR)  # (undone by the test)
    inside = str(folder.resolve()) + os.sep

    def refuse(path) -> None:
        if os.path.abspath(os.fspath(path)).startswith(inside):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fspath(path))

    real_open, real_os_open, real_mkdir = builtins.open, os.open, os.mkdir

    def fake_open(file, mode="r", *args, **kwargs):
        if isinstance(file, (str, bytes, os.PathLike)) and any(c in mode for c in "wax+"):
            refuse(file)
        return real_open(file, mode, *args, **kwargs)

    def fake_os_open(path, flags, *args, **kwargs):
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            refuse(path)
        return real_os_open(path, flags, *args, **kwargs)

    def fake_mkdir(path, *args, **kwargs):
        refuse(path)
        return real_mkdir(path, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", fake_open)
    monkeypatch.setattr(os, "open", fake_os_open)
    monkeypatch.setattr(os, "mkdir", fake_mkdir)


def _disk_full(monkeypatch) -> None:
    """Every write runs out of space: where written files are flushed to disk (atomic writes fsync before
    their rename) and where a file's bytes are written directly."""
    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    monkeypatch.setattr(Path, "write_bytes", full)


@pytest.mark.parametrize("verb,fault", [(verb, fault) for verb in sorted(VERBS) for fault in FAULTS
                                        if VERBS[verb][1] is not None or fault != "directory"])
def test_file_system_faults_give_one_line_and_leave_nothing(tmp_path, inputs, monkeypatch, verb, fault):
    args, inner = VERBS[verb]
    out = tmp_path / "out"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("STYLEGAN_CACHE_DIR", str(tmp_path / "cache"))
    if fault == "file":
        out.write_text("a file where a folder goes")
    else:
        out.mkdir()
    if fault == "directory":
        (out / inner).mkdir()
    before = _files(tmp_path) | _files(inputs["root"])
    argv = [str(a) for a in args(inputs, out)] + (["--device", "cpu"] if verb in DEVICE else [])
    if fault == "unwritable":
        _unwritable(monkeypatch, out)
    elif fault == "disk-full":
        _disk_full(monkeypatch)
    try:
        result = CliRunner().invoke(cli, argv, catch_exceptions=False)
    finally:
        monkeypatch.undo()
        if out.is_dir():
            out.chmod(0o755)
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and len(errors) == 1, result.output
    expected = {"unwritable": "permission denied", "file": "a file is in the way",
                "directory": "is a folder, but a file goes here", "disk-full": "no space left"}[fault]
    assert expected in errors[0] and str(out) in errors[0], errors[0]
    assert _files(tmp_path) | _files(inputs["root"]) == before, "a partial or temporary file was left"


def test_convert_into_an_existing_folder_says_so(tmp_path, inputs):
    result = CliRunner().invoke(cli, ["convert", str(inputs["sg2"]), str(tmp_path)], catch_exceptions=False)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.strip() == f"Error: {tmp_path}: is a folder, but a file goes here; give a file name"


def test_a_fifo_or_device_where_an_output_file_goes_is_refused(tmp_path, inputs):
    """An atomic write renames its file over the target: over a FIFO, or over /dev/null reached by a link (as
    root, /dev/null itself), that would replace the special file. (The input fuzzer's option values include
    both; it counts a replaced one as a partial file.)"""
    fifo, null = tmp_path / "walk.gif", tmp_path / "null.safetensors"
    os.mkfifo(fifo)
    null.symlink_to(os.devnull)
    out = tmp_path / "out"
    out.mkdir()
    os.mkfifo(out / "seed0001.png")
    cases = [(["interpolate", "--network", str(inputs["sg2"]), "--seeds", "1,2", "--frames-per-step", "2",
               "--output", str(fifo)], f"{fifo}: is a FIFO (named pipe), not a regular file"),
             (["convert", str(inputs["sg2"]), str(null)], f"{null}: is a character device, not a regular file"),
             (["generate", "--network", str(inputs["sg2"]), "--seeds", "0-3", "--outdir", str(out)],
              f"{out / 'seed0001.png'}: is a FIFO (named pipe), not a regular file")]
    for args, message in cases:
        result = CliRunner().invoke(cli, args, catch_exceptions=False)
        assert result.exit_code == 1 and result.output.strip().startswith(f"Error: {message}"), result.output
    assert stat.S_ISFIFO(fifo.lstat().st_mode) and null.is_symlink()
    assert stat.S_ISFIFO((out / "seed0001.png").lstat().st_mode)
    assert sorted(p.name for p in out.iterdir()) == ["seed0001.png"]


def _generate(inputs, out, *extra):
    return CliRunner().invoke(cli, ["generate", "--network", str(inputs["sg2"]), "--seeds", "0-3", "--outdir",
                                    str(out), "--device", "cpu", *extra], catch_exceptions=False)


def _pixels(path: Path) -> np.ndarray:
    with PIL.Image.open(path) as image:
        return np.asarray(image)


def test_generate_resumes_only_with_the_same_settings(tmp_path, inputs):
    out = tmp_path / "out"
    assert _generate(inputs, out, "--trunc", "0.5").exit_code == 0
    half = _pixels(out / "seed0002.png")
    (out / "seed0002.png").unlink()
    result = _generate(inputs, out, "--trunc", "0.5")
    assert result.exit_code == 0 and "1 image written, 3 already there" in result.output
    assert np.array_equal(_pixels(out / "seed0002.png"), half)
    result = _generate(inputs, out, "--trunc", "1.0")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.count("\n") == 1 and "--overwrite" in result.output and "trunc 0.5 -> 1.0" in result.output
    assert np.array_equal(_pixels(out / "seed0002.png"), half)  # nothing was touched
    result = _generate(inputs, out, "--trunc", "1.0", "--seeds", "0-1", "--overwrite")  # (the last --seeds wins)
    assert result.exit_code == 0 and "2 images written, 0 already there" in result.output
    assert sorted(p.name for p in out.glob("seed*.png")) == ["seed0000.png", "seed0001.png"]  # none left from 0.5
    assert json.loads((out / "stylegan-generate.json").read_text())["settings"]["trunc"] == 1.0
    assert not np.array_equal(_pixels(out / "seed0000.png"), _generate_one(inputs, tmp_path / "half", "0.5"))


def _generate_one(inputs, out, psi):
    assert _generate(inputs, out, "--trunc", psi, "--seeds", "0").exit_code == 0
    return _pixels(out / "seed0000.png")


def test_generate_refuses_a_folder_of_unrecorded_images(tmp_path, inputs):
    out = tmp_path / "out"
    out.mkdir()
    PIL.Image.new("RGB", (16, 16)).save(out / "seed0001.png")
    result = _generate(inputs, out)
    assert result.exit_code == 1 and "settings that were not recorded" in result.output
    assert _generate(inputs, out, "--overwrite").exit_code == 0
    assert _pixels(out / "seed0001.png").std() > 0


def test_project_and_pipeline_folders_refuse_other_settings(tmp_path, inputs):
    project = ["project", "--network", str(inputs["sg2"]), "--target", str(inputs["images"]), "--loss", "pixel",
               "--device", "cpu", "--outdir", str(tmp_path / "p")]
    runner = CliRunner()
    assert runner.invoke(cli, project + ["--num-steps", "2"], catch_exceptions=False).exit_code == 0
    again = runner.invoke(cli, project + ["--num-steps", "2"], catch_exceptions=False)
    assert again.exit_code == 0 and again.output.count("already projected, skipping") == 8
    other = runner.invoke(cli, project + ["--num-steps", "3"], catch_exceptions=False)
    assert other.exit_code == 1 and "num_steps 2 -> 3" in other.output and "--overwrite" in other.output
    redone = runner.invoke(cli, project + ["--num-steps", "3", "--overwrite"], catch_exceptions=False)
    assert redone.exit_code == 0 and "already projected" not in redone.output

    pipeline = ["pipeline", str(inputs["recipe"]), "--seeds", "0", "--device", "cpu", "--outdir", str(tmp_path / "r")]
    assert runner.invoke(cli, pipeline, catch_exceptions=False).exit_code == 0
    assert "already done" in runner.invoke(cli, pipeline, catch_exceptions=False).output
    other = runner.invoke(cli, pipeline + ["--trunc", "0.5"], catch_exceptions=False)
    assert other.exit_code == 1 and "psi 1.0 -> 0.5" in other.output and "--overwrite" in other.output
    redone = runner.invoke(cli, pipeline + ["--trunc", "0.5", "--overwrite"], catch_exceptions=False)
    assert redone.exit_code == 0 and "already done" not in redone.output


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_atomic_writes_honour_the_umask_and_leave_it_alone(tmp_path, inputs, umask):
    old = os.umask(umask)
    try:
        with atomic_path(tmp_path / "a.txt") as tmp:
            tmp.write_text("x")
        stylegan.save(stylegan.load(inputs["sg2"]), tmp_path / "b.safetensors")
        assert os.umask(umask) == umask  # unchanged by the writes
    finally:
        os.umask(old)
    for name in ("a.txt", "b.safetensors"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o666 & ~umask, name


def test_atomic_writes_are_flushed_before_the_rename(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (events.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(os, "replace", lambda a, b: (events.append("replace"), real_replace(a, b))[1])
    with atomic_path(tmp_path / "a.bin") as tmp:
        tmp.write_bytes(b"data")
    assert events == ["fsync", "replace"] and (tmp_path / "a.bin").read_bytes() == b"data"


def test_training_options_are_written_atomically(tmp_path, inputs, monkeypatch):
    import stylegan.train.loop as loop
    written, original = [], loop.atomic_path

    def spy(path):
        written.append(Path(path).name)
        return original(path)

    monkeypatch.setattr(loop, "atomic_path", spy)
    result = CliRunner().invoke(cli, ["train", "--outdir", str(tmp_path), "--data", str(inputs["images"]), *TRAIN],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "training_options.json" in written
    run_dir = next(p for p in tmp_path.iterdir() if p.is_dir())
    assert json.loads((run_dir / "training_options.json").read_text())["cfg"] == "stylegan2"


def test_noise_lists_every_file_it_writes(tmp_path, inputs):
    result = CliRunner().invoke(cli, ["noise", "--network", str(inputs["sg2"]), "--seeds", "1", "--samples", "1",
                                      "--std-samples", "2", "--outdir", str(tmp_path), "--device", "cpu"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    listed = {Path(line).name for line in result.output.splitlines()}
    assert listed == {p.name for p in tmp_path.iterdir()} == {"noise-1.png", "noise-std-1.png", "noise-layers.png"}


def test_truncation_takes_trunc_and_the_old_psi_flag_warns(tmp_path, inputs):
    base = ["truncation", "--network", str(inputs["sg2"]), "--seeds", "1", "--device", "cpu"]
    runner = CliRunner()
    assert runner.invoke(cli, base + ["--trunc", "0,1", "--outdir", str(tmp_path / "a")]).exit_code == 0
    with pytest.warns(UserWarning, match="--psi is deprecated"):
        assert runner.invoke(cli, base + ["--psi", "0,1", "--outdir", str(tmp_path / "b")]).exit_code == 0
    assert np.array_equal(_pixels(tmp_path / "a" / "truncation.png"), _pixels(tmp_path / "b" / "truncation.png"))
    bad = runner.invoke(cli, base + ["--trunc", "x", "--outdir", str(tmp_path / "c")])
    assert bad.exit_code == 1 and "--trunc must be comma-separated numbers" in bad.output


def test_help_and_argument_errors_import_no_torch():
    code = ("import sys, stylegan.cli\n"
            "from click.testing import CliRunner\n"
            "r = CliRunner().invoke(stylegan.cli.cli, ['generate', '--no-such-flag'])\n"
            "assert r.exit_code == 2, r.output\n"
            "r = CliRunner().invoke(stylegan.cli.cli, ['generate', '--seeds', '1-x'])\n"
            "assert r.exit_code == 1 and 'cannot parse seeds' in r.output, r.output\n"
            "for verb in stylegan.cli.cli.commands:\n"
            "    CliRunner().invoke(stylegan.cli.cli, [verb, '--help'])\n"
            "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'numpy', 'scipy', 'PIL'))\n"
            "print(heavy)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]", result.stdout


def test_column_labels_fit_their_panels():
    from stylegan.media.figures import _font, labeled_grid
    cell = np.zeros([64, 64, 3], np.uint8)
    label = "projection 24.3 dB"  # wider than a 64-pixel panel
    grid = labeled_grid([[cell, cell]], None, ["target", label])
    assert grid.shape[1] // 2 >= _font().getlength(label) + 2
    grid = labeled_grid([[cell, cell]], None, ["x" * 300, ""])  # too long even for the largest enlargement
    header = grid[:grid.shape[0] - grid.shape[1] // 2]
    assert (header[:, grid.shape[1] // 2:] == 255).all()  # nothing spills into the next column
