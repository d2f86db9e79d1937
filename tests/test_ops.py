"""The fast ops against straightforward float64 reference formulations."""
import itertools
import math

import numpy as np
import pytest
import torch

from stylegan.ops import (Conv2dLayer, FullyConnectedLayer, bias_act, conv2d_resample, downsample2d, filter2d,
                          modulated_conv2d, normalized_modulated_conv2d, setup_filter, upfirdn2d, upsample2d)
from stylegan.ops.filtered_lrelu import filtered_lrelu
from stylegan.ops.reference import (conv2d_resample_ref, filtered_lrelu_ref, modulated_conv2d_ref, np_lrelu,
                                    upfirdn2d_ref)

from conftest import U32, max_diff


def test_bias_act_matches_formula():
    x = torch.randn(3, 5, 4, 4) * 300
    b = torch.randn(5)
    y = bias_act(x, b, act="lrelu", gain=2.0, clamp=256)
    x64, b64 = x.double().numpy(), b.double().reshape(1, -1, 1, 1).numpy()
    expected = np.clip(np_lrelu(x64 + b64) * 2.0, -256, 256)
    # float32 rounds the sum, the 0.2 slope and the product: at most 3 roundings of the (doubled) inputs.
    assert (np.abs(y.double().numpy() - expected) <= 3 * U32 * 2 * (np.abs(x64) + np.abs(b64))).all()
    assert max_diff(bias_act(x, b), x + b.reshape(1, -1, 1, 1)) == 0
    # Default gains: sqrt(2) for lrelu/relu, 1 for linear; float32 rounds the gain and the product.
    expected = np.maximum(x64, 0) * math.sqrt(2)
    assert (np.abs(bias_act(x, None, act="relu").double().numpy() - expected) <= 2 * U32 * expected).all()
    assert bias_act(x, None, act="linear") is x


def test_bias_act_gradient_is_exact():
    x = torch.randn(2, 3, 4, 4, requires_grad=True)
    b = torch.randn(3, requires_grad=True)
    y = bias_act(x, b, act="lrelu", clamp=1.0)
    y.sum().backward()
    v = (x + b.reshape(1, -1, 1, 1)).detach()
    pre = torch.where(v >= 0, v, 0.2 * v) * math.sqrt(2)
    slope = torch.where(v >= 0, torch.ones_like(v), 0.2 * torch.ones_like(v)) * math.sqrt(2)
    expected = torch.where(pre.abs() < 1.0, slope, torch.zeros_like(v))
    assert max_diff(x.grad, expected) < 1e-6
    assert max_diff(b.grad, expected.sum(dim=[0, 2, 3])) < 1e-5


@pytest.mark.parametrize("act,gain,clamp", [("lrelu", 1.0, None), ("lrelu", 2.0, None), ("lrelu", 1.0, 0.5),
                                            ("relu", None, None), ("linear", 3.0, 0.5)])
@pytest.mark.parametrize("with_bias", [True, False])
def test_bias_act_in_place_keeps_values_and_derivatives(act, gain, clamp, with_bias):
    # A tensor the caller has just made (here by a multiplication, which does not keep its result) may be
    # overwritten: same values and same first and second derivatives as the out-of-place path, in float64.
    leaf = torch.randn(2, 3, 4, 4, dtype=torch.float64, requires_grad=True)
    b = torch.randn(3, dtype=torch.float64, requires_grad=True) if with_bias else None

    def run(inplace):
        y = bias_act(leaf * 1.5, b, act=act, gain=gain, clamp=clamp, inplace=inplace)
        inputs = [leaf] + ([b] if with_bias else [])
        first = torch.autograd.grad((y * y).sum(), inputs, create_graph=True)
        second = torch.autograd.grad(sum(g.square().sum() for g in first), inputs)
        return [y, *first, *second]

    for a, e in zip(run(True), run(False)):
        assert torch.equal(a, e)


@pytest.mark.parametrize("activation", ["linear", "lrelu"])
@pytest.mark.parametrize("act_gain", [None, 1.0, 2.5])
def test_fully_connected_layer_matches_formula(activation, act_gain):
    layer = FullyConnectedLayer(6, 4, activation=activation, lr_multiplier=0.5, bias_init=0.3, gain=1.7,
                                act_gain=act_gain).double()
    with torch.no_grad():
        layer.bias.copy_(torch.randn(4))
    x = torch.randn(5, 6, dtype=torch.float64)
    pre = x @ (layer.weight * 1.7 * 0.5 / math.sqrt(6)).t() + layer.bias * 0.5
    default = 1.0 if activation == "linear" else math.sqrt(2)
    expected = (pre if activation == "linear" else torch.nn.functional.leaky_relu(pre, 0.2)) * \
        (default if act_gain is None else act_gain)
    assert max_diff(layer(x), expected) <= 1e-12


def test_bias_act_rejects_unknown_activation():
    with pytest.raises(ValueError, match="unknown activation"):
        bias_act(torch.zeros(1, 1), act="gelu-ish")


def test_setup_filter():
    f = setup_filter([1, 3, 3, 1])
    assert f.shape == (4, 4) and abs(float(f.sum()) - 1) < 1e-6
    assert max_diff(f, np.outer([1, 3, 3, 1], [1, 3, 3, 1]) / 64) < 1e-7
    assert setup_filter(np.ones(8)).shape == (8,)  # long 1-D filters stay separable
    assert abs(float(setup_filter([1, 2, 1], gain=4).sum()) - 4) < 1e-6


UPFIRDN_GRID = list(itertools.product(
    [1, 2, 4],                      # up
    [1, 2],                         # down
    [1, 4, 5, 12],                  # taps
    [(0, 0, 0, 0), (3, 2, 3, 2), (5, -1, 2, 4), (-2, -3, -1, -2)],
    [False, True],                  # flip
    [True, False],                  # separable
    [False, True],                  # channels_last
))


@pytest.mark.slow
@pytest.mark.parametrize("odd", [0, 1])
def test_upfirdn2d_matches_reference(odd):
    worst = 0.0
    checked = 0
    for up, down, taps, pad, flip, separable, channels_last in UPFIRDN_GRID:
        x = torch.randn(2, 3, 9 + odd, 8 + odd)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        f = torch.randn(taps) if separable else torch.randn(taps, taps)
        try:
            ref = upfirdn2d_ref(x, f, up, down, pad, flip, 1.7)
        except RuntimeError:  # the padded input is smaller than the filter
            continue
        y = upfirdn2d(x, f, up=up, down=down, padding=list(pad), flip_filter=flip, gain=1.7)
        assert y.shape == ref.shape, (up, down, taps, pad)
        worst = max(worst, max_diff(y, ref))
        checked += 1
    assert checked > 300
    assert worst < 1e-4


def test_resampling_helpers_keep_sizes():
    x = torch.randn(1, 2, 8, 8)
    f = setup_filter([1, 3, 3, 1])
    assert upsample2d(x, f).shape == (1, 2, 16, 16)
    assert downsample2d(x, f).shape == (1, 2, 4, 4)
    assert filter2d(x, f).shape == (1, 2, 8, 8)
    # A constant image stays constant in the interior (unit DC gain).
    ones = torch.ones(1, 1, 8, 8)
    assert max_diff(upsample2d(ones, f)[:, :, 2:-2, 2:-2], torch.ones(1, 1, 12, 12)) < 1e-6
    assert max_diff(downsample2d(ones, f)[:, :, 1:-1, 1:-1], torch.ones(1, 1, 2, 2)) < 1e-6


@pytest.mark.parametrize("up,down,k,groups,flip", [
    (1, 1, 3, 1, True), (1, 1, 1, 2, True), (2, 1, 3, 1, False), (2, 1, 3, 2, False), (2, 1, 1, 1, True),
    (1, 2, 3, 1, True), (1, 2, 1, 1, True), (1, 2, 3, 2, False), (2, 1, 3, 1, True),
])
def test_conv2d_resample_matches_reference(up, down, k, groups, flip):
    x = torch.randn(2, 4, 7, 7)
    w = torch.randn(6, 4 // groups, k, k)
    f = setup_filter([1, 3, 3, 1])
    y = conv2d_resample(x, w, f=f, up=up, down=down, padding=k // 2, groups=groups, flip_weight=flip)
    ref = conv2d_resample_ref(x, w, f, up=up, down=down, padding=k // 2, groups=groups, flip_weight=flip)
    assert y.shape == ref.shape
    assert max_diff(y, ref) < 1e-4
    # The bias, inside the convolution or after the filter, is a plain addition (float32: one rounding).
    b = torch.randn(6) * 10
    with_bias = conv2d_resample(x, w, f=f, up=up, down=down, padding=k // 2, groups=groups, flip_weight=flip,
                                bias=b)
    expected = y.double() + b.double().reshape(1, -1, 1, 1)
    assert ((with_bias.double() - expected).abs() <= 4 * U32 * (y.double().abs() + 10 * b.abs().max())).all()


@pytest.mark.parametrize("activation,gain,up,down", [("lrelu", 1, 1, 1), ("lrelu", math.sqrt(0.5), 1, 2),
                                                     ("linear", math.sqrt(0.5), 1, 2), ("lrelu", 1, 2, 1),
                                                     ("tanh", 2.0, 1, 1)])
def test_conv_layer_folds_the_activation_gain_exactly(activation, gain, up, down):
    # Conv2dLayer moves a ReLU-like activation's gain into its weights and bias; in float64 that agrees
    # with the unfolded formula act(conv(x, w * weight_gain) + b) * act_gain * gain to float64 rounding.
    layer = Conv2dLayer(4, 6, kernel_size=3, activation=activation, up=up, down=down).double()
    with torch.no_grad():
        layer.bias.copy_(torch.randn(6))
    x = torch.randn(2, 4, 8, 8, dtype=torch.float64)
    pre = conv2d_resample(x, layer.weight * layer.weight_gain, f=layer.resample_filter.double(), up=up, down=down,
                          padding=1, flip_weight=(up == 1))
    expected = bias_act(pre, layer.bias, act=activation, gain=layer.act_gain * gain)
    got = layer(x, gain=gain)
    assert ((got - expected).abs() <= 1e-12 * expected.abs().max()).all()


def test_synthesis_layer_folds_the_activation_gain_exactly():
    # The same for StyleGAN2's synthesis layer: the gain rides on the demodulation, the noise and the bias.
    from stylegan.models.stylegan2 import SynthesisLayer
    layer = SynthesisLayer(4, 6, w_dim=8, resolution=8).double()
    with torch.no_grad():
        layer.bias.copy_(torch.randn(6))
        layer.noise_strength.fill_(0.7)
    x, w = torch.randn(2, 4, 8, 8, dtype=torch.float64), torch.randn(2, 8, dtype=torch.float64)
    for fused in (True, False):
        got = layer(x, w, noise_mode="const", fused_modconv=fused, gain=math.sqrt(0.5))
        pre = modulated_conv2d(x, layer.weight, layer.affine(w), noise=layer.noise_const * layer.noise_strength,
                               padding=1, fused_modconv=fused)
        expected = bias_act(pre, layer.bias, act="lrelu", gain=math.sqrt(2) * math.sqrt(0.5))
        assert ((got - expected).abs() <= 1e-12 * expected.abs().max()).all()


@pytest.mark.parametrize("up", [1, 2])
@pytest.mark.parametrize("demodulate", [True, False])
@pytest.mark.parametrize("with_noise", [True, False])
def test_modulated_conv2d_fused_and_not_match_reference(up, demodulate, with_noise):
    x = torch.randn(3, 8, 6, 6)
    weight = torch.randn(5, 8, 3, 3)
    styles = torch.randn(3, 8) + 1
    f = setup_filter([1, 3, 3, 1])
    noise = torch.randn(3, 1, 6 * up, 6 * up) if with_noise else None
    ref = modulated_conv2d_ref(x, weight, styles, noise, up=up, padding=1, f=f, demodulate=demodulate,
                               flip_weight=(up == 1))
    for fused in (True, False):
        y = modulated_conv2d(x, weight, styles, noise=noise, up=up, padding=1, resample_filter=f,
                             demodulate=demodulate, flip_weight=(up == 1), fused_modconv=fused)
        assert max_diff(y, ref) < 1e-4, fused
    # channels-last input gives the same numbers
    y = modulated_conv2d(x.contiguous(memory_format=torch.channels_last), weight, styles, noise=noise, up=up,
                         padding=1, resample_filter=f, demodulate=demodulate, flip_weight=(up == 1),
                         fused_modconv=False)
    assert max_diff(y, ref) < 1e-4


def test_normalized_modulated_conv2d_matches_reference():
    x = torch.randn(2, 6, 9, 9)
    w = torch.randn(4, 6, 3, 3)
    s = torch.randn(2, 6)
    gain = torch.tensor(0.7)
    bias = torch.randn(4)
    y = normalized_modulated_conv2d(x, w, s, padding=2, input_gain=gain, bias=bias)
    # Reference: RMS-normalise, modulate, demodulate, scale by the input gain, full convolution.
    wn = w.double() * w.double().square().mean(dim=[1, 2, 3], keepdim=True).rsqrt()
    sn = s.double() * s.double().square().mean().rsqrt()
    outs = []
    for i in range(2):
        wi = wn * sn[i].reshape(1, -1, 1, 1)
        wi = wi * (wi.square().sum(dim=[1, 2, 3], keepdim=True) + 1e-8).rsqrt() * 0.7
        outs.append(torch.nn.functional.conv2d(x[i:i + 1].double(), wi, bias.double(), padding=2))
    assert max_diff(y, torch.cat(outs)) < 1e-5
    assert max_diff(y[:1], normalized_modulated_conv2d(x[:1], w, s[:1], padding=2, input_gain=gain, bias=bias)) < 1e-5


def _kaiser(taps):
    return torch.from_numpy(np.kaiser(taps, 4) / np.kaiser(taps, 4).sum()).float()


FLRELU_GRID = list(itertools.product(
    [1, 2, 4],                      # up
    [1, 2, 4],                      # down
    [6, 12],                        # filter taps per factor unit
    [0, 5],                         # extra padding
    [1.0, math.sqrt(2)],            # gain
    [None, 0.5],                    # clamp
    [0, 1],                         # odd size
))


@pytest.mark.slow
def test_filtered_lrelu_matches_reference_grid():
    worst = 0.0
    for up, down, taps, extra, gain, clamp, odd in FLRELU_GRID:
        size = 10 + odd
        x = torch.randn(2, 3, size, size + 1).contiguous(memory_format=torch.channels_last)
        b = torch.randn(3)
        fu = _kaiser(taps * up) if up > 1 else None
        fd = _kaiser(taps * down) if down > 1 else None
        fu_taps = 1 if fu is None else fu.numel()
        fd_taps = 1 if fd is None else fd.numel()
        total = fu_taps + fd_taps - 2 + extra
        pad = [total // 2, total - total // 2, total // 2 + 1, total - total // 2 - 1]
        ref = filtered_lrelu_ref(x, fu, fd, b, up, down, pad, gain, 0.2, clamp)
        y = filtered_lrelu(x, fu, fd, b, up=up, down=down, padding=pad, gain=gain, slope=0.2, clamp=clamp)
        assert y.shape == ref.shape, (up, down, taps, extra)
        worst = max(worst, max_diff(y, ref))
    assert worst <= 1e-5


def test_filtered_lrelu_radial_and_gradients():
    x = torch.randn(1, 2, 12, 12, requires_grad=True)
    fu = _kaiser(12)
    fd = torch.outer(_kaiser(12), _kaiser(12))  # a 2-D (non-separable) downsampling filter
    y = filtered_lrelu(x, fu, fd, None, up=2, down=2, padding=[6, 5, 6, 5], clamp=4.0)
    ref = filtered_lrelu_ref(x.detach(), fu, fd, None, 2, 2, [6, 5, 6, 5], math.sqrt(2), 0.2, 4.0)
    assert max_diff(y, ref) <= 1e-5
    y.square().sum().backward()  # differentiable (no in-place damage under autograd)
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_filtered_lrelu_output_size_formula():
    x = torch.randn(1, 1, 20, 20)
    fu, fd = _kaiser(12), _kaiser(12)
    y = filtered_lrelu(x, fu, fd, up=2, down=2, padding=[3, 4, 3, 4])
    expected = (20 * 2 + 7 - 11 - 11 + 1) // 2
    assert y.shape[2:] == (expected, expected)
    with pytest.raises(ValueError, match="smaller than the upsampling filter"):
        filtered_lrelu(torch.randn(1, 1, 2, 2), _kaiser(24), None, up=2, padding=0)
