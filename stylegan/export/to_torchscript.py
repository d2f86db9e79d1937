"""TorchScript export by tracing, and running the result."""
from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import torch

from .parts import Part


def write_torchscript(part: Part, path: str | Path) -> None:
    """Trace `part` and save it with torch.jit.save. The non-fused formulation has no branch on the batch
    size, so a module traced with a batch of 2 runs any batch size."""
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about Python values: the checks below cover them
        traced = torch.jit.trace(part, part.example_inputs(), check_trace=False)
    buffer = io.BytesIO()  # torch.jit.save writes files in C++, which aborts on a full disk; Python raises OSError
    torch.jit.save(traced, buffer)
    Path(path).write_bytes(buffer.getbuffer())


def run_torchscript(path: str | Path, inputs: dict[str, np.ndarray]) -> np.ndarray:
    """Load a saved TorchScript module and run it on the CPU with the inputs in order."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        module = torch.jit.load(str(path), map_location="cpu")
    with torch.no_grad():
        return module(*(torch.from_numpy(v) for v in inputs.values())).numpy()
