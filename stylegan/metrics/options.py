"""What every metric needs: the generator, the dataset options, the device, the feature networks."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..data.dataset import ImageDataset, ToonFacesDataset, open_dataset
from ..errors import InputError
from ..nets import InceptionV3, VGG16, load_inception_net, load_vgg16_net
from .stats import cache_dir


@dataclass
class MetricOptions:
    """Inputs of a metric computation.

    `dataset_kwargs` are ImageDataset arguments (path, resolution, use_labels, xflip, max_size); each
    metric may override some (the *_full metrics use every image, unmirrored). `inception` and `vgg16`
    are loaded networks or weight-file paths (None: search the environment variable and the torch hub
    cache). `seed` makes the sampled latents, labels and transforms reproducible. With `num_gpus` > 1
    each of that many processes (one per GPU, torch.distributed initialised) computes a share.
    """
    G: nn.Module
    dataset_kwargs: dict | None = None
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    inception: InceptionV3 | str | Path | None = None
    vgg16: VGG16 | str | Path | None = None
    G_kwargs: dict = field(default_factory=dict)
    seed: int = 0
    cache: bool = True
    cache_dir: Path | None = None
    progress: bool = True
    num_workers: int = 2
    num_gpus: int = 1
    rank: int = 0

    def dataset(self, **overrides) -> ImageDataset | ToonFacesDataset:
        """The dataset, with `overrides` applied to its options."""
        if not self.dataset_kwargs or self.dataset_kwargs.get("path") is None:
            raise InputError("this metric compares with real images: give the dataset with --data ZIP|DIR")
        return open_dataset(**{**self.dataset_kwargs, **overrides})

    def inception_net(self) -> InceptionV3:
        if not isinstance(self.inception, nn.Module):
            self.inception = load_inception_net(self.inception)
        return self.inception.to(self.device)

    def vgg16_net(self) -> VGG16:
        if not isinstance(self.vgg16, nn.Module):
            self.vgg16 = load_vgg16_net(self.vgg16)
        return self.vgg16.to(self.device)

    def stats_cache_dir(self) -> Path:
        return Path(self.cache_dir) if self.cache_dir is not None else cache_dir()

    def torch_generator(self) -> torch.Generator:
        """A CPU random generator seeded with `seed` (one stream per process when on several GPUs)."""
        return torch.Generator().manual_seed(self.seed * self.num_gpus + self.rank)

    def label_sampler(self, batch_size: int):
        """Yield labels c [batch_size, c_dim] on the device: empty for unconditional generators, else
        labels of random dataset images (as the official metrics do)."""
        c_dim = self.G.c_dim
        if c_dim == 0:
            c = torch.zeros([batch_size, 0], device=self.device)
            while True:
                yield c
        dataset = self.dataset(max_size=None, xflip=False)
        if dataset.label_dim != c_dim:
            raise InputError(f"the network is conditional with {c_dim} classes but the dataset has "
                             f"{dataset.label_dim}-dimensional labels (is there a dataset.json?)")
        rng = np.random.RandomState(self.seed * self.num_gpus + self.rank)
        while True:
            labels = [dataset.get_label(rng.randint(len(dataset))) for _ in range(batch_size)]
            yield torch.from_numpy(np.stack(labels)).to(self.device)
