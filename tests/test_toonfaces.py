"""builtin:toonfaces: deterministic procedural faces, their factor scales, the dataset and the dataset tool."""
import dataclasses

import numpy as np
import PIL.Image
import pytest

from stylegan.errors import InputError
from stylegan.data.toonfaces import FACTOR_SCALES, toonface, toonface_factors
from stylegan.data.dataset import ImageDataset, ToonFacesDataset, open_dataset
from stylegan.data.dataset_tool import make_dataset
from stylegan.train.options import TrainOptions
from stylegan.train.run import train


def outline(image: np.ndarray) -> np.ndarray:
    """Where the drawing's dark outline is: pixels close to the outline colour."""
    return np.abs(image.astype(int) - [40, 28, 24]).sum(axis=2) < 60


def edges(image: np.ndarray) -> np.ndarray:
    """Where the luminance changes sharply: the drawn lines and borders, whatever their colours."""
    gray = image.astype(float).mean(axis=2)
    gy, gx = np.gradient(gray)
    return np.hypot(gx, gy) > 12


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / (a | b).sum())


def test_faces_are_deterministic_and_differ_between_indices():
    a, b = toonface(3), toonface(3)
    assert a.dtype == np.uint8 and a.shape == (64, 64, 3)
    assert np.array_equal(a, b)
    assert np.abs(toonface(3).astype(int) - toonface(4)).mean() > 20


def test_a_face_is_the_same_face_at_any_resolution():
    drawing = {"grain": 0}  # the film grain is drawn per pixel at each resolution, the drawing is shared
    big = np.asarray(PIL.Image.fromarray(toonface(11, 128, drawing)).reduce(2), dtype=int)
    small = toonface(11, 64, drawing).astype(int)
    other = toonface(12, 64, drawing).astype(int)
    assert np.abs(big - small).mean() < 6 < np.abs(big - other).mean()


def test_film_grain_is_monochrome_and_as_strong_as_its_factor():
    assert all(6 <= toonface_factors(i)["grain"] <= 18 for i in range(500))
    for index in (0, 1, 2, 3):
        sigma = toonface_factors(index)["grain"]
        base = toonface(index, 64, {"grain": 0}).astype(float)
        grain = toonface(index, 64).astype(float) - base
        unclipped = ((base > 4 * sigma) & (base < 255 - 4 * sigma)).all(axis=2)  # clipping odds below 1e-4
        assert unclipped.sum() > 300
        assert np.array_equal(grain[unclipped][:, 0], grain[unclipped][:, 1])
        assert np.array_equal(grain[unclipped][:, 0], grain[unclipped][:, 2])
        values = grain[unclipped][:, 0]
        # five standard errors of a sample deviation, plus the +-1 of rounding the grainy image to integers
        assert abs(values.std() - sigma) <= 5 * sigma / np.sqrt(2 * values.size) + 1


def test_fine_factors_keep_the_shape_and_coarse_factors_change_it():
    base = toonface(5, 256, overrides=dict(grain=0))
    recoloured = toonface(5, 256, overrides=dict(grain=0, skin=(250, 200, 170), hair_colour=(200, 40, 40),
                                            background=((20, 200, 20), (20, 20, 200))))
    tilted = toonface(5, 256, overrides=dict(grain=0, tilt=toonface_factors(5)["tilt"] + 25))
    assert np.abs(recoloured.astype(int) - base).mean() > 20  # the colours changed ...
    assert iou(outline(base), outline(recoloured)) > 0.9 > 0.6 > iou(outline(base), outline(tilted))


def test_factor_scales_partition_the_factors_and_swap_what_they_say():
    names = [name for scale in FACTOR_SCALES.values() for name in scale]
    assert sorted(names) == sorted(toonface_factors(0)) and len(set(names)) == len(names)
    base = toonface(5, 256, overrides=dict(grain=0))
    other = toonface_factors(6)

    def swapped(scale: str) -> np.ndarray:
        return toonface(5, 256, overrides={**{k: other[k] for k in FACTOR_SCALES[scale]}, "grain": 0})

    fine, coarse = swapped("fine"), swapped("coarse")
    assert np.abs(fine.astype(int) - base).mean() > 10
    assert iou(edges(base), edges(fine)) > 0.6 > 0.2 > iou(edges(base), edges(coarse))  # freckles add edges


def test_unknown_factor_and_bad_resolution_are_reported():
    with pytest.raises(ValueError, match="unknown toonface factors"):
        toonface(0, overrides=dict(nose_length=3))
    with pytest.raises(ValueError, match="at least 4"):
        toonface(0, 2)


def test_dataset_serves_chw_images_with_mirrors_and_a_size_cap():
    ds = open_dataset("builtin:toonfaces:32", xflip=True, max_size=5)
    assert isinstance(ds, ToonFacesDataset)
    assert len(ds) == 10 and ds.resolution == 32 and ds.num_channels == 3 and ds.label_dim == 0
    image, label = ds[2]
    assert image.shape == (3, 32, 32) and label.shape == (0,)
    assert np.array_equal(image, toonface(2, 32).transpose(2, 0, 1))
    assert np.array_equal(ds[7][0], image[:, :, ::-1])
    assert ds.fingerprint() != open_dataset("builtin:toonfaces:64", max_size=5).fingerprint()
    assert ds.fingerprint() != open_dataset("builtin:toonfaces:32", max_size=6).fingerprint()
    assert open_dataset("builtin:toonfaces").resolution == 64
    assert open_dataset("builtin:toonfaces", resolution=16).resolution == 16


@pytest.mark.parametrize("name, message", [("builtin:cats", "unknown built-in dataset"),
                                           ("builtin:toonfaces:48", "power of two"),
                                           ("builtin:toonfaces:x", "power of two")])
def test_bad_builtin_names(name, message):
    with pytest.raises(InputError, match=message):
        open_dataset(name)


def test_resolution_mismatch_and_labels_are_refused():
    with pytest.raises(InputError, match="32x32, but 64x64"):
        open_dataset("builtin:toonfaces:32", resolution=64)
    with pytest.raises(InputError, match="no labels"):
        open_dataset("builtin:toonfaces", use_labels=True)


def test_dataset_tool_writes_the_builtin_faces(tmp_path):
    summary = make_dataset("builtin:toonfaces", tmp_path / "faces.zip", resolution="32x32", max_images=6,
                           progress=False)
    assert summary.images == 6 and summary.resolution == 32
    ds = ImageDataset(tmp_path / "faces.zip")
    assert len(ds) == 6
    for i in range(6):
        assert np.array_equal(ds[i][0], toonface(i, 32).transpose(2, 0, 1))
    with pytest.raises(InputError, match="drop --transform"):
        make_dataset("builtin:toonfaces", tmp_path / "x.zip", resolution="32x32", transform="center-crop")


def test_training_reads_the_builtin_dataset(tmp_path):
    opts = TrainOptions(outdir=str(tmp_path), data="builtin:toonfaces:16", cfg="stylegan2", batch=4, gamma=1.0,
                        kimg=0.008, tick=0.008, snap=1, aug="noaug", cbase=256, cmax=16, map_depth=2, workers=0,
                        z_dim=16, w_dim=16, max_size=64)
    run_dir = train(opts, show_progress=False)
    assert "toonfaces" in run_dir.name and ":" not in run_dir.name
    assert (run_dir / "reals.png").is_file()
    with pytest.raises(InputError, match="unknown built-in dataset"):
        train(dataclasses.replace(opts, outdir=str(tmp_path / "bad"), data="builtin:cats"), show_progress=False)
    assert not (tmp_path / "bad").exists() or not any((tmp_path / "bad").iterdir())


def test_a_new_drawing_of_the_faces_gets_a_new_fingerprint(monkeypatch):
    from stylegan.data import toonfaces
    before = open_dataset("builtin:toonfaces:32", max_size=5).fingerprint()
    monkeypatch.setattr(toonfaces, "DRAWING_VERSION", toonfaces.DRAWING_VERSION + 1)
    assert open_dataset("builtin:toonfaces:32", max_size=5).fingerprint() != before
