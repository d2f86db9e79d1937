"""StyleGAN1: outputs of the official TensorFlow code, an independent recomputation of a synthesis block,
truncation defaults, progressive growing, noise modes and the native round trip."""
import numpy as np
import pytest
import torch

import stylegan
from stylegan.formats import nvidia_tf
from stylegan.latent import style_ranges
from stylegan.models import StyleGAN1Discriminator, StyleGAN1Generator

from conftest import DATA, assert_matches_to_rounding, reference


def _tf_variables(name, key="G_ema"):
    with open(DATA / name, "rb") as f:
        return nvidia_tf.collect_variables(nvidia_tf.read_pickle(f)[key])


@pytest.mark.parametrize("name", ["tf_sg1_128.pkl", "tf_sg1_cond_lod_32.pkl"])
def test_matches_official_tensorflow_outputs(name):
    """G (Gs) and D rebuilt from a TF pickle give what the official TF code computed from it."""
    path = DATA / name
    ref = reference(path)
    nets = stylegan.load_networks(path)
    G, D = nets["G_ema"], nets["D"]
    assert isinstance(G, StyleGAN1Generator) and isinstance(D, StyleGAN1Discriminator)
    # The official Gs truncates the first 8 ws with psi 0.7 by default; ours when asked, with the same result.
    assert G.default_truncation == (0.7, 8)

    def compute(dtype):
        z, c = torch.from_numpy(ref["z"]).to(dtype), torch.from_numpy(ref["c"]).to(dtype)
        out = dict(ws=G.mapping(z, c), img_psi07_const=G(z, c, truncation_psi=0.7, truncation_cutoff=8),
                   img_psi1_const=G(z, c), d_logits=D(torch.from_numpy(ref["img_psi07_const"]).to(dtype), c))
        if "img_psi05_all" in ref:
            out["img_psi05_all"] = G(z, c, truncation_psi=0.5)
        return out
    print(name, assert_matches_to_rounding(compute, ref, G, D))
    # Not a loose match: the reference images differ from each other by far more than the tolerance.
    assert np.abs(ref["img_psi07_const"] - ref["img_psi1_const"]).max() > 0.1


def test_progressive_snapshot_blends_two_resolutions():
    """At lod 1.5 the 32² generator draws 16² blended with 8², upscaled; the file's output equals that."""
    path = DATA / "tf_sg1_cond_lod_32.pkl"
    G = stylegan.load(path)
    assert float(G.synthesis.lod) == 1.5
    ref = reference(path)
    img = torch.from_numpy(ref["img_psi1_const"])
    assert torch.equal(img[:, :, 0::2, 0::2], img[:, :, 1::2, 1::2])  # the TF output is 2x2 blocks
    G.synthesis.lod.fill_(0)
    with torch.no_grad():
        full = G(torch.from_numpy(ref["z"]), torch.from_numpy(ref["c"]))
    assert not torch.equal(full[:, :, 0::2, 0::2], full[:, :, 1::2, 1::2])


def _np_conv3x3(x, w_hwio, gain=np.sqrt(2)):
    """Same-padded 3x3 correlation written out: x [C, H, W], TF kernel [3, 3, I, O]."""
    c, h, w = x.shape
    scale = gain / np.sqrt(c * 9)
    xp = np.pad(x, ((0, 0), (1, 1), (1, 1)))
    out = np.zeros((w_hwio.shape[3], h, w))
    for dy in range(3):
        for dx in range(3):
            out += np.einsum("io,ihw->ohw", w_hwio[dy, dx] * scale, xp[:, dy:dy + h, dx:dx + w])
    return out


def _np_blur(x):
    k = np.outer([1, 2, 1], [1, 2, 1]) / 16
    c, h, w = x.shape
    xp = np.pad(x, ((0, 0), (1, 1), (1, 1)))
    return sum(k[dy, dx] * xp[:, dy:dy + h, dx:dx + w] for dy in range(3) for dx in range(3))


def _np_style_layer(x, w, v, scope, noise):
    """Noise (per-channel strength), bias, leaky ReLU, instance norm, AdaIN: the TF layer epilogue."""
    x = x + v[f"{scope}/Noise/weight"][:, None, None] * noise[None]
    x = x + v[f"{scope}/bias"][:, None, None]
    x = np.where(x >= 0, x, 0.2 * x)
    x = x - x.mean(axis=(1, 2), keepdims=True)
    x = x / np.sqrt((x ** 2).mean(axis=(1, 2), keepdims=True) + 1e-8)
    style = w @ (v[f"{scope}/StyleMod/weight"] / np.sqrt(len(w))) + v[f"{scope}/StyleMod/bias"]
    c = x.shape[0]
    return x * (style[:c, None, None] + 1) + style[c:, None, None]


@pytest.mark.parametrize("res", [8, 128])
def test_synthesis_block_against_straightforward_recomputation(res):
    """One block (2x nearest upsampling, 3x3 conv, blur, noise, bias, lrelu, instance norm, AdaIN, then the
    second conv layer), recomputed in float64 from the TF arrays.

    From 128² on, the original fuses upsampling and convolution into one transposed convolution, which
    applies the stored kernel flipped in space: the recomputation flips it there (the test against the
    official outputs above confirms the original does so).
    """
    G = stylegan.load(DATA / "tf_sg1_128.pkl")
    v = {k: a.astype(np.float64) for k, a in _tf_variables("tf_sg1_128.pkl").items()}
    block = getattr(G.synthesis, f"b{res}")
    assert block.conv0.conv.fused == (res >= 128)
    torch.manual_seed(1)
    x = torch.randn(2, G.synthesis.channels[res // 2], res // 2, res // 2)
    ws = torch.randn(2, 2, G.w_dim) * 2
    with torch.no_grad():
        ours = block(x, ws, "const").numpy()
    layer = 2 * int(np.log2(res)) - 4
    for i in range(2):
        h = np.repeat(np.repeat(x[i].numpy().astype(np.float64), 2, axis=1), 2, axis=2)
        kernel = v[f"synthesis/{res}x{res}/Conv0_up/weight"]
        h = _np_blur(_np_conv3x3(h, kernel[::-1, ::-1] if res >= 128 else kernel))
        h = _np_style_layer(h, ws[i, 0].numpy(), v, f"synthesis/{res}x{res}/Conv0_up",
                            v[f"synthesis/noise{layer}"][0, 0])
        h = _np_conv3x3(h, v[f"synthesis/{res}x{res}/Conv1/weight"])
        h = _np_style_layer(h, ws[i, 1].numpy(), v, f"synthesis/{res}x{res}/Conv1",
                            v[f"synthesis/noise{layer + 1}"][0, 0])
        assert np.abs(ours[i] - h).max() < 1e-4 * max(1.0, np.abs(h).max())


def _tiny(**kwargs):
    """A small generator whose noise strengths, biases and styles are all non-zero."""
    G = StyleGAN1Generator(z_dim=8, c_dim=0, w_dim=8, img_resolution=16, img_channels=3,
                           mapping_kwargs=dict(num_layers=2, layer_features=8), channel_base=128, channel_max=8,
                           **kwargs).eval()
    with torch.no_grad():
        for p in G.parameters():
            p.add_(torch.randn_like(p) * 0.3)
    return G


def test_interface_and_style_bands():
    G = _tiny()
    assert G.generation == 1 and G.num_ws == 6 and G.synthesis.ws_resolutions() == [4, 4, 8, 8, 16, 16]
    assert style_ranges(G) == {"coarse": [0, 1, 2, 3], "middle": [4, 5], "fine": []}
    z = torch.randn(3, 8)
    with torch.no_grad():
        G.mapping.w_avg.copy_(torch.randn(8))
        ws = G.mapping(z, None)
        cut = G.mapping(z, None, truncation_psi=0.5, truncation_cutoff=2)
        assert torch.allclose(cut[:, 2:], ws[:, 2:], atol=1e-6)
        assert torch.allclose(cut[:, :2], G.mapping.w_avg + 0.5 * (ws[:, :2] - G.mapping.w_avg), atol=1e-6)
        assert (cut[:, :2] - ws[:, :2]).abs().max() > 0.1
        img = G.synthesis(ws, noise_mode="const")
        assert img.shape == (3, 3, 16, 16)
        assert torch.equal(img, G(z))
        assert not torch.equal(img, G.synthesis(ws, noise_mode="none"))
        assert not torch.equal(G.synthesis(ws, noise_mode="random"), G.synthesis(ws, noise_mode="random"))
    with pytest.raises(stylegan.InputError, match=r"ws must have shape \[N, 6, 8\]"):
        G.synthesis(torch.zeros(1, 5, 8))


@pytest.mark.parametrize("flavor", ["nvidia", "mmgen"])
def test_native_round_trip(tmp_path, flavor):
    G = _tiny(flavor=flavor)
    D = StyleGAN1Discriminator(c_dim=2, img_resolution=16, img_channels=3, channel_base=128, channel_max=8,
                               mbstd_group_size=2)
    with torch.no_grad():
        for p in D.parameters():
            p.add_(torch.randn_like(p) * 0.1)
        G.synthesis.lod.fill_(0.25)
    path = tmp_path / "sg1.safetensors"
    stylegan.save({"G_ema": G, "D": D}, path)
    again = stylegan.load_networks(path)
    z, c = torch.randn(2, 8), torch.eye(2)
    with torch.no_grad():
        assert torch.equal(again["G_ema"](z), G(z))
        img = G(z)
        assert torch.equal(again["D"](img, c), D.eval()(img, c))
    assert again["G_ema"].config == G.config and again["G_ema"].default_truncation == (0.7, 8)
