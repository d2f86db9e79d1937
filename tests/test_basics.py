"""Seeds, style bands, image conversion and atomic writes."""
import tracemalloc

import numpy as np
import pytest
import torch

import stylegan
from stylegan.errors import InputError
from stylegan.io import atomic_path, make_grid, save_png, to_uint8
from stylegan.latent import style_ranges
from stylegan.models import StyleGAN2Generator, StyleGAN3Generator

from conftest import DATA, reference


def test_seed_to_z_follows_the_official_convention():
    ref = reference(DATA / "sg2_skip_32.pkl")
    z = stylegan.seeds_to_z(range(4), 64)
    assert z.dtype == torch.float32
    assert np.array_equal(z.numpy(), ref["z"].astype(np.float32))
    with pytest.raises(InputError):
        stylegan.seed_to_z(-1, 8)


@pytest.mark.parametrize("text,expected", [
    ("0-3,7", [0, 1, 2, 3, 7]), ("5", [5]), (" 1 , 2-3 ", [1, 2, 3]), ([4, 2], [4, 2]),
])
def test_parse_seeds(text, expected):
    assert stylegan.parse_seeds(text) == expected


@pytest.mark.parametrize("text", ["", "1,,2", "x", "3-", "-3", "1.5", "\u0663", "1-\u0663", "\uff11", "4294967296",
                                  [2 ** 32], [-1]])
def test_parse_seeds_rejects_garbage(text):
    with pytest.raises(InputError):
        stylegan.parse_seeds(text)


def test_seeds_cover_the_official_range_and_long_lists_are_refused_before_they_are_built():
    assert stylegan.parse_seeds("4294967295,0004294967295") == [2 ** 32 - 1] * 2
    assert len(stylegan.parse_seeds("0-999999")) == 1_000_000
    tracemalloc.start()
    try:
        for text in ("0-4294967295", "0-99999999", "1-2,0-999999"):
            with pytest.raises(InputError, match="at most 1,000,000"):
                stylegan.parse_seeds(text)
        assert tracemalloc.get_traced_memory()[1] < 2 ** 20  # nothing the size of the list was allocated
    finally:
        tracemalloc.stop()
    with pytest.raises(InputError, match="too large") as info:
        stylegan.parse_seeds("9" * 5000)  # longer than Python converts to an int
    assert len(str(info.value)) < 200


def test_style_ranges_per_generation():
    g1024 = StyleGAN2Generator(z_dim=8, c_dim=0, w_dim=8, img_resolution=1024, img_channels=3, channel_base=4096,
                               channel_max=4, mapping_kwargs=dict(num_layers=1))
    assert g1024.num_ws == 18
    with pytest.raises(InputError, match="raise channel_base"):
        StyleGAN2Generator(z_dim=8, c_dim=0, w_dim=8, img_resolution=1024, img_channels=3, channel_base=512)
    assert style_ranges(g1024) == {"coarse": [0, 1, 2, 3], "middle": [4, 5, 6, 7], "fine": list(range(8, 18))}
    g3 = StyleGAN3Generator(z_dim=8, c_dim=0, w_dim=8, img_resolution=256, img_channels=3, channel_base=256,
                            channel_max=4)
    bands = style_ranges(g3)
    assert sorted(sum(bands.values(), [])) == list(range(16))
    assert bands["coarse"][0] == 0 and bands["fine"][-1] == 15  # input features coarse, ToRGB fine
    assert max(bands["coarse"]) < min(bands["middle"]) <= max(bands["middle"]) < min(bands["fine"])


def test_to_uint8_rounds_like_the_official_tools():
    img = torch.tensor([-1.0, -0.999, 0.0, 0.5, 1.0, 2.0]).reshape(1, 1, 1, 6).repeat(1, 3, 1, 1)
    out = to_uint8(img)
    assert out.shape == (1, 1, 6, 3)
    assert out[0, 0, :, 0].tolist() == [0, 0, 128, 191, 255, 255]


def test_make_grid_layout():
    images = np.stack([np.full((2, 3, 3), i, np.uint8) for i in range(5)])
    grid = make_grid(images, cols=3)
    assert grid.shape == (4, 9, 3)
    assert grid[2, 0, 0] == 3 and grid[2, 6, 0] == 0  # row 2 holds image 3, then an empty cell


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.png"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"partial")
            raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []
    save_png(np.zeros((4, 4, 3), np.uint8), target)
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]


def test_bad_latent_shapes_are_explained():
    G = stylegan.load(DATA / "sg2_skip_32.pkl")
    with pytest.raises(InputError, match=r"z must have shape \[N, 64\]"):
        G(torch.zeros(1, 63), None)
    with pytest.raises(InputError, match=r"ws must have shape \[N, 8, 64\]"):
        G.synthesis(torch.zeros(1, 7, 64))
    with pytest.raises(InputError, match="noise_mode"):
        G.synthesis(torch.zeros(1, 8, 64), noise_mode="loud")
