"""Build a training dataset in the official layout from a folder or a zip of images.

The result is what `ImageDataset` (and the official training code) reads: uncompressed PNGs named
`00000/img00000000.png`, `00000/img00000001.png`, ... (1000 per folder) in an uncompressed zip or a folder,
plus `dataset.json` holding `{"labels": [[name, label], ...]}` or `{"labels": null}`. Inputs are taken in
sorted order, as the official tool takes them, and numbered consecutively.

Unlike the official tool, bad inputs do not stop the run: grayscale, alpha, palette, 16-bit and other
modes are converted; unreadable, truncated, too small or mismatched files are skipped; every case is
listed in the returned summary. The output appears only when complete (written to a temporary name, then
renamed), so an interrupted run leaves nothing half-written.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import tempfile
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import PIL.Image
from tqdm import tqdm

from ..errors import InputError
from ..io.files import TEXT_LIMIT, atomic_path, read_bytes, regular_file_size
from ..io.images import decode_image
from . import DATASET_TRANSFORMS as TRANSFORMS
from .dataset import ToonFacesDataset, is_builtin

GREY_MODES = {"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"}
_SHOWN_NAMES = 5  # names listed per reason in the summary
BUILTIN_IMAGES = 10_000  # faces written from builtin:toonfaces without --max-images


@dataclass
class Summary:
    """What `make_dataset` did: where it wrote, how many images, and every conversion and skip by reason."""
    dest: Path
    images: int
    resolution: int
    channels: int
    labels: str  # a description: "none", "3 classes", "vectors of length 4"
    converted: dict[str, list[str]] = field(default_factory=dict)
    skipped: dict[str, list[str]] = field(default_factory=dict)
    not_read: int = 0  # candidates left unread once --max-images was reached


def parse_resolution(value) -> tuple[int, int] | None:
    """'256x256', '512,384', '256', 256 or (w, h) -> (width, height); None stays None."""
    if value is None:
        return None
    if isinstance(value, int):
        value = (value, value)
    if isinstance(value, str):
        m = re.fullmatch(r"\s*(\d+)\s*(?:[x,]\s*(\d+))?\s*", value.lower())
        if not m:
            raise InputError(f"--resolution must look like 256x256 (WIDTHxHEIGHT), got {value!r}")
        value = (int(m.group(1)), int(m.group(2) or m.group(1)))
    w, h = (int(v) for v in value)
    if w < 1 or h < 1:
        raise InputError(f"--resolution must be positive, got {w}x{h}")
    return w, h


def _is_power_of_two(n: int) -> bool:
    return n >= 1 and n & (n - 1) == 0


class _Source:
    """The files of a folder (sorted by path components, as the official tool sorts) or a zip (sorted by
    name), read as bytes by their relative name."""

    def __init__(self, path: Path):
        self.path = path
        if path.is_dir():
            files = sorted((p for p in path.rglob("*") if p.is_file()), key=lambda p: p.relative_to(path).parts)
            self.names = [p.relative_to(path).as_posix() for p in files]
            self._zip = None
        elif path.is_file() and zipfile.is_zipfile(path):
            self._zip = zipfile.ZipFile(path)
            self.names = sorted(n for n in self._zip.namelist() if not n.endswith("/"))
        elif path.exists():
            raise InputError(f"{path}: --source must be a folder of images or a .zip of them")
        else:
            raise InputError(f"{path}: no such folder or zip file")

    def read(self, name: str) -> bytes:
        return self._zip.read(name) if self._zip is not None else read_bytes(self.path / name, "source")

    def open(self, name: str):
        if self._zip is not None:
            return self._zip.open(name)
        regular_file_size(self.path / name, "source")
        return open(self.path / name, "rb")

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()


def _read_labels(source: _Source, labels_path: str | Path | None) -> tuple[dict | None, str]:
    """The label table {source name: label} from --labels or the source's dataset.json (None: unlabelled),
    checked to be all class indices or all number vectors of one length; and where it came from."""
    if labels_path is not None:
        where = str(labels_path)
        text = read_bytes(labels_path, "label", limit=TEXT_LIMIT)
    elif "dataset.json" in source.names:
        where, text = f"{source.path}/dataset.json", source.read("dataset.json")
    else:
        return None, ""
    try:
        entries = json.loads(text)["labels"]
        if entries is None:
            return None, where
        table = {str(name).replace("\\", "/"): label for name, label in entries}
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{where}: expected {{\"labels\": [[file name, label], ...]}} ({exc})") from None
    values = list(table.values())
    if all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in values):
        return table, where
    if all(isinstance(v, list) and all(isinstance(e, (int, float)) and not isinstance(e, bool) for e in v)
           for v in values) and len({len(v) for v in values}) <= 1:
        return table, where
    raise InputError(f"{where}: labels must be all class indices (integers >= 0) or all lists of numbers of "
                     f"one length")


def _describe_labels(labels: list) -> str:
    if not labels:
        return "none"
    if isinstance(labels[0], int):
        return f"{max(labels) + 1} classes"
    return f"vectors of length {len(labels[0])}"


def _skip_reason_for_size(w: int, h: int, resolution: tuple[int, int] | None, transform: str | None,
                          size: tuple[int, int], allow_upscale: bool) -> str | None:
    """Why an image of w x h cannot become part of the dataset, or None if it can."""
    if resolution is None:
        if (w, h) != size:
            return f"size differs from the dataset's {size[0]}x{size[1]} (use --resolution to resize)"
        return None
    rw, rh = resolution
    if transform == "center-crop-wide":
        if w < rw or round(rw * h / w) < rh:
            return f"too small for center-crop-wide to {rw}x{rh} (narrower than {rw}, or too few rows)"
        return None
    if allow_upscale:
        return None
    short = min(w, h) < rw if transform == "center-crop" else (w < rw or h < rh)
    return f"too small for {rw}x{rh} (use --allow-upscale to keep)" if short else None


def _transform(image: PIL.Image.Image, resolution: tuple[int, int] | None, transform: str | None
               ) -> PIL.Image.Image:
    """The official tool's geometry: plain resize, or a centre crop, or the 'wide' crop and letterbox."""
    if resolution is None:
        return image
    rw, rh = resolution
    w, h = image.size
    if transform is None:
        return image if (w, h) == (rw, rh) else image.resize((rw, rh), PIL.Image.LANCZOS)
    if transform == "center-crop":  # the central square, resized
        s = min(w, h)
        image = image.crop(((w - s) // 2, (h - s) // 2, (w + s) // 2, (h + s) // 2))
        return image.resize((rw, rh), PIL.Image.LANCZOS)
    # center-crop-wide: keep the central round(rw * h / w) rows at full width, resize to rw x rh, and centre
    # that vertically on a black rw x rw canvas.
    rows = round(rw * h / w)
    image = image.crop((0, (h - rows) // 2, w, (h + rows) // 2)).resize((rw, rh), PIL.Image.LANCZOS)
    canvas = PIL.Image.new(image.mode, (rw, rw))
    canvas.paste(image, (0, (rw - rh) // 2))
    return canvas


@contextlib.contextmanager
def _atomic_folder(path: Path) -> Iterator[Path]:
    """Yield a temporary folder beside `path` (which must be absent or empty); rename it to `path` on
    success, delete it on failure."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
        if path.is_dir():
            path.rmdir()
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


class _Writer:
    """Adds files to the zip or folder being built."""

    def __init__(self, root: Path, as_zip: bool):
        self._zip = zipfile.ZipFile(root, "w", compression=zipfile.ZIP_STORED) if as_zip else None
        self._root = root

    def write(self, name: str, data: bytes) -> None:
        if self._zip is not None:
            self._zip.writestr(name, data)
        else:
            (self._root / name).parent.mkdir(parents=True, exist_ok=True)
            (self._root / name).write_bytes(data)

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()


@contextlib.contextmanager
def _open_dest(dest: Path) -> Iterator[_Writer]:
    if dest.suffix.lower() == ".zip":
        with atomic_path(dest) as tmp:
            writer = _Writer(tmp, as_zip=True)
            try:
                yield writer
            finally:
                writer.close()
    else:
        with _atomic_folder(dest) as tmp:
            yield _Writer(tmp, as_zip=False)


def _scan(source: _Source, candidates: list[str], skipped: dict[str, list[str]]) -> dict[str, tuple]:
    """Read each candidate's header: {name: (width, height, mode)}; unreadable ones go to `skipped`."""
    headers = {}
    for name in candidates:
        try:
            with source.open(name) as f, PIL.Image.open(f) as image:
                headers[name] = (image.size[0], image.size[1], image.mode)
        except Exception:  # PIL raises many kinds of errors on foreign or damaged files
            skipped.setdefault("unreadable (not an image, or damaged)", []).append(name)
    return headers


def make_dataset(source: str | Path, dest: str | Path | None = None, resolution=None, transform: str | None = None,
                 labels: str | Path | None = None, max_images: int | None = None, allow_upscale: bool = False,
                 progress: bool = True) -> Summary:
    """Convert a folder or zip of images, or draw a built-in dataset (`builtin:toonfaces`, BUILTIN_IMAGES
faces unless `max_images` says otherwise), into a dataset zip (or folder) in the official layout.

    `resolution` ('256x256', 256, (w, h)) resizes every image (Lanczos) after the optional `transform`
    ('center-crop': the central square; 'center-crop-wide': the official letterboxed crop, output rw x rw);
    without it every image must already have the dataset's size (the most common one). Smaller images are
    skipped rather than upscaled unless `allow_upscale`. The output is grayscale when every input is, else
    RGB. Labels come from `labels` (a dataset.json-style file) or the source's own dataset.json; images
    without a label are then skipped. `max_images` caps the number of images written (the first ones in
    sorted order). The default `dest` is NAME-RESxRES.zip in the current folder, NAME being the
    source's name without extension.
    """
    if transform is not None and transform not in TRANSFORMS:
        raise InputError(f"unknown --transform {transform!r}; choose {' or '.join(TRANSFORMS)}")
    resolution = parse_resolution(resolution)
    if transform is not None and resolution is None:
        raise InputError(f"--transform {transform} needs --resolution (e.g. 256x256)")
    if resolution is not None:
        rw, rh = resolution
        if transform == "center-crop-wide" and (not _is_power_of_two(rw) or rh > rw):
            raise InputError(f"--resolution {rw}x{rh}: center-crop-wide needs a power-of-two width and a height "
                             f"no larger than it (the output is {rw}x{rw})")
        if transform != "center-crop-wide" and (rw != rh or not _is_power_of_two(rw)):
            raise InputError(f"--resolution {rw}x{rh}: training images must be square with a power-of-two size, "
                             f"e.g. 256x256")
    if max_images is not None and max_images < 1:
        raise InputError(f"--max-images must be at least 1, got {max_images}")
    if is_builtin(source):
        if transform is not None or labels is not None:
            raise InputError(f"{source} is drawn at the asked resolution and has no labels: drop --transform "
                             f"and --labels")
        return _write_builtin(str(source), dest, resolution, max_images, progress)

    src = _Source(Path(source))
    try:
        return _convert(src, dest, resolution, transform, labels, max_images, allow_upscale, progress)
    finally:
        src.close()


def _check_dest(dest: Path) -> None:
    """A destination folder must be empty or absent; a .zip is replaced atomically."""
    if dest.suffix.lower() != ".zip" and dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise InputError(f"{dest}: the destination folder must be empty or absent (or name a .zip file)")


def _write_builtin(name: str, dest, resolution, max_images: int | None, progress: bool) -> Summary:
    if resolution is not None and resolution[0] != resolution[1]:
        raise InputError(f"--resolution {resolution[0]}x{resolution[1]}: {name} is square")
    dataset = ToonFacesDataset(name, resolution=None if resolution is None else resolution[0],
                               max_size=BUILTIN_IMAGES if max_images is None else max_images)
    size = dataset.resolution
    dest = Path(dest) if dest is not None else Path.cwd() / f"{dataset.name}-{size}x{size}.zip"
    _check_dest(dest)
    with _open_dest(dest) as out:
        for i in tqdm(range(len(dataset)), desc="dataset", unit="img", disable=not progress, leave=False):
            buffer = io.BytesIO()
            PIL.Image.fromarray(dataset[i][0].transpose(1, 2, 0)).save(buffer, format="PNG", compress_level=0)
            out.write(f"{i // 1000:05d}/img{i:08d}.png", buffer.getvalue())
        out.write("dataset.json", json.dumps({"labels": None}).encode())
    return Summary(dest=dest, images=len(dataset), resolution=size, channels=3, labels="none")


def _convert(src: _Source, dest, resolution, transform, labels_path, max_images, allow_upscale, progress) -> Summary:
    skipped: dict[str, list[str]] = {}
    converted: dict[str, list[str]] = {}
    image_ext = set(PIL.Image.registered_extensions())
    label_table, label_where = _read_labels(src, labels_path)
    candidates = []
    for name in src.names:
        if os.path.splitext(name)[1].lower() in image_ext:
            candidates.append(name)
        elif name != "dataset.json":
            skipped.setdefault("not an image file (by its extension)", []).append(name)
    if not candidates:
        raise InputError(f"{src.path}: holds no image files" + _skip_note(skipped))
    if label_table is not None and not any(name in label_table for name in candidates):
        example = next(iter(label_table), "?")
        raise InputError(f"{label_where}: none of its labels names an image of {src.path} (e.g. {example!r}); "
                         f"names must be paths relative to the source, like {candidates[0]!r}")

    headers = _scan(src, candidates, skipped)
    if not headers:
        raise InputError(f"{src.path}: no readable images" + _skip_note(skipped))
    channels = 1 if all(mode in GREY_MODES for _, _, mode in headers.values()) else 3
    if resolution is None:
        (w, h), _ = Counter((w, h) for w, h, _ in headers.values()).most_common(1)[0]
        if w != h or not _is_power_of_two(w):
            raise InputError(f"{src.path}: the images are {w}x{h}; training needs square power-of-two images: "
                             f"pass --resolution (e.g. 256x256), with --transform center-crop to keep the aspect")
        size = (w, h)
    else:
        size = (resolution[0], resolution[0])
    dest = Path(dest) if dest is not None else Path.cwd() / f"{src.path.stem}-{size[0]}x{size[1]}.zip"
    if dest.resolve() == src.path.resolve():
        raise InputError(f"{dest}: the destination is the source; choose another --dest")
    _check_dest(dest)

    kept_labels = []
    count, index = 0, 0
    readable = [n for n in candidates if n in headers]
    bar = tqdm(readable, desc="dataset", unit="img", disable=not progress, leave=False)
    with _open_dest(dest) as out:
        for index, name in enumerate(bar):
            if max_images is not None and count >= max_images:
                break
            w, h, _ = headers[name]
            reason = _skip_reason_for_size(w, h, resolution, transform, size, allow_upscale)
            if reason is None and label_table is not None and name not in label_table:
                reason = "no label in " + label_where
            if reason is None:
                try:
                    image, note = decode_image(src.read(name), channels)
                except (InputError, OSError, zipfile.BadZipFile) as exc:  # a damaged zip member too
                    reason = "truncated" if "truncated" in str(exc) else "unreadable (not an image, or damaged)"
            if reason is not None:
                skipped.setdefault(reason, []).append(name)
                continue
            if note is not None:
                converted.setdefault(note, []).append(name)
            image = _transform(image, resolution, transform)
            buffer = io.BytesIO()
            image.save(buffer, format="PNG", compress_level=0, optimize=False)
            archive_name = f"{count // 1000:05d}/img{count:08d}.png"
            out.write(archive_name, buffer.getvalue())
            if label_table is not None:
                kept_labels.append([archive_name, label_table[name]])
            count += 1
        else:
            index = len(readable)
        if count == 0:
            raise InputError(f"{src.path}: no usable images" + _skip_note(skipped))
        out.write("dataset.json", json.dumps({"labels": kept_labels if label_table is not None else None}).encode())
    return Summary(dest=dest, images=count, resolution=size[0], channels=channels,
                   labels=_describe_labels([label for _, label in kept_labels]), converted=converted,
                   skipped=skipped, not_read=len(readable) - index)


def _skip_note(skipped: dict[str, list[str]]) -> str:
    if not skipped:
        return ""
    return " (" + "; ".join(f"{len(names)} {reason}" for reason, names in skipped.items()) + ")"


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:_SHOWN_NAMES])
    return shown + (f", and {len(names) - _SHOWN_NAMES} more" if len(names) > _SHOWN_NAMES else "")


def format_summary(summary: Summary) -> str:
    """The report printed at the end of `stylegan dataset`."""
    kind = "grayscale" if summary.channels == 1 else "RGB"
    size = f"{summary.resolution}x{summary.resolution}"
    lines = [f"wrote {summary.images} image{'s' * (summary.images != 1)} ({size} {kind}; labels: {summary.labels}) "
             f"to {summary.dest}"]
    for title, groups in (("converted", summary.converted), ("skipped", summary.skipped)):
        if groups:
            lines.append(f"{title} {sum(len(v) for v in groups.values())}:")
            lines += [f"  {reason}: {len(names)} ({_names(names)})" for reason, names in groups.items()]
    if summary.not_read:
        lines.append(f"stopped at --max-images: {summary.not_read} more file{'s' * (summary.not_read != 1)} not read")
    return "\n".join(lines)
