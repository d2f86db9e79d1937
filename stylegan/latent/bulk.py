"""Generation at scale: seeds sharded across processes (torchrun), resumable output, PNG folders or zips.

Seeds are cut into fixed batches of the global seed list and batch k goes to rank k % world_size, so every
image is computed in the same batch whatever the number of processes, and resumed runs recompute whole
batches: one process and N processes write byte-identical files.
"""
from __future__ import annotations

import contextlib
import io
import os
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import PIL.Image
from torch import nn
from tqdm import tqdm

from ..io.files import atomic_path
from ..io.images import save_png
from .generate import generate_for_seeds


@dataclass
class BulkStats:
    """What a bulk run did: images written and skipped, seconds, and this process's rank."""
    written: int
    skipped: int
    seconds: float
    rank: int
    world_size: int

    @property
    def images_per_second(self) -> float:
        """Images written per second of wall time."""
        return self.written / self.seconds if self.seconds > 0 else 0.0


def distributed_env() -> tuple[int, int, int]:
    """(rank, world_size, local_rank) from the variables torchrun sets; (0, 1, 0) otherwise."""
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)), int(os.environ.get("LOCAL_RANK", 0))


def shard(seeds: Sequence[int], batch_size: int, rank: int, world_size: int) -> list[list[int]]:
    """This rank's batches: batch k of the global seed list belongs to rank k % world_size."""
    batches = [list(seeds[i:i + batch_size]) for i in range(0, len(seeds), batch_size)]
    return batches[rank::world_size]


def image_name(seed: int) -> str:
    """The official file name of a seed's image."""
    return f"seed{seed:04d}.png"


def _png_bytes(image: np.ndarray) -> bytes:
    buf = io.BytesIO()
    PIL.Image.fromarray(image[:, :, 0] if image.shape[2] == 1 else image).save(buf, format="PNG")
    return buf.getvalue()


def generate_to_folder(G: nn.Module, seeds: Sequence[int], outdir: str | Path, truncation_psi: float = 1.0,
                       truncation_cutoff: int | None = None, class_idx: int | None = None, noise_mode: str = "const",
                       batch_size: int = 4, rank: int = 0, world_size: int = 1, as_zip: bool = False,
                       progress: bool = True, resume: bool = True) -> BulkStats:
    """Write this rank's share of `seeds` as seedNNNN.png files in `outdir` (each written atomically;
    existing ones are kept and skipped unless `resume` is False) or, with `as_zip`, into
    outdir/images-RRRRR-of-WWWWW.zip."""
    out = Path(outdir)
    batches = shard(seeds, batch_size, rank, world_size)
    zip_path = out / f"images-{rank:05d}-of-{world_size:05d}.zip"
    done: set[str] = set()
    if resume and as_zip and zip_path.exists():
        with zipfile.ZipFile(zip_path) as zf:
            done = set(zf.namelist())
    elif resume and not as_zip and out.exists():
        done = {p.name for p in out.iterdir()}
    todo = [b for b in batches if any(image_name(s) not in done for s in b)]
    skipped = sum(len(b) for b in batches) - sum(sum(image_name(s) not in done for s in b) for b in todo)
    start = time.perf_counter()
    written = 0
    bar = tqdm(total=sum(len(b) for b in todo), desc=f"rank {rank}" if world_size > 1 else "generating",
               unit="img", disable=not progress, leave=False)
    with atomic_path(zip_path) if as_zip else contextlib.nullcontext() as tmp:
        archive = zipfile.ZipFile(tmp, "w") if as_zip else None
        try:
            if archive is not None and done:
                with zipfile.ZipFile(zip_path) as old:
                    for name in old.namelist():
                        archive.writestr(name, old.read(name))
            for batch in todo:
                # Whole batches are recomputed so that every image comes out of the same computation.
                for seed, image in generate_for_seeds(G, batch, truncation_psi, truncation_cutoff, class_idx,
                                                      noise_mode, batch_size=len(batch)):
                    bar.update(1)
                    if image_name(seed) in done:
                        continue
                    if archive is not None:
                        archive.writestr(image_name(seed), _png_bytes(image))
                    else:
                        save_png(image, out / image_name(seed))
                    written += 1
        finally:
            if archive is not None:
                archive.close()
            bar.close()
    return BulkStats(written, skipped, time.perf_counter() - start, rank, world_size)

