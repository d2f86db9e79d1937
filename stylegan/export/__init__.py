"""Export generators for deployment: ONNX and TorchScript graphs, a JSON sidecar, and a check against PyTorch.

The graphs hold the mapping, the synthesis or the whole generator; the sidecar serves consumers without
PyTorch, and every exported file is checked against PyTorch.

    from stylegan.export import ExportSpec, export_generator
    export_generator(G, "ffhq-synthesis.onnx", "onnx", ExportSpec(part="synthesis"))
"""
from .exporter import DEFAULT_TOLERANCE, ExportResult, ExportVerificationError, export_generator
from .parts import FORMATS, NOISE_MODES, PARTS, PRECISIONS, ExportSpec, Part
from .sidecar import sidecar_path

__all__ = ["export_generator", "ExportSpec", "ExportResult", "ExportVerificationError", "Part", "sidecar_path",
           "DEFAULT_TOLERANCE", "FORMATS", "PARTS", "PRECISIONS", "NOISE_MODES"]
