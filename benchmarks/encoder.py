"""A learned encoder against optimisation, on held-out toonfaces and real photos.

    python -m benchmarks.encoder [--network builtin:demo] [--encoder FOLDER] [--faces 64] [--run RUN_FOLDER]
                                 [--snapshots ENCODER_FILE ...]

For each image: (a) the encoder alone, (b) the encoder's ws then 100 optimisation steps of the ws, (b') the
encoder's ws as the pivot of 100 steps of pivotal tuning (lr 3e-3, the demo's), (c) optimisation from the
mean w for 300 and for 1,000 steps, (d) pivotal tuning (100 steps of tuning, lr 3e-4) from a pivot found
in 100 steps from the mean and from the encoder's ws (rows' mean: the pivot is in W); PSNR in dB of the
8-bit result and seconds per image. Optimisation is Image2StyleGAN's (W+, lr 0.01) with the offline loss
(pixel + MS-SSIM; LPIPS needs the VGG16 weights, which this benchmark does not download). Images:
`--faces` held-out toonfaces (dataset drawings the demo model never saw, not model samples) and
scikit-image's photos (the astronaut's face aligned by the package, the cat, the coffee cup). Given the encoder's training run folder (`--run`), it also prints the
encoder's quality against training time from the run's log; given copies of its encoder file at several
steps (`--snapshots`), it prints instead the PSNR of each alone on the held-out toonfaces, with the step and
the training hours recorded in the file (or the run's log): the curve of quality against training time. The defaults use the bundled demo
encoder.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import stylegan
from stylegan.data.toonfaces import toonface
from stylegan.latent import project, psnr, render
from stylegan.formats import native
from stylegan.latent.encoding import load_encoder
from stylegan.train.log import read_stats

from .image2stylegan import HELD_OUT, LOSS, photos
from .machine import describe


def measure(G, E, images: list[np.ndarray], label: str, methods: dict | None = None) -> list[list]:
    """One table row per method (default: all of (a) to (d)): mean PSNR and seconds per image."""
    def run(**options) -> tuple[float, float]:
        scores, seconds = [], []
        for image in images:
            start = time.perf_counter()
            result = project(G, image, loss=LOSS, progress=False, w_avg_samples=2000, encoder=E, **options)
            seconds.append(time.perf_counter() - start)
            scores.append(psnr(render(result.G or G, result.ws, noise=result.noise)[0], image))
        return float(np.mean(scores)), float(np.mean(seconds))
    methods = methods or {
        "(a) encoder alone": dict(method="encoder"),
        "(b) encoder + 100 steps": dict(method="image2stylegan", init="encoder", num_steps=100),
        "(b') encoder's ws as the pivot + 100 tuning steps": dict(method="pti", init="encoder", num_steps=0,
                                                                   tune_steps=100, tune_lr=3e-3),
        "(c) mean + 300 steps": dict(method="image2stylegan", num_steps=300),
        "(c) mean + 1,000 steps": dict(method="image2stylegan", num_steps=1000),
        "(d) PTI from the mean (100 + 100)": dict(method="pti", num_steps=100, tune_steps=100),
        "(d) PTI from the encoder (100 + 100)": dict(method="pti", init="encoder", num_steps=100, tune_steps=100),
    }
    return [[label, name, *run(**options)] for name, options in methods.items()]


def curve(G, files: list[str], faces: list[np.ndarray], run: str | None) -> None:
    """Held-out PSNR of the encoder alone at each snapshot, in the order of their steps; the training time is
    the file's record, or else the run log's at that step."""
    print(f"\nthe encoder alone on {len(faces)} held-out toonfaces, during training")
    print("| step | training hours | PSNR dB |\n| --- | --- | --- |")
    logged = {tick["step"]: tick["seconds"] for tick in read_stats(run)} if run else {}
    extras = sorted(((native.read_metadata(f)["extra"], f) for f in files), key=lambda item: item[0]["step"])
    for extra, file in extras:
        score = measure(G, load_encoder(file, G), faces, "", {"encoder": dict(method="encoder")})[0][2]
        seconds = extra.get("seconds", logged.get(extra["step"]))
        hours = f"{seconds / 3600:.2f}" if seconds is not None else "-"
        print(f"| {extra['step']} | {hours} | {score:.2f} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--network", default="builtin:demo")
    parser.add_argument("--encoder", default=None, help="default: the bundled encoder of builtin:demo")
    parser.add_argument("--faces", type=int, default=64)
    parser.add_argument("--run", default=None, help="the encoder's training run folder, for its learning curve")
    parser.add_argument("--snapshots", nargs="*", default=[], help="the encoder's file at several steps")
    args = parser.parse_args()
    print(describe())
    G = stylegan.load(args.network)
    if args.snapshots:
        curve(G, args.snapshots, [toonface(HELD_OUT + i, G.img_resolution) for i in range(args.faces)], args.run)
        return
    E = load_encoder(args.encoder or args.network, G)
    faces = [toonface(HELD_OUT + i, G.img_resolution) for i in range(args.faces)]
    rows = measure(G, E, faces, f"{len(faces)} held-out toonfaces")
    rows += measure(G, E, list(photos(G.img_resolution).values()), "3 photos")
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
