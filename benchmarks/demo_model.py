"""Evidence for a model card: the loss curve of a training run, a nearest-neighbour check that samples
are not copies of training images, the discriminator's view of training and held-out faces, what
style mixing takes from each parent, and how much the per-pixel noise varies the images.

    python -m benchmarks.demo_model [--run RUN_DIR] [--data toonfaces-64x64.zip] [--network SNAPSHOT]
                                    [--out nn.png] [--no-coverage]

Without --run the loss curve is left out, without --data the nearest-neighbour and discriminator checks.

The check compares, at 32x32, each of 64 generated faces (psi 1 and 0.7) and 64 held-out dataset faces
(`builtin:toonfaces` indices after the training images) with its nearest training image. A model that
copies its training data has generated faces much closer to the training set than held-out real ones.

Given a run snapshot (which holds D), the discriminator scores 256 training images, 256 held-out faces
and 256 generated ones: a D that has memorised its training set scores held-out faces well below the
training ones (the overfitting that ADA counters); a D that merely wins scores both alike.

The mixing check renders 64 pairs (A, B) at psi 0.7 and, for each band, A with B's coarse / middle / fine
styles (and, in a second table, with one of B's ws at a time). It then asks which parent the child
resembles in shape (the edge map of the luminance, blind to hue) and in colour (a 4x4x4 RGB histogram,
blind to where the colours are): B's share is d(child, A) / (d(child, A) + d(child, B)), 0 = all from A,
1 = all from B. Coarse mixing should take shape from B and colour from A; fine mixing the reverse. The
same shares for dataset faces whose factors of one scale are swapped (`toonfaces.FACTOR_SCALES`) show what
a perfect split of this data looks like. For StyleGAN2 a third table swaps the style of one layer at a
time, which tells a block's toRGB layer from the next block's first convolution, which shares its w.

The stochastic-variation check renders 8 faces (psi 0.7) with 16 draws of the per-layer noise each and
takes every pixel's standard deviation over the draws (0-255, averaged over RGB): its mean, median and
99th percentile over pixels and faces, and the share of the variation finer than 3x3 pixels. The same
statistic of the dataset's film grain (16 grain draws on 8 faces, everything else fixed) is what the noise
inputs could carry at most at the finest scale.

For 64² networks the coverage checks of `benchmarks.demo_coverage` follow (factor histograms against the
data, shape diversity, bottom row), then the demo model's goals, each measured and marked met or not.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from stylegan.data.dataset import ImageDataset
from stylegan.data.toonfaces import FACTOR_SCALES, toonface, toonface_factors
from stylegan import load_networks
from stylegan.io import make_grid, save_png, to_uint8
from stylegan.latent import mix, seeds_to_ws, style_ranges
from stylegan.latent.generate import render
from stylegan.models.noise import random_noise

from .demo_coverage import coverage, print_coverage

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


def _edges(images: np.ndarray) -> torch.Tensor:
    """uint8 [N, H, W, C] -> [N, D]: Sobel edge magnitude of the luminance, each image scaled to sum 1."""
    gray = torch.from_numpy(images).float().mean(dim=3, keepdim=True).permute(0, 3, 1, 2)
    sobel = torch.tensor([[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]])
    kernels = torch.stack([sobel, sobel.T])[:, None]
    edges = F.conv2d(gray, kernels, padding=1).square().sum(1).sqrt().flatten(1)
    return edges / edges.sum(1, keepdim=True).clamp(min=1e-8)


def _colours(images: np.ndarray, bins: int = 4) -> torch.Tensor:
    """uint8 [N, H, W, C] -> [N, bins**3]: the normalised joint RGB histogram."""
    q = torch.from_numpy(images[..., :3]).long() * bins // 256
    codes = (q[..., 0] * bins + q[..., 1]) * bins + q[..., 2]
    hist = F.one_hot(codes.flatten(1), bins ** 3).sum(1).float()
    return hist / hist.sum(1, keepdim=True)


def _shares(a: np.ndarray, b: np.ndarray, child: np.ndarray) -> dict[str, float]:
    """B's median share in the shape and in the colours of the children (all uint8 [N, H, W, C])."""
    shares = {}
    for name, describe in (("shape", _edges), ("colour", _colours)):
        c, da, db = describe(child), describe(a), describe(b)
        to_a, to_b = (c - da).abs().sum(1), (c - db).abs().sum(1)
        shares[name] = float((to_a / (to_a + to_b).clamp(min=1e-8)).median())
    return shares


def mixing_shares(G: torch.nn.Module, pairs: int = 64, psi: float = 0.7, first_face: int = 90_000) -> list[dict]:
    """Per style band: B's share of shape and colour in A-with-B's-band children of G, and in dataset faces
    (from `first_face` on) with B's factors of the matching scale."""
    ws_a, ws_b = seeds_to_ws(G, range(pairs), psi), seeds_to_ws(G, range(1000, 1000 + pairs), psi)
    with torch.no_grad():
        a, b = render(G, ws_a), render(G, ws_b)
    faces = [(first_face + 2 * i, first_face + 2 * i + 1) for i in range(pairs)]
    face_a = np.stack([toonface(i, G.img_resolution) for i, _ in faces])
    face_b = np.stack([toonface(j, G.img_resolution) for _, j in faces])
    factors_b = [toonface_factors(j) for _, j in faces]
    rows = []
    for band, layers in style_ranges(G).items():
        if not layers:
            continue
        with torch.no_grad():
            ours = _shares(a, b, render(G, mix(ws_a, ws_b, layers)))
        swapped = np.stack([toonface(i, G.img_resolution, {k: b_factors[k] for k in FACTOR_SCALES[band]})
                            for (i, _), b_factors in zip(faces, factors_b)])
        data = _shares(face_a, face_b, swapped)
        rows.append({"band": band, "ws": f"{layers[0]}-{layers[-1]}", "shape from B": f"{ours['shape']:.2f}",
                     "colour from B": f"{ours['colour']:.2f}", "dataset: shape": f"{data['shape']:.2f}",
                     "dataset: colour": f"{data['colour']:.2f}"})
    return rows


def _variation(stacks: list[np.ndarray]) -> dict[str, str]:
    """Per-pixel standard deviation over draws ([draws, H, W, C] each; averaged over RGB): mean, median and
    99th percentile over pixels, and how much of the deviation from the mean image is finer than 3x3 (the
    share left after subtracting a 3x3 box blur: near 1 for pixel-level grain, small for blotches)."""
    std = np.concatenate([x.astype(np.float64).std(axis=0).mean(axis=-1).ravel() for x in stacks])
    fine, total = 0.0, 0.0
    for x in stacks:
        d = torch.from_numpy(x - x.mean(axis=0, keepdims=True)).permute(0, 3, 1, 2)
        blurred = F.avg_pool2d(F.pad(d, (1, 1, 1, 1), mode="replicate"), 3, stride=1)
        fine, total = fine + float((d - blurred).square().sum()), total + float(d.square().sum())
    return {"mean std": f"{std.mean():.1f}", "median": f"{np.median(std):.1f}",
            "99th percentile": f"{np.percentile(std, 99):.1f}", "finer than 3x3": f"{np.sqrt(fine / total):.2f}"}


def noise_variation(G: torch.nn.Module, faces: int = 8, draws: int = 16, psi: float = 0.7) -> list[dict]:
    """The per-pixel standard deviation of G's images over noise draws, and of the dataset's grain."""
    generator = torch.Generator().manual_seed(0)
    ws = seeds_to_ws(G, range(faces), psi)
    stacks = []
    for i in range(faces):
        with torch.no_grad():
            images = render(G, ws[i:i + 1].expand(draws, -1, -1), noise=random_noise(G, draws, generator))
        stacks.append(images.astype(np.float64))
    rng = np.random.default_rng(0)
    grain = []
    for i in range(faces):
        base = toonface(i, G.img_resolution, {"grain": 0}).astype(np.float64)
        sigma = toonface_factors(i)["grain"]
        noise = rng.normal(0, sigma, (draws, *base.shape[:2], 1))
        grain.append(np.clip(np.rint(base[None] + noise), 0, 255))
    return [{"images": f"model, {draws} noise draws", **_variation(stacks)},
            {"images": f"dataset, {draws} grain draws", **_variation(grain)}]


def single_w_shares(G: torch.nn.Module, pairs: int = 64, psi: float = 0.7) -> list[dict]:
    """B's share of shape and colour when A takes only one of B's ws, for each w index: which layers carry
    what (in StyleGAN2 w i drives a block's convolution and, for odd i, the toRGB layer before it)."""
    ws_a, ws_b = seeds_to_ws(G, range(pairs), psi), seeds_to_ws(G, range(1000, 1000 + pairs), psi)
    with torch.no_grad():
        a, b = render(G, ws_a), render(G, ws_b)
        shares = [_shares(a, b, render(G, mix(ws_a, ws_b, [i]))) for i in range(G.num_ws)]
    return [{"w": i, "shape from B": f"{x['shape']:.2f}", "colour from B": f"{x['colour']:.2f}"}
            for i, x in enumerate(shares)]


def synthesis_layers(G: torch.nn.Module) -> list[tuple[str, torch.nn.Module, int]]:
    """A StyleGAN2 generator's modulated layers in the order they run: (name, module, index of the w it
    takes); a block's first convolution shares its w with the toRGB layer of the block before it."""
    layers, w = [], 0
    for res in G.synthesis.block_resolutions:
        block = getattr(G.synthesis, f"b{res}")
        convs = ["conv1"] if block.in_channels == 0 else ["conv0", "conv1"]
        for name in convs:
            layers.append((f"b{res}.{name}", getattr(block, name), w))
            w += 1
        if hasattr(block, "torgb"):
            layers.append((f"b{res}.torgb", block.torgb, w))
    return layers


def single_layer_shares(G: torch.nn.Module, pairs: int = 64, psi: float = 0.7) -> list[dict]:
    """B's share of shape and colour when one layer of A's StyleGAN2 synthesis takes B's style (the other
    layer on the same w keeps A's): tells a block's toRGB layer from the convolution that shares its w."""
    ws_a, ws_b = seeds_to_ws(G, range(pairs), psi), seeds_to_ws(G, range(1000, 1000 + pairs), psi)
    with torch.no_grad():
        a, b = to_uint8(G.synthesis(ws_a, noise_mode="const")), to_uint8(G.synthesis(ws_b, noise_mode="const"))
    rows = []
    for name, layer, w in synthesis_layers(G):
        swap = layer.register_forward_pre_hook(lambda module, args, w=w: (args[0], ws_b[:, w], *args[2:]))
        try:
            with torch.no_grad():
                child = to_uint8(G.synthesis(ws_a, noise_mode="const"))
        finally:
            swap.remove()
        x = _shares(a, b, child)
        rows.append({"layer": name, "w": w, "shape from B": f"{x['shape']:.2f}", "colour from B": f"{x['colour']:.2f}"})
    return rows


def _scores(D: torch.nn.Module, images: np.ndarray, batch: int = 32) -> torch.Tensor:
    """D's logits for uint8 [N, H, W, C] images."""
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 127.5 - 1
    with torch.no_grad():
        return torch.cat([D(x[i:i + batch], None).flatten() for i in range(0, len(x), batch)])


def discriminator_rows(D: torch.nn.Module, train_images: np.ndarray, held_out: np.ndarray,
                       generated: np.ndarray) -> list[dict]:
    """Mean logit and mean sign of D on each set (the sign on training images is ADA's r_t)."""
    rows = []
    for label, images in (("training images", train_images), ("held-out faces", held_out), ("generated", generated)):
        s = _scores(D, images)
        rows.append({"set": label, "mean logit": f"{s.mean():.2f}", "mean sign": f"{s.sign().mean():.2f}"})
    return rows


def goal_rows(mixing: list[dict], noise: list[dict], found: dict) -> list[dict]:
    """The demo model's goals (issue 35) against what was measured: mixing rows, noise rows and the result
    of `demo_coverage.coverage`."""
    share = {(r["band"], kind): float(r[f"{kind} from B"]) for r in mixing for kind in ("shape", "colour")}
    ours, theirs = found["diversity"]
    checks = [
        ("shape diversity >= 0.85 of the data's", ours / theirs, ours / theirs >= 0.85),
        ("every coarse factor's TV <= 0.15", found["max TV"], found["max TV"] <= 0.15),
        ("coarse mixing: B's shape >= 0.45", share["coarse", "shape"], share["coarse", "shape"] >= 0.45),
        ("coarse shape share > middle's", share["coarse", "shape"] - share["middle", "shape"],
         share["coarse", "shape"] > share["middle", "shape"]),
        ("fine mixing: B's colours >= 0.65", share["fine", "colour"], share["fine", "colour"] >= 0.65),
        ("coarse mixing: B's colours <= 0.25", share["coarse", "colour"], share["coarse", "colour"] <= 0.25),
        ("noise: mean per-pixel std >= 9", float(noise[0]["mean std"]), float(noise[0]["mean std"]) >= 9),
    ]
    return [{"goal": goal, "measured": f"{value:.2f}", "met": "yes" if met else "NO"} for goal, value, met in checks]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, default=None, help="Training run folder (stats.jsonl)")
    parser.add_argument("--data", type=Path, default=None, help="The training dataset zip")
    parser.add_argument("--network", default=None, help="Model to check  [default: builtin:demo]")
    parser.add_argument("--every-kimg", type=float, default=20)
    parser.add_argument("--out", type=Path, default=None, help="PNG of samples above their nearest training image")
    parser.add_argument("--no-coverage", action="store_true", help="Leave out the coverage checks (demo_coverage)")
    args = parser.parse_args()
    nets = load_networks(args.network or "builtin:demo")
    G = nets["G_ema"].eval()
    if args.run is not None:
        print_table(loss_curve(args.run, args.every_kimg))
    if args.data is not None:
        nearest_and_discriminator(G, nets.get("D"), args.data, args.out)
    print("Style mixing, A with B's styles in one band (B's share: 0 = like A, 1 = like B):")
    mixing = mixing_shares(G)
    print_table(mixing)
    print("The same for one w at a time:")
    print_table(single_w_shares(G))
    if G.generation == 2:
        print("The same for one layer at a time:")
        print_table(single_layer_shares(G))
    print("Stochastic variation: per-pixel standard deviation over draws (0-255):")
    noise = noise_variation(G)
    print_table(noise)
    if G.img_resolution == 64 and not args.no_coverage:
        found = coverage(G)
        print_coverage(found)
        print("Goals:")
        print_table(goal_rows(mixing, noise, found))


def nearest_and_discriminator(G: torch.nn.Module, D: torch.nn.Module | None, data: Path, out: Path | None) -> None:
    """Print the nearest-training-image distances and, with D, its logits on training/held-out/generated."""
    dataset = ImageDataset(data, xflip=True)  # mirrored copies count as training images too
    train_images = np.stack([dataset[i][0].transpose(1, 2, 0) for i in range(len(dataset))])
    train = _small(train_images)
    rows = []
    for label, psi in (("generated, psi 1", 1.0), ("generated, psi 0.7", 0.7)):
        with torch.no_grad():
            images = render(G, seeds_to_ws(G, range(64), psi))
        dist, idx = nearest(_small(images), train)
        rows.append(dict(set=label, median=f"{dist.median():.1f}", min=f"{dist.min():.1f}"))
        if psi == 1.0 and out is not None:
            pairs = np.concatenate([images[:16], train_images[idx[:16].numpy()]])
            save_png(make_grid(pairs, 16), out)
    first_unseen = len(dataset.image_names)  # the dataset tool wrote faces 0 .. N-1
    held_out = np.stack([toonface(first_unseen + i, G.img_resolution) for i in range(256)])
    dist, _ = nearest(_small(held_out[:64]), train)
    rows.append(dict(set="held-out dataset faces", median=f"{dist.median():.1f}", min=f"{dist.min():.1f}"))
    print("RMS pixel distance (0-255) to the nearest of", len(dataset), "training images, at 32x32:")
    print_table(rows)
    if D is not None:
        pick = np.random.default_rng(0).choice(len(train_images), 256, replace=False)
        with torch.no_grad():
            generated = render(G, seeds_to_ws(G, range(256), 1.0))
        print("Discriminator logits (positive = real):")
        print_table(discriminator_rows(D.eval(), train_images[pick], held_out, generated))


if __name__ == "__main__":
    main()
