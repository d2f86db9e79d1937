"""Training images: the dataset reader (shared by training and metrics), the dataset tool, and builtin:toonfaces."""
from __future__ import annotations

from ..lazy import exports

# How the dataset tool makes images square (`stylegan dataset --transform`).
DATASET_TRANSFORMS = ("center-crop", "center-crop-wide")

__getattr__ = exports(__name__, {
    "ImageDataset": "dataset", "ToonFacesDataset": "dataset", "open_dataset": "dataset",
    "make_dataset": "dataset_tool", "toonface": "toonfaces",
})

__all__ = ["DATASET_TRANSFORMS", "ImageDataset", "ToonFacesDataset", "open_dataset", "make_dataset", "toonface"]
