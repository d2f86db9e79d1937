"""The JSON sidecar written beside an exported file: what a consumer without PyTorch needs to drive it."""
from __future__ import annotations

import json
from pathlib import Path

from torch import nn

from ..io.files import atomic_path
from ..models.common import style_ranges
from .parts import Part, TensorSpec

Z_CONVENTION = "z = numpy.random.RandomState(seed).randn(1, z_dim), as float32"
IMAGE_CONVENTION = "float32 [N, C, H, W], about [-1, 1]; uint8 = floor(clip(img * 127.5 + 128, 0, 255))"
TRANSFORM_CONVENTION = ("[3, 3] float32, the inverse of the image transform [[cos a, sin a, tx], [-sin a, cos a, ty], "
                        "[0, 0, 1]] (a: rotation, tx/ty: translation in image widths); identity = unchanged")


def sidecar_path(path: str | Path) -> Path:
    """Where the sidecar of an exported file goes: the file name plus '.json'."""
    path = Path(path)
    return path.with_name(path.name + ".json")


def _tensor(spec: TensorSpec) -> dict:
    return {"name": spec.name, "shape": list(spec.shape), "dtype": spec.dtype}


def sidecar(G: nn.Module, part: Part, fmt: str, extra: dict | None = None) -> dict:
    """Model facts (dims, style ranges, w_avg), the graph's inputs and outputs, and how it was exported."""
    spec = part.spec
    data = {
        "format": fmt,
        "part": spec.part,
        "generation": G.generation,
        "precision": spec.precision,
        "batch": "dynamic" if spec.batch is None else spec.batch,
        "inputs": [_tensor(t) for t in part.inputs],
        "outputs": [_tensor(t) for t in part.outputs],
        "img_resolution": G.img_resolution,
        "img_channels": G.img_channels,
        "z_dim": G.z_dim,
        "c_dim": G.c_dim,
        "w_dim": G.w_dim,
        "num_ws": G.num_ws,
        "style_ranges": style_ranges(G),
        "ws_resolutions": G.synthesis.ws_resolutions(),
        "w_avg": G.mapping.w_avg.detach().cpu().tolist(),
        "conventions": {"z": Z_CONVENTION, "image": IMAGE_CONVENTION},
    }
    if spec.part != "synthesis":
        data["truncation"] = {"psi": "input" if spec.truncation_psi is None else spec.truncation_psi,
                              "cutoff": spec.truncation_cutoff}
    if spec.part != "mapping":
        data["noise_mode"] = spec.noise_mode
        if any(t.name == "transform" for t in part.inputs):
            data["conventions"]["transform"] = TRANSFORM_CONVENTION
    data.update(extra or {})
    return data


def write_sidecar(path: str | Path, data: dict) -> None:
    """Write the sidecar JSON atomically, one top-level field per line."""
    text = "{\n" + ",\n".join(f" {json.dumps(key)}: {json.dumps(value)}" for key, value in data.items()) + "\n}\n"
    with atomic_path(path) as tmp:
        tmp.write_text(text)
