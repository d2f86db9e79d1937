"""Face alignment speed: the built-in detector per photo, and the FFHQ crop per face, median of repeats.

    OMP_NUM_THREADS=1 python -m benchmarks.align [--threads 1] [--repeats 5]

The photo is scikit-image's astronaut (512x512, one face; scikit-image is a test dependency), also enlarged
to 1024x1024 and to 4032x3024 (searched shrunk to 1024 on its longer side). The crop is timed at 256 and
1024 pixels from given landmarks (it resamples the quad at 4x the output size, then resizes).
"""
from __future__ import annotations

import argparse
import statistics
import time
from typing import Callable

import numpy as np
import PIL.Image
import torch

from stylegan.latent.align import align_face
from stylegan.nets.faces import detect_faces
from stylegan.nets.mtcnn import load_mtcnn

from .machine import describe


def median_seconds(fn: Callable[[], object], repeats: int) -> float:
    """The median wall time of `repeats` calls after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from skimage import data
    photo = PIL.Image.fromarray(data.astronaut())
    load_mtcnn()
    photos = {"512x512": photo, "1024x1024": photo.resize((1024, 1024), PIL.Image.BICUBIC),
              "4032x3024": photo.resize((4032, 3024), PIL.Image.BICUBIC)}
    print(describe("cpu") + f"; median of {args.repeats} runs")
    print(f"{'step':<36}{'seconds':>10}")
    for name, image in photos.items():
        pixels = np.asarray(image)
        print(f"{'detect faces, ' + name:<36}{median_seconds(lambda: detect_faces(pixels), args.repeats):>10.3f}")
    landmarks = detect_faces(np.asarray(photo))[0].landmarks
    for size in (256, 1024):
        seconds = median_seconds(lambda: align_face(photo, landmarks, size), args.repeats)
        print(f"{f'crop, 512x512 photo -> {size}':<36}{seconds:>10.3f}")


if __name__ == "__main__":
    main()
