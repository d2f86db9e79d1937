"""Feature passes over the dataset (cached on disk) and over generated images, with progress bars."""
from __future__ import annotations

import copy
import math
from typing import Callable

import torch
from tqdm import tqdm

from .distributed import broadcast_flag, gather_rows
from .options import MetricOptions
from .stats import FeatureStats, cache_path

CACHE_VERSION = 1
Detector = Callable[[torch.Tensor], torch.Tensor]


def _three_channels(images: torch.Tensor) -> torch.Tensor:
    return images.repeat([1, 3, 1, 1]) if images.shape[1] == 1 else images


def dataset_feature_stats(opts: MetricOptions, detector: Detector, detector_name: str, max_items: int | None = None,
                          batch_size: int = 64, dataset_overrides: dict | None = None, **capture) -> FeatureStats:
    """Features of the dataset's images (the first `max_items` of them), read from the cache when the same
    dataset content, options and detector weights were seen before. `capture` goes to FeatureStats."""
    dataset = opts.dataset(**(dataset_overrides or {}))
    num_items = len(dataset) if max_items is None else min(len(dataset), max_items)
    fingerprint = getattr(detector, "fingerprint", "")
    cache_file = None
    if opts.cache and fingerprint:
        key = dict(version=CACHE_VERSION, dataset=dataset.fingerprint(), xflip=dataset.xflip,
                   max_size=dataset.max_size, max_items=num_items, detector=fingerprint, capture=capture)
        cache_file = cache_path(opts.stats_cache_dir(), dataset.name, detector_name, key)
        if broadcast_flag(opts.rank == 0 and cache_file.is_file(), opts.num_gpus, opts.device):
            return FeatureStats.load(cache_file)

    stats = FeatureStats(max_items=num_items, **capture)
    share = [(i * opts.num_gpus + opts.rank) % num_items for i in range((num_items - 1) // opts.num_gpus + 1)]
    loader = torch.utils.data.DataLoader(dataset, sampler=share, batch_size=batch_size, num_workers=opts.num_workers)
    with tqdm(total=num_items, desc=f"dataset features ({detector_name})", unit="img",
              disable=not (opts.progress and opts.rank == 0)) as bar:
        for images, _labels in loader:
            with torch.no_grad():
                features = detector(_three_channels(images.to(opts.device)))
            before = stats.num_items
            stats.append(gather_rows(features, opts.num_gpus).cpu().numpy())
            bar.update(stats.num_items - before)
    if cache_file is not None and opts.rank == 0:
        stats.save(cache_file)
    return stats


def generated_images(G: torch.nn.Module, opts: MetricOptions, batch_gen: int, G_kwargs: dict,
                     z_gen: torch.Generator, labels) -> torch.Tensor:
    """One batch of generated images as uint8 [batch_gen, C, H, W], converted as the official tools do."""
    z = torch.randn([batch_gen, G.z_dim], generator=z_gen).to(opts.device)
    img = G(z, next(labels), **G_kwargs)
    return (img * 127.5 + 128).clamp(0, 255).to(torch.uint8)


def generator_feature_stats(opts: MetricOptions, detector: Detector, detector_name: str, max_items: int,
                            batch_size: int = 64, batch_gen: int | None = None, **capture) -> FeatureStats:
    """Features of `max_items` images from the generator (random latents, random dataset labels for
    conditional networks, random noise inputs as the official metrics use)."""
    batch_gen = batch_gen or min(batch_size, 4)
    G = copy.deepcopy(opts.G).eval().requires_grad_(False).to(opts.device)
    G_kwargs = {"noise_mode": "random", **opts.G_kwargs}
    labels = opts.label_sampler(batch_gen)
    z_gen = opts.torch_generator()
    stats = FeatureStats(max_items=max_items, **capture)
    devices = [opts.device] if opts.device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices), torch.no_grad(), \
            tqdm(total=max_items, desc=f"generator features ({detector_name})", unit="img",
                 disable=not (opts.progress and opts.rank == 0)) as bar:
        torch.manual_seed(opts.seed * opts.num_gpus + opts.rank)  # the noise inputs; restored afterwards
        while not stats.is_full():
            remaining = math.ceil((max_items - stats.num_items) / opts.num_gpus)
            chunks = min(batch_size, remaining + batch_gen - 1) // batch_gen
            images = torch.cat([generated_images(G, opts, batch_gen, G_kwargs, z_gen, labels) for _ in range(chunks)])
            features = detector(_three_channels(images))
            before = stats.num_items
            stats.append(gather_rows(features, opts.num_gpus).cpu().numpy())
            bar.update(stats.num_items - before)
    return stats
