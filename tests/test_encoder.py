"""Learned encoders: training reduces their losses and resumes exactly, an encoder is refused for another
generator, its start helps optimisation, and the command line trains and uses one."""
import numpy as np
import pytest
import torch
from click.testing import CliRunner

import stylegan
from stylegan.cli import cli
from stylegan.errors import CheckpointError
from stylegan.io import read_image, save_png
from stylegan.latent import project, psnr, render, seeds_to_ws
from stylegan.latent.encoding import load_encoder
from stylegan.models import StyleGAN2Generator
from stylegan.train.encoder import EncoderOptions, train_encoder
from stylegan.train.log import read_stats

SMALL = dict(batch=8, lr=1e-3, channel_base=256, channel_max=32, features=32, iterations=2)


def _generator(path, seed):
    torch.manual_seed(seed)
    G = StyleGAN2Generator(z_dim=16, c_dim=0, w_dim=16, img_resolution=16, img_channels=3,
                           mapping_kwargs=dict(num_layers=2), channel_base=256, channel_max=16)
    with torch.no_grad():
        G.mapping.w_avg.copy_(G.mapping(torch.randn(1000, 16), None)[:, 0].mean(0))
    stylegan.save(G, path)
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny generator and an encoder trained for it (200 steps)."""
    root = tmp_path_factory.mktemp("encoder")
    network = _generator(root / "G.safetensors", 0)
    train_encoder(EncoderOptions(network=str(network), out=str(root / "enc"), steps=200, tick=50, snap=200,
                                 **SMALL), progress=False, log=lambda line: None)
    return network, root / "enc"


def test_training_reduces_the_losses(trained):
    _, run = trained
    ticks = read_stats(run)
    assert [t["step"] for t in ticks] == [50, 100, 150, 200]
    for term in ("latent", "pixel", "perceptual"):
        assert ticks[-1][term] < 0.9 * ticks[0][term], term


@pytest.mark.parametrize("with_data", [False, True])
def test_a_resumed_run_equals_an_uninterrupted_one(tmp_path, monkeypatch, with_data):
    """Same weights as one run of all the steps (with real images among the targets, too), and the log's
    times count on from the first leg's (a clock that ticks once a call makes both legs equally long)."""
    from stylegan.train import encoder as encoder_module
    clock = iter(range(10 ** 6))
    monkeypatch.setattr(encoder_module.time, "time", lambda: float(next(clock)))
    network = _generator(tmp_path / "G.safetensors", 1)
    options = dict(network=str(network), tick=3, snap=3, **SMALL)
    if with_data:
        _far_images(stylegan.load(network), tmp_path / "data", 16, 0)
        options.update(data=str(tmp_path / "data"), data_share=0.5)
    train_encoder(EncoderOptions(out=str(tmp_path / "a"), steps=6, **options), progress=False, log=lambda _: None)
    train_encoder(EncoderOptions(out=str(tmp_path / "b"), steps=3, **options), progress=False, log=lambda _: None)
    lines = []
    train_encoder(EncoderOptions(out=str(tmp_path / "b"), steps=6, **options), progress=False, log=lines.append,
                  given={"steps"})
    assert "from step 3 to 6" in lines[0]
    assert ("4 of 8 targets per step from" in lines[0]) == with_data
    first, second = (tick["seconds"] for tick in read_stats(tmp_path / "b"))
    assert second >= 2 * first > 0
    G = stylegan.load(network)
    a, b = (load_encoder(tmp_path / name, G).state_dict() for name in ("a", "b"))
    assert all(torch.equal(a[k], b[k]) for k in a)
    with pytest.raises(stylegan.InputError, match="--lr is part of the encoder run"):
        train_encoder(EncoderOptions(out=str(tmp_path / "b"), steps=6, **{**options, "lr": 0.5}), progress=False,
                      given={"lr"})


def test_an_encoder_is_refused_for_another_generator(trained, tmp_path):
    _, run = trained
    other = stylegan.load(_generator(tmp_path / "other.safetensors", 2))
    with pytest.raises(CheckpointError, match="trained for another generator"):
        load_encoder(run, other)


def test_the_encoder_start_helps_optimisation(trained):
    network, run = trained
    G = stylegan.load(network)
    E = load_encoder(run, G)
    target = render(G, seeds_to_ws(G, [123456]))
    quality = {}
    for init in ("mean", "encoder"):
        result = project(G, target, method="image2stylegan", loss="pixel", num_steps=20, init=init, encoder=E,
                         progress=False, w_avg_samples=500)
        quality[init] = psnr(render(G, result.ws)[0], target[0])
    assert quality["encoder"] >= quality["mean"]
    alone = project(G, target, method="encoder", encoder=E)
    assert alone.losses == [] and alone.ws.shape == (1, G.num_ws, G.w_dim)
    with pytest.raises(stylegan.InputError, match="need an encoder"):
        project(G, target, method="encoder")


def test_the_command_line_trains_and_uses_an_encoder(trained, tmp_path):
    network, run = trained
    result = CliRunner().invoke(cli, ["encoder", "train", "--network", str(network), "--out", str(tmp_path / "e"),
                                      "--steps", "2", "--tick", "1", "--batch", "4", "--channel-base", "256",
                                      "--channel-max", "16", "--features", "16"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "e" / "encoder.safetensors").is_file() and "step 2:" in result.output
    G = stylegan.load(network)
    save_png(render(G, seeds_to_ws(G, [7]))[0], tmp_path / "face.png")
    projected = CliRunner().invoke(cli, ["project", "--network", str(network), "--target", str(tmp_path / "face.png"),
                                         "--method", "encoder", "--encoder", str(run), "--outdir", str(tmp_path / "p")])
    assert projected.exit_code == 0, projected.output
    E = load_encoder(run, G)
    ws = project(G, read_image(tmp_path / "face.png")[None], method="encoder", encoder=E).ws
    assert np.array_equal(read_image(tmp_path / "p" / "proj.png"), render(G, ws)[0])
    started = CliRunner().invoke(cli, ["project", "--network", str(network), "--target", str(tmp_path / "face.png"),
                                       "--init", "encoder", "--encoder", str(run), "--num-steps", "2",
                                       "--loss", "pixel", "--outdir", str(tmp_path / "q")])
    assert started.exit_code == 0, started.output
    other = _generator(tmp_path / "other.safetensors", 3)
    refused = CliRunner().invoke(cli, ["project", "--network", str(other), "--target", str(tmp_path / "face.png"),
                                       "--method", "encoder", "--encoder", str(run), "--outdir", str(tmp_path / "r")])
    assert refused.exit_code == 1 and "trained for another generator" in refused.output


def test_the_demo_model_ships_its_encoder(tmp_path):
    """`builtin:demo`'s encoder is bundled, fits the demo model, and is the default of `project --method
    encoder` there: on held-out dataset faces it does better than the average face (what its encoding starts
    from before the first refinement pass)."""
    from stylegan.data.toonfaces import toonface
    from stylegan.hub import builtin
    assert builtin.demo_encoder_path().stat().st_size < 5 * 2 ** 20  # a few MB, as it ships inside the package
    G = stylegan.load("builtin:demo")
    E = load_encoder("builtin:demo", G)
    faces = [toonface(99_000 + i, G.img_resolution) for i in range(4)]
    average = render(G, G.mapping.w_avg.expand(1, G.num_ws, -1))[0]
    for face in faces:
        encoded = render(G, project(G, face[None], method="encoder", encoder=E, progress=False).ws)[0]
        assert psnr(encoded, face) > psnr(average, face) + 1.0
    save_png(faces[0], tmp_path / "face.png")
    result = CliRunner().invoke(cli, ["project", "--target", str(tmp_path / "face.png"), "--method", "encoder",
                                      "--outdir", str(tmp_path / "p")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "p" / "proj.png").is_file()


def test_a_folder_is_encoded_in_batches(trained, tmp_path, monkeypatch):
    """`project --method encoder` on a folder encodes ENCODER_BATCH targets per pass, and each target's
    files hold its own row of the batch."""
    from stylegan.latent import projection
    network, run = trained
    G = stylegan.load(network)
    E = load_encoder(run, G)
    faces = render(G, seeds_to_ws(G, [3, 4, 5], 0.7))
    for k, face in enumerate(faces):
        save_png(face, tmp_path / f"face{k}.png")
    monkeypatch.setattr(projection, "ENCODER_BATCH", 2)
    passes = []
    encode = projection.encode
    monkeypatch.setattr(projection, "encode", lambda E, G, target, **kw: passes.append(len(target)) or
                        encode(E, G, target, **kw))
    projection.project_files(G, tmp_path, tmp_path / "out", method="encoder", encoder=E, report=lambda line: None)
    assert passes == [2, 1]
    for batch in ([0, 1], [2]):
        ws = project(G, faces[batch], method="encoder", encoder=E).ws
        for row, k in enumerate(batch):
            assert np.array_equal(read_image(tmp_path / "out" / f"face{k}" / "proj.png"), render(G, ws[row:row + 1])[0])


def _far_images(G, folder, count: int, first_seed: int) -> list[np.ndarray]:
    """Images the generator's samples never look like (its images at psi 2.5 with colours inverted), saved as a
    dataset folder: the kind of real images a generator covers only in part."""
    folder.mkdir(parents=True, exist_ok=True)
    images = [255 - render(G, seeds_to_ws(G, [first_seed + k], 2.5))[0] for k in range(count)]
    for k, image in enumerate(images):
        save_png(image, folder / f"{k:03d}.png")
    return images


def test_real_images_in_training_fit_images_unlike_the_samples(trained, tmp_path):
    """`data`: an encoder trained on a dataset's images as well as samples reconstructs held-out images of that
    kind better than one trained, from the same start for the same steps, on samples alone."""
    network, run = trained
    G = stylegan.load(network)
    _far_images(G, tmp_path / "data", 64, 1000)
    held_out = _far_images(G, tmp_path / "held-out", 8, 5000)
    quality = {}
    for name, data in (("samples", None), ("data", str(tmp_path / "data"))):
        train_encoder(EncoderOptions(network=str(network), out=str(tmp_path / name), steps=400, tick=100, snap=400,
                                     start=str(run), data=data, **SMALL), progress=False, log=lambda _: None)
        E = load_encoder(tmp_path / name, G)
        ws = project(G, np.stack(held_out), method="encoder", encoder=E).ws
        quality[name] = np.mean([psnr(render(G, ws[k:k + 1])[0], image) for k, image in enumerate(held_out)])
    assert quality["data"] > quality["samples"] + 1.0, quality


def test_a_start_or_dataset_that_does_not_fit_is_refused(trained, tmp_path):
    network, run = trained
    options = dict(network=str(network), steps=1, **SMALL)
    with pytest.raises(stylegan.InputError, match="--start .* has another shape"):
        train_encoder(EncoderOptions(out=str(tmp_path / "a"), **{**options, "features": 8}, start=str(run)),
                      progress=False, log=lambda _: None)
    (tmp_path / "big").mkdir()
    save_png(np.zeros([32, 32, 3], np.uint8), tmp_path / "big" / "0.png")
    with pytest.raises(stylegan.InputError, match="32x32, but 16x16 is needed"):
        train_encoder(EncoderOptions(out=str(tmp_path / "b"), data=str(tmp_path / "big"), **options),
                      progress=False, log=lambda _: None)
    result = CliRunner().invoke(cli, ["encoder", "train", "--network", str(network), "--out", str(tmp_path / "c"),
                                      "--data-share", "1.5"])
    assert result.exit_code == 2 and "--data-share" in result.output
    result = CliRunner().invoke(cli, ["encoder", "train", "--network", str(network), "--out", str(tmp_path / "d"),
                                      "--lr", "nan"])
    assert result.exit_code == 1 and "--lr must be a positive number, got nan" in result.output


def test_pivotal_tuning_takes_the_encoders_ws_as_its_pivot(trained):
    """PTI with init='encoder' and no projection steps tunes the generator around the encoder's own ws (W+),
    which then render the target better than before tuning."""
    network, run = trained
    G = stylegan.load(network)
    E = load_encoder(run, G)
    target = 255 - render(G, seeds_to_ws(G, [77], 2.5))[0]
    encoded = project(G, target, method="encoder", encoder=E).ws
    tuned = project(G, target, method="pti", init="encoder", num_steps=0, tune_steps=30, tune_lr=3e-3,
                    loss="pixel", encoder=E, progress=False)
    assert torch.equal(tuned.ws, encoded) and tuned.options["method"] == "pti"
    assert psnr(render(tuned.G, tuned.ws)[0], target) > psnr(render(G, encoded)[0], target) + 1.0
    with pytest.raises(stylegan.InputError, match="0 projection steps takes the encoder's ws"):
        project(G, target, method="pti", num_steps=0, encoder=E)
