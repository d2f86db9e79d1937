"""`stylegan info`, `convert` and `generate` on the other checkpoint formats."""
import numpy as np
import PIL.Image
import torch
from click.testing import CliRunner

import stylegan
from stylegan.cli import cli
from stylegan.io import to_uint8

from checkpoint_builders import rosinality_generator
from conftest import DATA


def run(*args):
    """Invoke the CLI with stdout and stderr captured apart (click 8.1 needs mix_stderr=False; 8.2 has no such flag)."""
    try:
        runner = CliRunner(mix_stderr=False)
    except TypeError:
        runner = CliRunner()
    return runner.invoke(cli, [str(a) for a in args], catch_exceptions=False)


def test_info_names_each_format(tmp_path):
    result = run("info", "--network", DATA / "tf_sg1_128.pkl")
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "NVIDIA network pickle (TensorFlow era)" in out and "networks        G_ema, G, D" in out
    assert "StyleGAN1" in out and "psi 0.7 on the first 8 ws" in out and "architecture    progressive" in out
    assert "styles          coarse 0-3, middle 4-7, fine 8-11" in out
    torch.save({"g_ema": rosinality_generator()}, tmp_path / "r.pt")
    result = run("info", "--network", tmp_path / "r.pt")
    assert result.exit_code == 0 and "rosinality/stylegan2-pytorch checkpoint" in result.stdout


def test_generate_notes_the_stylegan1_truncation_default(tmp_path):
    path = DATA / "tf_sg1_cond_lod_32.pkl"
    result = run("generate", "--network", path, "--seeds", "3", "--class", "1", "--outdir", tmp_path)
    assert result.exit_code == 0, result.stderr
    assert "--trunc 0.7 --trunc-cutoff 8" in result.stderr
    result = run("generate", "--network", path, "--seeds", "3", "--class", "1", "--trunc", "0.7",
                 "--trunc-cutoff", "8", "--outdir", tmp_path / "truncated")
    assert result.exit_code == 0 and "note:" not in result.stderr
    G = stylegan.load(path)
    c = torch.zeros(1, 3)
    c[0, 1] = 1
    with torch.no_grad():
        expected = to_uint8(G(stylegan.seed_to_z(3, G.z_dim), c, truncation_psi=0.7, truncation_cutoff=8))[0]
    with PIL.Image.open(tmp_path / "truncated" / "seed0003.png") as image:
        assert np.array_equal(np.asarray(image), expected)


def test_convert_tf_stylegan2_to_rosinality_and_back(tmp_path):
    # The TF reference files have z_dim 12 and w_dim 10, which rosinality's Generator cannot hold.
    result = run("convert", DATA / "tf_sg2_skip_resnet_32.pkl", tmp_path / "x.pt", "--to", "rosinality")
    assert result.exit_code != 0 and "z_dim, the mapping width and w_dim differ" in result.stderr
    assert not (tmp_path / "x.pt").exists()
    # A rosinality file converts to native and back with identical tensors.
    torch.save({"g_ema": rosinality_generator(), "latent_avg": torch.randn(8)}, tmp_path / "r.pt")
    assert run("convert", tmp_path / "r.pt", tmp_path / "n.safetensors").exit_code == 0
    result = run("convert", tmp_path / "n.safetensors", tmp_path / "back.pt", "--to", "rosinality")
    assert result.exit_code == 0 and "back.pt: g_ema, latent_avg" in result.stdout
    before, after = torch.load(tmp_path / "r.pt", weights_only=True), torch.load(tmp_path / "back.pt",
                                                                                 weights_only=True)
    assert sorted(before["g_ema"]) == sorted(after["g_ema"])
    assert all(torch.equal(before["g_ema"][k], after["g_ema"][k]) for k in before["g_ema"])
    assert torch.equal(before["latent_avg"], after["latent_avg"])


def test_unreadable_torch_files_get_one_line_errors(tmp_path):
    torch.save({"model": {"w": torch.zeros(2)}}, tmp_path / "other.pt")
    result = run("info", "--network", tmp_path / "other.pt")
    assert result.exit_code != 0 and "neither a rosinality" in result.stderr and "it holds: model" in result.stderr
    torch.save({"g_ema": rosinality_generator(), "extra": np.float64}, tmp_path / "code.pt")
    result = run("info", "--network", tmp_path / "code.pt")
    assert result.exit_code != 0 and "refusing to load it" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
