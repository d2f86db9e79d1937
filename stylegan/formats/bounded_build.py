"""Building a network from a file's config with its cost bounded by the file's tensors.

A network built from a config allocates its parameters and buffers, which the file then fills; a config
that asks for more (a resolution of 2**20, a million mapping layers) would allocate gigabytes or run for
minutes before the weights are found not to fit. While the network is built, every tensor factory call is
counted: more elements than ELEMENTS_SLACK times what the file stores for the network, or more factory calls
than CALLS_SLACK per stored tensor, stop the build with a CheckpointError before the call runs.
"""
from __future__ import annotations

import math
from typing import Any, Callable

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from ..errors import CheckpointError

# A network allocates each stored tensor once (its initial values) plus a few small non-persistent buffers;
# the slack covers those, the constant covers tiny networks.
ELEMENTS_SLACK, ELEMENTS_EXTRA = 2, 1 << 20
CALLS_SLACK, CALLS_EXTRA = 4, 256
_SIZED = (torch.randn, torch.rand, torch.zeros, torch.ones, torch.empty, torch.full)


def _product(dims: Any) -> int:
    try:
        return math.prod(max(int(d), 0) for d in dims)
    except (TypeError, ValueError):  # not sizes: the call itself will say so
        return 0


def _requested_elements(func: Callable, args: tuple, kwargs: dict) -> int | None:
    """Elements a tensor factory call will allocate; None for calls that are not factories."""
    if func in _SIZED:
        size = kwargs.get("size", args[0] if args else ())
        if not isinstance(size, (list, tuple, torch.Size)):
            size = (size,) if func is torch.full else args  # torch.randn(2, 3)
        return _product(size)
    if func is torch.eye:
        n = args[0] if args else kwargs.get("n", 0)
        return _product((n, args[1] if len(args) > 1 else kwargs.get("m", n)))
    if func is torch.outer:
        return _product(torch.as_tensor(a).numel() for a in args[:2])
    if func in (torch.as_tensor, torch.tensor, torch.from_numpy):
        return 0
    return None


class _BuildGuard(TorchFunctionMode):
    def __init__(self, elements: int, calls: int, what: str):
        super().__init__()
        self.elements, self.calls, self.what = elements, calls, what

    def __torch_function__(self, func: Callable, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        requested = _requested_elements(func, args, kwargs)
        if requested is not None:
            self.elements -= requested
            self.calls -= 1
            if self.elements < 0 or self.calls < 0:
                raise CheckpointError(f"{self.what}: its config asks for a network far larger than the tensors the "
                                      f"file stores for it; the config is damaged")
        return func(*args, **kwargs)


def build_bounded(cls: type[nn.Module], config: dict, stored: dict[str, tuple[int, ...]], what: str) -> nn.Module:
    """`cls(**config)`, stopped with a CheckpointError naming `what` once building costs more than the tensors
    `stored` (name -> shape) can justify."""
    elements = sum(math.prod(shape) for shape in stored.values())
    with _BuildGuard(ELEMENTS_SLACK * elements + ELEMENTS_EXTRA, CALLS_SLACK * len(stored) + CALLS_EXTRA, what):
        return cls(**config)
