"""The dataset reader: zip and folder alike, sorted names, labels, mirroring, subsets, clear errors."""
import json
import zipfile

import numpy as np
import PIL.Image
import pytest

from stylegan.errors import InputError
from stylegan.data.dataset import ImageDataset


def _make_images(n=5, size=8, channels=3, seed=0):
    rng = np.random.RandomState(seed)
    shape = (size, size, channels) if channels == 3 else (size, size)
    return [rng.randint(0, 256, shape, dtype=np.uint8) for _ in range(n)]


def write_dataset(path, images, labels=None, ext=".png", as_zip=False):
    """Write images named img00003.png ... into a folder or a zip, with an optional dataset.json."""
    files = {}
    for i, img in enumerate(images):
        name = f"sub/img{(len(images) - i) * 3:05d}{ext}"  # written out of order on purpose
        buf = __import__("io").BytesIO()
        PIL.Image.fromarray(img).save(buf, format="PNG" if ext == ".png" else "JPEG", quality=95)
        files[name] = buf.getvalue()
    if labels is not None:
        files["dataset.json"] = json.dumps({"labels": [[n, l] for n, l in zip(list(files), labels)]}).encode()
    if as_zip:
        with zipfile.ZipFile(path, "w") as z:
            for name, data in files.items():
                z.writestr(name, data)
    else:
        for name, data in files.items():
            (path / name).parent.mkdir(parents=True, exist_ok=True)
            (path / name).write_bytes(data)
    return sorted(n for n in files if n != "dataset.json")


def test_zip_and_folder_give_the_same_sorted_uint8_images(tmp_path):
    images = _make_images()
    names = write_dataset(tmp_path / "folder", images)
    write_dataset(tmp_path / "data.zip", images, as_zip=True)
    a, b = ImageDataset(tmp_path / "folder"), ImageDataset(tmp_path / "data.zip")
    assert a.image_names == b.image_names == names and len(a) == 5 and a.resolution == 8 and a.num_channels == 3
    # Names sort img00003 < ... < img00015, which is the reverse of the writing order.
    for i in range(5):
        img, label = a[i]
        assert img.dtype == np.uint8 and img.shape == (3, 8, 8) and label.shape == (0,)
        assert np.array_equal(img, images[4 - i].transpose(2, 0, 1))
        assert np.array_equal(img, b[i][0])


def test_class_and_vector_labels_from_dataset_json(tmp_path):
    images = _make_images(3)
    write_dataset(tmp_path / "cls.zip", images, labels=[2, 0, 1], as_zip=True)
    ds = ImageDataset(tmp_path / "cls.zip", use_labels=True)
    assert ds.label_dim == 3
    # Sorted order reverses the writing order, so labels come out as 1, 0, 2.
    assert [int(np.argmax(ds[i][1])) for i in range(3)] == [1, 0, 2] and ds[0][1].dtype == np.float32
    write_dataset(tmp_path / "vec", images, labels=[[0.5, 1.0], [0.0, 2.0], [1.0, 1.0]])
    ds = ImageDataset(tmp_path / "vec", use_labels=True)
    assert ds.label_dim == 2 and np.array_equal(ds[0][1], [1.0, 1.0])
    assert ImageDataset(tmp_path / "vec").label_dim == 0


def test_mirroring_doubles_the_dataset_with_flipped_copies(tmp_path):
    write_dataset(tmp_path / "d", _make_images(3))
    plain, mirrored = ImageDataset(tmp_path / "d"), ImageDataset(tmp_path / "d", xflip=True)
    assert len(mirrored) == 6
    for i in range(3):
        assert np.array_equal(mirrored[i][0], plain[i][0])
        assert np.array_equal(mirrored[i + 3][0], plain[i][0][:, :, ::-1])


def test_max_size_keeps_a_reproducible_subset_in_order(tmp_path):
    write_dataset(tmp_path / "d", _make_images(10, 4))
    full, small = ImageDataset(tmp_path / "d"), ImageDataset(tmp_path / "d", max_size=4)
    order = np.arange(10)
    np.random.RandomState(0).shuffle(order)
    kept = np.sort(order[:4])
    assert len(small) == 4
    for i, k in enumerate(kept):
        assert np.array_equal(small[i][0], full[int(k)][0])


def test_grayscale_and_jpeg_images(tmp_path):
    write_dataset(tmp_path / "gray", _make_images(2, channels=1))
    assert ImageDataset(tmp_path / "gray")[0][0].shape == (1, 8, 8)
    write_dataset(tmp_path / "jpg", _make_images(2), ext=".jpg")
    assert ImageDataset(tmp_path / "jpg")[1][0].shape == (3, 8, 8)


def test_bad_datasets_give_clear_errors(tmp_path):
    with pytest.raises(InputError, match="no such dataset"):
        ImageDataset(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no PNG or JPEG"):
        ImageDataset(tmp_path / "empty")
    write_dataset(tmp_path / "d", _make_images(2))
    with pytest.raises(InputError, match="16x16 is needed"):
        ImageDataset(tmp_path / "d", resolution=16)
    PIL.Image.fromarray(_make_images(1, 12)[0]).save(tmp_path / "d" / "sub" / "zz_odd.png")
    ds = ImageDataset(tmp_path / "d")
    with pytest.raises(InputError, match=r"zz_odd.png is 12x12.*all images must match"):
        ds[len(ds) - 1]
    write_dataset(tmp_path / "l", _make_images(2), labels=[0, 1])
    data = json.loads((tmp_path / "l" / "dataset.json").read_text())
    data["labels"] = data["labels"][:1]
    (tmp_path / "l" / "dataset.json").write_text(json.dumps(data))
    with pytest.raises(InputError, match="no label for"):
        ImageDataset(tmp_path / "l", use_labels=True)


def test_fingerprint_follows_the_content(tmp_path):
    images = _make_images(2)
    write_dataset(tmp_path / "a.zip", images, as_zip=True)
    write_dataset(tmp_path / "b.zip", images, as_zip=True)
    write_dataset(tmp_path / "c.zip", _make_images(2, seed=1), as_zip=True)
    fp = [ImageDataset(tmp_path / n).fingerprint() for n in ("a.zip", "b.zip", "c.zip")]
    assert fp[0] == fp[1] != fp[2]
