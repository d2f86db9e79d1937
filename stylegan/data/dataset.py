"""Image datasets in the official layout: a zip file or a folder of PNG/JPEG images, plus an optional
`dataset.json` whose "labels" list pairs each file name with a class index or a label vector.

Images are served as uint8 arrays [C, H, W] in sorted file-name order. `max_size` keeps a random but
reproducible subset (chosen before mirroring) and `xflip` doubles the dataset with mirrored copies,
exactly as the official reader does, so sample sets and cached statistics agree with it.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
from pathlib import Path

import numpy as np
import PIL.Image

from . import toonfaces
from ..errors import InputError
from ..io.files import read_bytes

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")
BUILTIN_PREFIX = "builtin:"


def is_builtin(path: str | Path) -> bool:
    """True for a built-in dataset name such as 'builtin:toonfaces' or 'builtin:toonfaces:128'."""
    return str(path).startswith(BUILTIN_PREFIX)


def open_dataset(path: str | Path, **kwargs) -> "ImageDataset | ToonFacesDataset":
    """The dataset at `path` (a zip or folder of images) or a built-in one; kwargs as `ImageDataset`."""
    return ToonFacesDataset(path, **kwargs) if is_builtin(path) else ImageDataset(path, **kwargs)


def parse_builtin(name: str | Path, resolution: int | None = None) -> int:
    """The resolution a built-in dataset name asks for ('builtin:toonfaces' is 64, 'builtin:toonfaces:128'
    is 128); `resolution`, when given, must agree with an explicit one."""
    parts = str(name).split(":")
    if parts[1:2] != ["toonfaces"] or len(parts) > 3:
        raise InputError(f"{name}: unknown built-in dataset; the one built in is builtin:toonfaces "
                         f"(or builtin:toonfaces:RES for another power-of-two resolution)")
    if len(parts) == 3:
        if not parts[2].isdigit() or int(parts[2]) < 4 or int(parts[2]) & (int(parts[2]) - 1):
            raise InputError(f"{name}: the resolution after the last ':' must be a power of two >= 4, e.g. 128")
        if resolution is not None and int(parts[2]) != resolution:
            raise InputError(f"{name} is {parts[2]}x{parts[2]}, but {resolution}x{resolution} is needed "
                             f"(the network's resolution)")
        return int(parts[2])
    return resolution if resolution is not None else toonfaces.DEFAULT_RESOLUTION


class _Images:
    """What both datasets share: item i is raw image `_raw_idx[i]` (from the subclass's `_raw_image`),
    mirrored where `_flip[i]`, with the subclass's `get_label(i)`."""

    image_shape: list[int]
    _raw_idx: np.ndarray
    _flip: np.ndarray

    def _set_items(self, raw_idx: np.ndarray, xflip: bool) -> None:
        """Serve `raw_idx` in order, followed by their mirror images when `xflip`."""
        self._raw_idx = np.tile(raw_idx, 2) if xflip else raw_idx
        self._flip = np.repeat([False, True] if xflip else [False], raw_idx.size)

    def __len__(self) -> int:
        return int(self._raw_idx.size)

    def __getitem__(self, idx: int) -> tuple[np.ndarray, np.ndarray]:
        image = self._raw_image(int(self._raw_idx[idx]))
        if self._flip[idx]:
            image = image[:, :, ::-1]
        return np.ascontiguousarray(image), self.get_label(idx)

    @property
    def resolution(self) -> int:
        return self.image_shape[1]

    @property
    def num_channels(self) -> int:
        return self.image_shape[0]


class ToonFacesDataset(_Images):
    """`builtin:toonfaces`: procedural cartoon faces drawn on demand (see `stylegan.data.toonfaces`), with the
    interface of `ImageDataset`. `max_size` keeps the first faces; `xflip` adds their mirror images."""

    def __init__(self, path: str | Path = toonfaces.NAME, resolution: int | None = None, use_labels: bool = False,
                 xflip: bool = False, max_size: int | None = None, random_seed: int = 0):
        if use_labels:
            raise InputError(f"{path} has no labels; train it without --cond")
        self.path = str(path)
        self.name = "toonfaces"
        size = parse_builtin(path, resolution)
        self.image_shape = [3, size, size]
        count = toonfaces.NUM_IMAGES if max_size is None else min(int(max_size), toonfaces.NUM_IMAGES)
        self._set_items(np.arange(count), xflip)
        self.xflip = bool(xflip)
        self.use_labels = False
        self.max_size = max_size

    def _raw_image(self, raw: int) -> np.ndarray:
        return toonfaces.toonface(raw, self.resolution).transpose(2, 0, 1)

    @property
    def label_dim(self) -> int:
        return 0

    def get_label(self, idx: int) -> np.ndarray:
        """No labels: an empty vector."""
        return np.zeros([0], dtype=np.float32)

    def fingerprint(self) -> str:
        """A digest of what defines the images: the generator's seed and drawing version, the resolution and
        the count (so statistics cached for an earlier drawing of the faces are not reused)."""
        key = (f"toonfaces\0{toonfaces.SEED}\0{toonfaces.DRAWING_VERSION}\0{self.resolution}\0"
               f"{int(self._raw_idx.max()) + 1}\n")
        return hashlib.sha256(key.encode()).hexdigest()

    def close(self) -> None:
        """Nothing to close: the faces are drawn on demand."""


class ImageDataset(_Images):
    """Images and labels from a zip or a folder; `dataset[i]` -> (uint8 image [C, H, W], float32 label)."""

    def __init__(self, path: str | Path, resolution: int | None = None, use_labels: bool = False,
                 xflip: bool = False, max_size: int | None = None, random_seed: int = 0):
        self.path = Path(path)
        self.name = self.path.stem
        self.xflip = bool(xflip)
        self.use_labels = bool(use_labels)
        self.max_size = max_size
        self._zip: zipfile.ZipFile | None = None
        if self.path.is_dir():
            self._kind = "dir"
            names = [p.relative_to(self.path).as_posix() for p in self.path.rglob("*") if p.is_file()]
        elif self.path.is_file() and zipfile.is_zipfile(self.path):
            self._kind = "zip"
            names = [n for n in self._zipfile().namelist() if not n.endswith("/")]
        elif self.path.exists():
            raise InputError(f"{self.path}: a dataset must be a folder of images or a .zip of them")
        else:
            raise InputError(f"{self.path}: no such dataset (expected a folder or a .zip of images)")
        self._all_names = set(names)
        self.image_names = sorted(n for n in names if os.path.splitext(n)[1].lower() in IMAGE_EXTENSIONS)
        if not self.image_names:
            raise InputError(f"{self.path}: holds no PNG or JPEG images")
        self.image_shape = list(self._read_image(self.image_names[0]).shape)
        if resolution is not None and self.image_shape[1:] != [resolution, resolution]:
            raise InputError(f"{self.path}: images are {self.image_shape[2]}x{self.image_shape[1]}, but "
                             f"{resolution}x{resolution} is needed (the network's resolution)")
        self._labels = self._read_labels() if use_labels else None

        idx = np.arange(len(self.image_names), dtype=np.int64)
        if max_size is not None and idx.size > max_size:
            np.random.RandomState(random_seed).shuffle(idx)
            idx = np.sort(idx[:max_size])
        self._set_items(idx, xflip)
        self.close()  # reopened on demand, so that loader worker processes never share one zip handle

    def _raw_image(self, raw: int) -> np.ndarray:
        name = self.image_names[raw]
        image = self._read_image(name)
        if list(image.shape) != self.image_shape:
            raise InputError(f"{self.path}: {name} is {image.shape[2]}x{image.shape[1]} with {image.shape[0]} "
                             f"channel(s), but the dataset's images are {self.image_shape[2]}x{self.image_shape[1]} "
                             f"with {self.image_shape[0]}; all images must match")
        return image

    @property
    def label_dim(self) -> int:
        """Length of a label vector: the number of classes for class labels, 0 without labels."""
        if self._labels is None:
            return 0
        return int(self._labels.max()) + 1 if self._labels.dtype == np.int64 else int(self._labels.shape[1])

    def get_label(self, idx: int) -> np.ndarray:
        """The label of item `idx` as float32: one-hot for class indices, empty without labels."""
        if self._labels is None:
            return np.zeros([0], dtype=np.float32)
        label = self._labels[self._raw_idx[idx]]
        if self._labels.dtype == np.int64:
            onehot = np.zeros([self.label_dim], dtype=np.float32)
            onehot[label] = 1
            return onehot
        return label.copy()

    def fingerprint(self) -> str:
        """A digest of the dataset's content: each zip member's name, size and CRC-32, or each folder
        file's name, size and modification time."""
        h = hashlib.sha256()
        if self._kind == "zip":
            for info in sorted(self._zipfile().infolist(), key=lambda i: i.filename):
                h.update(f"{info.filename}\0{info.file_size}\0{info.CRC}\n".encode())
        else:
            for name in sorted(self._all_names):
                st = (self.path / name).stat()
                h.update(f"{name}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        return h.hexdigest()

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()
            self._zip = None

    def __getstate__(self) -> dict:
        return dict(self.__dict__, _zip=None)

    def _zipfile(self) -> zipfile.ZipFile:
        if self._zip is None:
            self._zip = zipfile.ZipFile(self.path)
        return self._zip

    def _read_bytes(self, name: str) -> bytes:
        if self._kind == "zip":
            return self._zipfile().read(name)
        return read_bytes(self.path / name, "dataset")

    def _read_image(self, name: str) -> np.ndarray:
        try:
            with PIL.Image.open(io.BytesIO(self._read_bytes(name))) as image:
                array = np.asarray(image)
        except (OSError, ValueError) as exc:
            raise InputError(f"{self.path}: cannot read image {name} ({exc})") from None
        if array.dtype != np.uint8:
            raise InputError(f"{self.path}: {name} is not an 8-bit image (mode {image.mode})")
        if array.ndim == 2:
            array = array[:, :, np.newaxis]
        return array.transpose(2, 0, 1)

    def _read_labels(self) -> np.ndarray | None:
        if "dataset.json" not in self._all_names:
            return None
        try:
            labels = json.loads(self._read_bytes("dataset.json"))["labels"]
        except (ValueError, KeyError, TypeError) as exc:
            raise InputError(f"{self.path}: dataset.json has no readable 'labels' list ({exc})") from None
        if labels is None:
            return None
        table = {str(name).replace("\\", "/"): label for name, label in labels}
        missing = [n for n in self.image_names if n not in table]
        if missing:
            raise InputError(f"{self.path}: dataset.json has no label for {missing[0]} "
                             f"({len(missing)} image(s) unlabelled)")
        array = np.array([table[n] for n in self.image_names])
        if array.ndim == 1:
            if not np.issubdtype(array.dtype, np.integer) or array.min() < 0:
                raise InputError(f"{self.path}: class labels in dataset.json must be non-negative integers")
            return array.astype(np.int64)
        if array.ndim == 2:
            return array.astype(np.float32)
        raise InputError(f"{self.path}: labels in dataset.json must be class indices or flat vectors")
