"""Improved precision and recall (Kynkäänniemi et al. 2019) on VGG16 fc2 features.

Each feature set defines a manifold: the union of balls around its points, each ball reaching the
point's k-th nearest neighbour in the same set. Precision is the share of generated points inside the
real manifold; recall is the share of real points inside the generated one. As in the official code,
features are stored in float16 and distances are compared at float16 precision.
"""
from __future__ import annotations

import torch

from ..errors import InputError
from .features import dataset_feature_stats, generator_feature_stats
from .options import MetricOptions


def _distances(rows: torch.Tensor, cols: torch.Tensor, col_batch_size: int) -> torch.Tensor:
    """Euclidean distances [len(rows), len(cols)], rounded to float16."""
    return torch.cat([torch.cdist(rows.float(), part.float()).half() for part in cols.split(col_batch_size)], dim=1)


def manifold_coverage(manifold: torch.Tensor, probes: torch.Tensor, nhood_size: int = 3,
                      row_batch_size: int = 10000, col_batch_size: int = 10000) -> float:
    """Share of `probes` within the k-NN radius (k = nhood_size, not counting the point itself) of at
    least one point of `manifold`."""
    if len(manifold) <= nhood_size:
        raise InputError(f"precision/recall with k = {nhood_size} needs more than {nhood_size} samples per set, "
                         f"got {len(manifold)}")
    manifold, probes = manifold.half(), probes.half()
    radii = torch.cat([_distances(part, manifold, col_batch_size).float().kthvalue(nhood_size + 1).values.half()
                       for part in manifold.split(row_batch_size)])
    inside = torch.cat([(_distances(part, manifold, col_batch_size) <= radii).any(dim=1)
                        for part in probes.split(row_batch_size)])
    return float(inside.float().mean())


def precision_recall(real: torch.Tensor, gen: torch.Tensor, nhood_size: int = 3, row_batch_size: int = 10000,
                     col_batch_size: int = 10000) -> tuple[float, float]:
    """(precision, recall) of generated features `gen` against real features `real`."""
    batches = dict(nhood_size=nhood_size, row_batch_size=row_batch_size, col_batch_size=col_batch_size)
    return manifold_coverage(real, gen, **batches), manifold_coverage(gen, real, **batches)


def compute_pr(opts: MetricOptions, max_real: int | None, num_gen: int, nhood_size: int, row_batch_size: int,
               col_batch_size: int, dataset_overrides: dict | None = None) -> dict:
    """Precision and recall between up to `max_real` dataset images and `num_gen` generated ones."""
    net = opts.vgg16_net()
    real = dataset_feature_stats(opts, net, "vgg16", max_items=max_real, capture_all=True,
                                 dataset_overrides=dataset_overrides).get_all()
    gen = generator_feature_stats(opts, net, "vgg16", max_items=num_gen, capture_all=True).get_all()
    real, gen = torch.from_numpy(real).to(opts.device), torch.from_numpy(gen).to(opts.device)
    precision, recall = precision_recall(real, gen, nhood_size, row_batch_size, col_batch_size)
    return {"precision": precision, "recall": recall}
