"""Does a toonfaces generator cover its data? A factor classifier, factor histograms, shape diversity and the
bottom-row check.

    python -m benchmarks.demo_coverage [--network SNAPSHOT] [--samples 1000] [--figure side-by-side.png]
    python -m benchmarks.demo_coverage --probe turn|tilt [--network SNAPSHOT]

The classifier is a small CNN trained on procedurally drawn faces (`builtin:toonfaces` indices 50,000 on,
never training images) to read each face's coarse factors back from its pixels: hair style, head size,
head shape (squareness) and length, tilt, turn, how much shirt shows, and glasses (a middle factor). Its
held-out accuracy per factor is printed with everything it is used for; it is trained once (about two
minutes on one core) and cached under `$STYLEGAN_CACHE/benchmarks/`.

Coverage: the classifier's factor histograms of `--samples` generated faces (psi 1) against as many dataset
faces (training indices 0 on), and the total variation distance between the two per factor (0 = the same
histogram, 1 = disjoint). A model that dropped a hair style or always draws the same pose shows it here.

Shape diversity: 128 generated faces (psi 1) and 128 dataset faces as Sobel edge maps of the luminance at
32x32 (each scaled to sum 1), mean pairwise L1 distance within each set; the ratio generated / data is 1 for
a model as varied in outline as its data, lower for one that draws the same head every time.

`--figure` writes 32 generated faces (psi 1, seeds 0-31) beside the first 32 dataset faces, 4 rows of 8 each.

Outline change per w: for 32 pairs (A, B) at psi 1, how far A's edge map moves (L1, as above) when A takes
B's w at one index only: which layers decide the outline (a generator whose coarse ws move it little cannot
carry head shape, hair silhouette or pose in coarse style mixing).

Probe (`--probe turn`): whether the model can draw the end of a pose factor its samples lack, by moving
faces of the middle class along the w direction from the middle to the other end and beyond (see
`direction_probe`).

Bottom row: over 64 faces (psi 1), the mean absolute per-pixel difference (0-255) between the last two pixel
rows and between the first two, per RGB channel, for the model and for dataset faces.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from stylegan.data.toonfaces import DRAWING_VERSION, HAIR_STYLES, GLASSES, toonface, toonface_factors
from stylegan import load_networks
from stylegan.latent.generate import render
from stylegan.hub.cache import cache_root
from stylegan.io import make_grid, save_png
from stylegan.latent import mix, seeds_to_ws

from .machine import describe

CLASSIFIER_VERSION = 1  # raised with any change to the factors, the network or its training
FIRST_CLASSIFIER_FACE = 50_000  # classifier faces come from here on: never among the demo's training images
TRAIN_FACES, TEST_FACES = 12_000, 1_000
EDGES_AT = 32

FACTORS: dict[str, tuple[str, ...]] = {
    "hair": HAIR_STYLES,
    "head size": ("small", "medium", "large"),
    "head shape": ("round", "square"),
    "head length": ("wide", "long"),
    "tilt": ("left", "upright", "right"),
    "turn": ("left", "front", "right"),
    "shirt": ("little", "some", "much"),
    "glasses": GLASSES,
}
MIRRORED = ("tilt", "turn")  # factors whose classes swap ends when the image is flipped left-right


def factor_classes(f: dict) -> dict[str, int]:
    """The class index of each of FACTORS for a face's factors (as `toonface_factors` gives them)."""
    shirt = 1.0 - (f["cy"] + 1.05 * f["head_h"])  # canvas height below the top of the shoulders
    return {
        "hair": HAIR_STYLES.index(f["hair"]),
        "head size": int(np.digitize(f["head_w"], [0.27, 0.30])),
        "head shape": int(f["squareness"] >= 2.6),
        "head length": int(f["head_h"] / f["head_w"] >= 1.2),
        "tilt": int(np.digitize(f["tilt"], [-6.0, 6.0])),
        "turn": int(np.digitize(f["turn"], [-1 / 3, 1 / 3])),
        "shirt": int(np.digitize(shirt, [0.11, 0.17])),
        "glasses": GLASSES.index(f["glasses"]),
    }


class FactorNet(nn.Module):
    """A small CNN: 64x64 RGB in [-1, 1] -> one logit vector per factor (concatenated)."""

    def __init__(self) -> None:
        super().__init__()
        layers, channels = [], 3
        for width in (32, 64, 96, 128):
            layers += [nn.Conv2d(channels, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(),
                       nn.Conv2d(width, width, 3, stride=2, padding=1), nn.BatchNorm2d(width), nn.ReLU()]
            channels = width
        self.features = nn.Sequential(*layers, nn.Flatten(), nn.Linear(128 * 16, 256), nn.ReLU(), nn.Dropout(0.2))
        self.head = nn.Linear(256, sum(len(c) for c in FACTORS.values()))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Per factor, logits [N, classes]."""
        return list(self.head(self.features(x)).split([len(c) for c in FACTORS.values()], dim=1))


def _to_input(images: np.ndarray) -> torch.Tensor:
    """uint8 [N, H, W, C] -> float [N, C, 64, 64] in [-1, 1]."""
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 127.5 - 1
    return x if x.shape[-1] == 64 else F.interpolate(x, size=(64, 64), mode="area")


def _faces(indices: range) -> tuple[np.ndarray, np.ndarray]:
    """Dataset faces at 64² and their factor classes [N, len(FACTORS)]."""
    images = np.stack([toonface(i, 64) for i in indices])
    labels = np.array([list(factor_classes(toonface_factors(i)).values()) for i in indices])
    return images, labels


def _mirror_labels(labels: torch.Tensor) -> torch.Tensor:
    """The classes of the left-right flipped faces."""
    out = labels.clone()
    for name in MIRRORED:
        k = list(FACTORS).index(name)
        out[:, k] = len(FACTORS[name]) - 1 - labels[:, k]
    return out


def train_classifier(epochs: int = 6, batch: int = 64, seed: int = 0) -> tuple[FactorNet, dict[str, float]]:
    """Train FactorNet on procedurally drawn faces (mirrored at random); returns it and its held-out accuracy
    per factor (on TEST_FACES faces it never saw)."""
    torch.manual_seed(seed)
    images, labels = _faces(range(FIRST_CLASSIFIER_FACE, FIRST_CLASSIFIER_FACE + TRAIN_FACES))
    x, y = _to_input(images), torch.from_numpy(labels)
    net = FactorNet()
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    steps = epochs * (len(x) // batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=steps)
    generator = torch.Generator().manual_seed(seed)
    net.train()
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=generator)
        for start in range(0, len(x) - batch + 1, batch):
            xb, yb = x[order[start:start + batch]], y[order[start:start + batch]]
            flip = torch.rand(len(xb), generator=generator) < 0.5
            xb = torch.where(flip[:, None, None, None], xb.flip(3), xb)
            yb = torch.where(flip[:, None], _mirror_labels(yb), yb)
            loss = sum(F.cross_entropy(logits, yb[:, k]) for k, logits in enumerate(net(xb)))
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    net.eval()
    test_images, test_labels = _faces(range(FIRST_CLASSIFIER_FACE + TRAIN_FACES,
                                            FIRST_CLASSIFIER_FACE + TRAIN_FACES + TEST_FACES))
    predicted = classify(net, test_images)
    accuracy = {name: float((predicted[:, k] == test_labels[:, k]).mean()) for k, name in enumerate(FACTORS)}
    return net, accuracy


def load_classifier() -> tuple[FactorNet, dict[str, float]]:
    """The cached factor classifier and its held-out accuracy, trained and cached on first use."""
    path = cache_root() / "benchmarks" / f"toonface-factors-d{DRAWING_VERSION}-v{CLASSIFIER_VERSION}.pt"
    if path.is_file():
        saved = torch.load(path, weights_only=True)
        net = FactorNet()
        net.load_state_dict(saved["state"])
        return net.eval(), dict(zip(FACTORS, saved["accuracy"].tolist()))
    net, accuracy = train_classifier()
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state": net.state_dict(), "accuracy": torch.tensor(list(accuracy.values()))}, path)
    return net, accuracy


def classify(net: FactorNet, images: np.ndarray, batch: int = 250) -> np.ndarray:
    """Predicted class per factor, int [N, len(FACTORS)], for uint8 images [N, H, W, C]."""
    out = []
    with torch.no_grad():
        for start in range(0, len(images), batch):
            logits = net(_to_input(images[start:start + batch]))
            out.append(torch.stack([lg.argmax(1) for lg in logits], dim=1))
    return torch.cat(out).numpy()


def histograms(classes: np.ndarray) -> dict[str, np.ndarray]:
    """Per factor, the share of each class among the rows of `classes` [N, len(FACTORS)]."""
    return {name: np.bincount(classes[:, k], minlength=len(FACTORS[name])) / len(classes)
            for k, name in enumerate(FACTORS)}


def coverage_rows(generated: np.ndarray, data: np.ndarray, accuracy: dict[str, float]) -> list[dict]:
    """One row per factor: held-out accuracy, class shares of data and generated faces (predicted classes
    [N, len(FACTORS)] each) and their total variation distance."""
    hg, hd = histograms(generated), histograms(data)
    return [{"factor": name, "accuracy": f"{accuracy[name]:.2f}",
             "data": " ".join(f"{c}:{p:.2f}" for c, p in zip(FACTORS[name], hd[name])),
             "generated": " ".join(f"{p:.2f}" for p in hg[name]),
             "TV": f"{0.5 * np.abs(hg[name] - hd[name]).sum():.2f}"} for name in FACTORS]


def edge_maps(images: np.ndarray) -> torch.Tensor:
    """uint8 [N, H, W, C] -> [N, EDGES_AT**2]: Sobel magnitude of the luminance at EDGES_AT², summing to 1."""
    gray = torch.from_numpy(images).float().mean(dim=3, keepdim=True).permute(0, 3, 1, 2)
    gray = F.interpolate(gray, size=(EDGES_AT, EDGES_AT), mode="area")
    sobel = torch.tensor([[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]])
    edges = F.conv2d(F.pad(gray, (1, 1, 1, 1), mode="replicate"), torch.stack([sobel, sobel.T])[:, None])
    edges = edges.square().sum(1).sqrt().flatten(1)
    return edges / edges.sum(1, keepdim=True).clamp(min=1e-8)


def shape_diversity(images: np.ndarray) -> float:
    """Mean pairwise L1 distance between the edge maps of uint8 images [N, H, W, C]."""
    e = edge_maps(images)
    d = torch.cdist(e, e, p=1)
    n = len(e)
    return float(d.sum() / (n * (n - 1)))


def outline_change_per_w(G: nn.Module, pairs: int = 32) -> list[float]:
    """Mean L1 change of A's edge map when A takes B's w at one index, for each w index (psi 1)."""
    ws_a, ws_b = seeds_to_ws(G, range(pairs), 1.0), seeds_to_ws(G, range(1000, 1000 + pairs), 1.0)
    with torch.no_grad():
        base = edge_maps(render(G, ws_a))
        return [float((edge_maps(render(G, mix(ws_a, ws_b, [i]))) - base).abs().sum(1).mean())
                for i in range(G.num_ws)]


def bottom_row(images: np.ndarray) -> dict[str, np.ndarray]:
    """Mean absolute per-pixel difference (0-255, per RGB channel) between the last two and the first two
    pixel rows of uint8 images [N, H, W, C]."""
    x = images.astype(np.float64)
    return {"last two rows": np.abs(x[:, -1] - x[:, -2]).mean(axis=(0, 1)),
            "first two rows": np.abs(x[:, 1] - x[:, 0]).mean(axis=(0, 1))}


def coverage(G: nn.Module, samples: int = 1000, diversity_faces: int = 128) -> dict:
    """Every check of this module for G: coverage rows, the shape-diversity ratio and the bottom-row rows."""
    net, accuracy = load_classifier()
    with torch.no_grad():
        generated = render(G, seeds_to_ws(G, range(samples), 1.0), batch_size=50)
    data = np.stack([toonface(i, G.img_resolution) for i in range(samples)])
    rows = coverage_rows(classify(net, generated), classify(net, data), accuracy)
    n = diversity_faces
    ours, theirs = shape_diversity(generated[:n]), shape_diversity(data[:n])
    border = []
    for label, images in (("generated (psi 1)", generated[:64]), ("dataset", data[:64])):
        b = bottom_row(images)
        border.append({"faces": label} | {k: " ".join(f"{v:.1f}" for v in values) for k, values in b.items()})
    return {"rows": rows, "diversity": (ours, theirs), "border": border, "side by side": (generated[:32], data[:32]),
            "max TV": max(float(r["TV"]) for r in rows if r["factor"] != "glasses")}


def direction_probe(G: nn.Module, factor: str, samples: int = 3000, steps: tuple[float, ...] = (-3, -2, -1, 1, 2),
                    moved: int = 500) -> list[dict]:
    """Does G draw the far end of an ordered three-class factor (tilt, turn) that its samples lack? From
    `samples` faces (psi 1), d = mean w of those read as class 0 minus mean w of those read as class 1 (the
    middle); up to `moved` middle faces are moved by a * d for each a in `steps`. Rows: the factor's class
    shares after the move, and the share of the other factors' readings that the move changed. Moving
    against d (a < 0) past the middle is how a model with a linear axis would reach class 2."""
    if factor not in MIRRORED:
        raise ValueError(f"--probe takes an ordered factor: {', '.join(MIRRORED)}")
    net, _ = load_classifier()
    k = list(FACTORS).index(factor)
    ws = seeds_to_ws(G, range(samples), 1.0)
    classes = classify(net, render(G, ws, batch_size=50))
    own = classes[:, k]
    d = ws[own == 0].mean(0) - ws[own == 1].mean(0)
    middle, before = ws[own == 1][:moved], classes[own == 1][:moved]
    others = [i for i in range(len(FACTORS)) if i != k]
    rows = [{"move": "samples", factor: " ".join(f"{p:.3f}" for p in np.bincount(own, minlength=3) / len(own)),
             "other factors changed": "", "count": str(len(own))}]
    for a in steps:
        after = classify(net, render(G, middle + a * d, batch_size=50))
        rows.append({"move": f"middle {a:+g} x d", factor: " ".join(
            f"{p:.3f}" for p in np.bincount(after[:, k], minlength=3) / len(after)),
            "other factors changed": f"{(after[:, others] != before[:, others]).mean():.2f}",
            "count": str(len(after))})
    return rows


def side_by_side(generated: np.ndarray, data: np.ndarray, gap: int = 8) -> np.ndarray:
    """Generated faces (left) beside as many dataset faces (right), 8 columns each, on white."""
    left, right = make_grid(generated, 8, pad=1), make_grid(data, 8, pad=1)
    return np.concatenate([left, np.full((left.shape[0], gap, 3), 255, np.uint8), right], axis=1)


def print_coverage(result: dict) -> None:
    """Print what `coverage` measured."""
    from .demo_model import print_table
    print("Coverage: factor classes by a classifier of toonfaces' factors (held-out accuracy), data vs generated:")
    print_table(result["rows"])
    ours, theirs = result["diversity"]
    print(f"Shape diversity (mean pairwise L1 of 32x32 edge maps): generated {ours:.3f}, data {theirs:.3f}, "
          f"ratio {ours / theirs:.2f}")
    print("Bottom row: mean |difference| of adjacent pixel rows (R G B, 0-255):")
    print_table(result["border"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--network", default="builtin:demo", help="Model to check")
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--figure", type=Path, default=None, help="PNG of generated faces beside dataset faces")
    parser.add_argument("--probe", choices=MIRRORED, default=None,
                        help="Only probe whether G draws both ends of this factor (see direction_probe)")
    args = parser.parse_args()
    print(describe())
    start = time.perf_counter()
    G = load_networks(args.network)["G_ema"].eval()
    if args.probe is not None:
        from .demo_model import print_table
        print(f"{args.probe}: class shares ({', '.join(FACTORS[args.probe])}) as the classifier reads them; "
              f"d = mean w of class 0 - mean w of class 1")
        print_table(direction_probe(G, args.probe))
        print(f"({time.perf_counter() - start:.0f} s)")
        return
    found = coverage(G, args.samples)
    print_coverage(found)
    print("Outline change per w (L1 of the edge map when one of B's ws replaces A's), w 0 on:")
    print(" ".join(f"{v:.2f}" for v in outline_change_per_w(G)))
    if args.figure is not None:
        save_png(side_by_side(*found["side by side"]), args.figure)
    print(f"({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
