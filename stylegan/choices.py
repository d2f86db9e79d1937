"""The names and defaults the command line offers (choices of its options), kept free of torch and every
heavy module so that `--help` and argument errors answer at once. The modules that act on them import them
from here."""
from __future__ import annotations

PRECISIONS = ("auto", "fp32", "fp16", "bf16")
PROJECTION_METHODS = {
    "official": dict(space="w", loss="auto", num_steps=1000, lr=0.1, optimize_noise=True),
    "image2stylegan": dict(space="w+", loss="auto", num_steps=5000, lr=0.01, optimize_noise=False),
}
DEMO_PROJECTION_STEPS = 200
DATASET_TRANSFORMS = ("center-crop", "center-crop-wide")
TRAIN_CONFIGS = ("stylegan2", "stylegan3-t", "stylegan3-r", "stylegan1")
AUGMENT_MODES = ("ada", "noaug", "fixed")
TRAIN_LOSSES = ("logistic", "wgan-gp")
# StyleGAN2 generator architectures: RGB summed from every block (skip), or painted by the last block only
# (orig; resnet with residual blocks).
G_ARCHITECTURES = ("skip", "orig", "resnet")
EXPORT_FORMATS = ("onnx", "torchscript")
EXPORT_PARTS = ("mapping", "synthesis", "full")
EXPORT_PRECISIONS = ("fp32", "fp16")
EXPORT_NOISE_MODES = ("const", "none")
# Largest abs difference to PyTorch an export is accepted with by default (images are in about [-1, 1]).
EXPORT_TOLERANCE = {"fp32": 1e-3, "fp16": 5e-2}
# The metrics by name (stylegan.metrics.METRICS holds their definitions).
METRIC_DESCRIPTIONS = {
    "fid50k_full": "Frechet inception distance, 50k generated images against the whole dataset",
    "kid50k_full": "Kernel inception distance, 50k generated images against the whole dataset",
    "pr50k3_full": "Precision and recall (k = 3), 50k generated images against up to 200k real ones",
    "ppl2_wend": "Perceptual path length in W, path endpoints, full image",
    "eqt50k_int": "Equivariance to integer translation (EQ-T), PSNR in dB",
    "eqt50k_frac": "Equivariance to fractional translation (EQ-T_frac), PSNR in dB",
    "eqr50k": "Equivariance to rotation (EQ-R), PSNR in dB",
    "fid50k": "Legacy: FID against 50k real images (mirrored when the dataset is)",
    "kid50k": "Legacy: KID against 50k real images",
    "pr50k3": "Legacy: precision and recall against 50k real images",
}
