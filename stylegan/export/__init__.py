"""Export generators for deployment: ONNX and TorchScript graphs, a JSON sidecar, and a check against PyTorch.

The graphs hold the mapping, the synthesis or the whole generator; the sidecar serves consumers without
PyTorch, and every exported file is checked against PyTorch.

    from stylegan.export import ExportSpec, export_generator
    export_generator(G, "ffhq-synthesis.onnx", "onnx", ExportSpec(part="synthesis"))
"""
from __future__ import annotations

from ..lazy import exports

FORMATS = ("onnx", "torchscript")
PARTS = ("mapping", "synthesis", "full")
PRECISIONS = ("fp32", "fp16")
NOISE_MODES = ("const", "none")
# Largest abs difference to PyTorch an export is accepted with by default (images are in about [-1, 1]).
DEFAULT_TOLERANCE = {"fp32": 1e-3, "fp16": 5e-2}

__getattr__ = exports(__name__, {
    "export_generator": "exporter", "ExportResult": "exporter", "ExportVerificationError": "exporter",
    "ExportSpec": "parts", "Part": "parts", "sidecar_path": "sidecar",
})

__all__ = ["export_generator", "ExportSpec", "ExportResult", "ExportVerificationError", "Part", "sidecar_path",
           "DEFAULT_TOLERANCE", "FORMATS", "PARTS", "PRECISIONS", "NOISE_MODES"]
