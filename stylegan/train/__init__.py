"""Training: the training loop, its options and losses, snapshots, and ADA augmentation."""
from .augment import PRESETS as AUGMENT_PRESETS
from .augment import AdaController, AugmentPipe

__all__ = ["AUGMENT_PRESETS", "AdaController", "AugmentPipe"]
