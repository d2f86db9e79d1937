"""The dataset tool: what is kept, converted, skipped and reported; labels; resolution and transforms
(against the official tool's output); the result reads back with ImageDataset; no partial output."""
import io
import json
import zipfile

import numpy as np
import PIL.Image
import pytest
from click.testing import CliRunner

from stylegan.cli import cli
from stylegan.errors import InputError
from stylegan.data import dataset_tool
from stylegan.data.dataset import ImageDataset
from stylegan.data.dataset_tool import format_summary, make_dataset, parse_resolution

from conftest import DATA


def png_bytes(array, mode=None):
    buf = io.BytesIO()
    PIL.Image.fromarray(array, mode).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture
def messy(tmp_path):
    """A folder of 32x32 images, good and bad; returns (folder, the arrays of the good ones by name)."""
    rs = np.random.RandomState(0)
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    rgb = rs.randint(0, 256, (32, 32, 3), dtype=np.uint8)
    grey = rs.randint(0, 256, (32, 32), dtype=np.uint8)
    rgba = rs.randint(0, 256, (32, 32, 4), dtype=np.uint8)
    deep = rs.randint(0, 65536, (32, 32)).astype(np.uint16)
    (src / "a.png").write_bytes(png_bytes(rgb))
    (src / "sub" / "grey.png").write_bytes(png_bytes(grey))
    (src / "rgba.png").write_bytes(png_bytes(rgba))
    (src / "deep.png").write_bytes(png_bytes(deep))
    (src / "tiny.png").write_bytes(png_bytes(rgb[:8, :8]))
    cut = png_bytes(rs.randint(0, 256, (32, 32, 3), dtype=np.uint8))
    (src / "cut.png").write_bytes(cut[:len(cut) // 2])
    (src / "text.png").write_text("not a picture")
    (src / "notes.txt").write_text("hello")
    alpha = rgba[:, :, 3:4].astype(np.float64) / 255
    expected = {
        "a.png": rgb,
        "deep.png": np.repeat(np.round(deep / 257).astype(np.uint8)[:, :, None], 3, axis=2),
        "rgba.png": np.round(rgba[:, :, :3] * alpha + 255 * (1 - alpha)).astype(np.uint8),
        "sub/grey.png": np.repeat(grey[:, :, None], 3, axis=2),
    }
    return src, expected


def read_zip(path):
    with zipfile.ZipFile(path) as z:
        names = sorted(z.namelist())
        images = {n: np.asarray(PIL.Image.open(io.BytesIO(z.read(n)))) for n in names if n.endswith(".png")}
        return names, images, json.loads(z.read("dataset.json"))


def test_bad_files_are_converted_or_skipped_and_reported(messy, tmp_path):
    src, expected = messy
    summary = make_dataset(src, tmp_path / "out.zip", progress=False)
    assert (summary.images, summary.resolution, summary.channels, summary.labels) == (4, 32, 3, "none")
    assert summary.converted == {"I;16 -> RGB (16-bit scaled to 8 bits)": ["deep.png"],
                                 "RGBA -> RGB (alpha flattened onto white)": ["rgba.png"],
                                 "L -> RGB": ["sub/grey.png"]}
    assert summary.skipped == {"not an image file (by its extension)": ["notes.txt"],
                               "unreadable (not an image, or damaged)": ["text.png"],
                               "truncated": ["cut.png"],
                               "size differs from the dataset's 32x32 (use --resolution to resize)": ["tiny.png"]}
    report = format_summary(summary)
    assert report.startswith("wrote 4 images (32x32 RGB; labels: none)") and "truncated: 1 (cut.png)" in report

    names, images, meta = read_zip(tmp_path / "out.zip")
    assert names == [f"00000/img0000000{i}.png" for i in range(4)] + ["dataset.json"] and meta == {"labels": None}
    dataset = ImageDataset(tmp_path / "out.zip")
    assert len(dataset) == 4 and dataset.resolution == 32 and dataset.num_channels == 3
    for i, name in enumerate(sorted(expected)):  # sorted source order: a, deep, rgba, sub/grey
        assert np.abs(dataset[i][0].transpose(1, 2, 0).astype(int) - expected[name]).max() <= 1, name
    assert np.array_equal(dataset[0][0].transpose(1, 2, 0), expected["a.png"])


def test_tiny_images_are_skipped_unless_upscaling_is_allowed(messy, tmp_path):
    src, _ = messy
    summary = make_dataset(src, tmp_path / "a.zip", resolution=16, progress=False)
    assert summary.images == 4
    assert summary.skipped["too small for 16x16 (use --allow-upscale to keep)"] == ["tiny.png"]
    summary = make_dataset(src, tmp_path / "b.zip", resolution=16, allow_upscale=True, progress=False)
    assert summary.images == 5 and ImageDataset(tmp_path / "b.zip").resolution == 16


def test_too_small_for_every_image_is_an_error_and_writes_nothing(messy, tmp_path):
    src, _ = messy
    with pytest.raises(InputError, match="no usable images .*too small for 64x64"):
        make_dataset(src, tmp_path / "out.zip", resolution=64, progress=False)
    assert not (tmp_path / "out.zip").exists()


def test_grayscale_sources_give_a_grayscale_dataset(tmp_path):
    rs = np.random.RandomState(1)
    src = tmp_path / "grey"
    src.mkdir()
    for i in range(3):
        (src / f"{i}.png").write_bytes(png_bytes(rs.randint(0, 256, (16, 16), dtype=np.uint8)))
    (src / "3.png").write_bytes(png_bytes(rs.randint(0, 65536, (16, 16)).astype(np.uint16)))
    summary = make_dataset(src, tmp_path / "grey.zip", progress=False)
    assert summary.channels == 1 and summary.converted == {"I;16 -> L (16-bit scaled to 8 bits)": ["3.png"]}
    dataset = ImageDataset(tmp_path / "grey.zip")
    assert dataset.num_channels == 1 and len(dataset) == 4
    for transform, resolution in [("center-crop", "8x8"), ("center-crop-wide", "8x4")]:  # official: RGB only
        make_dataset(src, tmp_path / f"{transform}.zip", resolution=resolution, transform=transform, progress=False)
        dataset = ImageDataset(tmp_path / f"{transform}.zip")
        assert (dataset.num_channels, dataset.resolution, len(dataset)) == (1, 8, 4)


def test_labels_from_the_source_and_from_a_file(tmp_path):
    rs = np.random.RandomState(2)
    src = tmp_path / "src"
    src.mkdir()
    for i in range(4):
        (src / f"im{i}.png").write_bytes(png_bytes(rs.randint(0, 256, (8, 8, 3), dtype=np.uint8)))
    (src / "dataset.json").write_text(json.dumps({"labels": [["im0.png", 2], ["im1.png", 0], ["im3.png", 1]]}))
    summary = make_dataset(src, tmp_path / "a.zip", progress=False)
    assert summary.images == 3 and summary.labels == "3 classes"
    assert summary.skipped == {f"no label in {src}/dataset.json": ["im2.png"]}
    assert read_zip(tmp_path / "a.zip")[2] == {"labels": [["00000/img00000000.png", 2], ["00000/img00000001.png", 0],
                                                          ["00000/img00000002.png", 1]]}
    dataset = ImageDataset(tmp_path / "a.zip", use_labels=True)
    assert dataset.label_dim == 3 and dataset.get_label(0).tolist() == [0, 0, 1]

    vectors = tmp_path / "vectors.json"
    vectors.write_text(json.dumps({"labels": [[f"im{i}.png", [i, 0.5]] for i in range(4)]}))
    summary = make_dataset(src, tmp_path / "b.zip", labels=vectors, progress=False)
    assert summary.images == 4 and summary.labels == "vectors of length 2"
    assert ImageDataset(tmp_path / "b.zip", use_labels=True).get_label(3).tolist() == [3, 0.5]

    (src / "dataset.json").write_text(json.dumps({"labels": None}))
    assert make_dataset(src, tmp_path / "c.zip", progress=False).labels == "none"


@pytest.mark.parametrize("labels,message", [
    ({"labels": [["im0.png", "cat"]]}, "class indices"),
    ({"labels": [["im0.png", 1], ["im1.png", [1, 2]]]}, "class indices"),
    ({"labels": [["im0.png", [1]], ["im1.png", [1, 2]]]}, "one length"),
    ({"labels": [["elsewhere/im0.png", 1]]}, "none of its labels names an image"),
    ({"classes": []}, "expected"),
])
def test_bad_label_files_stop_before_writing(tmp_path, labels, message):
    src = tmp_path / "src"
    src.mkdir()
    for i in range(2):
        (src / f"im{i}.png").write_bytes(png_bytes(np.zeros((8, 8, 3), np.uint8)))
    (tmp_path / "labels.json").write_text(json.dumps(labels))
    with pytest.raises(InputError, match=message):
        make_dataset(src, tmp_path / "out.zip", labels=tmp_path / "labels.json", progress=False)
    assert not (tmp_path / "out.zip").exists()


def test_transforms_match_the_official_tool(tmp_path):
    # tests/data/dataset_tool_ref.npz: the official dataset_tool.py's images for these sources.
    rs = np.random.RandomState(7)
    src = tmp_path / "src"
    src.mkdir()
    for i, (w, h) in enumerate([(60, 40), (40, 60), (33, 31), (64, 48), (80, 50), (35, 35)]):
        (src / f"im{i}.png").write_bytes(png_bytes(rs.randint(0, 256, (h, w, 3), dtype=np.uint8)))
    ref = np.load(DATA / "dataset_tool_ref.npz")
    for key, transform, resolution in [("center_crop_16", "center-crop", "16x16"),
                                       ("center_crop_wide_16x10", "center-crop-wide", "16x10"),
                                       ("resize_16", None, "16x16")]:
        make_dataset(src, tmp_path / f"{key}.zip", resolution=resolution, transform=transform, progress=False)
        _, images, _ = read_zip(tmp_path / f"{key}.zip")
        ours = np.stack([images[n] for n in sorted(images)])
        assert ours.shape == ref[key].shape and np.abs(ours.astype(int) - ref[key]).max() <= 1, key


def test_center_crop_wide_letterboxes_and_drops_narrow_images(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "wide.png").write_bytes(png_bytes(np.full((24, 32, 3), 200, np.uint8)))
    (src / "narrow.png").write_bytes(png_bytes(np.full((40, 8, 3), 200, np.uint8)))
    summary = make_dataset(src, tmp_path / "out.zip", resolution="16x8", transform="center-crop-wide", progress=False)
    assert summary.images == 1 and list(summary.skipped) == [
        "too small for center-crop-wide to 16x8 (narrower than 16, or too few rows)"]
    image = read_zip(tmp_path / "out.zip")[1]["00000/img00000000.png"]
    assert image.shape == (16, 16, 3) and (image[4:12] == 200).all() and (image[:4] == 0).all() and \
        (image[12:] == 0).all()


def test_center_crop_keeps_the_central_square(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    image = np.zeros((32, 64, 3), np.uint8)
    image[:, 16:48] = 255  # white centre square, black side bands
    (src / "a.png").write_bytes(png_bytes(image))
    make_dataset(src, tmp_path / "out.zip", resolution=16, transform="center-crop", progress=False)
    assert (read_zip(tmp_path / "out.zip")[1]["00000/img00000000.png"] == 255).all()
    make_dataset(src, tmp_path / "plain.zip", resolution=16, progress=False)  # plain resize keeps the bands
    assert read_zip(tmp_path / "plain.zip")[1]["00000/img00000000.png"][:, 0].max() < 64


def test_max_images_takes_the_first_in_sorted_order_from_a_zip(tmp_path):
    rs = np.random.RandomState(3)
    arrays = {f"d{i % 2}/im{i}.png": rs.randint(0, 256, (8, 8, 3), dtype=np.uint8) for i in range(5)}
    with zipfile.ZipFile(tmp_path / "src.zip", "w") as z:
        for name in reversed(list(arrays)):
            z.writestr(name, png_bytes(arrays[name]))
    summary = make_dataset(tmp_path / "src.zip", tmp_path / "out", max_images=2, progress=False)
    assert summary.images == 2 and summary.not_read == 3 and "3 more files not read" in format_summary(summary)
    dataset = ImageDataset(tmp_path / "out")
    first = sorted(arrays)[:2]  # d0/im0.png, d0/im2.png
    for i, name in enumerate(first):
        assert np.array_equal(dataset[i][0].transpose(1, 2, 0), arrays[name])


def test_an_interrupted_run_leaves_nothing_behind(messy, tmp_path, monkeypatch):
    src, _ = messy
    (tmp_path / "old.zip").write_bytes(b"previous content")
    calls = []

    def interrupt(*args):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return args[0]

    monkeypatch.setattr(dataset_tool, "_transform", interrupt)
    for dest in ["new.zip", "old.zip", "folder"]:
        calls.clear()
        with pytest.raises(KeyboardInterrupt):
            make_dataset(src, tmp_path / dest, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.zip", "src"]
    assert (tmp_path / "old.zip").read_bytes() == b"previous content"


@pytest.mark.parametrize("kwargs,message", [
    (dict(), "training needs square power-of-two images"),
    (dict(resolution="100x100"), "square with a power-of-two size"),
    (dict(resolution="32x16"), "square with a power-of-two size"),
    (dict(resolution="32x64", transform="center-crop-wide"), "height no larger"),
    (dict(transform="center-crop"), "needs --resolution"),
    (dict(resolution="big"), "must look like 256x256"),
    (dict(max_images=0), "at least 1"),
])
def test_invalid_requests_are_refused_up_front(tmp_path, kwargs, message):
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.png").write_bytes(png_bytes(np.zeros((20, 30, 3), np.uint8)))
    with pytest.raises(InputError, match=message):
        make_dataset(src, tmp_path / "out.zip", progress=False, **kwargs)
    assert not (tmp_path / "out.zip").exists()


def test_sources_and_destinations_are_checked(tmp_path):
    with pytest.raises(InputError, match="unknown built-in dataset"):
        make_dataset("builtin:ffhq", tmp_path / "out.zip")
    with pytest.raises(InputError, match="no such folder"):
        make_dataset(tmp_path / "missing", tmp_path / "out.zip")
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(InputError, match="folder of images or a .zip"):
        make_dataset(tmp_path / "file.txt", tmp_path / "out.zip")
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.png").write_bytes(png_bytes(np.zeros((8, 8, 3), np.uint8)))
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(InputError, match="must be empty"):
        make_dataset(src, tmp_path / "full", progress=False)
    (tmp_path / "empty").mkdir()
    assert make_dataset(src, tmp_path / "empty", progress=False).images == 1
    assert ImageDataset(tmp_path / "empty").image_names == ["00000/img00000000.png"]
    assert parse_resolution("512,384") == (512, 384) and parse_resolution(64) == (64, 64)


def test_cli_prints_the_summary_and_reports_errors_in_one_line(messy, tmp_path, monkeypatch):
    src, _ = messy
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["dataset", "--source", str(src), "--resolution", "16x16",
                                      "--transform", "center-crop"])
    assert result.exit_code == 0, result.output
    assert "wrote 4 images (16x16 RGB; labels: none) to" in result.output and "skipped 4:" in result.output
    assert ImageDataset(tmp_path / "src-16x16.zip").resolution == 16
    result = CliRunner().invoke(cli, ["dataset", "--source", str(src), "--resolution", "100"])
    assert result.exit_code == 1 and result.output.count("\n") == 1 and "Error:" in result.output
