"""Regenerate every figure the guides show, from the package itself, with `builtin:demo`:

    python -m docs.figures [--out docs/images]

Each figure is made by the `stylegan` commands its guide shows, run in order through the command group in one
scratch folder (later figures reuse earlier outputs: the projection's ws, the GANSpace directions); the picture
is then copied into the output folder under the name the guides use. The real-photo guide's photo is
scikit-image's astronaut (scikit-image comes with the test extra).
"""
from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

OUT = Path(__file__).resolve().parent / "images"
# Projection targets: drawn faces the demo model never saw (it was trained on faces 0-29,999), one upright with
# short hair (the kind of face it draws) and the one `stylegan demo` projects (tilted, spiky hair).
TARGET_FACES = (99_991, 99_999)


@dataclass(frozen=True)
class Figure:
    """One figure: the file it becomes, the commands that make it, and the file they write."""
    file: str
    commands: tuple[str, ...]
    output: str


FIGURES: tuple[Figure, ...] = (
    Figure("samples.png", ("generate --seeds 0-15 --trunc 0.7 --grid 4x4 --outdir samples",), "samples/grid.png"),
    Figure("truncation.png", ("truncation --seeds 50-52 --outdir truncation",), "truncation/truncation.png"),
    Figure("style-mixing.png", ("mix --rows 20,21,22 --cols 30,31,32,33 --styles coarse --styles middle "
                                "--styles fine --trunc 0.7 --outdir mixing",), "mixing/grid.png"),
    Figure("layers.png", ("layers --seed-a 1 --seed-b 2 --trunc 0.7 --outdir layers",), "layers/layers-1-2.png"),
    Figure("noise.png", ("noise --seeds 7 --trunc 0.7 --std-samples 32 --outdir noise",), "noise/noise-7.png"),
    Figure("noise-layers.png", (), "noise/noise-layers.png"),
    Figure("interpolation.gif", ("interpolate --seeds 40-44 --trunc 0.7 --frames-per-step 12 --loop --fps 12 "
                                 "--output interpolation.gif",), "interpolation.gif"),
    Figure("projection.png", ("project --target faces --method image2stylegan --loss pixel --num-steps 200 "
                              "--outdir proj",), "proj/comparison.png"),
    Figure("morph.png", ("morph proj/face-99991/projected_w.npz 7 --trunc 0.7 --steps 6 --outdir morph",),
           "morph/morph.png"),
    Figure("crossover.png", ("crossover --content proj/face-99991/projected_w.npz --style 30 --layers fine "
                             "--outdir crossover",), "crossover/crossover.png"),
    Figure("sefa.png", ("directions sefa --out sefa.npz",
                        "edit --seeds 1-3 --trunc 0.7 --direction sefa.npz:2 --strength -10:10:5 --outdir sefa"),
           "sefa/edit.png"),
    Figure("ganspace.png", ("directions ganspace --samples 20000 --out pca.npz",
                            "edit --seeds 1-3 --trunc 0.7 --direction pca.npz:0 --strength -3:3:5 --outdir pca"),
           "pca/edit.png"),
    Figure("align.png", ("align --target astronaut.jpg --outdir aligned --size 256",
                         "align --target astronaut.jpg --outdir aligned-u --unaligned --size 256"), "align.png"),
    Figure("photo-edit.png", ("project --target photo.jpg --method image2stylegan --loss pixel --num-steps 100 "
                              "--outdir me",
                              "edit --projected-w me/projected_w.npz --direction pca.npz:0 --strength -3:3:5 "
                              "--outdir me-edited"), "me-edited/edit.png"),
)


def _target_faces(folder: Path) -> None:
    """faces/face-N.png: the projection targets, drawn by builtin:toonfaces at the demo model's resolution."""
    import PIL.Image

    from stylegan.data import toonface
    (folder / "faces").mkdir()
    for index in TARGET_FACES:
        PIL.Image.fromarray(toonface(index, 64)).save(folder / "faces" / f"face-{index}.png")


def _photo(folder: Path) -> None:
    """photo.jpg: the real-photo guide's stand-in for a photo, a drawn face as a JPEG of another size."""
    import PIL.Image

    from stylegan.data import toonface
    PIL.Image.fromarray(toonface(TARGET_FACES[0], 128)[10:118]).save(folder / "photo.jpg", quality=90)


def _astronaut(folder: Path) -> None:
    """astronaut.jpg: the real-photo guide's photo, scikit-image's astronaut (installed by the test extra)."""
    import PIL.Image
    from skimage import data
    PIL.Image.fromarray(data.astronaut()).save(folder / "astronaut.jpg")


def _alignment(folder: Path) -> None:
    """align.png: the photo beside its FFHQ and FFHQ-U crops."""
    import numpy as np
    import PIL.Image

    from stylegan.io import save_png
    from stylegan.media import labeled_grid
    photo = PIL.Image.open(folder / "astronaut.jpg").convert("RGB").resize((256, 256), PIL.Image.LANCZOS)
    cells = [np.asarray(photo)] + [np.asarray(PIL.Image.open(folder / name / "astronaut.png").convert("RGB"))
                                   for name in ("aligned", "aligned-u")]
    save_png(labeled_grid([cells], None, ["photo", "align", "align --unaligned"]), folder / "align.png")


def _comparison(folder: Path) -> None:
    """proj/comparison.png: each target beside its projection, with the projection's PSNR."""
    import numpy as np
    import PIL.Image

    from stylegan.io import save_png
    from stylegan.latent import psnr
    from stylegan.media import labeled_grid
    rows, labels = [], []
    for index in TARGET_FACES:
        target, result = (np.asarray(PIL.Image.open(folder / "proj" / f"face-{index}" / name))
                          for name in ("target.png", "proj.png"))
        rows.append([target, result])
        labels.append(f"{index}: {psnr(target, result):.1f} dB")
    save_png(labeled_grid(rows, labels, ["target", "projection"]), folder / "proj" / "comparison.png")


@contextlib.contextmanager
def _inside(folder: Path) -> Iterator[None]:
    """Run with `folder` as the working directory (the commands' paths are relative to it)."""
    previous = Path.cwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(previous)


def make(out: Path = OUT, log: Callable[[str], None] = print) -> list[Path]:
    """Make every figure into `out`; returns the files written."""
    from stylegan.cli import cli
    out = out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        _target_faces(folder)
        _photo(folder)
        _astronaut(folder)
        for figure in FIGURES:
            start = time.perf_counter()
            with _inside(folder):
                for command in figure.commands:
                    cli.main(command.split(), prog_name="stylegan", standalone_mode=False)
            if figure.file == "projection.png":
                _comparison(folder)
            if figure.file == "align.png":
                _alignment(folder)
            shutil.copyfile(folder / figure.output, out / figure.file)
            written.append(out / figure.file)
            log(f"{out / figure.file} ({time.perf_counter() - start:.1f} s)")
    return written


def main() -> None:
    """Command-line entry: `python -m docs.figures [--out FOLDER]`."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUT, help="folder for the figures (default: docs/images)")
    start = time.perf_counter()
    made = make(parser.parse_args().out)
    print(f"{len(made)} figures in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
