"""rosinality/stylegan2-pytorch checkpoints: loading gives that code's outputs, export writes its layout."""
import argparse

import pytest
import torch
from click.testing import CliRunner

import stylegan
from stylegan.cli import cli
from stylegan.errors import CheckpointError
from stylegan.formats import detect_format
from stylegan.models import Discriminator, StyleGAN1Generator, StyleGAN2Generator

from checkpoint_builders import rosinality_discriminator, rosinality_generator
from conftest import max_diff
from reference import rosinality_discriminator_ref, rosinality_generator_ref


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def test_converted_weights_give_that_code_bases_outputs(tmp_path):
    """A {'g_ema', 'latent_avg'} file (what its convert_weight.py writes) loads to the same images."""
    sd = rosinality_generator()
    latent_avg = torch.randn(8)
    path = tmp_path / "550000.pt"
    torch.save({"g_ema": sd, "latent_avg": latent_avg}, path)
    assert detect_format(path) == "rosinality"
    G = stylegan.load(path)
    assert isinstance(G, StyleGAN2Generator) and (G.z_dim, G.w_dim, G.img_resolution) == (8, 8, 16)
    assert torch.equal(G.mapping.w_avg, latent_avg)
    z = torch.randn(3, 8)
    with torch.no_grad():
        assert max_diff(G(z, None), rosinality_generator_ref(sd, z)) < 1e-5
        # truncation toward latent_avg, as its generate.py does with truncation_latent
        ws = G.mapping(z, None, truncation_psi=0.5)
        assert max_diff(ws[:, 0], latent_avg + 0.5 * (G.mapping(z, None)[:, 0] - latent_avg)) < 1e-6


def test_training_checkpoint_with_options_and_optimizer_state(tmp_path):
    """train.py's checkpoints: g, d, g_ema, both optimizers, the argparse options, ada_aug_p."""
    g, d = rosinality_generator(seed=3), rosinality_discriminator()
    adam = {"state": {0: {"step": torch.tensor(10.0), "exp_avg": torch.zeros(3)}},
            "param_groups": [{"lr": 0.002, "betas": (0.0, 0.99), "params": [0]}]}
    ckpt = {"g": g, "d": d, "g_ema": rosinality_generator(seed=4), "g_optim": adam, "d_optim": adam,
            "args": argparse.Namespace(size=16, latent=8, n_mlp=2, channel_multiplier=2), "ada_aug_p": 0.0}
    path = tmp_path / "010000.pt"
    torch.save(ckpt, path)
    nets = stylegan.load_networks(path)
    assert sorted(nets) == ["D", "G", "G_ema"] and isinstance(nets["D"], Discriminator)
    z, img = torch.randn(4, 8), torch.randn(4, 3, 16, 16)
    with torch.no_grad():
        assert max_diff(nets["G"](z), rosinality_generator_ref(g, z)) < 1e-5
        assert max_diff(nets["D"](img), rosinality_discriminator_ref(d, img)) < 1e-5
        # No latent_avg in the file: w_avg is the mean w of 4096 seeded z, close to the true mean.
        many = nets["G_ema"].mapping(torch.randn(20000, 8), None)[:, 0].mean(dim=0)
        assert not torch.equal(nets["G_ema"].mapping.w_avg, torch.zeros(8))
        assert max_diff(nets["G_ema"].mapping.w_avg, many) < 0.05 * float(many.abs().max())


def test_legacy_torch_serialization_is_recognised(tmp_path):
    path = tmp_path / "old.pt"
    torch.save({"g_ema": rosinality_generator()}, path, _use_new_zipfile_serialization=False)
    assert detect_format(path) == "rosinality"
    assert stylegan.load(path).img_resolution == 16


def _ours(tmp_path, **kwargs):
    G = StyleGAN2Generator(z_dim=8, c_dim=0, w_dim=8, img_resolution=16, img_channels=3,
                           mapping_kwargs=dict(num_layers=2), channels={4: 16, 8: 16, 16: 8}, num_fp16_res=0,
                           conv_clamp=None, **kwargs).eval()
    D = Discriminator(c_dim=0, img_resolution=16, img_channels=3, channels={4: 16, 8: 16, 16: 8}, conv_clamp=None,
                      num_fp16_res=0).eval()
    with torch.no_grad():
        for net in (G, D):
            for p in net.parameters():
                p.add_(torch.randn_like(p) * 0.3)
        G.mapping.w_avg.copy_(torch.randn(8))
    path = tmp_path / "ours.safetensors"
    stylegan.save({"G_ema": G, "D": D}, path)
    return G, D, path


def test_export_writes_their_layout_and_round_trips(tmp_path):
    G, D, src = _ours(tmp_path)
    dst = tmp_path / "for_pSp.pt"
    result = run("convert", src, dst, "--to", "rosinality")
    assert result.exit_code == 0, result.output
    assert "rosinality's Generator builds fixed widths" in result.output  # tiny widths: a warning, not an error
    ckpt = torch.load(dst, weights_only=True)
    assert sorted(ckpt) == ["d", "g_ema", "latent_avg"]
    # Exactly the tensor names and shapes that code base's Generator/Discriminator state dicts have.
    for key, expected in (("g_ema", rosinality_generator()), ("d", rosinality_discriminator())):
        assert {k: tuple(v.shape) for k, v in ckpt[key].items()} == {k: tuple(v.shape) for k, v in expected.items()}
    assert torch.equal(ckpt["g_ema"]["convs.0.conv.blur.kernel"], rosinality_generator()["convs.0.conv.blur.kernel"])
    z, img = torch.randn(2, 8), torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        assert max_diff(rosinality_generator_ref(ckpt["g_ema"], z), G(z)) < 1e-5
        assert max_diff(rosinality_discriminator_ref(ckpt["d"], img), D(img)) < 1e-5
        again = stylegan.load_networks(dst)
        assert torch.equal(again["G_ema"](z), G(z)) and torch.equal(again["D"](img), D(img))
        assert torch.equal(again["G_ema"].mapping.w_avg, G.mapping.w_avg)


def test_export_refuses_what_their_generator_cannot_hold(tmp_path):
    G, _, _ = _ours(tmp_path, architecture="resnet")
    with pytest.raises(CheckpointError, match="architecture is 'resnet'"):
        stylegan.formats.export({"G_ema": G}, tmp_path / "x.pt", to="rosinality")
    G1 = StyleGAN1Generator(z_dim=8, c_dim=0, w_dim=8, img_resolution=8, img_channels=3, channel_base=64,
                            channel_max=8)
    with pytest.raises(CheckpointError, match="StyleGAN2 generators only"):
        stylegan.formats.export({"G_ema": G1}, tmp_path / "x.pt", to="rosinality")
    assert not (tmp_path / "x.pt").exists()


def test_export_warns_about_clamping_and_leaves_out_a_conditional_d(tmp_path):
    G = StyleGAN2Generator(z_dim=8, c_dim=0, w_dim=8, img_resolution=8, img_channels=3,
                           mapping_kwargs=dict(num_layers=1), channel_base=64, channel_max=8, conv_clamp=256)
    D = Discriminator(c_dim=2, img_resolution=8, img_channels=3, channel_base=64, channel_max=8)
    with pytest.warns(UserWarning) as caught:
        written = stylegan.formats.export({"G_ema": G, "D": D}, tmp_path / "x.pt", to="rosinality")
    messages = " | ".join(str(w.message) for w in caught)
    assert "does not clamp" in messages and "discriminator is left out" in messages and "conditional" in messages
    assert written == ["g_ema", "latent_avg"]
