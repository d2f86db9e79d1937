"""Process-count-independent randomness for training.

Real images: one global order over the dataset (a seeded permutation per pass), cut into global batches;
each process takes its chunks of every batch. Random numbers: the generator is reseeded for every
(step, phase, chunk) from the run seed, so a chunk draws the same z, noise and augmentation whichever
process computes it. One process with batch B and N processes with batch B / N each therefore see the
same data and the same random numbers, and a resumed run continues the same streams.
"""
from __future__ import annotations

from typing import Iterator

import numpy as np
import torch


def chunk_seed(seed: int, step: int, phase: int, chunk: int) -> int:
    """A 63-bit seed for one (step, phase, chunk) of a run."""
    return int(np.random.SeedSequence([seed, step, phase, chunk]).generate_state(2, np.uint64)[0] >> np.uint64(1))


def reseed(seed: int, step: int, phase: int, chunk: int) -> np.random.Generator:
    """Reseed torch's generators (CPU and CUDA) for one chunk and return a numpy generator for it."""
    s = chunk_seed(seed, step, phase, chunk)
    torch.manual_seed(s)
    return np.random.default_rng(s)


class GlobalOrder:
    """The dataset index of every position in the endless stream of training images."""

    def __init__(self, size: int, seed: int):
        self.size, self.seed = size, seed
        self._cache: dict[int, np.ndarray] = {}

    def __getitem__(self, position: int) -> int:
        epoch, offset = divmod(position, self.size)
        if epoch not in self._cache:
            self._cache = {epoch: np.random.RandomState([self.seed, epoch]).permutation(self.size)}
        return int(self._cache[epoch][offset])


class ChunkSampler(torch.utils.data.Sampler):
    """Indices for one process: from global batch `start` on, its chunks of each batch, in order."""

    def __init__(self, size: int, seed: int, batch: int, chunk: int, rank: int, world_size: int, start: int = 0):
        self.order = GlobalOrder(size, seed)
        self.batch, self.chunk, self.start = batch, chunk, start
        per_rank = batch // world_size
        self.chunks = range(rank * per_rank // chunk, (rank + 1) * per_rank // chunk)

    def __iter__(self) -> Iterator[int]:
        step = self.start
        while True:
            base = step * self.batch
            for c in self.chunks:
                for k in range(c * self.chunk, (c + 1) * self.chunk):
                    yield self.order[base + k]
            step += 1

    def __len__(self) -> int:  # endless; DataLoader only needs a number
        return 2 ** 62
