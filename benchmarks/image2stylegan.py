"""The Image2StyleGAN experiments (Abdal et al. 2019) rerun on `builtin:demo`, and the projection methods
compared at equal step budgets.

    python -m benchmarks.image2stylegan [--network builtin:demo] [--steps 500] [--faces 6] [--figure out.png]

(a) W versus W+: held-out toonfaces (dataset drawings, not model samples: indices after the 30,000 the
    demo model was trained on) projected with the same loss (pixel + MS-SSIM, the offline loss) and steps.
(b) Initialisation of W+ at the mean w against a random w (seeded).
(c) Translation: the target shifted by 0, 2, 4 and 8 pixels (at 64²), projected as it is and after
    alignment (the shift undone, as the aligner puts a face back in the dataset's framing).
(d) A defective target: the eyes and mouth painted over with the mean colour; PSNR of the result's painted
    region against the intact face (does the embedding fill in a face?) and against the paint.
(e) Image classes: held-out toonfaces against real photos that scikit-image ships (the astronaut's face,
    aligned, the cat `chelsea`, `coffee`), W and W+.
Then: W (official projector), W+ (Image2StyleGAN) and PTI with the same number of steps (PTI splits its
budget: half for the pivot, half for tuning; at the paper's tuning rate and at `stylegan demo`'s), seconds
per image; and how far a SeFa direction moves the
image of the tuned network against the original network (the ratio of mean pixel changes).
All figures are PSNR in dB of the 8-bit result against its target (LPIPS needs the VGG16 weights, which
this benchmark does not download).
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import PIL.Image

import stylegan
from stylegan.data.toonfaces import toonface
from stylegan.io import fit_image, make_grid, save_png
from stylegan.latent import align_photo, apply_direction, project, psnr, render, sefa
from stylegan.media import DEMO_TUNE_LR

from .machine import describe

HELD_OUT = 99_000  # toonface indices from here on are not among the demo model's training images
LOSS = "pixel+msssim"


def run(G, target: np.ndarray, method: str, steps: int, **options) -> tuple[float, float, np.ndarray, object]:
    """PSNR of the projection, seconds, the image, and the projection."""
    start = time.perf_counter()
    result = project(G, target, method=method, num_steps=steps, loss=LOSS, progress=False, w_avg_samples=2000,
                     **options)
    seconds = time.perf_counter() - start
    image = render(result.G or G, result.ws, noise=result.noise)[0]
    return psnr(image, target), seconds, image, result


def shifted(image: np.ndarray, pixels: int) -> np.ndarray:
    """The image moved right and down by `pixels`, the uncovered border filled with the edge pixels."""
    return np.pad(image, [(pixels, 0), (pixels, 0), (0, 0)], mode="edge")[:image.shape[0], :image.shape[1]]


def defect(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The face with a band over the eyes and one over the mouth painted in its mean colour, and the mask."""
    size = image.shape[0]
    mask = np.zeros(image.shape[:2], bool)
    mask[int(0.38 * size):int(0.52 * size), int(0.25 * size):int(0.75 * size)] = True  # eyes
    mask[int(0.62 * size):int(0.74 * size), int(0.32 * size):int(0.68 * size)] = True  # mouth
    painted = image.copy()
    painted[mask] = image.reshape(-1, 3).mean(axis=0).round().astype(np.uint8)
    return painted, mask


def region_psnr(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    mse = np.mean((a[mask].astype(np.float64) - b[mask].astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(255 ** 2 / mse))


def photos(resolution: int) -> dict[str, np.ndarray]:
    """scikit-image's sample photos at the network's resolution: the astronaut's face aligned as FFHQ was
    (`stylegan align`), the cat and the coffee cup (no face to align) centre-cropped and resized."""
    import skimage.data
    pictures = {name: PIL.Image.fromarray(getattr(skimage.data, name)()) for name in ("astronaut", "chelsea", "coffee")}
    aligned = {"astronaut (aligned)": np.asarray(align_photo(pictures.pop("astronaut"), resolution)[0])}
    return aligned | {name: fit_image(picture, resolution) for name, picture in pictures.items()}


def table(title: str, header: list[str], rows: list[list]) -> None:
    print(f"\n{title}")
    print("| " + " | ".join(header) + " |")
    print("| " + " | ".join("---" for _ in header) + " |")
    for row in rows:
        print("| " + " | ".join(f"{v:.2f}" if isinstance(v, float) else str(v) for v in row) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--network", default="builtin:demo")
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--faces", type=int, default=6)
    parser.add_argument("--figure", default=None, help="write the results of (a), (c), (d), (e) as a PNG grid")
    args = parser.parse_args()
    print(describe())
    G = stylegan.load(args.network)
    res, steps = G.img_resolution, args.steps
    faces = [toonface(HELD_OUT + i, res) for i in range(args.faces)]
    mean = lambda values: float(np.mean(values))  # noqa: E731
    figure = []

    w = [run(G, f, "official", steps, optimize_noise=False) for f in faces]
    wp = [run(G, f, "image2stylegan", steps) for f in faces]
    table(f"(a) W against W+, {len(faces)} held-out toonfaces, {steps} steps", ["space", "PSNR dB", "s/image"],
          [["W", mean([r[0] for r in w]), mean([r[1] for r in w])],
           ["W+", mean([r[0] for r in wp]), mean([r[1] for r in wp])]])
    figure.append([faces[0], w[0][2], wp[0][2]])

    rand = [run(G, f, "image2stylegan", steps, init="random", seed=i) for i, f in enumerate(faces)]
    table("(b) W+ from the mean w against a random w", ["start", "PSNR dB"],
          [["mean w", mean([r[0] for r in wp])], ["random w", mean([r[0] for r in rand])]])

    rows = []
    for pixels in (0, 2, 4, 8):
        moved = [shifted(f, pixels) for f in faces]
        as_is = [run(G, m, "image2stylegan", steps)[0] for m in moved]
        rows.append([pixels, mean(as_is), mean([r[0] for r in wp])])
    table("(c) Translation: the target shifted, projected as it is and aligned (shift undone)",
          ["shift px", "as it is", "aligned"], rows)

    painted_rows = []
    for f in faces:
        painted, mask = defect(f)
        image = run(G, painted, "image2stylegan", steps)[2]
        painted_rows.append([region_psnr(image, f, mask), region_psnr(image, painted, mask)])
    table("(d) Eyes and mouth painted over: the result's painted region against the intact face / the paint",
          ["against", "PSNR dB"], [["the intact face", mean([r[0] for r in painted_rows])],
                                   ["the paint", mean([r[1] for r in painted_rows])]])
    painted, _ = defect(faces[0])
    figure.append([painted, run(G, painted, "image2stylegan", steps)[2], faces[0]])

    rows = [["toonfaces (held out)", mean([r[0] for r in w]), mean([r[0] for r in wp])]]
    for name, photo in photos(res).items():
        pw, pwp = run(G, photo, "official", steps, optimize_noise=False), run(G, photo, "image2stylegan", steps)
        rows.append([name, pw[0], pwp[0]])
        figure.append([photo, pw[2], pwp[2]])
    table("(e) Image classes: W and W+ PSNR dB", ["images", "W", "W+"], rows)

    half = steps // 2
    real = list(photos(res).values())
    rows, pti = [], []
    for label, images in (("held-out toonfaces", faces), ("photos (astronaut aligned, cat, coffee)", real)):
        by_method = {"W (official projector)": [run(G, f, "official", steps) for f in images],
                     "W+ (Image2StyleGAN)": [run(G, f, "image2stylegan", steps) for f in images],
                     "PTI": [run(G, f, "pti", half, tune_steps=steps - half) for f in images],
                     f"PTI, tuning lr {DEMO_TUNE_LR:g} (the demo's)": [
                         run(G, f, "pti", half, tune_steps=steps - half, tune_lr=DEMO_TUNE_LR) for f in images]}
        pti += by_method["PTI"]
        rows += [[label, name, mean([r[0] for r in results]), mean([r[1] for r in results])]
                 for name, results in by_method.items()]
    table(f"Methods at {steps} steps each (PTI: {half} pivot + {steps - half} tuning)",
          ["images", "method", "PSNR dB", "s/image"], rows)
    direction = sefa(G, num=1).directions[0]
    ratios = []
    for psnr_, _, _, result in pti:
        moved = apply_direction(result.ws, direction, 3.0)
        tuned = np.abs(render(result.G, moved).astype(float) - render(result.G, result.ws).astype(float)).mean()
        original = np.abs(render(G, moved).astype(float) - render(G, result.ws).astype(float)).mean()
        ratios.append(tuned / original)
    print(f"\nSeFa direction 0 at strength 3 on the pivot: the tuned network's image moves {mean(ratios):.2f}x as "
          f"much as the original network's (min {min(ratios):.2f}, max {max(ratios):.2f})")
    if args.figure:
        save_png(make_grid(np.stack([c for row in figure for c in row]), 3), args.figure)
        print(f"figure: {args.figure}")


if __name__ == "__main__":
    main()
