"""Export a generator part to a file, check it against PyTorch, and write its sidecar."""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import torch
from torch import nn

from ..errors import InputError, StyleGANError
from ..io.files import atomic_path
from ..latent.space import device_of
from . import DEFAULT_TOLERANCE, FORMATS
from .parts import ExportSpec, Part
from .sidecar import sidecar, sidecar_path, write_sidecar
from .to_onnx import OPSET, require, run_onnx, write_onnx
from .to_torchscript import run_torchscript, write_torchscript
from .verify import verify

WRITERS = {"onnx": (write_onnx, run_onnx), "torchscript": (write_torchscript, run_torchscript)}


class ExportVerificationError(StyleGANError):
    """The exported file does not reproduce PyTorch's output within the tolerance."""


@dataclass
class ExportResult:
    """Where the export went and how well it matched PyTorch ({batch size: max abs difference})."""

    path: Path
    sidecar_path: Path
    size: int
    part: Part
    diffs: dict[int, float] = field(default_factory=dict)
    tolerance: float | None = None
    runtime: str = ""


def runtime_name(fmt: str) -> str:
    """The runtime the verification uses, with its version."""
    if fmt == "onnx":
        return f"onnxruntime {require('onnxruntime', 'verification').__version__} (CPU)"
    return f"torch.jit {torch.__version__} (CPU)"


def export_generator(G: nn.Module, path: str | Path, fmt: str, spec: ExportSpec = ExportSpec(),
                     check: bool = True, seeds: Sequence[int] = (0, 1, 2), tolerance: float | None = None,
                     source: str | None = None) -> ExportResult:
    """Export one part of G to `path` as ONNX or TorchScript, check it on `seeds` against PyTorch (unless
    check=False), and write the sidecar `path + '.json'`. Nothing is written when the check fails."""
    if fmt not in FORMATS:
        raise InputError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if check and not seeds:
        raise InputError("verification needs at least one seed")
    spec.check(G)
    write, run = WRITERS[fmt]
    runtime = runtime_name(fmt) if check else ""
    tolerance = DEFAULT_TOLERANCE[spec.precision] if tolerance is None else tolerance
    G = G if device_of(G).type == "cpu" else copy.deepcopy(G).cpu()
    part = Part(G, spec)
    path = Path(path)
    with atomic_path(path) as tmp:
        write(part, tmp)
        diffs = verify(G, part, str(tmp), run, seeds) if check else {}
        worst = max(diffs.values(), default=0.0)
        if worst > tolerance:
            raise ExportVerificationError(
                f"{path}: the exported model differs from PyTorch by up to {worst:.3g} (tolerance {tolerance:g}) "
                f"on seeds {list(seeds)}; nothing was written")
        size = tmp.stat().st_size
    extra = {"verification": {"runtime": runtime, "seeds": list(seeds),
                              "max_abs_diff": {str(b): d for b, d in diffs.items()}} if check else None,
             "source": source}
    if fmt == "onnx":
        extra["opset"] = OPSET
    meta = sidecar(G, part, fmt, extra)
    write_sidecar(sidecar_path(path), meta)
    return ExportResult(path, sidecar_path(path), size, part, diffs, tolerance if check else None, runtime)
