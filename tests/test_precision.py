"""Inference precision modes and torch.compile stay within a stated tolerance of fp32 eager; precision auto
is measured once, cached, and never picks a mode outside its bound."""
import copy
import json

import numpy as np
import PIL.Image
import pytest
import torch
from conftest import DATA

import stylegan
from stylegan.errors import InputError
from stylegan.latent import seeds_to_ws
from stylegan.latent.generate import render
from stylegan.models.autoprecision import IDENTICAL, MIN_GAIN, MIN_PSNR, candidates, choose
from stylegan.models.precision import configure

# Max abs difference on uint8 output, and mean difference, allowed for reduced precision.
TOLERANCE = {"fp16": (4, 0.5), "bf16": (16, 2.0)}


@pytest.mark.slow
@pytest.mark.parametrize("path", ["sg2_skip_32.pkl", "sg3t_32.pkl", "sg3r_32.pkl"])
@pytest.mark.parametrize("precision", ["fp16", "bf16"])
def test_reduced_precision_within_tolerance(path, precision):
    G = stylegan.load(DATA / path)
    ws = seeds_to_ws(G, range(6), 0.7)
    reference = render(G, ws).astype(int)
    configure(G, precision)
    out = render(G, ws).astype(int)
    diff = np.abs(out - reference)
    print(f"{path} {precision}: max {diff.max()}, mean {diff.mean():.3f} (uint8 levels)")
    assert diff.max() <= TOLERANCE[precision][0] and diff.mean() <= TOLERANCE[precision][1]
    assert diff.max() > 0  # the mode really changed the arithmetic
    configure(G, "fp32")
    assert np.array_equal(render(G, ws).astype(int), reference)  # on the CPU, auto == fp32


def test_unknown_precision_is_refused():
    G = stylegan.load(DATA / "sg2_skip_32.pkl")
    with pytest.raises(InputError, match="precision must be one of"):
        configure(G, "int8")


@pytest.mark.slow
def test_compile_matches_eager():
    G = stylegan.load(DATA / "sg2_skip_32.pkl")
    ws = seeds_to_ws(G, [1, 2])
    with torch.no_grad():
        reference = G.synthesis(ws)
    configure(G, "fp32", compile=True)
    try:
        with torch.no_grad():
            out = G.synthesis(ws)
    except Exception as exc:  # inductor needs a working C++ toolchain
        pytest.skip(f"torch.compile is unavailable here: {type(exc).__name__}: {str(exc).splitlines()[0]}")
    assert (out - reference).abs().max() < 1e-4
    twin = copy.deepcopy(G)
    with torch.no_grad():
        twin.synthesis.b32.torgb.bias.add_(0.5)
        assert (twin.synthesis(ws) - reference - 0.5).abs().max() < 1e-4


def test_a_copy_of_a_compiled_generator_runs_its_own_weights(monkeypatch):
    """`configure(compile=True)` then deepcopy (metrics, export and the studio copy generators): the copy's
    compiled forward must use the copy's weights, not the original's."""
    # torch.compile returns a new function wrapping what it is given (deepcopy keeps functions as they are);
    # this stand-in does the same without inductor: the binding is what is tested.
    monkeypatch.setattr(torch, "compile", lambda fn, **kwargs: lambda *args, **kw: fn(*args, **kw))
    G = configure(stylegan.load(DATA / "sg2_skip_32.pkl"), "fp32", compile=True)
    ws = seeds_to_ws(G, [1])
    twin = copy.deepcopy(G)
    with torch.no_grad():
        before = G.synthesis(ws)
        twin.synthesis.b32.torgb.bias.add_(0.5)
        assert torch.allclose(twin.synthesis(ws), before + 0.5, atol=1e-5)
        assert torch.equal(G.synthesis(ws), before)


class Renders:
    """Counts G.synthesis calls (each candidate's timing runs it)."""

    def __init__(self, G):
        self.count = 0
        G.synthesis.register_forward_hook(lambda *args: setattr(self, "count", self.count + 1))


def test_auto_precision_is_measured_once_and_cached(monkeypatch, tmp_path):
    monkeypatch.setenv("STYLEGAN_CACHE", str(tmp_path))
    G = stylegan.load(DATA / "sg2_skip_32.pkl")
    renders = Renders(G)
    first = choose(G, batch=2)
    assert not first.cached and renders.count > 0 and set(first.seconds) == set(candidates(torch.device("cpu")))
    assert first.psnr["fp32"] == IDENTICAL and first.precision in first.seconds
    assert G.synthesis.precision == "official"  # measuring leaves the network as it was
    renders.count = 0
    again = choose(stylegan.load(DATA / "sg2_skip_32.pkl"), batch=2)  # another process would read the same file
    assert again.cached and again.precision == first.precision and again.seconds == first.seconds
    assert choose(G, batch=2).cached and renders.count == 0
    assert not choose(G, batch=3).cached  # each batch size is chosen for separately
    configure(G, "auto", batch=2)
    assert G.synthesis.precision == first.precision


def test_a_given_precision_wins_without_measuring(monkeypatch, tmp_path):
    monkeypatch.setenv("STYLEGAN_CACHE", str(tmp_path))
    G = stylegan.load(DATA / "sg2_skip_32.pkl")
    renders = Renders(G)
    for name in ("fp32", "bf16", "official"):
        assert configure(G, name).synthesis.precision == name
    assert renders.count == 0 and not (tmp_path / "precision.json").exists()


def _fake_candidates(G, fast_output):
    """A `configure` for choose(): 'fake' makes the synthesis return `fast_output(ws)` at once."""
    def configure(net, name):
        net.synthesis.__dict__.pop("forward", None)
        if name == "fake":
            net.synthesis.forward = lambda ws, **kwargs: fast_output(ws)
        else:
            net.synthesis.precision = name
    return configure


def test_a_faster_candidate_outside_the_bound_is_never_chosen(monkeypatch, tmp_path):
    monkeypatch.setenv("STYLEGAN_CACHE", str(tmp_path))
    G = stylegan.load(DATA / "sg2_skip_32.pkl")
    wrong = _fake_candidates(G, lambda ws: torch.rand(len(ws), 3, 32, 32) * 2 - 1)
    choice = choose(G, options=["fp32", "fake"], configure=wrong)
    assert choice.seconds["fake"] * MIN_GAIN < choice.seconds["fp32"]  # it was much faster ...
    assert choice.psnr["fake"] < MIN_PSNR and choice.precision == "fp32"  # ... and refused
    with torch.no_grad():
        exact = G.synthesis(G.mapping(torch.randn(1, G.z_dim, generator=torch.Generator().manual_seed(0)), None,
                                      truncation_psi=0.7))
    near = _fake_candidates(G, lambda ws: exact + 1e-4)  # as fast, and within the bound: chosen
    assert choose(G, options=["fp32", "fake"], configure=near).precision == "fake"
    assert "forward" not in G.synthesis.__dict__ and G.synthesis.precision == "official"
    assert not (tmp_path / "precision.json").exists()  # test candidates are not cached


def test_the_command_line_measures_by_default(monkeypatch, tmp_path):
    from click.testing import CliRunner

    from stylegan.cli import cli
    monkeypatch.setenv("STYLEGAN_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("STYLEGAN_PRECISION")
    args = ["generate", "--network", str(DATA / "sg2_skip_32.pkl"), "--seeds", "0-1", "--batch", "2"]
    result = CliRunner().invoke(cli, args + ["--outdir", str(tmp_path / "auto")])
    assert result.exit_code == 0, result.output
    record = json.loads((tmp_path / "cache" / "precision.json").read_text())
    (key, chosen), = record.items()
    assert key.endswith("batch 2") and chosen["precision"] in chosen["seconds"]
    exact = CliRunner().invoke(cli, args + ["--precision", "fp32", "--outdir", str(tmp_path / "fp32")])
    assert exact.exit_code == 0
    for name in ("seed0000.png", "seed0001.png"):
        a = np.asarray(PIL.Image.open(tmp_path / "auto" / name), dtype=np.float64)
        b = np.asarray(PIL.Image.open(tmp_path / "fp32" / name), dtype=np.float64)
        mse = np.square(a - b).mean()
        assert mse == 0 or 10 * np.log10(255 ** 2 / mse) >= MIN_PSNR
    info = CliRunner().invoke(cli, ["info", "--network", str(DATA / "sg2_skip_32.pkl"), "--speed", "--batch", "2"])
    assert f"precision auto: {chosen['precision']} on " in info.output and "(cached;" in info.output
