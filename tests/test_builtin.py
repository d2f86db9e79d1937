"""Built-in network names: builtin:demo and the errors around it."""
import pytest
from click.testing import CliRunner

import stylegan
from stylegan import builtin
from stylegan.cli import cli
from stylegan.errors import CheckpointError


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
