"""Training support. For now: the image dataset reader shared by training and the metrics."""
from .dataset import ImageDataset

__all__ = ["ImageDataset"]
