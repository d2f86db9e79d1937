"""Our networks, loaded from official pickles, reproduce the official outputs; names and shapes match."""
import json

import numpy as np
import pytest
import torch
from conftest import DATA, assert_matches_to_rounding, max_diff, reference

import stylegan
from stylegan.formats.safe_pickle import safe_load
from stylegan.models import Discriminator, StyleGAN2Generator, StyleGAN3Generator
from stylegan.models.stylegan3 import design_lowpass_filter


def _outputs(G, ref, D=None):
    """What the reference files hold, computed by our networks, with the inputs cast to `dtype`."""
    def compute(dtype):
        z = torch.from_numpy(ref["z"]).to(dtype)
        c = torch.from_numpy(ref["c"]).to(dtype) if ref["c"].size else None
        ws = G.mapping(z, c, truncation_psi=0.7)
        out = dict(ws_psi07=ws, img_psi07_const=G.synthesis(ws, noise_mode="const"),
                   img_psi1_const=G(z, c, truncation_psi=1.0, noise_mode="const"))
        if D is not None:
            out["d_logits"] = D(torch.from_numpy(ref["img_psi07_const"]).to(dtype), c)
        return out
    return compute


@pytest.mark.parametrize("name", ["sg2_skip_32.pkl", pytest.param("sg3t_32.pkl", marks=pytest.mark.slow)])
def test_shared_fixtures_match_official_outputs(name):
    path = DATA / name
    ref = reference(path)
    G = stylegan.load(path)
    print(name, assert_matches_to_rounding(_outputs(G, ref), ref, G))


@pytest.mark.parametrize("name", ["sg2_cond_orig_32.pkl", "sg2_resnet_gray_32.pkl",
                                  pytest.param("sg3r_32.pkl", marks=pytest.mark.slow)])
def test_more_architectures_match_official_outputs(name):
    path = DATA / name
    ref = reference(path)
    nets = stylegan.load_networks(path)
    print(name, assert_matches_to_rounding(_outputs(nets["G"], ref, nets["D"]), ref, nets["G"], nets["D"]))
    # G_ema is a different set of weights in these files: it must not be confused with G.
    with torch.no_grad():
        assert max_diff(_outputs(nets["G_ema"], ref)(torch.float32)["img_psi1_const"], ref["img_psi1_const"]) > 1e-3


def test_a_fault_of_our_float32_path_alone_is_caught():
    """A stray cast in the float32 path only (here: images rounded to bfloat16) widens the float64-based bound
    along with our float32 error, but not the direct float32 comparison."""
    path = DATA / "sg2_skip_32.pkl"
    ref = reference(path)
    G = stylegan.load(path)
    compute = _outputs(G, ref)

    def faulty(dtype):
        out = compute(dtype)
        return {k: v if dtype == torch.float64 else v.to(torch.bfloat16).to(dtype) for k, v in out.items()}
    with pytest.raises(AssertionError, match="our float32 output differs"):
        assert_matches_to_rounding(faulty, ref, G)


def test_batch_of_one_equals_batch():
    path = DATA / "sg2_skip_32.pkl"
    ref = reference(path)
    G = stylegan.load(path)

    def singles(dtype):
        ws = torch.from_numpy(ref["ws_psi07"]).to(dtype)
        return {"img_psi07_const": torch.cat([G.synthesis(ws[i:i + 1]) for i in range(len(ws))])}
    assert_matches_to_rounding(singles, ref, G)


@pytest.mark.parametrize("name", ["sg2_skip_32.pkl", "sg3t_32.pkl"])
def test_fresh_generator_has_the_official_state_dict(name):
    """A generator built from the file's constructor kwargs has exactly the saved names and shapes."""
    path = DATA / name
    with open(path, "rb") as f:
        saved = safe_load(f)["G_ema"]
    cls = StyleGAN3Generator if name.startswith("sg3") else StyleGAN2Generator
    ours = cls(**saved.init_kwargs).state_dict()
    theirs = saved.state_dict()
    assert sorted(ours) == sorted(theirs)
    assert all(tuple(ours[k].shape) == tuple(theirs[k].shape) for k in ours)


def _shapes(net):
    return [(k, list(v.shape)) for k, v in net.state_dict().items()]


def test_default_networks_have_official_names_and_shapes():
    expected = json.loads((DATA / "official_state_dict_shapes.json").read_text())
    built = {
        "sg2_G_1024": StyleGAN2Generator(z_dim=512, c_dim=0, w_dim=512, img_resolution=1024, img_channels=3),
        "sg2_D_1024": Discriminator(c_dim=0, img_resolution=1024, img_channels=3),
        "sg2_D_cond_256": Discriminator(c_dim=10, img_resolution=256, img_channels=3),
        "sg3t_G_1024": StyleGAN3Generator(z_dim=512, c_dim=0, w_dim=512, img_resolution=1024, img_channels=3),
        "sg3r_G_1024": StyleGAN3Generator(z_dim=512, c_dim=0, w_dim=512, img_resolution=1024, img_channels=3,
                                          channel_base=65536, channel_max=1024, conv_kernel=1,
                                          use_radial_filters=True),
    }
    # Names, shapes and order of every parameter and buffer, as the official constructors make them (the file
    # lists them in the official state_dict's order), so that our state_dicts map one to one onto theirs.
    for label, net in built.items():
        assert _shapes(net) == list(expected[label].items()), label


def _anisotropy(f: torch.Tensor, radius: float) -> float:
    """Spread over directions of a symmetric 2-D filter's frequency response on a circle of `radius`
    (cycles per sample); 0 for a perfectly radial filter."""
    pos = torch.arange(f.shape[0], dtype=torch.float64) - (f.shape[0] - 1) / 2
    angles = torch.linspace(0, np.pi / 2, 16, dtype=torch.float64)
    cos_x = torch.cos(2 * np.pi * (radius * torch.cos(angles))[:, None] * pos[None, :])
    cos_y = torch.cos(2 * np.pi * (radius * torch.sin(angles))[:, None] * pos[None, :])
    response = torch.einsum("ay,yx,ax->a", cos_y, f.double(), cos_x)
    return float(response.max() - response.min())


def test_stylegan3_r_filters_are_symmetric_unit_gain_and_radial():
    G = StyleGAN3Generator(z_dim=16, c_dim=0, w_dim=16, img_resolution=64, img_channels=3, channel_base=2048,
                           channel_max=32, conv_kernel=1, use_radial_filters=True)
    gaps = []
    for name in G.synthesis.layer_names:
        layer = getattr(G.synthesis, name)
        assert layer.weight.shape[2:] == (1, 1) or layer.is_torgb
        for f in (layer.up_filter, layer.down_filter):
            if f is None:
                continue
            assert abs(float(f.sum()) - 1) < 1e-5  # unit DC gain
            assert max_diff(f, f.flip(list(range(f.ndim)))) < 1e-7  # symmetric
        f = layer.down_filter
        if layer.down_radial:
            assert f.ndim == 2 and max_diff(f, f.t()) < 1e-7
            # Radial: its response at the cutoff is no less isotropic than the separable (T) design's.
            separable = design_lowpass_filter(layer.down_taps, layer.out_cutoff, layer.out_half_width * 2,
                                              layer.tmp_sampling_rate)
            radius = layer.out_cutoff / layer.tmp_sampling_rate
            ours, theirs = _anisotropy(f, radius), _anisotropy(torch.outer(separable, separable), radius)
            assert ours <= theirs + 1e-3
            gaps.append((ours, theirs))
        elif f is not None:
            assert f.ndim == 1
    assert gaps and gaps[-1][0] < 0.5 * gaps[-1][1]  # the highest-cutoff radial filter is clearly more isotropic
    critically_sampled = [getattr(G.synthesis, n) for n in G.synthesis.layer_names[-3:]]
    assert not any(layer.down_radial for layer in critically_sampled)


# -- behaviour beyond a plain forward pass, against official_behaviour_ref.npz (see tests/data/README.md) ------

NETWORKS = {"sg2": "sg2_skip_32.pkl", "sg3": "sg3t_32.pkl"}


def _official(tag):
    return {k[len(tag) + 1:]: v for k, v in np.load(DATA / "official_behaviour_ref.npz").items() if k.startswith(tag)}


def _z(seeds, dim, dtype):
    return torch.from_numpy(np.stack([np.random.RandomState(s).randn(dim) for s in seeds])).to(dtype)


@pytest.mark.parametrize("tag", list(NETWORKS))
def test_truncation_cutoff_matches_official(tag):
    G = stylegan.load(DATA / NETWORKS[tag])
    official = _official(tag)

    def compute(dtype):
        z = _z(range(4), G.z_dim, dtype)
        return {"ws_psi05_cutoff3": G.mapping(z, None, truncation_psi=0.5, truncation_cutoff=3),
                "img_psi05_cutoff3": G(z, None, truncation_psi=0.5, truncation_cutoff=3, noise_mode="const")}
    print(tag, assert_matches_to_rounding(compute, official, G))
    ws = official["ws_psi05_cutoff3"]
    assert np.abs(ws[:, 2] - ws[:, 3]).max() > 0.1  # the cutoff splits the ws: a cutoff of 0 or all would fail


@pytest.mark.parametrize("fused", [True, False])
def test_fused_and_separate_modulation_match_official_both_ways(fused):
    """The official code's default in eval mode (one grouped convolution, as its CUDA path uses) and its
    training-mode path (scaling the activations) are the same function: ours in either mode gives both."""
    G = stylegan.load(DATA / NETWORKS["sg2"])
    official = _official("sg2")

    def compute(dtype):
        ws = G.mapping(_z(range(4), G.z_dim, dtype), None, truncation_psi=0.7)
        img = G.synthesis(ws, noise_mode="const", fused_modconv=fused)
        return {"img_fused": img, "img_nonfused": img}
    print(fused, assert_matches_to_rounding(compute, official, G))


@pytest.mark.parametrize("tag", ["sg2", pytest.param("sg3", marks=pytest.mark.slow)])
def test_update_emas_tracks_like_official(tag):
    """Three calls with update_emas=True (seeds 10-13, 14-17, 18-21, the last truncated with psi 0.5, which
    must use the w_avg updated by that very call): the tracked w_avg, StyleGAN3's input-magnitude EMAs and
    the images, each step."""
    G = stylegan.load(DATA / NETWORKS[tag])
    start = {k: v.clone() for k, v in G.state_dict().items()}
    official = _official(tag)

    def compute(dtype):
        G.load_state_dict(start)
        w_avgs, mags, imgs = [], [], []
        for step in range(3):
            z = _z(range(10 + 4 * step, 14 + 4 * step), G.z_dim, dtype)
            imgs.append(G(z, None, truncation_psi=0.5 if step == 2 else 1.0, noise_mode="const", update_emas=True))
            w_avgs.append(G.mapping.w_avg.clone())
            if tag == "sg3":
                layers = [getattr(G.synthesis, n) for n in G.synthesis.layer_names]
                mags.append(torch.stack([layer.magnitude_ema.clone() for layer in layers]))
        out = {"emas_w_avg": torch.stack(w_avgs), "emas_img": torch.stack(imgs)}
        if mags:
            out["emas_magnitude_ema"] = torch.stack(mags)
        return out
    print(tag, assert_matches_to_rounding(compute, official, G))
    moved = official["emas_w_avg"][-1] - start["mapping.w_avg"].numpy()
    assert np.abs(moved).max() > 1e-3  # the EMAs really moved
    if tag == "sg3":
        assert np.abs(official["emas_magnitude_ema"][-1] - 1).max() > 1e-5
