"""A learned encoder against optimisation, on held-out toonfaces and real photos.

    python -m benchmarks.encoder [--network builtin:demo] [--encoder FOLDER] [--faces 64] [--run RUN_FOLDER]
                                 [--rows all|encoder|optimisation] [--snapshots ENCODER_FILE ...] [--passes]

For each image: (a) the encoder alone, (a*) the encoder's reach (the best ws in the subspace its outputs
are confined to, by optimisation: what no amount of training of this encoder's shape can beat), (b) the
encoder's ws then 100 optimisation steps of the ws, (b') the encoder's ws as the pivot of 100 steps of
pivotal tuning (lr 3e-3, the demo's), (c) optimisation from the mean w for 300 and for 1,000 steps, (d)
pivotal tuning (100 steps of tuning, lr 3e-4) from a pivot found in 100 steps from the mean and from the
encoder's ws (rows' mean: the pivot is in W); PSNR in dB of the 8-bit result and seconds per image.
Optimisation is Image2StyleGAN's (W+, lr 0.01) with the offline loss (pixel + MS-SSIM; LPIPS needs the
VGG16 weights, which this benchmark does not download). Images: `--faces` held-out toonfaces (dataset
drawings the demo model never saw, not model samples) and scikit-image's photos (the astronaut's face
aligned by the package, the cat, the coffee cup). Given the encoder's training run folder (`--run`), it
also prints the encoder's losses against training time from the run's log; given copies of its encoder
file at several steps (`--snapshots`), it prints instead the PSNR of each alone on the held-out toonfaces,
with the step and the training hours recorded in the file (or the run's log): the curve of quality against
training time. `--passes` prints the encoder alone with 1 to 7 refinement passes instead. The defaults use the
bundled demo encoder.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

import stylegan
from stylegan.data.toonfaces import toonface
from stylegan.formats import native
from stylegan.latent import project, psnr, render
from stylegan.latent.encoding import load_encoder
from stylegan.latent.perceptual import make_loss
from stylegan.models.encoder import encode
from stylegan.train.log import read_stats

from .image2stylegan import HELD_OUT, LOSS, photos
from .machine import describe


def measure(G, E, images: list[np.ndarray], label: str, methods: dict) -> list[list]:
    """One table row per method (name -> `project` options): mean PSNR and seconds per image."""
    def run(**options) -> tuple[float, float]:
        scores, seconds = [], []
        for image in images:
            start = time.perf_counter()
            result = project(G, image, loss=LOSS, progress=False, w_avg_samples=2000, encoder=E, **options)
            seconds.append(time.perf_counter() - start)
            scores.append(psnr(render(result.G or G, result.ws, noise=result.noise)[0], image))
        return float(np.mean(scores)), float(np.mean(seconds))
    return [[label, name, *run(**options)] for name, options in methods.items()]


WITH_ENCODER = {
    "(a) encoder alone": dict(method="encoder"),
    "(b) encoder + 100 steps": dict(method="image2stylegan", init="encoder", num_steps=100),
    "(b') encoder's ws as the pivot + 100 tuning steps": dict(method="pti", init="encoder", num_steps=0,
                                                               tune_steps=100, tune_lr=3e-3),
    "(d) PTI from the encoder (100 + 100)": dict(method="pti", init="encoder", num_steps=100, tune_steps=100),
}
WITHOUT_ENCODER = {
    "(c) mean + 300 steps": dict(method="image2stylegan", num_steps=300),
    "(c) mean + 1,000 steps": dict(method="image2stylegan", num_steps=1000),
    "(d) PTI from the mean (100 + 100)": dict(method="pti", num_steps=100, tune_steps=100),
}


def table(G, E, images: list[np.ndarray], label: str, rows: str) -> list[list]:
    """The rows asked for ('encoder': those that use the encoder, with its reach; 'optimisation': the
    others; 'all') on one set of images."""
    out = []
    if rows in ("encoder", "all"):
        out += measure(G, E, images, label, WITH_ENCODER)
        out.insert(1, reach(G, E, images, label))
    if rows in ("optimisation", "all"):
        out += measure(G, E, images, label, WITHOUT_ENCODER)
    return out


def reach(G, E, images: list[np.ndarray], label: str, steps: int = 300) -> list:
    """The encoder's ceiling: every pass adds E.out(features) to the ws, so whatever the input, its ws lie in
    the affine subspace w_avg + passes x bias + span(E.out's weight), of dimension `features`. The row: the
    best ws in that subspace, found by optimising coordinates in an orthonormal basis of it (`steps` steps
    of Adam, lr 0.02, the benchmark's loss) from its origin."""
    weight = (E.out.weight * E.out.weight_gain).detach()
    basis = torch.linalg.qr(weight).Q * (weight.shape[0] ** 0.5 / 10)  # columns of norm ~ a w per layer
    origin = G.mapping.w_avg.repeat(G.num_ws) + E.iterations * (E.out.bias * E.out.bias_gain).detach()
    scores, seconds = [], []
    for image in images:
        start = time.perf_counter()
        target = torch.tensor(image).permute(2, 0, 1)[None].float()
        distance = make_loss(LOSS, target)
        coords = torch.zeros(basis.shape[1], requires_grad=True)
        optimizer = torch.optim.Adam([coords], lr=0.02)
        for _ in range(steps):
            ws = (origin + basis @ coords).reshape(1, G.num_ws, G.w_dim)
            loss = distance((G.synthesis(ws, noise_mode="const") + 1) * 127.5).sum()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        seconds.append(time.perf_counter() - start)
        ws = (origin + basis @ coords.detach()).reshape(1, G.num_ws, G.w_dim)
        scores.append(psnr(render(G, ws)[0], image))
    return [label, f"(a*) the encoder's reach: the best ws it could output ({basis.shape[1]}-dim subspace, "
                   f"{steps} steps)", float(np.mean(scores)), float(np.mean(seconds))]


def curve(G, files: list[str], faces: list[np.ndarray], run: str | None) -> None:
    """Held-out PSNR of the encoder alone at each snapshot, in the order of their steps; the training time is
    the file's record, or else the run log's at that step."""
    print(f"\nthe encoder alone on {len(faces)} held-out toonfaces, during training")
    print("| step | training hours | PSNR dB |\n| --- | --- | --- |")
    logged = {tick["step"]: tick["seconds"] for tick in read_stats(run)} if run else {}
    extras = sorted(((native.read_metadata(f)["extra"], f) for f in files), key=lambda item: item[0]["step"])
    for extra, file in extras:
        score = measure(G, load_encoder(file, G), faces, "", {"alone": dict(method="encoder")})[0][2]
        seconds = extra.get("seconds", logged.get(extra["step"]))
        hours = f"{seconds / 3600:.2f}" if seconds is not None else "-"
        print(f"| {extra['step']} | {hours} | {score:.2f} |", flush=True)


def passes(G, E, faces: list[np.ndarray], counts: range = range(1, 8)) -> None:
    """The encoder alone with more or fewer refinement passes than it was trained with: PSNR and seconds per
    image (the faces in one batch)."""
    target = torch.stack([torch.tensor(f).permute(2, 0, 1).float() / 127.5 - 1 for f in faces])
    print(f"\nthe encoder alone on {len(faces)} held-out toonfaces, by refinement passes (trained with "
          f"{E.iterations})\n| passes | PSNR dB | s/image |\n| --- | --- | --- |")
    for count in counts:
        with torch.no_grad():
            start = time.perf_counter()
            ws = encode(E, G, target, iterations=count)
            seconds = (time.perf_counter() - start) / len(faces)
        score = np.mean([psnr(render(G, ws[i:i + 1])[0], face) for i, face in enumerate(faces)])
        print(f"| {count} | {score:.2f} | {seconds:.3f} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--network", default="builtin:demo")
    parser.add_argument("--encoder", default=None, help="default: the bundled encoder of builtin:demo")
    parser.add_argument("--faces", type=int, default=64)
    parser.add_argument("--run", default=None, help="the encoder's training run folder, for its learning curve")
    parser.add_argument("--rows", choices=["all", "encoder", "optimisation"], default="all",
                        help="only the rows that use the encoder, or only the others (they do not change with it)")
    parser.add_argument("--snapshots", nargs="*", default=[], help="the encoder's file at several steps")
    parser.add_argument("--passes", action="store_true", help="only the encoder alone with 1 to 7 refinement passes")
    args = parser.parse_args()
    print(describe())
    G = stylegan.load(args.network).requires_grad_(False)
    faces = [toonface(HELD_OUT + i, G.img_resolution) for i in range(args.faces)]
    if args.snapshots:
        curve(G, args.snapshots, faces, args.run)
        return
    E = load_encoder(args.encoder or args.network, G)
    if args.passes:
        passes(G, E, faces)
        return
    rows = table(G, E, faces, f"{len(faces)} held-out toonfaces", args.rows)
    rows += table(G, E, list(photos(G.img_resolution).values()), "3 photos", args.rows)
    print("| images | method | PSNR dB | s/image |\n| --- | --- | --- | --- |")
    for label, name, score, seconds in rows:
        print(f"| {label} | {name} | {score:.2f} | {seconds:.3f} |")
    if args.run:
        print("\nthe encoder during training (last refinement pass, tick means)")
        print("| step | hours | latent | pixel | perceptual |\n| --- | --- | --- | --- | --- |")
        for tick in read_stats(args.run):
            print(f"| {tick['step']} | {tick['seconds'] / 3600:.2f} | {tick['latent']:.4f} | {tick['pixel']:.4f} | "
                  f"{tick['perceptual']:.4f} |")


if __name__ == "__main__":
    main()
