"""2-D convolution whose gradients of every order run on the convolution primitives themselves.

A convolution y = F(x, w) is bilinear, so its derivatives are two more bilinear maps of the same shape:
the input gradient A(g, w) (a transposed convolution) and the weight gradient W(x, g). Each of the three
differentiates into the others:

    F(x, w):  dx = A(g, w),  dw = W(x, g)
    A(g, w):  dg = F(u, w),  dw = W(u, g)        (u: the gradient arriving at A's output)
    W(x, g):  dx = A(g, u),  dg = F(x, u)

PyTorch's built-in double backward forms W as a convolution of batch-transposed tensors (and copies them
into that layout), several times slower on the CPU than the weight-gradient primitive. The R1 and
path-length penalties differentiate through every convolution twice, so they run on these three maps,
each computed by `torch.convolution` or `convolution_backward`. A bias is added inside the forward
convolution (its gradient is the sum of g over batch and pixels).

Each backward computes only the gradients the running backward pass will use: `torch.autograd.grad` with
respect to images alone (the R1 and path-length penalties) leaves the weight gradients unused, which a
custom function cannot see from `needs_input_grad`; the autograd engine is asked instead, per backward
pass, so concurrent passes in other threads are unaffected.
"""
from __future__ import annotations

import numbers
from typing import Sequence

import torch

Config = tuple  # (stride, padding, dilation, transposed, output_padding, groups)
_will_execute = getattr(torch._C, "_will_engine_execute_node", None)  # torch >= 2.0


def _wanted(ctx, index: int) -> bool:
    """Whether the running backward pass uses the gradient of input `index` of this function."""
    if not ctx.needs_input_grad[index]:
        return False
    node = ctx.next_functions[index][0]
    if node is None or _will_execute is None:
        return True
    try:
        return bool(_will_execute(node))
    except RuntimeError:  # the engine cannot say for a leaf during `autograd.grad`: compute it
        return True


def _autocast_dtype(device_type: str) -> torch.dtype | None:
    """The dtype autocast gives convolutions on this device, None when autocast is off."""
    if hasattr(torch, "get_autocast_dtype"):  # torch >= 2.4
        return torch.get_autocast_dtype(device_type) if torch.is_autocast_enabled(device_type) else None
    if device_type == "cpu":
        return torch.get_autocast_cpu_dtype() if torch.is_autocast_cpu_enabled() else None
    return torch.get_autocast_gpu_dtype() if torch.is_autocast_enabled() else None


def _input_grad(g: torch.Tensor, x: torch.Tensor, w: torch.Tensor, cfg: Config) -> torch.Tensor:
    return torch.ops.aten.convolution_backward(g, x, w, None, *cfg, (True, False, False))[0]


def _weight_grad(g: torch.Tensor, x: torch.Tensor, w: torch.Tensor, cfg: Config) -> torch.Tensor:
    return torch.ops.aten.convolution_backward(g, x, w, None, *cfg, (False, True, False))[1]


class _Conv(torch.autograd.Function):
    """y = F(x, w) + b."""

    @staticmethod
    def forward(ctx, x, w, b, cfg):
        ctx.save_for_backward(x, w)
        ctx.cfg = cfg
        return torch.convolution(x, w, b, *cfg)

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        gx = _InputGrad.apply(g, x, w, ctx.cfg) if _wanted(ctx, 0) else None
        gw = _WeightGrad.apply(g, x, w, ctx.cfg) if _wanted(ctx, 1) else None
        gb = g.sum([0, 2, 3]) if _wanted(ctx, 2) else None
        return gx, gw, gb, None


class _InputGrad(torch.autograd.Function):
    """A(g, w); x only gives the shape and layout."""

    @staticmethod
    def forward(ctx, g, x, w, cfg):
        ctx.save_for_backward(g, x, w)
        ctx.cfg = cfg
        return _input_grad(g, x, w, cfg)

    @staticmethod
    def backward(ctx, u):
        g, _, w = ctx.saved_tensors
        dg = _Conv.apply(u, w, None, ctx.cfg) if _wanted(ctx, 0) else None
        dw = _WeightGrad.apply(g, u, w, ctx.cfg) if _wanted(ctx, 2) else None
        return dg, None, dw, None


class _WeightGrad(torch.autograd.Function):
    """W(x, g); w only gives the shape and layout."""

    @staticmethod
    def forward(ctx, g, x, w, cfg):
        ctx.save_for_backward(g, x)
        ctx.cfg = cfg
        return _weight_grad(g, x, w, cfg)

    @staticmethod
    def backward(ctx, u):
        g, x = ctx.saved_tensors
        dg = _Conv.apply(x, u, None, ctx.cfg) if _wanted(ctx, 0) else None
        dx = _InputGrad.apply(g, x, u, ctx.cfg) if _wanted(ctx, 1) else None
        return dg, dx, None, None


def _pair(v: int | Sequence[int]) -> tuple[int, int]:
    return (int(v), int(v)) if isinstance(v, numbers.Integral) else (int(v[0]), int(v[1]))


def conv2d(x: torch.Tensor, w: torch.Tensor, bias: torch.Tensor | None = None, stride: int | Sequence[int] = 1,
           padding: int | Sequence[int] = 0, groups: int = 1, transpose: bool = False,
           output_padding: int | Sequence[int] = 0) -> torch.Tensor:
    """`F.conv2d` (or `F.conv_transpose2d` with `transpose`, whose w is [I, O/groups, kh, kw]) with the same
    results; while autograd records, its first and higher derivatives use the convolution primitives."""
    cfg = (_pair(stride), _pair(padding), (1, 1), transpose, _pair(output_padding), groups)
    dtype = _autocast_dtype(x.device.type) if x.is_floating_point() else None
    if dtype is not None:  # what autocast does for F.conv2d, which it cannot see through the Function
        x, w = x.to(dtype), w.to(dtype)
    bias = bias.to(x.dtype) if bias is not None else None
    if x.dim() == 4 and w.dim() == 4 and not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last):
        w = w.contiguous(memory_format=torch.channels_last)  # once, not in every primitive that reads it
    recording = torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in (x, w, bias))
    if not recording or torch.jit.is_tracing() or torch.jit.is_scripting():
        return torch.convolution(x, w, bias, *cfg)
    return _Conv.apply(x, w, bias, cfg)
