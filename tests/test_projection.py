"""Projection: recovering known latents, the official algorithm's mechanics, losses, targets, CLI."""
import warnings

import numpy as np
import PIL.Image
import pytest
import torch
from click.testing import CliRunner
from conftest import DATA

import stylegan
from stylegan.cli import cli
from stylegan.errors import InputError
from stylegan.io import read_image, save_directions
from stylegan.latent import load_ws, save_ws, seeds_to_ws
from stylegan.latent.generate import render
from stylegan.latent.perceptual import DiscriminatorFeatures, make_loss, ms_ssim
from stylegan.latent.projection import noise_regularizer, project, project_files, psnr


@pytest.fixture(scope="module")
def G2():
    return stylegan.load(DATA / "sg2_skip_32.pkl")


@pytest.mark.slow
def test_w_plus_pixel_projection_recovers_a_sample(G2):
    target = render(G2, seeds_to_ws(G2, [5, 6], 0.7))
    result = project(G2, target, method="image2stylegan", loss="pixel", num_steps=300, lr=0.05, progress=False)
    values = [psnr(a, b) for a, b in zip(render(G2, result.ws), target)]
    print("W+ pixel projection PSNR (300 steps):", values)
    assert min(values) >= 30
    assert result.ws.shape == (2, G2.num_ws, G2.w_dim)
    assert not torch.equal(result.ws[:, 0], result.ws[:, -1])  # W+: rows differ


def test_official_algorithm_mechanics(G2):
    target = render(G2, seeds_to_ws(G2, [9], 0.5))
    seen = []
    result = project(G2, target, method="official", loss="pixel+msssim", num_steps=60, progress=False,
                     callback=lambda step, info: seen.append(step))
    assert seen == list(range(60))
    losses = np.array(result.losses)
    assert losses[-10:].mean() < 0.5 * losses[:10].mean()  # decreasing in trend
    assert torch.equal(result.ws[:, 0], result.ws[:, -1])  # W space: one w repeated
    assert result.noise is not None and len(result.noise) == len(G2.synthesis.noise_layers())
    for n in result.noise:  # renormalised after every step
        assert abs(float(n.mean())) < 1e-5 and abs(float(n.square().mean()) - 1) < 1e-4
    assert result.history.shape[0] == 60


def test_noise_regularizer_penalises_correlation():
    white = [torch.randn(1, 1, 64, 64, generator=torch.Generator().manual_seed(0))]
    smooth = [torch.nn.functional.avg_pool2d(torch.randn(1, 1, 130, 130), 3, 2)[:, :, :64, :64]]
    assert float(noise_regularizer(white)[0]) < 1e-3
    assert float(noise_regularizer(smooth)[0]) > 10 * float(noise_regularizer(white)[0])


def test_stylegan3_stabilized_projection_keeps_the_input_transform():
    G = stylegan.load(DATA / "sg3t_32.pkl")
    target = render(G, seeds_to_ws(G, [2], 0.7))
    result = project(G, target, method="official", loss="pixel", num_steps=20, w_avg_samples=2000, stabilize=True,
                     progress=False)
    assert result.noise is None  # StyleGAN3 has no noise inputs
    assert torch.equal(result.ws[:, 0], G.mapping.w_avg.expand(1, -1))
    assert result.losses[-1] < 0.5 * result.losses[0]


def test_ms_ssim_properties():
    a = torch.rand(2, 3, 64, 64) * 255
    noisy = (a + torch.randn_like(a) * 20).clamp(0, 255)
    noisier = (a + torch.randn_like(a) * 60).clamp(0, 255)
    assert torch.allclose(ms_ssim(a, a), torch.ones(2), atol=1e-5)
    assert torch.allclose(ms_ssim(a, noisy), ms_ssim(noisy, a), atol=1e-5)
    assert (ms_ssim(a, noisier) < ms_ssim(a, noisy)).all() and (ms_ssim(a, noisy) < 1).all()


def test_single_scale_ssim_matches_a_direct_computation():
    """With one scale MS-SSIM is SSIM; compare with an explicit Gaussian-weighted formula on one window."""
    a = torch.rand(1, 1, 11, 11, dtype=torch.float64) * 255
    b = torch.rand(1, 1, 11, 11, dtype=torch.float64) * 255
    x = torch.arange(11, dtype=torch.float64) - 5
    g = torch.exp(-x ** 2 / (2 * 1.5 ** 2))
    w = torch.outer(g, g) / torch.outer(g, g).sum()
    mu_a, mu_b = (w * a).sum(), (w * b).sum()
    va, vb = (w * a * a).sum() - mu_a ** 2, (w * b * b).sum() - mu_b ** 2
    cov = (w * a * b).sum() - mu_a * mu_b
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    expected = (2 * mu_a * mu_b + c1) * (2 * cov + c2) / ((mu_a ** 2 + mu_b ** 2 + c1) * (va + vb + c2))
    assert abs(float(ms_ssim(a, b)[0]) - float(expected)) < 1e-9


def test_discriminator_feature_loss():
    nets = stylegan.load_networks(DATA / "sg2_resnet_gray_32.pkl")
    G, D = nets["G_ema"], nets["D"]
    target = torch.from_numpy(render(G, seeds_to_ws(G, [1]))).permute(0, 3, 1, 2).float()
    feats = DiscriminatorFeatures(D)(target)
    assert len(feats) == len(D.block_resolutions)
    loss = make_loss("discriminator", target, D=D)
    assert float(loss(target)) == 0
    assert float(loss(target.flip(3))) > 0
    with pytest.raises(InputError, match="holds D"):
        make_loss("discriminator", target, D=None)
    with pytest.raises(InputError, match="unknown loss"):
        make_loss("pixel+clip", target)


def test_read_image_converts_modes_crops_and_resizes(tmp_path):
    rgb = np.random.RandomState(0).randint(0, 256, (40, 60, 3)).astype(np.uint8)
    PIL.Image.fromarray(rgb).save(tmp_path / "rgb.png")
    PIL.Image.fromarray(rgb).convert("RGBA").save(tmp_path / "rgba.png")
    PIL.Image.fromarray(rgb).save(tmp_path / "photo.jpg", quality=95)
    PIL.Image.fromarray(rgb[:, :, 0]).save(tmp_path / "gray.png")
    PIL.Image.fromarray(rgb[:, :, 0].astype(np.uint16) * 257).save(tmp_path / "deep.png")
    assert np.array_equal(read_image(tmp_path / "rgb.png"), rgb)
    assert np.array_equal(read_image(tmp_path / "rgba.png"), rgb)
    assert read_image(tmp_path / "photo.jpg", 32).shape == (32, 32, 3)
    gray = read_image(tmp_path / "gray.png", channels=1)
    assert gray.shape == (40, 60, 1) and np.array_equal(gray[:, :, 0], rgb[:, :, 0])
    assert np.array_equal(read_image(tmp_path / "deep.png", channels=1)[:, :, 0], rgb[:, :, 0])
    # Centre crop: the 40x40 middle of the 60-wide image, unchanged at its own size.
    assert np.array_equal(read_image(tmp_path / "rgb.png", 40), rgb[:, 10:50])
    (tmp_path / "bad.png").write_bytes(b"nope")
    with pytest.raises(InputError, match="not a readable image"):
        read_image(tmp_path / "bad.png")
    with pytest.raises(InputError, match="targets must be 32x32"):
        project(stylegan.load(DATA / "sg2_skip_32.pkl"), rgb, num_steps=1, progress=False)


def _run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def test_cli_project_folder_is_resumable_and_outputs_are_usable(tmp_path, G2):
    targets = tmp_path / "targets"
    targets.mkdir()
    for seed in (3, 4):
        PIL.Image.fromarray(render(G2, seeds_to_ws(G2, [seed]))[0]).save(targets / f"face{seed}.png")
    (targets / "broken.png").write_bytes(b"x")
    out = tmp_path / "out"
    result = _run("project", "--network", DATA / "sg2_skip_32.pkl", "--target", targets, "--num-steps", "5",
                  "--loss", "pixel", "--outdir", out, "--save-video")
    assert result.exit_code == 0, result.output
    assert "broken.png: skipped" in result.output and "PSNR" in result.output
    for name in ("face3", "face4"):
        files = sorted(p.name for p in (out / name).iterdir())
        assert files == ["noise.npz", "proj.mp4", "proj.png", "projected_w.npz", "target.png"]
        ws = load_ws(out / name / "projected_w.npz", G2)
        assert ws.shape == (1, G2.num_ws, G2.w_dim)
        with np.load(out / name / "noise.npz") as noise:
            assert "b4.conv1.noise_const" in noise.files
    again = _run("project", "--network", DATA / "sg2_skip_32.pkl", "--target", targets, "--num-steps", "5",
                 "--loss", "pixel", "--outdir", out)
    directions = tmp_path / "dirs.npz"
    save_directions(directions, np.eye(1, G2.w_dim, dtype=np.float32), np.ones(1, np.float32),
                    np.ones(1, np.float32), "test")
    assert again.output.count("already projected") == 2
    # The stored ws with the projection's optimised noise (noise.npz beside them) render the projection.
    rendered = _run("generate", "--network", DATA / "sg2_skip_32.pkl", "--projected-w",
                    out / "face3" / "projected_w.npz", "--outdir", tmp_path / "gen")
    assert rendered.exit_code == 0 and "using the projection's noise" in rendered.output
    assert np.array_equal(read_image(tmp_path / "gen" / "proj00.png"), read_image(out / "face3" / "proj.png"))
    edited = _run("edit", "--network", DATA / "sg2_skip_32.pkl", "--projected-w", out / "face3" / "projected_w.npz",
                  "--direction", directions, "--strength", "0", "--outdir", tmp_path / "edit")
    assert edited.exit_code == 0 and "using the projection's noise" in edited.output


def test_cli_applications(tmp_path, G2):
    save_ws(tmp_path / "a.npz", seeds_to_ws(G2, [1]))
    save_ws(tmp_path / "b.npz", seeds_to_ws(G2, [2]))
    net = DATA / "sg2_skip_32.pkl"
    assert _run("morph", "--network", net, tmp_path / "a.npz", tmp_path / "b.npz", "--steps", "4",
                "--outdir", tmp_path, "--video", tmp_path / "morph.gif").exit_code == 0
    assert (tmp_path / "morph.png").exists() and (tmp_path / "morph.gif").exists()
    result = _run("crossover", "--network", net, "--content", tmp_path / "a.npz", "--style", tmp_path / "b.npz",
                  "--layers", "4-7", "--outdir", tmp_path)
    assert result.exit_code == 0, result.output
    crossed = load_ws(tmp_path / "crossover_w.npz", G2)
    a, b = load_ws(tmp_path / "a.npz", G2), load_ws(tmp_path / "b.npz", G2)
    assert torch.equal(crossed[:, :4], a[:, :4]) and torch.equal(crossed[:, 4:], b[:, 4:])
    result = _run("expression", "--network", net, "--target", "1", "--neutral", "2", "--expressive", "3",
                  "--strength", "0,1", "--outdir", tmp_path)
    assert result.exit_code == 0, result.output
    edited = load_ws(tmp_path / "expression_w.npz", G2)
    w1, w2, w3 = (seeds_to_ws(G2, [s]) for s in (1, 2, 3))
    assert torch.allclose(edited[0], w1[0]) and torch.allclose(edited[1], (w1 + w3 - w2)[0], atol=1e-5)


def _random_vgg_files(folder, heads: bool = True):
    """A torchvision-format VGG16 state dict with random weights (and LPIPS heads beside it)."""
    from stylegan.nets import VGG16
    gen = torch.Generator().manual_seed(0)
    net = VGG16()
    state = {k: torch.randn(v.shape, generator=gen) * 0.05 for k, v in net.state_dict().items()
             if not k.startswith("lpips")}
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(state, folder / "vgg16-397923af.pth")
    if heads:
        torch.save({f"lin{i}.model.1.weight": torch.rand(1, c, 1, 1, generator=gen) + 0.5
                    for i, c in enumerate((64, 128, 256, 512, 512))}, folder / "lpips_vgg.pth")
    return folder / "vgg16-397923af.pth"


@pytest.fixture
def hub(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv("STYLEGAN_VGG16", raising=False)
    monkeypatch.delenv("STYLEGAN_LPIPS", raising=False)
    return tmp_path / "torch" / "hub" / "checkpoints"


@pytest.mark.slow
def test_auto_loss_uses_lpips_and_vgg_when_weights_are_present(G2, hub, monkeypatch):
    _random_vgg_files(hub)
    monkeypatch.setenv("STYLEGAN_LPIPS", str(hub / "lpips_vgg.pth"))
    target = render(G2, seeds_to_ws(G2, [4]))
    official = project(G2, target, num_steps=3, w_avg_samples=500, progress=False)
    assert official.options["loss"] == "lpips"
    i2s = project(G2, target, method="image2stylegan", num_steps=3, w_avg_samples=500, progress=False)
    assert i2s.options["loss"] == "pixel+vgg"
    assert all(np.isfinite(official.losses)) and all(np.isfinite(i2s.losses))


def test_vgg_features_are_the_named_relu_outputs(hub):
    from stylegan.latent.perceptual import VGGFeatures
    from stylegan.nets import load_vgg16_net
    vgg = load_vgg16_net(_random_vgg_files(hub, heads=False))
    img = torch.rand(1, 3, 32, 32) * 255
    feats = VGGFeatures(vgg, ["conv1_1", "conv3_2"])(img)
    x = vgg._normalize(img)
    expected = []
    for i, layer in enumerate(vgg.features[:14]):
        x = layer(x)
        if i in (1, 13):
            expected.append(x)
    assert all(torch.equal(a, b) for a, b in zip(feats, expected))
    assert feats[0].min() >= 0  # after ReLU
    loss = make_loss("vgg", img, vgg=vgg)
    assert float(loss(img)) == 0 and float(loss(img.flip(3))) > 0


def test_missing_vgg_weights(G2, hub):
    target = render(G2, seeds_to_ws(G2, [4]))
    with pytest.warns(UserWarning, match="vgg16-397923af.pth or vgg16.pt"):
        result = project(G2, target, num_steps=2, w_avg_samples=500, progress=False)
    assert result.options["loss"] == "pixel+msssim"
    with pytest.raises(stylegan.StyleGANError, match=r"put vgg16-397923af.pth or vgg16.pt in .*checkpoints"):
        project(G2, target, loss="lpips", num_steps=2, progress=False)


def test_a_folder_without_vgg_weights_says_so_once(G2, hub, tmp_path):
    targets = tmp_path / "targets"
    targets.mkdir()
    for seed in (3, 4, 5):
        PIL.Image.fromarray(render(G2, seeds_to_ws(G2, [seed]))[0]).save(targets / f"face{seed}.png")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")  # as a script runs: each warning once per place it is raised
        rows = project_files(G2, targets, tmp_path / "out", num_steps=1, w_avg_samples=200, progress=False)
    assert len(rows) == 3
    assert [str(w.message).count("offline losses") for w in caught] == [1]
