"""The notebook helpers behave as the forks' helpers of the same names; the style-averaging loop runs as is."""
import numpy as np
import torch
from conftest import DATA

import stylegan
from stylegan.latent import save_ws
from stylegan.utils import get_w_from_seed, load_ws, w_to_img


def test_style_averaging_loop_runs_unchanged():
    G = stylegan.load(DATA / "sg2_skip_32.pkl")
    device = torch.device("cpu")
    truncation_psi = 0.7
    w_list = []
    # --- the loop from the issue, unchanged ---
    w_avg = G.mapping.w_avg
    for i in range(4):
        z = np.random.RandomState(i).randn(1, G.z_dim)
        w = G.mapping(torch.from_numpy(z).to(device), None)
        w = w_avg + (w - w_avg) * truncation_psi
        w_list.append(w)
    w_base = w_list[0].clone()
    w_base[:, :7, :] = (w_list[1][:, :7, :] + w_base[:, :7, :]) * .5
    img = w_to_img(G, w_base, 'none')
    # --- checks ---
    assert img.shape == (1, 32, 32, 3) and img.dtype == np.uint8
    expected = w_list[0].clone()
    expected[:, :7] = (w_list[1][:, :7] + expected[:, :7]) / 2
    with torch.no_grad():
        ref = G.synthesis(expected, noise_mode="none")
    assert np.array_equal(img, ((ref + 1) * 127.5).permute(0, 2, 3, 1).clamp(0, 255).to(torch.uint8).numpy())
    assert torch.allclose(get_w_from_seed(G, device, 2, truncation_psi), w_list[2])


def test_w_to_img_takes_one_ws_and_load_ws_truncates(tmp_path):
    G = stylegan.load(DATA / "sg2_skip_32.pkl")
    w = get_w_from_seed(G, "cpu", 5, 1.0)
    assert np.array_equal(w_to_img(G, w[0]), w_to_img(G, w))
    save_ws(tmp_path / "w.npz", w)
    assert torch.allclose(load_ws(tmp_path / "w.npz", G, "cpu", 1.0), w)
    half = load_ws(tmp_path / "w.npz", G, "cpu", 0.5)
    assert torch.allclose(half, G.mapping.w_avg + (w - G.mapping.w_avg) * 0.5)
    np.save(tmp_path / "w.npy", w.numpy())
    assert torch.allclose(load_ws(tmp_path / "w.npy", G, "cpu", 0.0), G.mapping.w_avg.expand_as(w))
