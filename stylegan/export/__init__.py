"""Export generators for deployment: ONNX and TorchScript graphs of the mapping, the synthesis or the whole
generator, a JSON sidecar for consumers without PyTorch, and a check of every exported file against PyTorch.

    from stylegan.export import ExportSpec, export_generator
    export_generator(G, "ffhq-synthesis.onnx", "onnx", ExportSpec(part="synthesis"))
"""
from .exporter import DEFAULT_TOLERANCE, FORMATS, ExportResult, ExportVerificationError, export_generator
from .parts import NOISE_MODES, PARTS, PRECISIONS, ExportSpec, Part
from .sidecar import sidecar_path

__all__ = ["export_generator", "ExportSpec", "ExportResult", "ExportVerificationError", "Part", "sidecar_path",
           "DEFAULT_TOLERANCE", "FORMATS", "PARTS", "PRECISIONS", "NOISE_MODES"]
