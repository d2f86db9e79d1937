"""Training support: the image dataset reader (shared with the metrics), the dataset tool, and ADA."""
from .augment import PRESETS as AUGMENT_PRESETS
from .augment import AdaController, AugmentPipe
from .dataset import ImageDataset

__all__ = ["AUGMENT_PRESETS", "AdaController", "AugmentPipe", "ImageDataset"]
