"""Face alignment: the built-in detector on a real photo (scikit-image's astronaut), the FFHQ quad and crop,
landmark files, and `stylegan align` / `stylegan project --align` on photos, folders and damaged input."""
from __future__ import annotations

import json

import numpy as np
import PIL.Image
import pytest
from click.testing import CliRunner

from stylegan.cli import cli
from stylegan.errors import InputError
from stylegan.io.landmarks import landmarks_for, read_landmarks
from stylegan.latent.align import Framing, NoFaceError, align_face, crop_quad, face_quad, shifted_quad
from stylegan.latent.align_files import align_photo, detect_landmarks
from stylegan.latent.projection import psnr
from stylegan.nets.faces import detect_faces, nms

skimage_data = pytest.importorskip("skimage.data")

# Marked by hand on the 512x512 astronaut (pixel centres; zoomed 8x): the pupils, the nose tip, the corners
# of the lips. Left and right as seen in the picture.
ASTRONAUT = np.array([[203.5, 101.0], [246.5, 103.5], [224.0, 128.0], [203.0, 140.0], [246.0, 141.0]])


@pytest.fixture(scope="module")
def astronaut() -> PIL.Image.Image:
    return PIL.Image.fromarray(skimage_data.astronaut())


@pytest.fixture(scope="module")
def landmarks(astronaut) -> np.ndarray:
    faces = detect_faces(np.asarray(astronaut))
    assert len(faces) == 1
    return faces[0].landmarks


def similarity(angle: float, scale: float, shift: tuple[float, float], centre=(225.0, 120.0)):
    """p -> R p + t: rotation by `angle` degrees and `scale` about `centre`, then `shift` (pixel coordinates)."""
    a = np.deg2rad(angle)
    R = scale * np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return R, np.asarray(centre) + np.asarray(shift) - R @ np.asarray(centre)


def transformed(image: PIL.Image.Image, R: np.ndarray, t: np.ndarray) -> PIL.Image.Image:
    """The photo moved by p -> R p + t, bicubic; PIL maps output to input in edge coordinates (centre + 0.5)."""
    inverse = np.linalg.inv(R)
    offset = -inverse @ t + 0.5 - inverse @ np.array([0.5, 0.5])
    coefficients = (*inverse[0], offset[0], *inverse[1], offset[1])
    return image.transform(image.size, PIL.Image.AFFINE, coefficients, PIL.Image.BICUBIC)


# -- the detector ---------------------------------------------------------------------------------------------

def test_detector_finds_the_hand_marked_eyes_nose_and_mouth(astronaut, landmarks):
    error = np.hypot(*(landmarks - ASTRONAUT).T)
    assert error.max() < 3.0, error  # measured: 0.6, 0.6, 1.3, 0.7, 1.4 pixels


def test_photos_larger_than_the_search_size_are_searched_shrunk(astronaut):
    large = astronaut.resize((1536, 1536), PIL.Image.BICUBIC)  # searched at 1024, landmarks given at 1536
    faces = detect_faces(np.asarray(large))
    assert len(faces) == 1
    assert np.abs(faces[0].landmarks - ((ASTRONAUT + 0.5) * 3 - 0.5)).max() < 3 * 3.0  # measured 3 x 1.7


def test_photos_without_a_face_give_none():
    assert detect_faces(skimage_data.coffee()) == []
    assert detect_faces(skimage_data.chelsea()) == []  # a cat


def test_the_largest_face_comes_first(astronaut):
    canvas = PIL.Image.new("RGB", (820, 512), (128, 128, 128))
    canvas.paste(astronaut.resize((256, 256), PIL.Image.LANCZOS), (0, 128))
    canvas.paste(astronaut, (308, 0))
    faces = detect_faces(np.asarray(canvas))
    assert len(faces) == 2 and faces[0].area > 3 * faces[1].area
    assert np.abs(faces[0].landmarks - (ASTRONAUT + [308, 0])).max() < 3.0
    assert np.abs(faces[1].landmarks - (ASTRONAUT / 2 + [0, 128] - 0.25)).max() < 3.0


def test_non_maximum_suppression():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [2, 2, 8, 8]], dtype=float)
    scores = np.array([0.9, 0.95, 0.5, 0.8])
    assert nms(boxes, scores, 0.5).tolist() == [1, 3, 2]  # box 0 overlaps box 1 by 68% of their union
    assert nms(boxes, scores, 0.5, smaller=True).tolist() == [1, 2]  # box 3 lies inside box 1


# -- the quad and the crop ------------------------------------------------------------------------------------

FIVE = np.array([[100.0, 100.0], [140.0, 100.0], [120.0, 120.0], [105.0, 140.0], [135.0, 140.0]])


def test_quad_is_the_ffhq_formula():
    # eye_avg (120, 100), eye_to_eye (40, 0), eye_to_mouth (0, 40): x = (80, 0) scaled to max(80, 72) = 80,
    # y = (0, 80), c = (120, 104).
    assert np.allclose(face_quad(FIVE), [[40, 24], [40, 184], [200, 184], [200, 24]])
    # A long face: eye_to_eye (10, 0), eye_to_mouth (0, 30): |x| = max(20, 54) = 54, c = (5, 3).
    long_face = np.array([[0.0, 0.0], [10.0, 0.0], [5.0, 15.0], [0.0, 30.0], [10.0, 30.0]])
    assert np.allclose(face_quad(long_face), [[-49, -51], [-49, 57], [59, 57], [59, -51]])


def test_quad_turns_and_scales_with_the_face():
    R, t = similarity(25, 1.3, (7, -4))
    assert np.allclose(face_quad(FIVE @ R.T + t), face_quad(FIVE) @ R.T + t)
    upright = face_quad(FIVE @ R.T + t, rotation=False)
    turned = face_quad(FIVE @ R.T + t)
    assert np.allclose(upright.mean(0), turned.mean(0))  # same centre and size, axes level
    assert np.allclose(upright[3] - upright[0], [np.hypot(*(turned[3] - turned[0])), 0])
    assert np.allclose(upright[1] - upright[0], [0, np.hypot(*(turned[3] - turned[0]))])


def test_68_points_use_the_eye_contours_and_the_outer_mouth_corners():
    rng = np.random.default_rng(0)
    points = rng.uniform(0, 300, (68, 2))  # every other point is noise the quad must ignore
    points[36:42] = FIVE[0] + rng.normal(0, 3, (6, 2))
    points[36:42] += FIVE[0] - points[36:42].mean(0)
    points[42:48] = FIVE[1] + rng.normal(0, 3, (6, 2))
    points[42:48] += FIVE[1] - points[42:48].mean(0)
    points[48], points[54] = FIVE[3], FIVE[4]
    assert np.allclose(face_quad(points), face_quad(FIVE))
    with pytest.raises(InputError, match="5 or 68"):
        face_quad(points[:20])
    with pytest.raises(InputError, match="no face"):
        face_quad(np.zeros((5, 2)))


def test_crop_samples_the_quad_at_pixel_centres():
    """On a linear ramp, every output pixel equals the ramp at the point of the quad it stands for."""
    y, x = np.mgrid[:200, :300].astype(np.float64)
    ramp = PIL.Image.fromarray((x * 0.5 + y * 0.4 + 20).astype(np.uint8), "L")
    quad = np.array([[60.0, 40.0], [60.0, 140.0], [160.0, 140.0], [160.0, 40.0]])  # inside: no padding
    out = np.asarray(crop_quad(ramp, quad, 20), dtype=np.float64)
    centres = 60 + (np.arange(20) + 0.5) * 5 - 0.5  # output pixel i covers quad [5 i, 5 i + 5)
    expected = np.floor(centres[None, :] * 0.5 + (centres[:, None] - 20) * 0.4 + 20)
    assert np.abs(out - expected)[2:-2, 2:-2].max() <= 1.0


def test_a_moved_photo_with_moved_landmarks_gives_the_same_crop(astronaut, landmarks):
    R, t = similarity(15, 0.8, (30, 20))
    reference = np.asarray(align_face(astronaut, landmarks, 64))
    moved = np.asarray(align_face(transformed(astronaut, R, t), landmarks @ R.T + t, 64))
    assert psnr(reference, moved) > 40  # measured 49.4 dB: only the two resamplings differ


def test_very_large_photos_are_shrunk_first(astronaut, landmarks):
    large = astronaut.resize((2048, 2048), PIL.Image.BICUBIC)  # quad 688 px for 64 px: shrunk 5x first
    reference = np.asarray(align_face(astronaut, landmarks, 64))
    assert psnr(reference, np.asarray(align_face(large, (landmarks + 0.5) * 4 - 0.5, 64))) > 35


def test_padding_blurs_toward_the_median_and_no_padding_is_black():
    rng = np.random.default_rng(1)
    photo = PIL.Image.fromarray(rng.integers(100, 200, (200, 200, 3), dtype=np.uint8))
    quad = np.array([[-240.0, 50.0], [-240.0, 150.0], [80.0, 150.0], [80.0, 50.0]])  # 3/4 left of the photo
    padded = np.asarray(crop_quad(photo, quad, 32)).astype(np.float64)
    black = np.asarray(crop_quad(photo, quad, 32, padding=False))
    assert (black[:, :20] == 0).all() and (black[:, 26:] >= 100).all()
    far = padded[:, :12]  # far outside: blurred reflections faded to the median colour
    assert np.abs(far - 150).max() < 12 and far.std() < 4
    with pytest.raises(NoFaceError, match="wholly outside"):
        crop_quad(photo, quad - [100, 0], 32)


def test_random_shift_keeps_the_crop_inside_the_photo():
    quad = face_quad(FIVE)
    rng = np.random.default_rng(0)
    moved = [shifted_quad(quad, 0.2, 260, 230, rng) for _ in range(20)]
    assert all(m is not None and m.min() >= 0 and m[:, 0].max() <= 259 and m[:, 1].max() <= 229 for m in moved)
    assert len({tuple(m[0].round(3)) for m in moved}) == 20
    assert np.allclose([m - m[0] for m in moved], quad - quad[0])  # moved only
    assert shifted_quad(quad, 0.2, 150, 150, rng) is None  # the crop is larger than the photo


# -- the rotation / scale test on the real photo --------------------------------------------------------------

def test_a_turned_scaled_shifted_copy_aligns_to_nearly_the_same_crop(astronaut, landmarks):
    R, t = similarity(15, 0.8, (30, 20))
    other = transformed(astronaut, R, t)
    found = detect_landmarks(other)
    assert len(found) == 1 and np.abs(found[0] - (landmarks @ R.T + t)).max() < 2.5  # measured 1.0
    reference = np.asarray(align_photo(astronaut, 64)[0])
    assert psnr(reference, np.asarray(align_photo(other, 64)[0])) > 21  # measured 23.6 dB
    upright = np.asarray(align_photo(other, 64, Framing(rotation=False))[0])
    assert psnr(reference, upright) < 15  # without turning it back (11.9 dB): the bound above means something


# -- landmark files -------------------------------------------------------------------------------------------

def test_landmark_files(tmp_path):
    one = tmp_path / "one.json"
    one.write_text(json.dumps(FIVE.tolist()))
    assert np.array_equal(read_landmarks(one)[None][0], FIVE)
    named = tmp_path / "named.json"
    named.write_text(json.dumps({"a.jpg": FIVE.tolist(), "b": [FIVE.tolist(), (FIVE + 1).tolist()]}))
    table = read_landmarks(named)
    assert len(landmarks_for(table, tmp_path / "a.jpg")) == 1 and len(landmarks_for(table, tmp_path / "b.png")) == 2
    assert landmarks_for(table, tmp_path / "c.png") is None
    rows = tmp_path / "rows.csv"
    rows.write_text("name,x,y\n" + "".join(f"a.jpg,{x},{y}\n" for x, y in FIVE)
                    + "".join(f"c.png,{x},{y}\n" for x, y in np.zeros((68, 2))))
    table = read_landmarks(rows)
    assert np.array_equal(table["a.jpg"][0], FIVE) and table["c.png"][0].shape == (68, 2)
    plain = tmp_path / "plain.csv"
    plain.write_text("".join(f"{x},{y}\n" for x, y in FIVE))
    assert np.array_equal(read_landmarks(plain)[None][0], FIVE)


@pytest.mark.parametrize("name,text,message", [
    ("count.json", "[[1, 2], [3, 4]]", "expected 5 or 68"),
    ("words.json", '[["a", "b"], [1, 2], [1, 2], [1, 2], [1, 2]]', "number pairs"),
    ("nan.json", "[[NaN, 1], [1, 2], [1, 2], [1, 2], [1, 2]]", "finite"),
    ("broken.json", '{"a.jpg": [[1, 2], ', "not a readable landmarks file"),
    ("empty.json", "{}", "no landmarks"),
    ("row.csv", "1,2\n3,4\n5\n", "row 3"),
    ("count.csv", "1,2\n3,4\n", "expected 5 or 68"),
    ("points.txt", "1,2", ".json or .csv"),
])
def test_bad_landmark_files_are_one_line_errors(tmp_path, name, text, message):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(InputError, match=message) as info:
        read_landmarks(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


# -- the command line -----------------------------------------------------------------------------------------

def _align(*args):
    return CliRunner().invoke(cli, ["align", *map(str, args)], catch_exceptions=False)


def _png(path) -> np.ndarray:
    with PIL.Image.open(path) as image:
        return np.asarray(image)


@pytest.fixture(scope="module")
def photos(tmp_path_factory, astronaut):
    """A folder: the astronaut (JPEG), a photo of two faces, coffee (no face) and a truncated PNG."""
    root = tmp_path_factory.mktemp("photos")
    astronaut.save(root / "astronaut.jpg", quality=95)
    canvas = PIL.Image.new("RGB", (820, 512), (128, 128, 128))
    mirrored = astronaut.transpose(PIL.Image.FLIP_LEFT_RIGHT)
    canvas.paste(mirrored.resize((256, 256), PIL.Image.LANCZOS), (0, 128))
    canvas.paste(astronaut, (308, 0))
    canvas.save(root / "pair.png")
    PIL.Image.fromarray(skimage_data.coffee()).save(root / "coffee.png")
    (root / "broken.png").write_bytes((root / "pair.png").read_bytes()[:3000])
    return root


def test_align_a_folder_resumably(tmp_path, photos):
    out = tmp_path / "out"
    result = _align("--target", photos, "--outdir", out, "--size", 64, "--all")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "coffee.png: no face found (give its landmarks with --landmarks); nothing written" in lines
    assert any(line.startswith("broken.png: skipped,") and "damaged" in line for line in lines)
    assert lines[-1] == "4 photos: 2 aligned (3 faces), 0 already aligned, 1 without a face, 1 unreadable"
    assert sorted(p.name for p in out.iterdir()) == ["astronaut-1.png", "pair-1.png", "pair-2.png",
                                                      "stylegan-align.json"]
    alone = _png(out / "astronaut-1.png")  # the larger face first; the smaller is a mirrored copy
    assert psnr(_png(out / "pair-1.png"), alone) > 18  # measured 22.6 dB; the mirrored copy gives 11.3
    assert psnr(_png(out / "pair-2.png")[:, ::-1], alone) > 18  # 21.5 dB
    again = _align("--target", photos, "--outdir", out, "--size", 64, "--all")
    assert again.exit_code == 0 and again.output.count("already aligned, skipping") == 2
    other = _align("--target", photos, "--outdir", out, "--size", 32, "--all")
    assert other.exit_code == 1 and "size 64 -> 32" in other.output and "--overwrite" in other.output


def test_align_one_photo_matches_the_python_api(tmp_path, photos, astronaut):
    result = _align("--target", photos / "astronaut.jpg", "--outdir", tmp_path, "--network", "builtin:demo")
    assert result.exit_code == 0, result.output
    aligned = _png(tmp_path / "astronaut.png")
    assert aligned.shape == (64, 64, 3)  # the demo network's resolution
    with PIL.Image.open(photos / "astronaut.jpg") as photo:
        assert np.array_equal(aligned, np.asarray(align_photo(photo.convert("RGB"), 64)[0]))


def test_grayscale_photos_give_grayscale_faces(tmp_path, astronaut):
    astronaut.convert("L").save(tmp_path / "gray.png")
    result = _align("--target", tmp_path / "gray.png", "--outdir", tmp_path / "out", "--size", 64)
    assert result.exit_code == 0, result.output
    gray = _png(tmp_path / "out" / "gray.png")
    assert gray.shape == (64, 64)
    colour = np.asarray(align_photo(astronaut, 64)[0].convert("L"))
    assert psnr(gray, colour) > 18  # measured 21.4 dB: landmarks found in grey


def test_align_with_a_landmark_file(tmp_path, photos, astronaut, landmarks):
    points = tmp_path / "points.json"
    points.write_text(json.dumps({"astronaut.jpg": ASTRONAUT.tolist()}))
    result = _align("--target", photos / "astronaut.jpg", "--outdir", tmp_path / "out", "--size", 64,
                    "--landmarks", points, "--no-rotation")
    assert result.exit_code == 0, result.output
    with PIL.Image.open(photos / "astronaut.jpg") as photo:
        expected = align_face(photo.convert("RGB"), ASTRONAUT, 64, Framing(rotation=False))
    assert np.array_equal(_png(tmp_path / "out" / "astronaut.png"), np.asarray(expected))
    missing = _align("--target", photos / "pair.png", "--outdir", tmp_path / "none", "--landmarks", points)
    assert missing.exit_code == 1 and "pair.png: no landmarks for this photo in" in missing.output
    assert not (tmp_path / "none").exists() or not any((tmp_path / "none").iterdir())


def test_unaligned_framing_is_reproducible_and_differs(tmp_path, photos):
    runs = [_align("--target", photos / "astronaut.jpg", "--outdir", tmp_path / name, "--size", 64, *extra)
            for name, extra in [("a", ["--unaligned"]), ("b", ["--unaligned"]), ("c", ["--unaligned", "--seed", 1]),
                                ("d", [])]]
    assert all(r.exit_code == 0 for r in runs), [r.output for r in runs]
    a, b, c, d = (_png(tmp_path / name / "astronaut.png") for name in "abcd")
    assert np.array_equal(a, b) and not np.array_equal(a, c) and psnr(a, d) < 20


@pytest.mark.parametrize("damage", ["no face", "truncated", "garbled"])
def test_single_photos_without_a_face_or_damaged_are_refused_in_one_line(tmp_path, photos, damage):
    if damage == "no face":
        photo = photos / "coffee.png"
    else:
        data = (photos / "astronaut.jpg").read_bytes()
        photo = tmp_path / f"{damage}.jpg"
        cut = len(data) // 2
        photo.write_bytes(data[:cut] if damage == "truncated" else
                          data[:cut] + np.random.default_rng(0).integers(0, 256, 400, dtype=np.uint8).tobytes()
                          + data[cut + 400:])
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["align", "--target", str(photo), "--outdir", str(out)])
    lines = result.output.splitlines()
    assert result.exit_code == 1 and len(lines) == 1 and "Traceback" not in result.output, result.output
    assert photo.name in lines[0]
    assert not out.exists() or not any(out.rglob("*"))


def test_align_refuses_to_write_into_the_photos_folder(photos):
    result = _align("--target", photos, "--outdir", photos)
    assert result.exit_code == 1 and "the photos' own folder" in result.output
    result = _align("--target", photos / "pair.png", "--outdir", photos)
    assert result.exit_code == 1 and "would replace the photo pair.png" in result.output


def test_project_align_projects_the_aligned_face(tmp_path, photos):
    result = CliRunner().invoke(cli, ["project", "--network", "builtin:demo", "--target", str(photos), "--align",
                                      "--method", "image2stylegan", "--loss", "pixel", "--num-steps", "1",
                                      "--device", "cpu", "--outdir", str(tmp_path)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "coffee.png: skipped, coffee.png: no face found" in result.output
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir()) == ["astronaut", "pair"]
    with PIL.Image.open(photos / "astronaut.jpg") as photo:
        expected = np.asarray(align_photo(photo.convert("RGB"), 64)[0])
    assert np.array_equal(_png(tmp_path / "astronaut" / "target.png"), expected)


def test_no_face_error_names_the_photo(astronaut):
    with pytest.raises(NoFaceError, match="coffee.png: no face found"):
        align_photo(PIL.Image.fromarray(skimage_data.coffee()), 64, name="coffee.png")
