"""Pretrained feature networks (InceptionV3, VGG16 + LPIPS) for metrics and projection, from local weight files,
and the MTCNN face detector for aligning photos, whose weights ship in the package.

They are built from our own architecture code; `load_inception_net` and `load_vgg16_net` find, read and map
the weights, `detect_faces` finds faces and their landmarks."""
from __future__ import annotations

from pathlib import Path

from .faces import Face, detect_faces
from .inception import InceptionV3, load_inception
from .mtcnn import MTCNN, load_mtcnn
from .vgg16 import VGG16, load_vgg16, lpips_heads
from .weights import INCEPTION, VGG16 as VGG16_FILES, WeightsMissingError, file_digest, find_lpips_heads, \
    find_weights, read_state


def load_inception_net(path: str | Path | None = None) -> InceptionV3:
    """InceptionV3 from `path`, $STYLEGAN_INCEPTION or the torch hub cache."""
    path = find_weights(INCEPTION, path)
    return load_inception(read_state(path), fingerprint=f"{path.name}:{file_digest(path)[:16]}")


def load_vgg16_net(path: str | Path | None = None, purpose: str | None = None) -> VGG16:
    """VGG16 from `path`, $STYLEGAN_VGG16 or the torch hub cache, with LPIPS heads when available; `purpose`
    is what a missing-weights error says they are needed for."""
    path = find_weights(VGG16_FILES, path, purpose)
    state = read_state(path)
    heads_path = None if any(k.startswith("lpips") for k in state) else find_lpips_heads()
    heads = lpips_heads(read_state(heads_path)) if heads_path is not None else None
    return load_vgg16(state, heads, fingerprint=f"{path.name}:{file_digest(path)[:16]}")


__all__ = ["Face", "InceptionV3", "MTCNN", "VGG16", "WeightsMissingError", "detect_faces", "load_inception",
           "load_inception_net", "load_mtcnn", "load_vgg16", "load_vgg16_net"]
