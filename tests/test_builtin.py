"""Built-in network names: builtin:demo and the errors around it."""
import numpy as np
import PIL.Image
import pytest
from click.testing import CliRunner

import stylegan
from stylegan.cli import cli
from stylegan.errors import CheckpointError
from stylegan.hub import builtin


def test_unknown_builtin_network_is_named():
    with pytest.raises(CheckpointError, match="unknown built-in network"):
        stylegan.load("builtin:ffhq")


def test_missing_demo_weights_explain_what_to_do(monkeypatch, tmp_path):
    monkeypatch.setattr(builtin, "demo_path", lambda: tmp_path / "absent.safetensors")
    assert not builtin.has_demo()
    with pytest.raises(CheckpointError, match="missing from this installation"):
        stylegan.load("builtin:demo")
    result = CliRunner().invoke(cli, ["generate", "--seeds", "0", "--outdir", str(tmp_path / "out")])
    assert result.exit_code != 0 and "builtin:demo" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_the_demo_model_ships_and_generates(tmp_path):
    assert builtin.has_demo(), "the demo model's weights belong to the package"
    G = stylegan.load("builtin:demo")
    assert (G.generation, G.img_resolution, G.img_channels, G.c_dim) == (1, 64, 3, 0)
    assert builtin.demo_path().stat().st_size <= 30 * 2 ** 20
    result = CliRunner().invoke(cli, ["generate", "--seeds", "0-1", "--trunc", "0.7", "--outdir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    images = [np.asarray(PIL.Image.open(tmp_path / f"seed{s:04d}.png")) for s in (0, 1)]
    assert images[0].shape == (64, 64, 3) and np.abs(images[0].astype(int) - images[1]).mean() > 5
