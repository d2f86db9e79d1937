"""Running feature statistics (all rows and/or float64 mean and covariance) and their on-disk cache."""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..io.files import load_arrays, save_arrays


class FeatureStats:
    """Accumulates feature rows [n, d]: keeps them all (`capture_all`) and/or their float64 sums for the
    mean and covariance (`capture_mean_cov`), up to `max_items` rows."""

    def __init__(self, capture_all: bool = False, capture_mean_cov: bool = False, max_items: int | None = None):
        self.capture_all = capture_all
        self.capture_mean_cov = capture_mean_cov
        self.max_items = max_items
        self.num_items = 0
        self.num_features: int | None = None
        self.rows: list[np.ndarray] = []
        self.raw_mean: np.ndarray | None = None
        self.raw_cov: np.ndarray | None = None

    def is_full(self) -> bool:
        return self.max_items is not None and self.num_items >= self.max_items

    def append(self, x: np.ndarray) -> None:
        """Add rows; rows beyond `max_items` are dropped."""
        x = np.asarray(x, dtype=np.float32)
        if x.ndim != 2:
            raise ValueError(f"features must be [n, d], got shape {x.shape}")
        if self.max_items is not None:
            x = x[:max(self.max_items - self.num_items, 0)]
        if self.num_features is None:
            self.num_features = x.shape[1]
            self.raw_mean = np.zeros([x.shape[1]], dtype=np.float64)
            self.raw_cov = np.zeros([x.shape[1], x.shape[1]], dtype=np.float64)
        elif x.shape[1] != self.num_features:
            raise ValueError(f"features have {x.shape[1]} columns, expected {self.num_features}")
        if not len(x):
            return
        self.num_items += len(x)
        if self.capture_all:
            self.rows.append(x)
        if self.capture_mean_cov:
            x64 = x.astype(np.float64)
            self.raw_mean += x64.sum(axis=0)
            self.raw_cov += x64.T @ x64

    def get_all(self) -> np.ndarray:
        """All captured rows [num_items, d] (float32)."""
        if not self.capture_all:
            raise ValueError("these statistics were collected without capture_all")
        return np.concatenate(self.rows) if self.rows else np.zeros([0, self.num_features or 0], np.float32)

    def get_mean_cov(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean [d] and (biased, 1/n) covariance [d, d] in float64."""
        if not self.capture_mean_cov:
            raise ValueError("these statistics were collected without capture_mean_cov")
        mean = self.raw_mean / self.num_items
        cov = self.raw_cov / self.num_items - np.outer(mean, mean)
        return mean, cov

    def save(self, path: str | Path) -> None:
        """Write to an .npz file, atomically (read back with `load`, no pickle involved)."""
        arrays = dict(capture_all=self.capture_all, capture_mean_cov=self.capture_mean_cov,
                      max_items=-1 if self.max_items is None else self.max_items, num_items=self.num_items,
                      num_features=-1 if self.num_features is None else self.num_features)
        if self.capture_all:
            arrays["rows"] = self.get_all()
        if self.capture_mean_cov and self.raw_mean is not None:
            arrays["raw_mean"], arrays["raw_cov"] = self.raw_mean, self.raw_cov
        save_arrays(path, arrays)

    @classmethod
    def load(cls, path: str | Path) -> "FeatureStats":
        """Statistics written by `save` (a damaged file is an InputError)."""
        data = load_arrays(path, "feature statistics")
        try:
            max_items = int(data["max_items"])
            stats = cls(bool(data["capture_all"]), bool(data["capture_mean_cov"]), None if max_items < 0 else max_items)
            stats.num_items = int(data["num_items"])
            stats.num_features = None if int(data["num_features"]) < 0 else int(data["num_features"])
        except KeyError as exc:
            raise InputError(f"{path}: not a feature statistics file (no {exc.args[0]!r})") from None
        if stats.capture_all:
            stats.rows = [data["rows"]]
        if "raw_mean" in data:
            stats.raw_mean, stats.raw_cov = data["raw_mean"], data["raw_cov"]
        return stats


def cache_dir() -> Path:
    """Where dataset statistics are cached: $STYLEGAN_CACHE_DIR, else ~/.cache/stylegan/metrics."""
    env = os.environ.get("STYLEGAN_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "stylegan" / "metrics"


def cache_path(folder: Path, dataset_name: str, detector_name: str, key: dict) -> Path:
    """The cache file for statistics described by `key` (any JSON-serialisable description)."""
    digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:32]
    return folder / f"{dataset_name}-{detector_name}-{digest}.npz"
