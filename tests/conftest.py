"""Shared test helpers: where the reference checkpoints live, and tiny random networks."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"
FIXTURES = Path(os.environ.get("STYLEGAN_FIXTURES", ROOT.parent / "shared" / "fixtures" / "nvidia"))


def fixture_path(name: str) -> Path:
    """Path of a shared reference file; skips the test when the shared fixtures are not present."""
    path = FIXTURES / name
    if not path.exists():
        pytest.skip(f"shared fixture {name} not found (set STYLEGAN_FIXTURES to its folder)")
    return path


def reference(path: Path) -> dict[str, np.ndarray]:
    """The arrays of a NAME_ref.npz file beside a NAME.pkl."""
    return dict(np.load(path.with_name(path.stem + "_ref.npz")))


def max_diff(a, b) -> float:
    """Largest absolute difference between two arrays/tensors."""
    a = a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)
    b = b.detach().cpu().numpy() if isinstance(b, torch.Tensor) else np.asarray(b)
    assert a.shape == b.shape, (a.shape, b.shape)
    return float(np.abs(a.astype(np.float64) - b.astype(np.float64)).max())


@pytest.fixture(autouse=True)
def _deterministic():
    torch.manual_seed(0)
    yield


@pytest.fixture(autouse=True)
def _private_download_cache(tmp_path_factory, monkeypatch):
    """Every test sees an empty download cache and no network settings of the machine it runs on."""
    monkeypatch.setenv("STYLEGAN_CACHE", str(tmp_path_factory.mktemp("stylegan-cache")))
    for name in ("STYLEGAN_OFFLINE", "STYLEGAN_DOWNLOAD", "STYLEGAN_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)
