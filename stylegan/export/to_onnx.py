"""ONNX export with PyTorch's dynamo-based exporter, and running the result with onnxruntime."""
from __future__ import annotations

import contextlib
import io
import logging
import warnings
from pathlib import Path

import numpy as np
import torch

from ..errors import StyleGANError
from .parts import Part

OPSET = 18
INSTALL_HINT = "pip install 'stylegan[export]'"


def require(module: str, purpose: str):
    """Import an optional dependency, or explain how to install it."""
    try:
        return __import__(module)
    except ImportError:
        raise StyleGANError(f"{purpose} needs the {module} package: {INSTALL_HINT}") from None


def write_onnx(part: Part, path: str | Path) -> None:
    """Export `part` to an ONNX file (opset OPSET, plain ai.onnx operators, weights inside the file)."""
    if tuple(int(v) for v in torch.__version__.split(".")[:2]) < (2, 6):
        raise StyleGANError(f"ONNX export needs PyTorch 2.6 or newer (its dynamo-based exporter); this is "
                            f"{torch.__version__}")
    onnx = require("onnx", "ONNX export")
    require("onnxscript", "ONNX export")
    batch = torch.export.Dim("batch", min=1)
    dynamic_shapes = tuple({0: batch} if spec.batched else None for spec in part.inputs)  # forward(*args)
    # No graph rewriting at export: its no-op rule takes `x + 1e-8` for `x + 0` and drops the epsilon of
    # the normalisations (NaN where a feature map is flat); runtimes fold constants when they load the file.
    # The exporter reports its progress on stdout and through logging; keep the command's output readable.
    exporter_log = logging.getLogger("torch.onnx")
    level = exporter_log.level
    exporter_log.setLevel(logging.ERROR)
    try:
        with torch.no_grad(), warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            program = torch.onnx.export(
                part, part.example_inputs(), dynamo=True, opset_version=OPSET,
                input_names=[spec.name for spec in part.inputs], output_names=[spec.name for spec in part.outputs],
                dynamic_shapes=(dynamic_shapes,) if part.spec.batch is None else None, verbose=False,
                optimize=False)
            program.save(str(path), external_data=False)
    finally:
        exporter_log.setLevel(level)
    model = onnx.load(str(path))
    for node in model.graph.node:
        del node.metadata_props[:]  # the exporter's debugging notes (Python stack, FX node): a third of a small file
    if part.spec.precision == "fp16":
        store_weights_fp16(model)
    onnx.save(model, str(path))


def store_weights_fp16(model, min_size: int = 256) -> None:
    """Store the float32 weights (initializers of `min_size` values or more) as float16, each followed by a
    Cast back to float32: half the file size; the float16 layers round them so anyway."""
    from onnx import TensorProto, helper, numpy_helper

    casts = []
    for init in model.graph.initializer:
        if init.data_type == TensorProto.FLOAT and int(np.prod(init.dims)) >= min_size:
            name = init.name
            init.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(init).astype(np.float16), f"{name}.fp16"))
            casts.append(helper.make_node("Cast", [f"{name}.fp16"], [name], to=TensorProto.FLOAT,
                                          name=f"{name}.to_fp32"))
    nodes = casts + list(model.graph.node)
    del model.graph.node[:]
    model.graph.node.extend(nodes)


def run_onnx(path: str | Path, inputs: dict[str, np.ndarray]) -> np.ndarray:
    """Run an exported file on the CPU with onnxruntime; returns the first output."""
    ort = require("onnxruntime", "running an ONNX file")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, inputs)[0]
