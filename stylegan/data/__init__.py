"""Training images: the dataset reader (shared by training and metrics), the dataset tool, and builtin:toonfaces."""
from .dataset import ImageDataset, ToonFacesDataset, open_dataset

__all__ = ["ImageDataset", "ToonFacesDataset", "open_dataset"]
