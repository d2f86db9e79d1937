"""Evidence for a model card: the loss curve of a training run, and a nearest-neighbour check that samples
are not copies of training images.

    python -m benchmarks.demo_model --run RUN_DIR --data toonfaces-64x64.zip [--network SNAPSHOT] [--out nn.png]

The check compares, at 32x32, each of 64 generated faces (psi 1 and 0.7) and 64 held-out dataset faces
(`builtin:toonfaces` indices after the training images) with its nearest training image. A model that
copies its training data has generated faces much closer to the training set than held-out real ones.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

import stylegan
from stylegan.generate import render
from stylegan.io import make_grid, save_png
from stylegan.latent import seeds_to_ws
from stylegan.toonfaces import toonface
from stylegan.train.dataset import ImageDataset

COMPARE_AT = 32


def loss_curve(run_dir: Path, every_kimg: float) -> list[dict]:
    """One row per `every_kimg` of training: kimg, G loss, D loss, R1 penalty, PL penalty (tick means)."""
    rows, next_kimg = [], 0.0
    for line in (run_dir / "stats.jsonl").read_text().splitlines():
        stats = json.loads(line)
        kimg = float(stats["Progress/kimg"])
        if kimg + 1e-9 < next_kimg:
            continue
        next_kimg = kimg + every_kimg
        rows.append({"kimg": f"{kimg:.0f}"} | {name: f"{stats[key]['mean']:.3f}" for name, key in (
            ("G loss", "Loss/G/loss"), ("D loss", "Loss/D/loss"), ("R1", "Loss/r1_penalty"),
            ("PL", "Loss/pl_penalty")) if key in stats})
    return rows


def print_table(rows: list[dict]) -> None:
    """Print dict rows as aligned columns under their keys."""
    if not rows:
        print("(no rows)")
        return
    widths = {k: max(len(k), *(len(str(r.get(k, ""))) for r in rows)) + 2 for k in rows[0]}
    print("".join(k.rjust(w) for k, w in widths.items()))
    for r in rows:
        print("".join(str(r.get(k, "")).rjust(w) for k, w in widths.items()))


def _small(images: np.ndarray) -> torch.Tensor:
    """uint8 [N, H, W, C] -> float [N, D] at COMPARE_AT x COMPARE_AT."""
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float()
    return F.interpolate(x, size=(COMPARE_AT, COMPARE_AT), mode="area").flatten(1)


def nearest(queries: torch.Tensor, train: torch.Tensor, chunk: int = 4096) -> tuple[torch.Tensor, torch.Tensor]:
    """RMS pixel distance (0-255 scale) from each query to its nearest training image, and that image's index."""
    best = torch.full([len(queries)], float("inf"))
    index = torch.zeros([len(queries)], dtype=torch.long)
    for start in range(0, len(train), chunk):
        d = torch.cdist(queries, train[start:start + chunk])
        value, where = d.min(dim=1)
        better = value < best
        best[better], index[better] = value[better], where[better] + start
    return best / np.sqrt(queries.shape[1]), index


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, required=True, help="Training run folder (stats.jsonl)")
    parser.add_argument("--data", type=Path, required=True, help="The training dataset zip")
    parser.add_argument("--network", default=None, help="Model to check  [default: builtin:demo]")
    parser.add_argument("--every-kimg", type=float, default=20)
    parser.add_argument("--out", type=Path, default=None, help="PNG of samples above their nearest training image")
    args = parser.parse_args()

    print_table(loss_curve(args.run, args.every_kimg))
    dataset = ImageDataset(args.data, xflip=True)  # mirrored copies count as training images too
    train_images = np.stack([dataset[i][0].transpose(1, 2, 0) for i in range(len(dataset))])
    train = _small(train_images)
    G = stylegan.load(args.network or "builtin:demo")
    rows = []
    for label, psi in (("generated, psi 1", 1.0), ("generated, psi 0.7", 0.7)):
        with torch.no_grad():
            images = render(G, seeds_to_ws(G, range(64), psi))
        dist, idx = nearest(_small(images), train)
        rows.append(dict(set=label, median=f"{dist.median():.1f}", min=f"{dist.min():.1f}"))
        if psi == 1.0 and args.out is not None:
            pairs = np.concatenate([images[:16], train_images[idx[:16].numpy()]])
            save_png(make_grid(pairs, 16), args.out)
    first_unseen = len(dataset.image_names)  # the dataset tool wrote faces 0 .. N-1
    held_out = np.stack([toonface(first_unseen + i, G.img_resolution) for i in range(64)])
    dist, _ = nearest(_small(held_out), train)
    rows.append(dict(set="held-out dataset faces", median=f"{dist.median():.1f}", min=f"{dist.min():.1f}"))
    print("RMS pixel distance (0-255) to the nearest of", len(dataset), "training images, at 32x32:")
    print_table(rows)


if __name__ == "__main__":
    main()
