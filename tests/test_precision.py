"""Inference precision modes and torch.compile stay within a stated tolerance of fp32 eager."""
import copy
import numpy as np
import pytest
import torch
from conftest import DATA

import stylegan
from stylegan.errors import InputError
from stylegan.latent import seeds_to_ws
from stylegan.latent.generate import render
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
