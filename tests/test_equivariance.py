"""Equivariance metrics: the official numbers on StyleGAN3 networks, StyleGAN2 far worse, and the transforms."""
import numpy as np
import pytest
import torch
from torch import nn

import stylegan
from stylegan.errors import InputError
from stylegan.metrics import MetricOptions, equivariance_psnrs
from stylegan.metrics.equivariance import (resample_periodic, rotation_matrix, translate_fractional,
                                           translate_integer)

from conftest import DATA

# EQ-T, EQ-T_frac, EQ-R (dB) from the official metrics/equivariance.py for G_ema of each network: CPU,
# float32, torch.manual_seed(7), num_samples=4, batch_size=4, all three metrics in one pass.
OFFICIAL = {
    "sg3t_32.pkl": (72.33111624554756, 70.64294739787125, 30.666892004276466),
    "sg3r_32.pkl": (76.18177468948164, 58.88410692766993, 59.44864805838618),
}


def _all_three(G, seed, num_samples=4):
    opts = MetricOptions(G=G, seed=seed, progress=False)
    return equivariance_psnrs(opts, num_samples, 4, eqt_int=True, eqt_frac=True, eqr=True)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["sg3t_32.pkl", "sg3r_32.pkl"])
def test_stylegan3_equivariance_matches_the_official_numbers(name):
    path = DATA / name
    got = _all_three(stylegan.load(path), seed=7)
    print(name, got)
    assert all(np.isfinite(got))
    assert np.allclose(got, OFFICIAL[name], atol=2e-3, rtol=0)


@pytest.mark.slow
def test_stylegan2_is_far_less_equivariant_to_translation_than_stylegan3():
    G = stylegan.load(DATA / "sg2_skip_32.pkl")
    first, again = _all_three(G, seed=7), _all_three(G, seed=7)
    assert first == again  # deterministic for a seed
    assert all(np.isfinite(first))
    assert _all_three(G, seed=8) != first
    eqt_int, eqt_frac, eqr = first
    print("StyleGAN2", first)
    assert eqt_int < OFFICIAL["sg3t_32.pkl"][0] - 20 and eqt_frac < OFFICIAL["sg3t_32.pkl"][1] - 20
    assert eqr < OFFICIAL["sg3t_32.pkl"][2]


def test_a_generator_without_a_movable_input_is_refused():
    class Plain(nn.Module):
        z_dim, c_dim, img_resolution = 4, 0, 8

        def __init__(self):
            super().__init__()
            self.synthesis = nn.Identity()
    with pytest.raises(InputError, match="input can be transformed"):
        equivariance_psnrs(MetricOptions(G=Plain(), progress=False), 4, 4, eqt_int=True)


def test_integer_translation_moves_whole_pixels():
    x = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).reshape(2, 3, 8, 8)
    out, mask = translate_integer(x, torch.tensor(2 / 8), torch.tensor(-1 / 8))
    assert torch.equal(out[:, :, :7, 2:], x[:, :, 1:, :6])
    assert mask[:, :, :7, 2:].eq(1).all() and mask.sum() == 2 * 3 * 7 * 6


def test_fractional_translation_by_whole_pixels_is_an_exact_shift():
    # The Lanczos taps at integer offsets are a unit impulse, so the shifted image is exact where valid.
    x = torch.randn(1, 2, 16, 16)
    frac, mask = translate_fractional(x, torch.tensor(3 / 16), torch.tensor(2 / 16))
    whole, _ = translate_integer(x, torch.tensor(3 / 16), torch.tensor(2 / 16))
    assert mask.sum() > 0
    assert torch.allclose(frac * mask, whole * mask, atol=1e-5)


def test_fractional_translation_of_a_band_limited_signal():
    # A slow sinusoid shifted by 0.3 pixels: Lanczos-3 interpolation reproduces it closely.
    xs = torch.arange(32, dtype=torch.float32)
    img = torch.sin(2 * np.pi * xs / 16)[None, None, None, :].repeat(1, 1, 32, 1)
    out, mask = translate_fractional(img, torch.tensor(0.3 / 32), torch.tensor(0.0))
    expected = torch.sin(2 * np.pi * (xs - 0.3) / 16)[None, None, None, :].expand_as(img)
    assert (((out - expected) * mask).abs().max()) < 1e-2


def test_periodic_resampling_of_the_stylegan2_constant():
    const = torch.randn(3, 4, 4)
    eye = torch.eye(3)
    assert torch.allclose(resample_periodic(const, eye), const, atol=1e-6)
    shift = eye.clone()
    shift[0, 2] = -0.25  # the image moves right by a quarter: one constant pixel, wrapping around
    assert torch.allclose(resample_periodic(const, shift), torch.roll(const, 1, dims=2), atol=1e-6)
    # A quarter turn maps pixel centres onto pixel centres: out(x, y) = const(M (x, y)).
    mat = rotation_matrix(np.pi / 2)
    centres = (np.arange(4) + 0.5) / 4 - 0.5
    expected = torch.empty_like(const)
    for i, y in enumerate(centres):
        for j, x in enumerate(centres):
            sx, sy = (mat[:2, :2].numpy() @ np.array([x, y]))
            expected[:, i, j] = const[:, int(np.argmin(abs(centres - sy))), int(np.argmin(abs(centres - sx)))]
    assert torch.allclose(resample_periodic(const, mat), expected, atol=1e-5)
