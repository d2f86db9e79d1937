"""Kernel Inception Distance: the unbiased squared MMD with the cubic polynomial kernel
k(x, y) = (x.y / d + 1)^3 on Inception features, averaged over random subsets (Binkowski et al. 2018)."""
from __future__ import annotations

import numpy as np

from ..errors import InputError
from .features import dataset_feature_stats, generator_feature_stats
from .options import MetricOptions


def kernel_distance(real: np.ndarray, gen: np.ndarray, num_subsets: int = 100, max_subset_size: int = 1000,
                    rng: np.random.RandomState | None = None) -> float:
    """Mean over `num_subsets` draws of m = min(n_real, n_gen, max_subset_size) rows from each set (without
    replacement) of the unbiased MMD^2 estimate."""
    rng = rng if rng is not None else np.random.RandomState(0)
    d = real.shape[1]
    m = min(real.shape[0], gen.shape[0], max_subset_size)
    if m < 2:
        raise InputError(f"KID needs at least 2 real and 2 generated images, got {real.shape[0]} and {gen.shape[0]}")
    total = 0.0
    for _ in range(num_subsets):
        x = gen[rng.choice(gen.shape[0], m, replace=False)]
        y = real[rng.choice(real.shape[0], m, replace=False)]
        within = (x @ x.T / d + 1) ** 3 + (y @ y.T / d + 1) ** 3
        across = (x @ y.T / d + 1) ** 3
        total += (within.sum() - np.diag(within).sum()) / (m - 1) - across.sum() * 2 / m
    return float(total / num_subsets / m)


def compute_kid(opts: MetricOptions, max_real: int | None, num_gen: int, num_subsets: int, max_subset_size: int,
                dataset_overrides: dict | None = None) -> dict:
    """KID between up to `max_real` dataset images and `num_gen` generated ones."""
    net = opts.inception_net()
    real = dataset_feature_stats(opts, net, "inception", max_items=max_real, capture_all=True,
                                 dataset_overrides=dataset_overrides).get_all()
    gen = generator_feature_stats(opts, net, "inception", max_items=num_gen, capture_all=True).get_all()
    return {"": kernel_distance(real, gen, num_subsets, max_subset_size, np.random.RandomState(opts.seed))}
