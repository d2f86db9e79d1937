"""StyleGAN3 specifics: the user transform of the input (translate/rotate), and its CLI flags."""
import numpy as np
import PIL.Image
import pytest
import torch
from click.testing import CliRunner
from conftest import DATA

import stylegan
from stylegan.cli import cli
from stylegan.latent.generate import set_input_transform


def _best_shift(moved: np.ndarray, base: np.ndarray, axis: int, max_shift: int = 10) -> tuple[int, float, float]:
    """The shift s (pixels) for which moved[..., i + s] best equals base[..., i], with its MSE and the MSE at 0."""
    size = base.shape[axis]
    errors = {}
    for s in range(-max_shift, max_shift + 1):
        a = np.take(moved, range(max(s, 0), size + min(s, 0)), axis=axis)
        b = np.take(base, range(max(-s, 0), size - max(s, 0)), axis=axis)
        inner = (slice(None), slice(4, -4), slice(4, -4))  # away from the borders, where new content enters
        errors[s] = float(((a[inner] - b[inner]) ** 2).mean())
    best = min(errors, key=errors.get)
    return best, errors[best], errors[0]


@pytest.mark.parametrize("pixels,axis", [(4, 2), (-3, 2), (5, 1)])
def test_integer_translation_shifts_the_image(pixels, axis):
    G = stylegan.load(DATA / "sg3t_32.pkl")
    z = stylegan.seed_to_z(1, G.z_dim)
    with torch.no_grad():
        base = G(z)[0].numpy()
        offset = pixels / G.img_resolution  # the image spans one unit of the input's coordinate frame
        set_input_transform(G, (offset, 0) if axis == 2 else (0, offset))
        moved = G(z)[0].numpy()
    shift, err, err0 = _best_shift(moved, base, axis)
    print(f"translate {pixels}px: best shift {shift}, mse {err:.2e} (unshifted {err0:.2e})")
    assert shift == pixels
    assert err < 1e-3 * err0


def test_rotation_changes_the_image_and_identity_restores_it():
    G = stylegan.load(DATA / "sg3t_32.pkl")
    z = stylegan.seed_to_z(2, G.z_dim)
    with torch.no_grad():
        base = G(z)
        set_input_transform(G, (0, 0), 30)
        rotated = G(z)
        set_input_transform(G, (0, 0), 0)
        again = G(z)
    assert (rotated - base).abs().mean() > 0.01
    assert torch.equal(again, base)


def test_translate_and_rotate_flags(tmp_path):
    path = DATA / "sg3t_32.pkl"
    runner = CliRunner()
    for name, extra in (("plain", []), ("moved", ["--translate", "0.125,0", "--rotate", "0"])):
        result = runner.invoke(cli, ["generate", "--network", str(path), "--seeds", "1", "--outdir",
                                     str(tmp_path / name), *extra])
        assert result.exit_code == 0, result.output
    with PIL.Image.open(tmp_path / "plain" / "seed0001.png") as a, \
            PIL.Image.open(tmp_path / "moved" / "seed0001.png") as b:
        plain, moved = np.asarray(a).astype(int), np.asarray(b).astype(int)
    # 0.125 of 32 pixels = 4 pixels to the right.
    shifted = np.abs(moved[4:-4, 8:-4] - plain[4:-4, 4:-8]).mean()
    unshifted = np.abs(moved[4:-4, 8:-4] - plain[4:-4, 8:-4]).mean()
    assert shifted < 0.5 and shifted < 0.2 * unshifted
