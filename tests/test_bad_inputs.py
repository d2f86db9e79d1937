"""A bad-input corpus: truncated and garbled copies of every kind of file the package reads, given to the
verbs that read them. Each must end with exit status 1 and one line naming the file, no traceback, and
nothing written; the intact originals go through the same commands, so the failures come from the damage.

The corpus is made here from the networks in tests/data (nothing damaged is stored)."""
from __future__ import annotations

import io
import shutil
from pathlib import Path

import numpy as np
import PIL.Image
import pytest
import torch
from checkpoint_builders import mmgen_checkpoint, mmgen_stylegan2_generator, rosinality_generator
from click.testing import CliRunner

import stylegan
from stylegan.cli import cli
from stylegan.data.dataset_tool import make_dataset
from stylegan.io import save_directions, save_ws
from stylegan.latent.settings import Settings, save_settings

DATA = Path(__file__).parent / "data"
NETWORK = DATA / "sg2_resnet_gray_32.pkl"  # 1 image channel, w 48
IMAGE_FORMATS = {"png": "PNG", "jpg": "JPEG", "webp": "WEBP", "gif": "GIF", "bmp": "BMP", "tif": "TIFF"}
# Pixel data without a checksum or a marker structure (uncompressed BMP and TIFF, lossy WebP's arithmetic-coded
# data) can be overwritten without any decoder noticing, so these formats are garbled in their headers.
HEADER_ONLY = {"bmp", "tif", "webp"}


def truncate(data: bytes) -> bytes:
    """The first half of the file."""
    return data[:len(data) // 2]


def garble(data: bytes, kind: str) -> bytes:
    """Random bytes over a part of the file that carries structure, the first bytes (the format's magic)
    kept: the compressed body of an image, otherwise the header or the start of the serialised data."""
    rng = np.random.RandomState(len(data))
    if kind in IMAGE_FORMATS and kind not in HEADER_ONLY:
        start, stop = len(data) // 3, 2 * len(data) // 3
    else:
        start, stop = 4, min(len(data) - 1, 4 + max(32, len(data) // 8))
    noise = rng.randint(0, 256, stop - start).astype(np.uint8).tobytes()
    return data[:start] + noise + data[stop:]


def _noisy_image(channels_last: int = 3) -> PIL.Image.Image:
    rng = np.random.RandomState(0)
    x = np.linspace(0, 255, 64)
    smooth = np.add.outer(x, x) / 2
    return PIL.Image.fromarray((smooth[:, :, None] + rng.randint(0, 40, (64, 64, channels_last))).clip(0, 255)
                               .astype(np.uint8))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> dict[str, tuple[Path, list[str]]]:
    """kind -> (an intact file, the command line that reads it with {file} and {out} placeholders)."""
    root = tmp_path_factory.mktemp("intact")
    G = stylegan.load(NETWORK)
    shutil.copy(NETWORK, root / "nvidia.pkl")
    shutil.copy(DATA / "tf_sg2_revised_32.pkl", root / "tf.pkl")
    stylegan.save(G, root / "native.safetensors")
    torch.save({"g_ema": rosinality_generator(), "latent_avg": torch.randn(8)}, root / "rosinality.pt")
    torch.save(mmgen_checkpoint({"generator_ema": mmgen_stylegan2_generator(rosinality_generator(seed=3))}),
               root / "mmgen.pth")
    save_ws(root / "ws.npz", torch.randn(2, G.num_ws, G.w_dim))
    direction = np.random.RandomState(1).randn(1, G.w_dim).astype(np.float32)
    save_directions(root / "direction.npy", direction, np.ones(1), np.zeros(1), "interfacegan")
    (root / "recipe.toml").write_text(f'[networks]\nmain = "{NETWORK.as_posix()}"\n\n[[steps]]\ntype = "generate"\n'
                                      f'\n[[steps]]\ntype = "truncate"\npsi = 0.5\n')
    (root / "recipe.yaml").write_text(f"networks:\n  main: {NETWORK.as_posix()}\nsteps:\n  - type: generate\n"
                                      f"  - type: truncate\n    psi: 0.5\n")
    save_settings(root / "settings.json", Settings(network=str(NETWORK), seed=3, psi=0.7))
    image = _noisy_image()
    for suffix, fmt in IMAGE_FORMATS.items():
        image.save(root / f"image.{suffix}", format=fmt)
    generate = ["generate", "--network", "{file}", "--seeds", "0", "--outdir", "{out}"]
    commands = {
        "nvidia.pkl": generate, "tf.pkl": generate, "native.safetensors": generate, "rosinality.pt": generate,
        "mmgen.pth": generate,
        "ws.npz": ["generate", "--network", str(NETWORK), "--projected-w", "{file}", "--outdir", "{out}"],
        "direction.npy": ["edit", "--network", str(NETWORK), "--seeds", "0", "--direction", "{file}",
                          "--strength", "0,1", "--outdir", "{out}"],
        "recipe.toml": ["pipeline", "{file}", "--seeds", "0", "--outdir", "{out}"],
        "recipe.yaml": ["pipeline", "{file}", "--seeds", "0", "--outdir", "{out}"],
        "settings.json": ["generate", "--network", str(NETWORK), "--settings", "{file}", "--outdir", "{out}"],
    }
    for suffix in IMAGE_FORMATS:
        commands[f"image.{suffix}"] = ["project", "--network", str(NETWORK), "--target", "{file}", "--method",
                                       "image2stylegan", "--loss", "pixel", "--num-steps", "1", "--outdir", "{out}"]
    return {name: (root / name, command) for name, command in commands.items()}


def _run(command: list[str], file: Path, out: Path):
    args = [a.replace("{file}", str(file)).replace("{out}", str(out)) for a in command]
    return CliRunner().invoke(cli, args)


def visible_lines(output: str) -> list[str]:
    """The lines a terminal shows: progress bars that were redrawn and cleared with carriage returns go."""
    return [line.split("\r")[-1] for line in output.split("\n") if line.split("\r")[-1].strip()]


def _assert_refused(result, file: Path, out: Path) -> None:
    lines = visible_lines(result.output)
    assert result.exit_code == 1, result.output
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit), \
        f"traceback: {result.exception!r}"
    assert "Traceback" not in result.output and len(lines) == 1, result.output
    assert file.name in lines[0], lines[0]
    assert not out.exists() or not any(out.rglob("*")), sorted(out.rglob("*"))


DAMAGES = ("truncated", "garbled")
KINDS = ("nvidia.pkl", "tf.pkl", "native.safetensors", "rosinality.pt", "mmgen.pth", "ws.npz", "direction.npy",
         "recipe.toml", "recipe.yaml", "settings.json") + tuple(f"image.{s}" for s in IMAGE_FORMATS)


@pytest.mark.parametrize("kind", KINDS)
def test_damaged_inputs_are_refused_in_one_line(corpus, kind, tmp_path):
    intact, command = corpus[kind]
    result = _run(command, intact, tmp_path / "intact-out")
    assert result.exit_code == 0, result.output  # the command itself works on the undamaged file
    data = intact.read_bytes()
    for damage in DAMAGES:
        bad = tmp_path / f"{damage}-{intact.name}"
        bad.write_bytes(truncate(data) if damage == "truncated" else garble(data, intact.suffix.lstrip(".")))
        out = tmp_path / f"out-{damage}"
        _assert_refused(_run(command, bad, out), bad, out)


def test_dataset_skips_and_lists_damaged_images(corpus, tmp_path):
    """`stylegan dataset` decodes each image fully: truncated and garbled ones of every format are skipped
    and listed; a folder of nothing but damaged images is refused in one line with nothing written."""
    good, bad = tmp_path / "mixed", tmp_path / "damaged"
    good.mkdir()
    bad.mkdir()
    names = []
    for suffix in IMAGE_FORMATS:
        data = corpus[f"image.{suffix}"][0].read_bytes()
        (good / f"intact.{suffix}").write_bytes(data)
        for damage in DAMAGES:
            damaged = truncate(data) if damage == "truncated" else garble(data, suffix)
            for folder in (good, bad):
                (folder / f"{damage}.{suffix}").write_bytes(damaged)
            names.append(f"{damage}.{suffix}")
    result = CliRunner().invoke(cli, ["dataset", "--source", str(good), "--dest", str(tmp_path / "d.zip")])
    assert result.exit_code == 0, result.output
    assert f"wrote {len(IMAGE_FORMATS)} images" in result.output
    summary = make_dataset(good, tmp_path / "again.zip", progress=False)
    assert sorted(n for reason in summary.skipped.values() for n in reason) == sorted(names)
    out = tmp_path / "none.zip"
    result = CliRunner().invoke(cli, ["dataset", "--source", str(bad), "--dest", str(out)])
    assert result.exit_code == 1 and len(visible_lines(result.output)) == 1, result.output
    assert not out.exists() and not list(tmp_path.glob(".none.zip*"))


def test_garbled_jpeg_body_is_damage_not_a_grey_image(tmp_path):
    """A marker inside a JPEG's entropy-coded data (here an APP1 marker overwriting two bytes, header
    intact): Pillow decodes it without an error, the rest of the picture grey (libjpeg only warns); the
    marker walk of `decode_image` refuses it."""
    from stylegan.errors import InputError
    from stylegan.io import decode_image

    buffer = io.BytesIO()
    _noisy_image().save(buffer, format="JPEG", quality=90)
    data = buffer.getvalue()
    assert decode_image(data)[0].size == (64, 64)
    body = data.index(b"\xff\xda") + 20
    garbled = data[:body] + b"\xff\xe1" + data[body + 2:]
    with PIL.Image.open(io.BytesIO(garbled)) as image:
        image.load()  # no error from the decoder itself
    with pytest.raises(InputError, match="not a readable image, damaged JPEG"):
        decode_image(garbled)
    stray = data[:body] + b"\xff\x37" + data[body + 2:]
    with pytest.raises(InputError, match="not a readable image"):
        decode_image(stray)


def test_alpha_is_composited_onto_white_for_every_reader(tmp_path):
    """One rule for projection targets and datasets: RGBA, LA and palette transparency go onto white."""
    from stylegan.io import decode_image, read_image

    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[..., 3] = 0
    rgba[:4, :, 3] = 255  # top half opaque red-ish, bottom half fully transparent
    PIL.Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    image = read_image(tmp_path / "a.png")
    assert (image[:4] == [200, 0, 0]).all() and (image[4:] == 255).all()
    la = PIL.Image.fromarray(rgba[..., [0, 3]], "LA")
    la.save(tmp_path / "la.png")
    assert (read_image(tmp_path / "la.png", channels=1)[4:] == 255).all()
    indices = np.zeros((8, 8), np.uint8)
    indices[4:] = 1
    palette = PIL.Image.fromarray(indices, "P")
    palette.putpalette([200, 0, 0, 0, 0, 255])
    palette.save(tmp_path / "p.png", transparency=1)  # colour 1 (blue, the bottom half) is transparent
    assert (read_image(tmp_path / "p.png")[4:] == 255).all()
    assert decode_image(tmp_path / "a.png")[1] == "RGBA -> RGB (alpha flattened onto white)"
