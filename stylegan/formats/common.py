"""Helpers shared by the format readers: filling rebuilt modules with tensors, the leading bytes of torch files."""
from __future__ import annotations

from typing import Mapping

import numpy as np
import torch
from torch import nn

from ..errors import CheckpointError, one_line


def listing(keys: list[str]) -> str:
    """The first four names (as read from a file: on one line), and '...' when there are more."""
    return ", ".join(one_line(str(key)) for key in keys[:4]) + (" ..." if len(keys) > 4 else "")


def fill_module(net: nn.Module, state: Mapping[str, object], what: str, derived: tuple[str, ...] = ()) -> nn.Module:
    """Copy `state` (name -> tensor/array) into every parameter and buffer of `net`; eval mode, no grad.

    Every tensor of `net` must be given with its exact shape and nothing may be left over, so a file of
    some other variant fails here with the names at fault instead of loading half its weights. Buffers
    whose names end with one of `derived` (fixed filters the file does not store) keep their values.
    """
    own = net.state_dict()
    state = {k: torch.as_tensor(np.array(v, order="C") if isinstance(v, np.ndarray) else v) for k, v in state.items()}
    state.update({k: v for k, v in own.items() if k.endswith(derived) and k not in state})
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong = sorted(f"{k} {tuple(state[k].shape)} (expected {tuple(own[k].shape)})"
                   for k in set(own) & set(state) if tuple(own[k].shape) != tuple(state[k].shape))
    if missing or unexpected or wrong:
        detail = "; ".join(f"{label}: {listing(keys)}" for label, keys in
                           (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong)) if keys)
        raise CheckpointError(f"{what}: the tensors do not fit the rebuilt network ({detail})")
    net.load_state_dict({k: state[k].to(own[k].dtype) for k in own})
    return net.eval().requires_grad_(False)


ZIP_MAGIC = b"PK\x03\x04"
# The first record of a legacy (pre-zip) torch.save file: pickle protocol 2, then this magic number.
TORCH_LEGACY_MAGIC = b"\x80\x02\x8a\x0a" + (0x1950A86A20F9469CFC6C).to_bytes(10, "little")


@torch.no_grad()
def estimate_w_avg(G: nn.Module, num_samples: int = 4096, seed: int = 0) -> torch.Tensor:
    """Mean w of `num_samples` seeded z, for files that store no average w (as their home code computes it)."""
    z = torch.randn([num_samples, G.z_dim], generator=torch.Generator().manual_seed(seed))
    return G.mapping(z.to(G.mapping.w_avg.device), None)[:, 0].mean(dim=0)
