"""Training: the training loop, its options and losses, snapshots, and ADA augmentation."""
from __future__ import annotations

from ..lazy import exports

CONFIGS = ("stylegan2", "stylegan3-t", "stylegan3-r", "stylegan1")
AUGMENT_MODES = ("ada", "noaug", "fixed")
LOSSES = ("logistic", "wgan-gp")

__getattr__ = exports(__name__, {
    "AUGMENT_PRESETS": "augment:PRESETS", "AdaController": "augment", "AugmentPipe": "augment",
    "TrainOptions": "options", "training_loop": "loop", "train": "run",
})

__all__ = ["CONFIGS", "AUGMENT_MODES", "LOSSES", "AUGMENT_PRESETS", "AdaController", "AugmentPipe", "TrainOptions",
           "training_loop", "train"]
