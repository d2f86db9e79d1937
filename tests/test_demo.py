"""`stylegan demo`: every figure is written and listed, the page links them, bad networks are refused."""
import re

import numpy as np
import PIL.Image
import pytest
from click.testing import CliRunner
from conftest import DATA

import stylegan
from stylegan.cli import cli
from stylegan.errors import InputError
from stylegan.data.toonfaces import toonface
from stylegan.latent import psnr, render, seeds_to_ws
from stylegan.media.demo import PROJECTION_TARGET, PSI, SAMPLE_SEEDS, WALK_SEEDS, run_demo

EXPECTED = ["samples.png", "style-mixing.png", "noise.png", "truncation.png", "interpolation.gif",
            "projection.png", "index.html"]


def test_demo_writes_every_figure_and_an_index(tmp_path):
    G = stylegan.load(DATA / "sg2_resnet_gray_32.pkl")  # grayscale: the projection target is converted
    lines = []
    paths = run_demo(G, tmp_path, projection_steps=3, log=lines.append, tune_steps=3)
    assert [p.name for p in paths] == EXPECTED and lines == [str(p) for p in paths]
    # The samples are seeds 0-15 at psi 0.7, four to a row, pixel for pixel.
    samples = np.asarray(PIL.Image.open(tmp_path / "samples.png"))
    expected = render(G, seeds_to_ws(G, SAMPLE_SEEDS, PSI))[..., 0]
    tiles = samples.reshape(4, 32, 4, 32).transpose(0, 2, 1, 3).reshape(16, 32, 32)
    assert np.array_equal(tiles, expected)
    # The walk passes through its seeds every twelve frames (GIF colours are quantised: compare loosely, and
    # against the other seeds).
    with PIL.Image.open(tmp_path / "interpolation.gif") as gif:
        assert gif.n_frames == 5 * 12  # five seeds, twelve frames each, looped
        frames = []
        for k in range(5):
            gif.seek(12 * k)
            frames.append(np.asarray(gif.convert("L"), dtype=np.float64))
    keys = render(G, seeds_to_ws(G, WALK_SEEDS, PSI))[..., 0].astype(np.float64)
    distance = np.abs(np.stack(frames)[:, None] - keys[None]).mean(axis=(2, 3))  # [frame, seed]
    assert (distance.argmin(axis=1) == np.arange(5)).all() and distance.diagonal().max() < 4
    # The projection panel: the built-in target face, the pivot in W, the tuned generator's image, and the PSNR
    # of each against the target.
    panel = np.asarray(PIL.Image.open(tmp_path / "projection.png"))
    cell = panel.shape[1] // 3
    top, scale = panel.shape[0] - cell, cell // 32
    target, pivot, tuned = (panel[top:, j * cell:(j + 1) * cell:scale][::scale, :, 0] for j in (0, 1, 2))
    face = toonface(PROJECTION_TARGET, 32).mean(axis=2).round()
    assert np.array_equal(target, face)
    assert not np.array_equal(pivot, tuned)  # three steps of tuning changed the generator's image
    page = (tmp_path / "index.html").read_text()
    assert sorted(re.findall(r'src="([^"]+)"', page)) == sorted(EXPECTED[:-1])
    assert f"PSNR {psnr(target, pivot):.1f} dB" in page and f"PSNR {psnr(target, tuned):.1f} dB" in page


@pytest.mark.slow
def test_demo_cli_lists_what_it_wrote(tmp_path):
    result = CliRunner().invoke(cli, ["demo", "--network", str(DATA / "sg2_resnet_gray_32.pkl"), "--outdir",
                                      str(tmp_path / "d"), "--projection-steps", "2", "--tune-steps", "2"])
    assert result.exit_code == 0, result.output
    listed = [word for word in result.output.split() if word.startswith(str(tmp_path))]  # (progress bars too)
    assert listed == [str(tmp_path / "d" / name) for name in EXPECTED]
    G = stylegan.load(DATA / "sg2_resnet_gray_32.pkl")
    samples = np.asarray(PIL.Image.open(tmp_path / "d" / "samples.png"))
    assert np.array_equal(samples[:32, :32], render(G, seeds_to_ws(G, [0], PSI))[0, ..., 0])


def test_demo_refuses_conditional_networks_and_zero_steps(tmp_path):
    with pytest.raises(InputError, match="class labels"):
        run_demo(stylegan.load(DATA / "sg2_cond_orig_32.pkl"), tmp_path)
    with pytest.raises(InputError, match="at least 1 step"):
        run_demo(stylegan.load(DATA / "sg2_resnet_gray_32.pkl"), tmp_path, projection_steps=0)
    with pytest.raises(InputError, match="at least 1 step"):
        run_demo(stylegan.load(DATA / "sg2_resnet_gray_32.pkl"), tmp_path, tune_steps=0)
