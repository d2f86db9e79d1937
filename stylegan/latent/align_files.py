"""Aligned faces from photos and folders of photos: landmarks from the built-in detector (`nets.faces`) or a
landmark file, then the FFHQ crop of `align` (`stylegan align`, `stylegan project --align`)."""
from __future__ import annotations

import glob
import os
from pathlib import Path
from typing import Callable

import numpy as np
import PIL.Image

from ..errors import InputError, StyleGANError
from ..io.images import decode_image, save_png
from ..io.landmarks import landmarks_for, read_landmarks
from .align import FFHQ, Framing, NoFaceError, align_face, face_quad, face_rng
from . import ALIGN_MAX_SIZE as MAX_SIZE
from .projection import image_files


def check_size(size: int) -> int:
    """An output size in pixels, 1 to MAX_SIZE (the crop is resampled at 4x that size)."""
    if not 1 <= size <= MAX_SIZE:
        raise InputError(f"the aligned size must be 1 to {MAX_SIZE} pixels, got {size}")
    return size


def detect_landmarks(image: PIL.Image.Image) -> list[np.ndarray]:
    """The 5 landmarks [5, 2] of every face the built-in detector finds in a photo, largest face first."""
    from ..nets.faces import detect_faces
    return [face.landmarks for face in detect_faces(np.asarray(image.convert("RGB")))]


def _quad_size(quad: np.ndarray) -> float:
    return float(np.hypot(*(quad[3] - quad[0])))


def align_photo(image: PIL.Image.Image, size: int = 1024, framing: Framing = FFHQ,
                landmarks: list[np.ndarray] | None = None, all_faces: bool = False, seed: int = 0,
                name: str = "") -> list[PIL.Image.Image]:
    """The aligned faces of a photo (RGB or L), size x size: the largest (by the size of its crop), or with
    `all_faces` every face, largest first. Faces come from `landmarks` (5 or 68 points each) when given, else
    from the built-in detector. The random shift of `framing` is drawn from `seed`, the image's `name` and the
    face's place. A NoFaceError when there is no face."""
    faces = detect_landmarks(image) if landmarks is None else landmarks
    if not faces:
        raise NoFaceError(f"{name or 'this photo'}: no face found")
    faces = sorted(faces, key=lambda points: -_quad_size(face_quad(points)))
    faces = faces if all_faces else faces[:1]
    try:
        return [align_face(image, points, check_size(size), framing, face_rng(seed, name, i))
                for i, points in enumerate(faces)]
    except NoFaceError as exc:
        raise NoFaceError(f"{name or 'this photo'}: {exc}") from None


def output_name(file: Path, all_faces: bool) -> str:
    """The file name of a photo's aligned face; with `all_faces`, of its largest face, which is written last, so
    that its presence marks the photo as done."""
    return f"{file.stem}-1.png" if all_faces else f"{file.stem}.png"


def earlier_outputs(outdir: str | Path, files: list[Path], all_faces: bool) -> list[str]:
    """The aligned faces of `files` already in OUTDIR, as glob patterns that match exactly them (found with one
    listing of the folder, so that a folder of many photos is checked quickly)."""
    out = Path(outdir)
    if not out.is_dir():
        return []
    stems = {file.stem for file in files}
    found = []
    for entry in os.scandir(out):
        stem, dash, number = entry.name.removesuffix(".png").rpartition("-")
        ours = entry.name.endswith(".png") and (
            (all_faces and dash and number.isdigit() and stem in stems) or
            (not all_faces and entry.name.removesuffix(".png") in stems))
        if ours and entry.is_file():
            found.append(glob.escape(entry.name))
    return found


def plan_outputs(target: str | Path, outdir: str | Path, all_faces: bool) -> list[Path]:
    """The photos of a run, refused before any work when two would write the same file, when OUTDIR is the
    folder of photos, or when a single photo's aligned face would replace it."""
    files = image_files(target)
    if Path(target).is_dir() and Path(outdir).resolve() == Path(target).resolve():
        raise InputError(f"{outdir}: this is the photos' own folder; write the aligned faces to another folder")
    if not Path(target).is_dir() and (Path(outdir) / output_name(files[0], all_faces)).resolve() == files[0].resolve():
        raise InputError(f"{outdir}: the aligned face would replace the photo {files[0].name}; write it to another "
                         f"folder")
    seen: dict[str, Path] = {}
    for file in files:
        name = output_name(file, all_faces)
        if name in seen:
            raise InputError(f"{seen[name].name} and {file.name} would both be aligned to {name}; rename one")
        seen[name] = file
    return files


def align_files(target: str | Path, outdir: str | Path, size: int = 1024, framing: Framing = FFHQ,
                landmarks: str | Path | None = None, all_faces: bool = False, seed: int = 0,
                report: Callable[[str], None] = print) -> dict[str, int]:
    """Align the faces of a photo, or of each photo of a folder, into OUTDIR as `<stem>.png` (with `all_faces`,
    `<stem>-1.png`, `<stem>-2.png`, ... largest first). Photos whose output exists are skipped (resumable).

    A photo without a face (or, with a `landmarks` file, without an entry there) is reported in one line and
    nothing is written for it; so is an unreadable photo of a folder. A single photo without a face, or
    unreadable, is an InputError. Returns the counts: aligned, faces, skipped (done before), without a face,
    unreadable."""
    check_size(size)
    files = plan_outputs(target, outdir, all_faces)
    table = read_landmarks(landmarks) if landmarks is not None else None
    if table is not None and None in table and len(files) > 1:
        raise InputError(f"{landmarks}: gives the points of one photo without naming it; for a folder, name "
                         f"each photo (see the README)")
    single = not Path(target).is_dir()
    counts = dict.fromkeys(("aligned", "faces", "skipped", "no face", "unreadable"), 0)
    out = Path(outdir)
    for file in files:
        marker = output_name(file, all_faces)
        if (out / marker).exists():
            report(f"{file.name}: already aligned, skipping")
            counts["skipped"] += 1
            continue
        try:
            picture, _ = decode_image(file, None)
            faces = detect_landmarks(picture) if table is None else landmarks_for(table, file)
            if not faces:
                raise NoFaceError(f"{file.name}: no face found (give its landmarks with --landmarks)" if table is None
                                  else f"{file.name}: no landmarks for this photo in {landmarks}")
            aligned = align_photo(picture, size, framing, faces, all_faces, seed, file.name)
        except NoFaceError as exc:
            if single:
                raise NoFaceError(f"{exc}; nothing written") from None
            counts["no face"] += 1
            report(f"{exc}; nothing written")
            continue
        except StyleGANError as exc:
            if single:
                raise
            counts["unreadable"] += 1
            report(f"{file.name}: skipped, {exc}")
            continue
        names = [marker] if not all_faces else [f"{file.stem}-{i + 1}.png" for i in range(len(aligned))]
        for name, face in reversed(list(zip(names, aligned))):  # the marker last
            save_png(np.asarray(face), out / name)
        counts["aligned"] += 1
        counts["faces"] += len(aligned)
        report(f"{file.name}: {len(aligned)} face{'s' * (len(aligned) != 1)} -> {out / names[0]}"
               + (f" ... {names[-1]}" if len(names) > 1 else ""))
    return counts
