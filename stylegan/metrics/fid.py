"""Fréchet Inception Distance: the Fréchet distance between Gaussians fitted to Inception features
of real and generated images (Heusel et al. 2017), as computed by the official StyleGAN metrics."""
from __future__ import annotations

import numpy as np
import scipy.linalg

from .features import dataset_feature_stats, generator_feature_stats
from .options import MetricOptions


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """|mu1 - mu2|^2 + tr(sigma1 + sigma2 - 2 (sigma1 sigma2)^(1/2)), the real part of it."""
    m = np.square(mu1 - mu2).sum()
    s = scipy.linalg.sqrtm(np.dot(sigma1, sigma2))
    return float(np.real(m + np.trace(sigma1 + sigma2 - s * 2)))


def compute_fid(opts: MetricOptions, max_real: int | None, num_gen: int,
                dataset_overrides: dict | None = None) -> dict:
    """FID between up to `max_real` dataset images (None: all) and `num_gen` generated ones."""
    net = opts.inception_net()
    mu_real, sigma_real = dataset_feature_stats(opts, net, "inception", max_items=max_real, capture_mean_cov=True,
                                                dataset_overrides=dataset_overrides).get_mean_cov()
    mu_gen, sigma_gen = generator_feature_stats(opts, net, "inception", max_items=num_gen,
                                                capture_mean_cov=True).get_mean_cov()
    return {"": frechet_distance(mu_gen, sigma_gen, mu_real, sigma_real)}
