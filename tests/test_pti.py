"""Pivotal tuning: the tuned generator renders the pivot closer to the photo than the original does, leaves
the original untouched, stops at the LPIPS threshold, keeps other latents with the locality regulariser, and
its files reproduce the projection through the other verbs."""
import numpy as np
import pytest
import torch
from click.testing import CliRunner
from conftest import DATA
from test_projection import _random_vgg_files

import stylegan
from stylegan.cli import cli
from stylegan.data.toonfaces import toonface
from stylegan.io import read_image, save_png
from stylegan.latent import project, psnr, render, seeds_to_ws, tune


@pytest.fixture(scope="module")
def G():
    return stylegan.load(DATA / "sg2_skip_32.pkl")


def _target(G):
    """A picture the network cannot draw exactly: a built-in face at its resolution."""
    return torch.from_numpy(toonface(5, G.img_resolution).astype(np.float32)).permute(2, 0, 1)[None]


def _lpips_hub(tmp_path, monkeypatch):
    hub = tmp_path / "torch" / "hub" / "checkpoints"
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("STYLEGAN_LPIPS", str(hub / "lpips_vgg.pth"))
    _random_vgg_files(hub)


def test_tuning_brings_the_pivot_to_the_photo_and_leaves_the_network_alone(G, recwarn):
    target = _target(G)
    pivot = seeds_to_ws(G, [3])
    before = {k: v.clone() for k, v in G.state_dict().items()}
    tuning = tune(G, target, pivot, num_steps=40, lr=3e-3, progress=False)
    assert tuning.loss == "pixel+msssim" and tuning.lpips is None  # no VGG16 weights here: the offline loss
    photo = target[0].permute(1, 2, 0).numpy().round().astype(np.uint8)
    original, tuned = render(G, pivot)[0], render(tuning.G, pivot)[0]
    assert psnr(tuned, photo) > psnr(original, photo) + 3
    assert tuning.losses[-1] < tuning.losses[0] and len(tuning.losses) == 40
    assert all(torch.equal(v, before[k]) for k, v in G.state_dict().items())
    assert all(torch.equal(a, b) for a, b in zip(G.mapping.parameters(), tuning.G.mapping.parameters()))


def test_tuning_stops_once_lpips_reaches_the_threshold(G, tmp_path, monkeypatch):
    _lpips_hub(tmp_path, monkeypatch)
    target, pivot = _target(G), seeds_to_ws(G, [3])
    tuning = tune(G, target, pivot, num_steps=20, stop_lpips=1e9, progress=False)
    assert tuning.loss == "pixel+lpips" and len(tuning.losses) == 1 and len(tuning.lpips) == 1
    tuning = tune(G, target, pivot, num_steps=5, stop_lpips=0.0, progress=False)
    assert len(tuning.losses) == 5 and len(tuning.lpips) == 5


def test_the_locality_regulariser_keeps_other_latents(G):
    target, pivot = _target(G), seeds_to_ws(G, [3])
    others = seeds_to_ws(G, [10, 11, 12], truncation_psi=0.5)
    change = {}
    for locality in (False, True):
        tuned = tune(G, target, pivot, num_steps=60, lr=3e-3, locality=locality, seed=1, progress=False).G
        change[locality] = np.abs(render(tuned, others).astype(float) - render(G, others).astype(float)).mean()
    assert change[True] < change[False]


def test_pti_files_reproduce_the_projection_and_edit_the_photo(G, tmp_path):
    save_png(toonface(5, 32), tmp_path / "face.png")
    out = tmp_path / "out"
    run = CliRunner().invoke(cli, ["project", "--network", str(DATA / "sg2_skip_32.pkl"), "--target",
                                   str(tmp_path / "face.png"), "--method", "pti", "--num-steps", "5",
                                   "--tune-steps", "5", "--outdir", str(out)])
    assert run.exit_code == 0, run.output
    tuned = stylegan.load(out / "tuned.safetensors")
    assert any(not torch.equal(a, b) for a, b in zip(tuned.synthesis.parameters(), G.synthesis.parameters()))
    again = CliRunner().invoke(cli, ["generate", "--network", str(out / "tuned.safetensors"), "--projected-w",
                                     str(out / "projected_w.npz"), "--outdir", str(tmp_path / "gen")])
    assert again.exit_code == 0, again.output
    assert np.array_equal(read_image(tmp_path / "gen" / "proj00.png"), read_image(out / "proj.png"))
    refused = CliRunner().invoke(cli, ["project", "--target", str(tmp_path / "face.png"), "--tune-steps", "5",
                                       "--outdir", str(tmp_path / "x")])
    assert refused.exit_code == 1 and "--method pti" in refused.output


def test_pti_through_project_keeps_the_pivot_from_the_official_projector(G):
    target = _target(G)
    result = project(G, target, method="pti", num_steps=3, tune_steps=2, w_avg_samples=200, progress=False)
    assert result.G is not None and result.options["method"] == "pti" and result.options["tune_steps"] == 2
    assert torch.equal(result.ws[:, 0:1].expand_as(result.ws), result.ws)  # a W pivot: all rows equal
    with pytest.raises(stylegan.InputError, match="pivot in W"):
        project(G, target, method="pti", space="w+", num_steps=1, progress=False)
