"""The studio without a browser: settings -> ws -> image, equal to the CLI; mixing, truncation, noise, the
StyleGAN3 untransform, layers, latest-wins scheduling, the path allow-list, upload errors, and the install
hint when the server packages are missing."""
import builtins
import io
import json
import threading

import numpy as np
import PIL.Image
import pytest
import torch
from click.testing import CliRunner
from conftest import DATA

import stylegan
from stylegan.cli import cli
from stylegan.errors import InputError
from stylegan.latent import save_ws, seeds_to_ws, style_ranges
from stylegan.latent.edit import ganspace
from stylegan.latent.settings import (
    Direction,
    Resolver,
    Settings,
    adapt,
    lattice_seeds,
    load_settings,
    render_settings,
    save_settings,
    settings_to_ws,
    synthesize,
    untransform,
)
from stylegan.studio import layers
from stylegan.studio.render import LatestWins, Superseded
from stylegan.studio.session import MAX_UPLOAD, Session

SG2 = DATA / "tf_sg2_skip_resnet_32.pkl"
COND = DATA / "tf_ada_cond_32.pkl"
SG3 = DATA / "sg3r_32.pkl"


def _png(path):
    with PIL.Image.open(path) as image:
        return np.asarray(image)


def _png_bytes(array):
    buffer = io.BytesIO()
    PIL.Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def G():
    return stylegan.load(SG2)


def test_integer_seed_gives_the_seed_ws_and_the_cli_image(G, tmp_path):
    s = Settings(network=str(SG2), seed=7, psi=0.6, cutoff=3)
    assert torch.equal(settings_to_ws(G, s), seeds_to_ws(G, [7], 0.6, 3))
    image, _ = render_settings(G, s)
    result = CliRunner().invoke(cli, ["generate", "--network", str(SG2), "--seeds", "7", "--trunc", "0.6",
                                      "--trunc-cutoff", "3", "--outdir", str(tmp_path), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert np.array_equal(_png(tmp_path / "seed0007.png"), image)


def test_conditional_class_is_used():
    G = stylegan.load(COND)
    ws = settings_to_ws(G, Settings(seed=3, class_idx=2))
    assert torch.equal(ws, seeds_to_ws(G, [3], class_idx=2))
    assert not torch.equal(ws, seeds_to_ws(G, [3], class_idx=1))


def test_lattice_blends_the_four_neighbouring_seeds(G):
    assert lattice_seeds(5, 0.0, 0.0) == [(5, 1.0)]
    pairs = dict(lattice_seeds(5, 0.25, 0.5))
    assert pairs == pytest.approx({5: 0.375, 6: 0.125, 105: 0.375, 106: 0.125})
    ws = settings_to_ws(G, Settings(seed=5, dx=0.25, dy=0.5))
    expected = sum(w * seeds_to_ws(G, [seed]) for seed, w in pairs.items())
    assert torch.allclose(ws, expected, atol=1e-6)


def test_style_mixing_replaces_or_averages_the_chosen_rows(G):
    base, other = seeds_to_ws(G, [1]), seeds_to_ws(G, [2])
    mixed = settings_to_ws(G, Settings(seed=1, mix_seed=2, mix_layers=[0, 3]))
    assert torch.equal(mixed[:, [0, 3]], other[:, [0, 3]])
    assert torch.equal(mixed[:, [1, 2, 4, 5, 6, 7]], base[:, [1, 2, 4, 5, 6, 7]])
    averaged = settings_to_ws(G, Settings(seed=1, mix_seed=2, mix_layers=[0], mix_weight=0.5))
    assert torch.allclose(averaged[:, 0], (base[:, 0] + other[:, 0]) / 2, atol=1e-6)
    assert torch.equal(settings_to_ws(G, Settings(seed=1, mix_seed=2, mix_layers=[])), base)


def test_truncation_moves_rows_to_the_average(G):
    ws = settings_to_ws(G, Settings(seed=4, psi=0.0))
    assert torch.allclose(ws, G.mapping.w_avg.expand_as(ws), atol=1e-6)
    cut = settings_to_ws(G, Settings(seed=4, psi=0.0, cutoff=2))
    assert torch.allclose(cut[:, :2], G.mapping.w_avg.expand(1, 2, -1), atol=1e-6)
    assert torch.equal(cut[:, 2:], seeds_to_ws(G, [4])[:, 2:])
    with pytest.raises(InputError, match="cutoff"):
        settings_to_ws(G, Settings(seed=4, cutoff=99))


def test_noise_seed_and_per_layer_switches(G):
    def image(**kw):
        return render_settings(G, Settings(seed=1, **kw))[0]
    assert np.array_equal(image(noise_mode="random", noise_seed=3), image(noise_mode="random", noise_seed=3))
    assert not np.array_equal(image(noise_mode="random", noise_seed=3), image(noise_mode="random", noise_seed=4))
    count = len(G.synthesis.noise_layers())
    assert np.array_equal(image(noise_off=list(range(count))), image(noise_mode="none"))
    assert not np.array_equal(image(noise_off=[count - 1]), image())


def test_directions_move_the_chosen_rows(G, tmp_path):
    base = settings_to_ws(G, Settings(seed=2))
    moved = settings_to_ws(G, Settings(seed=2, directions=[Direction("sefa", 1, 3.0, "0-1")]))
    assert torch.equal(moved[:, 2:], base[:, 2:])
    step = moved[:, :2] - base[:, :2]
    assert torch.allclose(step.norm(dim=-1), torch.full((1, 2), 3.0), atol=1e-4)
    pca = settings_to_ws(G, Settings(seed=2, directions=[Direction("ganspace", 0, 2.0, "fine")]))
    fine = style_ranges(G)["fine"]
    coarse = [i for i in range(G.num_ws) if i not in fine]
    assert torch.equal(pca[:, coarse], base[:, coarse])
    spread = float(ganspace(G, num_samples=20_000, num=1).scales[0])
    assert torch.allclose((pca - base)[:, fine].norm(dim=-1), torch.full((1, len(fine)), 2.0 * spread), atol=1e-4)
    np.save(tmp_path / "boundary.npy", np.eye(1, G.w_dim, dtype=np.float32))
    edited = settings_to_ws(G, Settings(seed=2, directions=[Direction("file", 0, 2.0, "all", "boundary.npy")]),
                            Resolver(base=tmp_path))
    assert torch.allclose(edited - base, torch.eye(1, G.w_dim).expand_as(base) * 2.0, atol=1e-6)


def test_settings_file_reproduces_the_studio_image_in_the_cli(G, tmp_path):
    np.save(tmp_path / "boundary.npy", np.eye(1, G.w_dim, dtype=np.float32))
    s = Settings(network=str(SG2), seed=11, dx=0.3, dy=-0.2, mix_seed=5, mix_layers=[4, 5, 6, 7], mix_weight=0.5,
                 psi=0.7, noise_mode="random", noise_seed=9, noise_off=[0],
                 directions=[Direction("sefa", 0, 1.5, "coarse"), Direction("ganspace", 1, 1.0, "middle"),
                             Direction("file", 0, -1.0, "all", "boundary.npy")])
    save_settings(tmp_path / "shot.json", s)
    assert load_settings(tmp_path / "shot.json") == s
    expected, _ = render_settings(G, s, Resolver(base=tmp_path))
    result = CliRunner().invoke(cli, ["generate", "--settings", str(tmp_path / "shot.json"),
                                      "--outdir", str(tmp_path / "out"), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert np.array_equal(_png(tmp_path / "out" / "shot.png"), expected)


def test_bad_settings_are_clear_errors(tmp_path):
    with pytest.raises(InputError, match="unknown studio settings"):
        Settings.from_dict({"seed": 1, "sharpness": 2})
    with pytest.raises(InputError, match="invalid"):
        Settings.from_dict({"seed": "many"})
    with pytest.raises(InputError, match="finite"):
        Settings.from_dict({"dx": float("inf")})
    refused = {"seed": [-1, 2 ** 32, 10 ** 400, 1.5, True, "5"], "noise_seed": [2 ** 64], "psi": [1e308, 10 ** 400],
               "mix_weight": [float("nan")], "translate": [[1.0], "ab", [0, "x"]], "untransform": ["false"],
               "noise_mode": ["loud", ["const"]], "mix_layers": [[-1], "0,1", [0.5]], "class_idx": [2 ** 40],
               "ws_file": ["w\x00.npz", "~nosuchuser/w.npz", "\ud800.npz", "w" * 5000, 3],
               "directions": [{}, [1], [{"kind": "pca"}], [{"strength": 1e9}], [{"index": -1}],
                              [{"kind": "file", "file": 7}], [{"layers": 1.5}], [{"colour": "red"}]]}
    for name, values in refused.items():
        for value in values:
            with pytest.raises(InputError, match=f"invalid studio setting '{name}"):
                Settings.from_dict({name: value})
    kept = Settings.from_dict({"seed": 5.0, "translate": [0, 1], "cutoff": None, "directions": [
        {"kind": "sefa", "index": 2, "strength": -3, "layers": [0, 1]}]})
    assert (kept.seed, kept.translate, kept.directions[0].strength) == (5, (0.0, 1.0), -3.0)
    assert isinstance(kept.seed, int) and isinstance(kept.directions[0].strength, float)
    (tmp_path / "huge.json").write_text(json.dumps({"seed": 1, "noise_seed": 2 ** 64, "noise_mode": "random"}))
    result = CliRunner().invoke(cli, ["generate", "--settings", str(tmp_path / "huge.json"), "--network", str(SG2),
                                      "--outdir", str(tmp_path / "out")])
    assert result.exit_code != 0 and "noise_seed" in result.output and "Traceback" not in result.output
    (tmp_path / "bad.json").write_text("{not json")
    result = CliRunner().invoke(cli, ["generate", "--settings", str(tmp_path / "bad.json")])
    assert result.exit_code != 0 and "not a readable JSON" in result.output


def test_switching_networks_keeps_what_applies(G):
    s = Settings(network="a", seed=42, psi=0.5, mix_seed=3, mix_layers=[1, 7], class_idx=2, noise_off=[0, 6])
    G3 = stylegan.load(SG3)
    moved = adapt(s, G3)
    assert (moved.seed, moved.psi, moved.mix_layers, moved.class_idx, moved.noise_off) == (42, 0.5, [1, 7], None, [])
    back = adapt(Settings(seed=42, mix_layers=[1, 12], translate=(0.1, 0), rotate=5, untransform=True), G)
    assert (back.mix_layers, back.translate, back.rotate, back.untransform) == ([1], (0.0, 0.0), 0.0, False)
    assert adapt(Settings(), stylegan.load(COND)).class_idx == 0


def test_untransform_undoes_the_stylegan3_input_transform():
    G = stylegan.load(SG3)
    s0 = Settings(seed=3)
    ws = settings_to_ws(G, s0)
    plain = synthesize(G, ws, s0)
    inner = (..., slice(8, 24), slice(8, 24))
    for translate, rotate in (((0.125, 0.0), 0.0), ((0.0, -0.125), 0.0), ((0.0, 0.0), 20.0)):
        moved = synthesize(G, ws, Settings(seed=3, translate=translate, rotate=rotate))
        undone = synthesize(G, ws, Settings(seed=3, translate=translate, rotate=rotate, untransform=True))
        assert torch.allclose(undone, untransform(moved, translate, rotate))
        error = (undone - plain)[inner].abs().mean()
        assert error < 0.05 * (moved - plain)[inner].abs().mean()


def test_layer_table_and_views(G):
    s = Settings(seed=1)
    ws = settings_to_ws(G, s)
    table = {t.name: (t.resolution, t.channels) for t in layers.layer_table(G, lambda: synthesize(G, ws, s))}
    assert table["b4.conv1"] == (4, G.synthesis.b4.conv1.out_channels)
    assert table["b32.torgb"] == (32, 3)
    features = layers.capture(G, "b8.conv1", lambda: synthesize(G, ws, s))
    assert features.shape == (table["b8.conv1"][1], 8, 8)
    grey = layers.activation_image(features, 2)
    x = features[2]
    expected = ((x - x.min()) / (x.max() - x.min()) * 255 + 0.5).to(torch.uint8).numpy()
    assert np.array_equal(grey[:, :, 0], expected) and np.array_equal(grey[:, :, 1], expected)
    rgb = layers.activation_image(features, 0, rgb=True)
    assert not np.array_equal(rgb[:, :, 0], rgb[:, :, 1])
    flat = torch.zeros(1, 8, 8)
    flat[0, :, ::2] = 1  # stripes of period 2: all the energy at the horizontal Nyquist frequency
    spectrum = layers.spectrum_image(flat, 0)[:, :, 0]
    assert spectrum[4, 0] == 255 and spectrum.sum() == 255
    with pytest.raises(InputError, match="no synthesis layer"):
        layers.capture(G, "b999", lambda: synthesize(G, ws, s))


def test_latest_wins_replaces_the_waiting_request():
    scheduler = LatestWins()
    started, release = threading.Event(), threading.Event()

    def slow():
        started.set()
        release.wait(30)
        return "first"
    first = scheduler.submit(slow)
    assert started.wait(30)
    second = scheduler.submit(lambda: "second")
    third = scheduler.submit(lambda: "third")
    with pytest.raises(Superseded):
        second.result(30)
    release.set()
    assert first.result(30) == "first" and third.result(30) == "third"
    failing = scheduler.submit(lambda: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        failing.result(30)
    assert scheduler.submit(lambda: "still alive").result(30) == "still alive"
    scheduler.close()


def test_allow_list_refuses_paths_outside(tmp_path):
    inside, outside = tmp_path / "models", tmp_path / "elsewhere"
    inside.mkdir()
    outside.mkdir()
    for folder in (inside, outside):
        (folder / "net.pkl").write_bytes(SG2.read_bytes())
    session = Session([], [str(inside)], outdir=tmp_path / "captures")
    assert session.model(str(inside / "net.pkl")).num_ws == 8
    with pytest.raises(InputError, match="outside the folders"):
        session.model(str(outside / "net.pkl"))
    with pytest.raises(InputError, match="outside the folders"):
        session.model(str(inside / ".." / "elsewhere" / "net.pkl"))
    with pytest.raises(InputError, match="no such checkpoint"):
        session.model(str(inside / "missing.pkl"))
    assert Session([str(outside / "net.pkl")], [str(inside)]).model(str(outside / "net.pkl")).num_ws == 8


def test_capture_writes_png_ws_and_settings(tmp_path):
    session = Session([str(SG2)], outdir=tmp_path)
    files = session.capture(Settings(network=str(SG2), seed=3, psi=0.5).to_dict())
    G = session.model(str(SG2))
    image, ws = render_settings(G, Settings(seed=3, psi=0.5))
    assert np.array_equal(_png(files["png"]), image)
    assert np.array_equal(np.load(files["npz"])["w"], ws.numpy())
    assert json.loads(open(files["json"]).read())["psi"] == 0.5
    assert session.capture(Settings(network=str(SG2)).to_dict())["png"].endswith("capture0001.png")


@pytest.mark.filterwarnings("ignore:VGG16")
def test_upload_errors_and_projection(tmp_path):
    session = Session([str(SG2)], outdir=tmp_path)
    with pytest.raises(InputError, match="not a readable image"):
        session.start_projection(b"plain text", str(SG2), 2)
    with pytest.raises(InputError, match="too large"):
        session.start_projection(b"0" * (MAX_UPLOAD + 1), str(SG2), 2)
    target = np.random.RandomState(0).randint(0, 255, (40, 48, 3), dtype=np.uint8)
    session.start_projection(_png_bytes(target), str(SG2), 2)
    session.worker.join(120)
    assert session.projection["state"] == "done", session.projection
    assert session.projection["step"] == 2
    frame = session.render(Settings(network=str(SG2), ws_file=session.projection["ws_file"]).to_dict())
    assert frame["image"].startswith("data:image/png;base64,")


def test_switching_drops_ws_of_another_network(tmp_path):
    session = Session([str(SG2), str(SG3)], outdir=tmp_path)
    save_ws(tmp_path / "w.npz", torch.zeros(1, 8, 10))
    settings = {"seed": 4, "psi": 0.8, "ws_file": str(tmp_path / "w.npz")}
    kept = session.switch(str(SG2), settings)["settings"]
    assert (kept["ws_file"], kept["seed"]) == (str(tmp_path / "w.npz"), 4)
    moved = session.switch(str(SG3), settings)
    assert (moved["settings"]["ws_file"], moved["settings"]["seed"], moved["settings"]["psi"]) == (None, 4, 0.8)
    assert moved["info"]["transform"] and moved["info"]["num_ws"] == 16


def test_missing_server_packages_name_the_extra(monkeypatch):
    real_import = builtins.__import__

    def no_uvicorn(name, *args, **kwargs):
        if name == "uvicorn":
            raise ImportError("No module named 'uvicorn'", name="uvicorn")
        return real_import(name, *args, **kwargs)
    monkeypatch.setattr(builtins, "__import__", no_uvicorn)
    result = CliRunner().invoke(cli, ["studio", "--network", str(SG2)])
    assert result.exit_code != 0
    assert "pip install 'stylegan[studio]'" in result.output and "uvicorn" in result.output
