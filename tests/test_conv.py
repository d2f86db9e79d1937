"""The training convolution (`stylegan.ops.conv`): the same values as PyTorch's, and first and second
derivatives that agree with finite differences and with PyTorch's own autograd, in float64."""
import threading

import pytest
import torch
import torch.nn.functional as F
from torch.autograd import gradcheck, gradgradcheck

from stylegan.ops import conv
from stylegan.ops.conv import conv2d

# (transpose, stride, padding, groups, output_padding)
CASES = [(False, 1, 1, 1, 0), (False, 2, 0, 1, 0), (False, 2, 1, 2, 0), (False, 1, 0, 3, 0),
         (True, 1, 1, 1, 0), (True, 2, 0, 1, 1), (True, 2, 1, 2, 0), (True, 1, 0, 3, 0)]


def make(transpose: bool, groups: int, channels_last: bool, seed: int = 0):
    """x [2, 6, 7, 7], w, b in float64, all requiring gradients."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn([2, 6, 7, 7], generator=g, dtype=torch.float64)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    w = torch.randn([6, 2, 3, 3] if transpose else [4 * groups, 6 // groups, 3, 3], generator=g, dtype=torch.float64)
    b = torch.randn([2 * groups if transpose else 4 * groups], generator=g, dtype=torch.float64)
    return [t.requires_grad_(True) for t in (x, w, b)]


def builtin(transpose, stride, padding, groups, output_padding):
    if transpose:
        return lambda x, w, b: F.conv_transpose2d(x, w, b, stride=stride, padding=padding,
                                                  output_padding=output_padding, groups=groups)
    return lambda x, w, b: F.conv2d(x, w, b, stride=stride, padding=padding, groups=groups)


def ours(transpose, stride, padding, groups, output_padding):
    return lambda x, w, b: conv2d(x, w, b, stride=stride, padding=padding, groups=groups, transpose=transpose,
                                  output_padding=output_padding)


def r1_like(conv, x, w, b):
    """A penalty on the input gradient, as R1 takes it: needs the second derivatives of the convolution."""
    y = conv(x, w, b)
    r = torch.linspace(-1, 1, y.numel(), dtype=y.dtype).reshape(y.shape)
    (gx,) = torch.autograd.grad((y.square() * r).sum(), [x], create_graph=True)
    return gx.square().sum()


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("channels_last", [False, True])
def test_values_and_derivatives(case, channels_last):
    x, w, b = make(case[0], case[3], channels_last)
    fn = ours(*case)
    assert torch.equal(fn(x, w, b), builtin(*case)(x, w, b))
    assert gradcheck(fn, (x, w, b))
    assert gradgradcheck(fn, (x, w, b))
    # Second order through a penalty, against PyTorch's own double backward (float64: agreement to 1e-10
    # relative leaves room only for summation order).
    ours_grads = torch.autograd.grad(r1_like(fn, x, w, b), [x, w, b])
    their_grads = torch.autograd.grad(r1_like(builtin(*case), x, w, b), [x, w, b])
    for a, e in zip(ours_grads, their_grads):
        assert torch.allclose(a, e, rtol=1e-10, atol=1e-10 * e.abs().max().item())


def test_an_input_gradient_skips_the_weight_gradients_it_does_not_use(monkeypatch):
    case = (False, 2, 1, 2, 0)
    x, w, b = make(case[0], case[3], True)
    fn = ours(*case)
    calls = []
    real = conv._weight_grad
    monkeypatch.setattr(conv, "_weight_grad", lambda *args: calls.append(1) or real(*args))
    (gx,) = torch.autograd.grad(fn(x, w, b).sum(), [x])
    assert calls == []  # the weight gradient was not computed, so not wasted
    gx_all, gw, gb = torch.autograd.grad(fn(x, w, b).sum(), [x, w, b])
    assert calls and torch.equal(gx, gx_all) and gw is not None and gb is not None
    # A penalty on the input gradient: its own weight gradient is still computed, and exactly.
    skipping = torch.autograd.grad(r1_like(fn, x, w, b), [w, b])
    builtin_grads = torch.autograd.grad(r1_like(builtin(*case), x, w, b), [w, b])
    for a, e in zip(skipping, builtin_grads):
        assert torch.allclose(a, e, rtol=1e-10, atol=1e-10 * e.abs().max().item())


def test_threads_asking_for_different_gradients_do_not_interfere():
    """One thread's input-only gradients must not drop another thread's weight gradients (the decision is
    per backward pass, not a process-wide switch)."""
    case = (False, 1, 1, 1, 0)
    x, w, b = make(case[0], case[3], True)
    fn = ours(*case)
    expected = torch.autograd.grad(fn(x, w, b).sum(), [w, b])
    failures = []

    def weights_wanted():
        for _ in range(50):
            got = torch.autograd.grad(fn(x, w, b).sum(), [w, b])
            if not all(g is not None and torch.equal(g, e) for g, e in zip(got, expected)):
                failures.append(got)

    def inputs_only():
        for _ in range(50):
            torch.autograd.grad(fn(x, w, b).sum(), [x])
    threads = [threading.Thread(target=weights_wanted), threading.Thread(target=inputs_only)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []


def test_autocast_casts_like_the_builtin():
    x, w, b = (t.detach().float() for t in make(False, 1, True))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        expected = F.conv2d(x, w, b, padding=1)
        got = conv2d(x.requires_grad_(True), w.requires_grad_(True), b, padding=1)
    assert got.dtype == expected.dtype == torch.bfloat16
    assert torch.equal(got, expected)
    got.float().sum().backward()
    assert x.grad.dtype == torch.float32 and w.grad.dtype == torch.float32
