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
from stylegan.media.demo import run_demo

EXPECTED = ["samples.png", "style-mixing.png", "noise.png", "truncation.png", "interpolation.gif",
            "projection.png", "index.html"]


def test_demo_writes_every_figure_and_an_index(tmp_path):
    G = stylegan.load(DATA / "sg2_resnet_gray_32.pkl")  # grayscale: the projection target is converted
    lines = []
    paths = run_demo(G, tmp_path, projection_steps=3, log=lines.append)
    assert [p.name for p in paths] == EXPECTED and lines == [str(p) for p in paths]
    with PIL.Image.open(tmp_path / "samples.png") as im:
        assert im.size == (4 * 32, 4 * 32)
        samples = np.asarray(im)
    assert samples.std() > 1  # sixteen different images, not a blank
    with PIL.Image.open(tmp_path / "interpolation.gif") as gif:
        assert gif.n_frames == 5 * 12  # five seeds, twelve frames each, looped
    page = (tmp_path / "index.html").read_text()
    assert sorted(re.findall(r'src="([^"]+)"', page)) == sorted(EXPECTED[:-1])
    assert re.search(r"PSNR \d+\.\d dB", page)


@pytest.mark.slow
def test_demo_cli_lists_what_it_wrote(tmp_path):
    result = CliRunner().invoke(cli, ["demo", "--network", str(DATA / "sg2_resnet_gray_32.pkl"), "--outdir",
                                      str(tmp_path / "d"), "--projection-steps", "2"])
    assert result.exit_code == 0, result.output
    assert [line.rsplit("/", 1)[-1] for line in result.output.split() if "/" in line][-1] == "index.html"
    assert all((tmp_path / "d" / name).is_file() for name in EXPECTED)


def test_demo_refuses_conditional_networks_and_zero_steps(tmp_path):
    with pytest.raises(InputError, match="class labels"):
        run_demo(stylegan.load(DATA / "sg2_cond_orig_32.pkl"), tmp_path)
    with pytest.raises(InputError, match="at least 1 step"):
        run_demo(stylegan.load(DATA / "sg2_resnet_gray_32.pkl"), tmp_path, projection_steps=0)
