"""Style mixing, truncation, interpolation, noise control, ws files, figures and videos."""
import math

import numpy as np
import PIL.Image
import pytest
import torch
from click.testing import CliRunner
from conftest import DATA

import stylegan
from stylegan.cli import cli
from stylegan.errors import InputError
from stylegan.latent import (
    blend,
    crossover,
    expression,
    interpolate,
    load_ws,
    mix,
    noise_modes,
    resolve_layers,
    save_ws,
    seeds_to_ws,
    slerp,
    style_ranges,
    truncate,
)
from stylegan.latent.generate import render
from stylegan.models.noise import random_noise


@pytest.fixture(scope="module")
def G2():
    return stylegan.load(DATA / "sg2_skip_32.pkl")


@pytest.fixture(scope="module")
def G_noisy():
    """A StyleGAN2 network whose noise strengths are non-zero (the shared fixture's are zero)."""
    return stylegan.load(DATA / "sg2_resnet_gray_32.pkl")


def test_mixing_extremes(G2):
    a, b = seeds_to_ws(G2, [1, 2]), seeds_to_ws(G2, [3, 4])
    assert torch.equal(mix(a, b, []), a)
    assert torch.equal(mix(a, b, range(G2.num_ws)), b)
    assert np.array_equal(render(G2, mix(a, b, [])), render(G2, a))
    assert np.array_equal(render(G2, mix(a, b, range(G2.num_ws))), render(G2, b))
    mixed = mix(a, b, [0, 5])
    assert torch.equal(mixed[:, [0, 5]], b[:, [0, 5]]) and torch.equal(mixed[:, 1:5], a[:, 1:5])


def test_fine_mixing_changes_less_than_coarse(G2):
    a, b = seeds_to_ws(G2, range(8)), seeds_to_ws(G2, range(8, 16))
    base = render(G2, a).astype(float)
    bands = style_ranges(G2)
    coarse = np.abs(render(G2, mix(a, b, bands["coarse"])) - base).mean()
    finest = np.abs(render(G2, mix(a, b, bands["middle"])) - base).mean()  # the finest band of a 32² model
    assert finest < coarse


def test_blend_crossover_expression():
    a, b = torch.randn(2, 6, 4), torch.randn(1, 6, 4)
    half = blend(a, b, [1, 2], 0.5)
    assert torch.allclose(half[:, 1:3], (a[:, 1:3] + b[:, 1:3]) / 2)
    assert torch.equal(half[:, 3:], a[:, 3:])
    crossed = crossover(a, b, 4)
    assert torch.equal(crossed[:, :4], a[:, :4]) and torch.equal(crossed[:, 4:], b.expand(2, -1, -1)[:, 4:])
    w1, w2, w3 = torch.randn(3, 1, 6, 4)
    assert torch.allclose(expression(w1, w2, w3, 0.5), w1 + 0.5 * (w3 - w2))
    assert torch.equal(expression(w1, w2, w3, 0.0), w1)
    # The notebook idiom: average the first 7 layers of two ws.
    w_base, w_i = torch.randn(1, 18, 4), torch.randn(1, 18, 4)
    expected = w_base.clone()
    expected[:, :7] = (w_i[:, :7] + w_base[:, :7]) / 2
    assert torch.allclose(blend(w_base, w_i, range(7), 0.5), expected)


def test_truncation_properties(G2):
    ws = seeds_to_ws(G2, [0, 1, 2])
    w_avg = G2.mapping.w_avg
    assert torch.equal(truncate(ws, w_avg, 1.0), ws)
    zero = truncate(ws, w_avg, 0.0, cutoff=3)
    assert torch.allclose(zero[:, :3], w_avg.expand(3, 3, -1))
    assert torch.equal(zero[:, 3:], ws[:, 3:])
    # Agrees with truncation inside the mapping network, also past the average (negative psi).
    for psi, cutoff in [(0.7, None), (-1.0, 4), (1.5, None)]:
        assert torch.allclose(truncate(ws, w_avg, psi, cutoff), seeds_to_ws(G2, [0, 1, 2], psi, cutoff), atol=1e-6)


def test_resolve_layers(G2):
    assert resolve_layers(G2, "coarse") == [0, 1, 2, 3]
    assert resolve_layers(G2, "coarse,middle") == list(range(8))
    assert resolve_layers(G2, "0-2,6") == [0, 1, 2, 6]
    assert resolve_layers(G2, None) == list(range(8))
    with pytest.raises(InputError, match="out of range"):
        resolve_layers(G2, "7-9")
    with pytest.raises(InputError, match="cannot parse layers"):
        resolve_layers(G2, "eyes")


def test_slerp_keeps_the_norm_and_ends():
    a = torch.randn(3, 512)
    b = torch.randn(3, 512)
    b = b / b.norm(dim=1, keepdim=True) * a.norm(dim=1, keepdim=True)
    for t in (0.0, 0.25, 0.5, 1.0):
        assert torch.allclose(slerp(a, b, t).norm(dim=1), a.norm(dim=1), rtol=1e-5)
    assert torch.allclose(slerp(a, b, 0.0), a, atol=1e-4) and torch.allclose(slerp(a, b, 1.0), b, atol=1e-4)
    assert torch.allclose(slerp(a, a, 0.3), a, atol=1e-4)  # parallel inputs do not divide by zero
    mid = slerp(a, b, 0.5)
    cos = torch.nn.functional.cosine_similarity
    assert torch.allclose(cos(mid, a), cos(mid, b), atol=1e-5)  # halfway along the arc


def test_interpolation_paths():
    keys = torch.randn(3, 2, 4)
    path = interpolate(keys, 5, "linear")
    assert path.shape == (11, 2, 4)
    assert torch.allclose(path[0], keys[0]) and torch.allclose(path[5], keys[1]) and torch.allclose(path[10], keys[2])
    loop = interpolate(keys, 5, "cubic", loop=True)
    assert loop.shape == (15, 2, 4)
    assert torch.allclose(loop[5], keys[1], atol=1e-5)
    step = (loop[1] - loop[0]).norm()
    assert (loop[0] - loop[-1]).norm() < 3 * step  # the loop closes smoothly
    with pytest.raises(InputError):
        interpolate(keys[:1], 5)


def test_noise_modes_and_per_layer_control(G_noisy):
    ws = seeds_to_ws(G_noisy, [3])
    with torch.no_grad():
        assert torch.equal(G_noisy.synthesis(ws, noise_mode="none"), G_noisy.synthesis(ws, noise_mode="none"))
        assert not torch.equal(G_noisy.synthesis(ws, noise_mode="random"), G_noisy.synthesis(ws, noise_mode="random"))
    layers = G_noisy.synthesis.noise_layers()
    outputs = {}
    hooks = [layer.register_forward_hook(lambda m, i, o, k=k: outputs.setdefault(k, []).append(o.clone()))
             for k, layer in enumerate(layers)]
    try:
        chosen = 4
        modes = noise_modes(G_noisy, [chosen], "random", "const")
        with torch.no_grad():
            G_noisy.synthesis(ws, noise_mode=modes)
            G_noisy.synthesis(ws, noise_mode=modes)
    finally:
        for h in hooks:
            h.remove()
    for k in range(len(layers)):
        same = torch.equal(outputs[k][0], outputs[k][1])
        assert same == (k < chosen), k  # layers before the chosen one are untouched, from it on they differ
    # Explicit noise tensors are reproducible.
    noise = random_noise(G_noisy, 1, torch.Generator().manual_seed(5))
    again = random_noise(G_noisy, 1, torch.Generator().manual_seed(5))
    assert np.array_equal(render(G_noisy, ws, noise=noise), render(G_noisy, ws, noise=again))
    with pytest.raises(InputError, match="one entry per noise layer"):
        G_noisy.synthesis(ws, noise_mode=["const"])


def test_ws_files_round_trip_and_errors(tmp_path, G2):
    ws = seeds_to_ws(G2, [0, 1])
    save_ws(tmp_path / "w.npz", ws[:1])
    assert np.load(tmp_path / "w.npz")["w"].shape == (1, G2.num_ws, G2.w_dim)  # the official projector layout
    assert torch.equal(load_ws(tmp_path / "w.npz", G2), ws[:1])
    save_ws(tmp_path / "w.npy", ws)
    assert torch.equal(load_ws(tmp_path / "w.npy", G2), ws)
    np.save(tmp_path / "single.npy", ws[0, 0].numpy())
    assert torch.equal(load_ws(tmp_path / "single.npy", G2), ws[:1, :1].expand(1, G2.num_ws, -1))
    np.savez(tmp_path / "bad.npz", w=np.zeros((1, 5, 64), np.float32))
    with pytest.raises(InputError, match=r"do not fit this network, which takes \[N, 8, 64\]"):
        load_ws(tmp_path / "bad.npz", G2)
    with pytest.raises(InputError, match="no such ws file"):
        load_ws(tmp_path / "absent.npz", G2)
    (tmp_path / "junk.npz").write_bytes(b"junk")
    with pytest.raises(InputError, match="not a readable"):
        load_ws(tmp_path / "junk.npz", G2)


def _run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.mark.slow
def test_cli_figures(tmp_path):
    net = DATA / "sg2_resnet_gray_32.pkl"
    result = _run("mix", "--network", net, "--rows", "1,2", "--cols", "3,4,5", "--styles", "coarse",
                  "--styles", "middle", "--outdir", tmp_path)
    assert result.exit_code == 0, result.output
    with PIL.Image.open(tmp_path / "grid.png") as im:
        assert im.size[0] > 4 * 32 and im.size[1] > 2 * 3 * 32  # two stacked blocks of 3x4 cells
    for verb, extra, name in [("truncation", ["--seeds", "1,2"], "truncation.png"),
                              ("noise", ["--seeds", "1", "--std-samples", "8"], "noise-layers.png"),
                              ("layers", ["--seed-a", "1", "--seed-b", "2"], "layers-1-2.png")]:
        result = _run(verb, "--network", net, "--outdir", tmp_path, *extra)
        assert result.exit_code == 0, result.output
        assert (tmp_path / name).exists()
    result = _run("noise", "--network", DATA / "sg3t_32.pkl", "--seeds", "1", "--outdir", tmp_path)
    assert result.exit_code != 0 and "no noise inputs" in result.output


def test_cli_mix_from_ws_files(tmp_path, G2):
    save_ws(tmp_path / "a.npz", seeds_to_ws(G2, [7]))
    result = _run("mix", "--network", DATA / "sg2_skip_32.pkl", "--rows", f"{tmp_path / 'a.npz'},3",
                  "--cols", "4", "--styles", "0-3", "--outdir", tmp_path)
    assert result.exit_code == 0, result.output
    result = _run("mix", "--network", DATA / "sg2_skip_32.pkl", "--rows", "1", "--cols", "2",
                  "--styles", "0-30", "--outdir", tmp_path)
    assert result.exit_code != 0 and "out of range" in result.output


@pytest.mark.parametrize("suffix", [".gif", ".mp4"])
def test_interpolation_video_frame_count_and_size(tmp_path, suffix):
    if suffix == ".mp4":
        pytest.importorskip("imageio_ffmpeg")
    out = tmp_path / f"walk{suffix}"
    result = _run("interpolate", "--network", DATA / "sg2_skip_32.pkl", "--seeds", "0-7", "--grid", "2x2",
                  "--frames-per-step", "3", "--output", out)
    assert result.exit_code == 0, result.output
    frames = _read_video(out)
    assert len(frames) == 3 + 1 and frames[0].shape[:2] == (64, 64)  # 2 keyframes per cell, 2x2 cells of 32²
    looped = tmp_path / f"loop{suffix}"
    result = _run("interpolate", "--network", DATA / "sg2_skip_32.pkl", "--seeds", "0-3", "--space", "z",
                  "--frames-per-step", "4", "--loop", "--output", looped)
    assert result.exit_code == 0, result.output
    assert len(_read_video(looped)) == 4 * 4
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary files left


def test_noise_loop_animates_only_the_noise(tmp_path):
    out = tmp_path / "noise.gif"
    result = _run("interpolate", "--network", DATA / "sg2_resnet_gray_32.pkl", "--seeds", "5", "--noise-loop",
                  "--frames-per-step", "6", "--output", out)
    assert result.exit_code == 0, result.output
    frames = _read_video(out)
    assert len(frames) == 6
    assert any(not np.array_equal(frames[0], f) for f in frames[1:])


def test_bad_video_requests(tmp_path):
    result = _run("interpolate", "--network", DATA / "sg2_skip_32.pkl", "--seeds", "0-2", "--grid", "2x2",
                  "--output", tmp_path / "w.gif")
    assert result.exit_code != 0 and "at least 2 keyframes" in result.output
    result = _run("interpolate", "--network", DATA / "sg2_skip_32.pkl", "--seeds", "0-2",
                  "--output", tmp_path / "w.avi")
    assert result.exit_code != 0 and ".mp4 or .gif" in result.output
    assert list(tmp_path.iterdir()) == []


def _read_video(path):
    if path.suffix == ".gif":
        with PIL.Image.open(path) as im:
            frames = []
            for i in range(im.n_frames):
                im.seek(i)
                frames.append(np.asarray(im.convert("RGB")))
            return frames
    import imageio_ffmpeg
    reader = imageio_ffmpeg.read_frames(str(path))
    meta = next(reader)
    w, h = meta["size"]
    return [np.frombuffer(f, np.uint8).reshape(h, w, 3) for f in reader]


def test_slerp_path_in_z_stays_on_the_shell():
    z = stylegan.seeds_to_z([1, 2], 512)
    path = interpolate(z, 8, "slerp")
    norms = path.norm(dim=1)
    assert norms.max() - norms.min() < 0.05 * math.sqrt(512)


def test_stylegan1_per_layer_noise_and_figures(tmp_path):
    G = stylegan.load(DATA / "tf_sg1_128.pkl")
    ws = seeds_to_ws(G, [2])
    layers = G.synthesis.noise_layers()
    assert len(layers) == G.num_ws and [layer.resolution for layer in layers[:4]] == [4, 4, 8, 8]
    fixed = random_noise(G, 1, torch.Generator().manual_seed(1))
    assert np.array_equal(render(G, ws, noise=fixed), render(G, ws, noise=[n.clone() for n in fixed]))
    only_last = noise_modes(G, [G.num_ws - 1], "random", "none")
    first, second = render(G, ws, noise_mode=only_last), render(G, ws, noise_mode=only_last)
    assert not np.array_equal(first, second)
    assert np.abs(first.astype(int) - render(G, ws, noise_mode="none").astype(int)).mean() < \
        np.abs(render(G, ws, noise_mode="random").astype(int) - render(G, ws, noise_mode="none").astype(int)).mean()
    result = _run("noise", "--network", DATA / "tf_sg1_128.pkl", "--seeds", "1", "--std-samples", "4",
                  "--outdir", tmp_path)
    assert result.exit_code == 0, result.output
    result = _run("mix", "--network", DATA / "tf_sg1_128.pkl", "--rows", "1", "--cols", "2", "--styles", "coarse",
                  "--outdir", tmp_path)
    assert result.exit_code == 0, result.output
