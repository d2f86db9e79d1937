"""Editing directions: SeFa, GANSpace, InterFaceGAN, applying them by layer range."""
import csv

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from conftest import DATA

import stylegan
from stylegan.cli import cli
from stylegan.errors import InputError
from stylegan.io import load_direction, save_directions
from stylegan.latent import seeds_to_ws, style_ranges
from stylegan.latent.edit import (
    apply_direction,
    fit_boundary,
    ganspace,
    interfacegan,
    project_out,
    sefa,
    style_affines_by_row,
)
from stylegan.latent.generate import render


@pytest.fixture(scope="module")
def G2():
    return stylegan.load(DATA / "sg2_skip_32.pkl")


def test_style_layers_are_found_per_ws_row(G2):
    names = {id(m): n for n, m in G2.synthesis.named_modules()}
    rows = [[names[id(m)] for m in row] for row in style_affines_by_row(G2)]
    assert rows == [["b4.conv1.affine"], ["b4.torgb.affine", "b8.conv0.affine"], ["b8.conv1.affine"],
                    ["b8.torgb.affine", "b16.conv0.affine"], ["b16.conv1.affine"],
                    ["b16.torgb.affine", "b32.conv0.affine"], ["b32.conv1.affine"], ["b32.torgb.affine"]]
    G3 = stylegan.load(DATA / "sg3t_32.pkl")
    rows3 = style_affines_by_row(G3)
    assert rows3[0] == [G3.synthesis.input.affine]
    assert rows3[1:] == [[getattr(G3.synthesis, n).affine] for n in G3.synthesis.layer_names]
    G1 = stylegan.load(DATA / "tf_sg1_128.pkl")  # StyleGAN1: one AdaIN style layer per ws row
    rows1 = [[names1 for names1, m1 in G1.synthesis.named_modules() if any(m1 is m for m in row)]
             for row in style_affines_by_row(G1)]
    res = [4 << (i // 2) for i in range(G1.num_ws)]
    assert rows1 == [[f"b{r}.{'input' if i == 0 else 'conv0' if i % 2 == 0 else 'conv1'}.style"]
                     for i, r in enumerate(res)]
    d = sefa(G1, layers=[0, 1])
    a = torch.cat([G1.synthesis.b4.input.style.weight, G1.synthesis.b4.conv1.style.weight]).double().numpy()
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    assert np.allclose(d.values, np.linalg.eigvalsh(a.T @ a)[::-1], rtol=1e-4)


def test_sefa_is_the_eigendecomposition_of_the_normalised_style_weights(G2):
    d = sefa(G2, layers=[0, 1, 2])
    assert d.directions.shape == (G2.w_dim, G2.w_dim)
    assert np.allclose(d.directions @ d.directions.T, np.eye(G2.w_dim), atol=1e-5)
    assert np.all(np.diff(d.values) <= 1e-6)
    a = torch.cat([G2.synthesis.b4.conv1.affine.weight, G2.synthesis.b4.torgb.affine.weight,
                   G2.synthesis.b8.conv0.affine.weight, G2.synthesis.b8.conv1.affine.weight]).double().numpy()
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    values, vectors = np.linalg.eigh(a.T @ a)
    assert np.allclose(d.values, values[::-1], rtol=1e-4)
    for k in range(4):  # the leading eigenvectors (up to sign)
        assert abs(float(d.directions[k] @ vectors[:, -1 - k])) > 0.999


def test_ganspace_matches_svd_of_the_same_samples(G2):
    d = ganspace(G2, num_samples=3000, num=10, batch_size=700, seed=3)
    assert np.allclose(d.directions @ d.directions.T, np.eye(10), atol=1e-5)
    assert np.all(np.diff(d.values) <= 0)
    z = torch.from_numpy(np.random.RandomState(3).randn(3000, G2.z_dim)).float()
    with torch.no_grad():
        w = G2.mapping(z, None)[:, 0].double().numpy()
    centered = w - w.mean(0)
    _, s, vt = np.linalg.svd(centered, full_matrices=False)
    assert np.allclose(d.values, s[:10] ** 2 / (3000 - 1), rtol=1e-4)
    assert np.allclose(d.scales, np.sqrt(d.values), rtol=1e-5)
    for k in range(3):
        assert abs(float(d.directions[k] @ vt[k])) > 0.999


@pytest.mark.parametrize("classifier", ["logistic", "svm"])
def test_fit_boundary_recovers_a_planted_direction(classifier):
    if classifier == "svm":
        pytest.importorskip("sklearn")
    rng = np.random.RandomState(0)
    planted = rng.randn(32)
    planted /= np.linalg.norm(planted)
    x = rng.randn(2000, 32)
    labels = (x @ planted + 0.1 * rng.randn(2000)) > 0
    boundary = fit_boundary(x, labels, classifier)
    assert boundary.shape == (1, 32)
    assert float(boundary[0] @ planted) > 0.95


def test_interfacegan_from_scores_and_conditional_projection(G2):
    seeds = list(range(2000))
    with torch.no_grad():
        w = G2.mapping(stylegan.seeds_to_z(seeds, G2.z_dim), None)[:, 0].numpy()
    planted = np.zeros(G2.w_dim)
    planted[:3] = [1, -2, 0.5]
    planted /= np.linalg.norm(planted)
    d = interfacegan(G2, seeds, w @ planted, ratio=0.5, classifier="logistic")
    assert float(d.directions[0] @ planted) > 0.9
    other = np.eye(G2.w_dim)[0]
    conditioned = project_out(d.directions[0], [other])
    assert abs(float(conditioned[0] @ other)) < 1e-6 and abs(np.linalg.norm(conditioned) - 1) < 1e-6
    with pytest.raises(InputError, match="span of the conditions"):
        project_out(other, [other])


def test_apply_direction_by_layer_range(G2):
    ws = seeds_to_ws(G2, [1, 2, 3], 0.7)
    d = sefa(G2).directions[0]
    assert torch.equal(apply_direction(ws, d, 0.0), ws)
    moved = apply_direction(ws, d, 2.0, [0, 3])
    assert torch.allclose(moved[:, [0, 3]] - ws[:, [0, 3]], torch.from_numpy(2 * d).expand(3, 2, -1), atol=1e-6)
    assert torch.equal(moved[:, [1, 2, 4, 5, 6, 7]], ws[:, [1, 2, 4, 5, 6, 7]])
    base = render(G2, ws).astype(float)
    bands = style_ranges(G2)
    coarse = np.abs(render(G2, apply_direction(ws, d, 3.0, bands["coarse"])) - base).mean()
    finest = np.abs(render(G2, apply_direction(ws, d, 3.0, bands["middle"])) - base).mean()
    assert finest < coarse
    with pytest.raises(InputError, match="has 3 values"):
        apply_direction(ws, np.ones(3), 1.0)


def test_direction_files(tmp_path, G2):
    d = sefa(G2, num=5)
    save_directions(tmp_path / "dirs.npz", d.directions, d.scales, d.values, d.method)
    vector, unit = load_direction(f"{tmp_path / 'dirs.npz'}:2", G2.w_dim)
    assert np.array_equal(vector, d.directions[2]) and unit == 1.0
    save_directions(tmp_path / "boundary.npy", d.directions, d.scales, d.values, d.method)
    assert np.load(tmp_path / "boundary.npy").shape == (1, G2.w_dim)  # the InterFaceGAN layout
    with pytest.raises(InputError, match="out of range"):
        load_direction(f"{tmp_path / 'dirs.npz'}:9", G2.w_dim)
    with pytest.raises(InputError, match="this network's w has"):
        load_direction(str(tmp_path / "boundary.npy"), 32)


def test_cli_directions_and_edit(tmp_path):
    net = str(DATA / "sg2_skip_32.pkl")
    runner = CliRunner()

    def run(*args):
        result = runner.invoke(cli, [str(a) for a in args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    run("directions", "sefa", "--network", net, "--layers", "coarse", "--num", "4", "--out", tmp_path / "sefa.npz")
    run("directions", "ganspace", "--network", net, "--samples", "2000", "--num", "4", "--out", tmp_path / "gs.npz")
    with open(tmp_path / "scores.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["seed", "label"])
        writer.writerows([[s, s % 2] for s in range(40)])
    run("directions", "interfacegan", "--network", net, "--scores", tmp_path / "scores.csv", "--classifier",
        "logistic", "--out", tmp_path / "b.npy")
    run("edit", "--network", net, "--seeds", "1,2", "--direction", f"{tmp_path / 'gs.npz'}:1", "--layers", "0-3",
        "--strength", "-2:2:5", "--outdir", tmp_path, "--video", tmp_path / "edit.gif")
    assert (tmp_path / "edit.png").exists() and (tmp_path / "edit.gif").exists()
    result = runner.invoke(cli, ["edit", "--network", net, "--seeds", "1", "--direction", str(tmp_path / "b.npy"),
                                 "--strength", "x"])
    assert result.exit_code != 0 and "--strength must look like" in result.output
