"""MMGeneration checkpoints (StyleGANv1/2/3), its BGR colour order, configs read without running them, and the
MMGeneration-style API (init_model, sample_unconditional_model, save_image)."""
import numpy as np
import PIL.Image
import pytest
import torch
from checkpoint_builders import (
    mmgen_checkpoint,
    mmgen_stylegan1_generator,
    mmgen_stylegan2_discriminator,
    mmgen_stylegan2_generator,
    rosinality_discriminator,
    rosinality_generator,
)
from click.testing import CliRunner
from conftest import max_diff
from reference import mmgen_stylegan1_ref, rosinality_discriminator_ref, rosinality_generator_ref

import stylegan
from stylegan.apis import init_model, sample_unconditional_model
from stylegan.cli import cli
from stylegan.errors import CheckpointError, InputError
from stylegan.formats import detect_format, mmgen_config
from stylegan.models import StyleGAN1Generator, StyleGAN2Generator, StyleGAN3Generator
from stylegan.utils import make_grid, mkdir_or_exist, save_image

BGR = [2, 1, 0]

SG1_CONFIG = """
model = dict(
    type='StyleGANV1',
    generator=dict(type='StyleGANv1Generator', out_size=None, style_channels=512),
    discriminator=dict(type='StyleGAN1Discriminator', in_size=None))
train_cfg = dict(use_ema=True)
"""


def _save(tmp_path, name, ckpt):
    path = tmp_path / name
    torch.save(ckpt, path)
    return path


def _sg1_checkpoint(tmp_path, curr_scale=16, transition_weight=1.0, discriminator=True):
    g = mmgen_stylegan1_generator()
    nets = {"generator": g, "generator_ema": g}
    if discriminator:  # MMGeneration's own StyleGANv1 discriminator design (from_rgb / convs / final_linear)
        nets["discriminator"] = {"from_rgb.0.conv.weight_orig": torch.randn(8, 3, 3, 3)}
    extra = {"shown_nkimg": torch.tensor(25000.0), "_curr_transition_weight": torch.tensor(transition_weight),
             "_next_scale_int": torch.tensor(16, dtype=torch.int32),
             "_curr_scale_int": torch.tensor(curr_scale, dtype=torch.int32)}
    return g, _save(tmp_path, "styleganv1.pth", mmgen_checkpoint(nets, extra=extra))


def test_stylegan2_generator_and_discriminator(tmp_path):
    g, d = rosinality_generator(seed=5), rosinality_discriminator(seed=6)
    ckpt = mmgen_checkpoint({"generator": mmgen_stylegan2_generator(rosinality_generator(seed=7)),
                             "generator_ema": mmgen_stylegan2_generator(g),
                             "discriminator": mmgen_stylegan2_discriminator(d)})
    path = _save(tmp_path, "stylegan2.pth", ckpt)
    assert detect_format(path) == "mmgen"
    nets = stylegan.load_networks(path)
    assert sorted(nets) == ["D", "G", "G_ema"] and isinstance(nets["G_ema"], StyleGAN2Generator)
    z, img = torch.randn(3, 8), torch.randn(3, 3, 16, 16)
    with torch.no_grad():
        # MMGeneration draws BGR; ours draws RGB from the same weights.
        assert max_diff(nets["G_ema"](z), rosinality_generator_ref(g, z)[:, BGR]) < 1e-5
        assert max_diff(nets["D"](img), rosinality_discriminator_ref(d, img[:, BGR])) < 1e-5


def test_unknown_generator_type_is_built_from_its_tensors(tmp_path):
    g = rosinality_generator(seed=5)
    state = mmgen_stylegan2_generator(g)
    config = ("model = dict(type='StaticUnconditionalGAN', generator=dict(type='MyStyleGANv2Generator', "
              "out_size=16, style_channels=8))\n")
    path = _save(tmp_path, "custom.pth", mmgen_checkpoint({"generator_ema": state}, config_text=config))
    with pytest.warns(UserWarning, match="MyStyleGANv2Generator.*built as one") as record:
        G = stylegan.load(path)
    assert len(record) == 1 and "\n" not in str(record[0].message)
    z = torch.randn(2, 8)
    with torch.no_grad():
        assert isinstance(G, StyleGAN2Generator) and max_diff(G(z), rosinality_generator_ref(g, z)[:, BGR]) < 1e-5
    # A known type that contradicts the tensors is still refused.
    wrong = config.replace("MyStyleGANv2Generator", "StyleGANv3Generator")
    path = _save(tmp_path, "wrong.pth", mmgen_checkpoint({"generator_ema": state}, config_text=wrong))
    with pytest.raises(CheckpointError, match="describes a StyleGANv3Generator"):
        stylegan.load(path)


def test_stylegan1_generator(tmp_path):
    sd, path = _sg1_checkpoint(tmp_path)
    with pytest.warns(UserWarning, match="StyleGANv1 discriminator"):
        nets = stylegan.load_networks(path)
    assert sorted(nets) == ["G", "G_ema"]
    G = nets["G_ema"]
    assert isinstance(G, StyleGAN1Generator) and G.default_truncation == (1.0, None)
    assert float(G.synthesis.lod) == 0
    z = torch.randn(3, 8)
    with torch.no_grad():
        assert max_diff(G(z), mmgen_stylegan1_ref(sd, z)[:, BGR]) < 1e-4
    with pytest.raises(CheckpointError, match="holds no 'D' network"):
        stylegan.load(path, which="D")


def test_stylegan1_snapshot_while_growing(tmp_path):
    """At scale 8 with transition weight 0.25, sampling gives MMGeneration's blended 8x8 images."""
    sd, path = _sg1_checkpoint(tmp_path, curr_scale=8, transition_weight=0.25, discriminator=False)
    model = init_model(None, path, device="cpu")
    assert float(model.generator_ema.synthesis.lod) == pytest.approx(1.75)
    z = torch.randn(2, 8)
    out = model.sample_from_noise(z, sample_model="ema", randomize_noise=False)
    assert out.shape == (2, 3, 8, 8)
    ref = mmgen_stylegan1_ref(sd, z, curr_scale=8, transition_weight=0.25)
    assert max_diff(out, ref) < 1e-4


def _stylegan3(num_critical=2):
    G = StyleGAN3Generator(z_dim=8, c_dim=0, w_dim=8, img_resolution=16, img_channels=3, channel_base=512,
                           channel_max=16, num_layers=4, num_critical=num_critical,
                           mapping_kwargs=dict(num_layers=2)).eval()
    with torch.no_grad():
        for p in G.parameters():
            p.add_(torch.randn_like(p) * 0.1)
        G.mapping.w_avg.copy_(torch.randn(8))
    state = {("style_mapping." + k[len("mapping."):]) if k.startswith("mapping.") else k: v
             for k, v in G.state_dict().items()}
    return G, state


SG3_CONFIG = """
synthesis_cfg = {{'type': 'SynthesisNetwork', 'channel_base': 512, 'channel_max': 16, 'num_layers': 4,
                 'num_critical': {critical}}}
model = dict(type='StaticUnconditionalGAN',
             generator=dict(type='StyleGANv3Generator', noise_size=8, style_channels=8, out_size=16,
                            img_channels=3, {rgb2bgr}synthesis_cfg=synthesis_cfg))
"""


def test_stylegan3_colour_order_follows_the_config(tmp_path):
    G, state = _stylegan3()
    z = torch.randn(2, 8)
    with torch.no_grad():
        expected = G(z)
        # Converted official weights (rgb2bgr=True, here from the config saved in the checkpoint's meta): RGB.
        text = SG3_CONFIG.format(critical=2, rgb2bgr="rgb2bgr=True, ")
        path = _save(tmp_path, "cvt_official_rgb.pth", mmgen_checkpoint({"generator_ema": state}, text))
        assert torch.equal(stylegan.load(path)(z), expected)
        # Trained in MMGeneration, no config: the weights draw BGR, so the loaded network swaps them back.
        path = _save(tmp_path, "trained.pth", mmgen_checkpoint({"generator_ema": state}))
        assert torch.equal(stylegan.load(path)(z), expected[:, BGR])
        # A config given to the loader says the same as the meta.
        assert torch.equal(stylegan.load(path, config={"model": mmgen_config.parse_text(
            SG3_CONFIG.format(critical=2, rgb2bgr="rgb2bgr=True, "))["model"]})(z), expected)


def test_stylegan3_schedule_needs_the_config_when_not_the_default(tmp_path):
    G, state = _stylegan3(num_critical=1)
    path = _save(tmp_path, "sg3.pth", mmgen_checkpoint({"generator_ema": state}))
    with pytest.raises(CheckpointError, match="pass (its|this checkpoint's) MMGeneration config"):
        stylegan.load(path)
    config = tmp_path / "sg3_config.py"
    config.write_text(SG3_CONFIG.format(critical=1, rgb2bgr=""))
    z = torch.randn(2, 8)
    with torch.no_grad():
        assert torch.equal(stylegan.load(path, config=config)(z), G(z)[:, BGR])


def _red_stylegan1(tmp_path):
    """A StyleGANv1 checkpoint whose images are pure red: ToRGB weights 0, last bias (B, G, R) = (-.9, -.9, .9)."""
    sd = mmgen_stylegan1_generator()
    for key in sd:
        if key.startswith("to_rgbs."):
            sd[key] = torch.zeros_like(sd[key])
    sd["to_rgbs.2.conv.bias"] = torch.tensor([-0.9, -0.9, 0.9])
    return _save(tmp_path, "red.pth", mmgen_checkpoint({"generator": sd, "generator_ema": sd}))


def test_mmgeneration_snippet_writes_a_correctly_coloured_grid(tmp_path, monkeypatch):
    (tmp_path / "configs" / "_base_").mkdir(parents=True)
    (tmp_path / "configs" / "_base_" / "styleganv1_base.py").write_text(SG1_CONFIG)
    (tmp_path / "configs" / "styleganv1_tiny.py").write_text(
        "_base_ = ['./_base_/styleganv1_base.py']\n"
        "model = dict(generator=dict(out_size=16, style_channels=8, num_mlps=2), discriminator=dict(in_size=16))\n")
    config_file, checkpoint_file, device = "configs/styleganv1_tiny.py", str(_red_stylegan1(tmp_path)), "cpu"
    monkeypatch.chdir(tmp_path)

    model = init_model(config_file, checkpoint_file, device)
    results = sample_unconditional_model(model, 16)
    results = (results[:, [2, 1, 0]] + 1.) / 2.
    mkdir_or_exist('work_dirs/styleganv1'); save_image(results, 'work_dirs/styleganv1/output.png', nrow=4)  # noqa

    with PIL.Image.open(tmp_path / "work_dirs/styleganv1/output.png") as image:
        grid = np.asarray(image.convert("RGB"))
    assert grid.shape == (4 * 16 + 5 * 2, 4 * 16 + 5 * 2, 3)
    for row in range(4):
        for col in range(4):
            tile = grid[2 + row * 18:2 + row * 18 + 16, 2 + col * 18:2 + col * 18 + 16]
            assert (tile == [242, 13, 13]).all()  # (0.95, 0.05, 0.05) * 255, rounded: red
    assert (grid[:2] == 0).all() and (grid[:, 18:20] == 0).all()  # torchvision's default padding: 2 px, black


def test_sampling_behaves_as_mmgeneration(tmp_path):
    g = rosinality_generator(seed=5)
    path = _save(tmp_path, "sg2.pth", mmgen_checkpoint({"generator": mmgen_stylegan2_generator(rosinality_generator(
        seed=8)), "generator_ema": mmgen_stylegan2_generator(g)}))
    model = init_model(None, path, device="cpu")
    out = sample_unconditional_model(model, num_samples=5, num_batches=2)
    assert out.shape == (5, 3, 16, 16) and out.dtype == torch.float32 and out.device.type == "cpu"
    assert sample_unconditional_model(model, 3, 2, sample_model="ema/orig").shape[0] == 6
    z = torch.randn(2, 8)
    with torch.no_grad():
        fixed = model.sample_from_noise(z, sample_model="ema", randomize_noise=False)
        assert max_diff(fixed, rosinality_generator_ref(g, z)) < 1e-5  # BGR, as MMGeneration returns it
        assert not torch.equal(model.sample_from_noise(z, sample_model="ema"),
                               model.sample_from_noise(z, sample_model="ema"))  # fresh noise by default
        truncated = model.sample_from_noise(z, sample_model="ema", randomize_noise=False, truncation=0.5)
        ws = model.generator_ema.mapping(z, None)
        avg = model.generator_ema.mapping.w_avg
        expected = model.generator_ema.synthesis(avg + 0.5 * (ws - avg))[:, BGR]
        assert max_diff(truncated, expected) < 1e-5
    with pytest.raises(InputError, match="sample_model"):
        sample_unconditional_model(model, 2, sample_model="best")


def test_init_model_from_config_alone_and_options(tmp_path):
    config = tmp_path / "c.py"
    config.write_text("model = dict(type='StaticUnconditionalGAN',\n"
                      "    generator=dict(type='StyleGANv2Generator', out_size=16, style_channels=8, num_mlps=2),\n"
                      "    discriminator=dict(type='StyleGAN2Discriminator', in_size=16))\n")
    model = init_model(str(config), None, device="cpu")
    assert model.generator.img_resolution == 16 and model.discriminator.img_resolution == 16
    assert not model.training
    model = init_model(str(config), device="cpu", cfg_options={"model.generator.out_size": 32})
    assert model.generator_ema.img_resolution == 32
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="no CUDA GPU"):
            init_model(str(config))


def test_config_files_are_read_without_running_them(tmp_path):
    marker = tmp_path / "ran"
    (tmp_path / "base.py").write_text(
        "import os\n"
        f"os.system('touch {marker}')\n"
        "channels = 2 ** 4\n"
        "model = dict(type='GAN', generator=dict(type='StyleGANv2Generator', out_size=channels * 4, extra=[1, 2]),\n"
        "             discriminator=dict(type='StyleGAN2Discriminator', in_size=64, keep=True))\n")
    (tmp_path / "child.py").write_text(
        "_base_ = './base.py'\n"
        f"unsafe = __import__('os').system('touch {marker}')\n"
        "model = dict(generator=dict(out_size=128), discriminator=dict(_delete_=True, type='X'))\n")
    cfg = mmgen_config.read_config(tmp_path / "child.py")
    assert not marker.exists()
    assert isinstance(cfg["unsafe"], mmgen_config.Unknown)
    assert cfg["model"] == {"type": "GAN", "generator": {"type": "StyleGANv2Generator", "out_size": 128,
                                                          "extra": [1, 2]},
                            "discriminator": {"type": "X"}}
    (tmp_path / "bad.py").write_text("model = dict(generator=dict(out_size=open('/etc/passwd').read()))\n")
    with pytest.raises(InputError, match="cannot be read without running code"):
        mmgen_config.model_config(tmp_path / "bad.py")


def test_model_zoo_config_names_work_without_their_files():
    model = mmgen_config.model_config("configs/styleganv1/styleganv1_ffhq_1024_g8_25Mimg.py")
    assert model["generator"] == {"type": "StyleGANv1Generator", "out_size": 1024, "style_channels": 512}
    model = mmgen_config.model_config("stylegan3_t_ffhqu_256_b4x8_cvt_official_rgb")
    assert model["generator"]["rgb2bgr"] is True and model["generator"]["synthesis_cfg"]["channel_base"] == 16384
    with pytest.raises(InputError, match="model zoo"):
        mmgen_config.model_config("configs/styleganv9/unknown.py")


def test_save_image_matches_torchvision_layout(tmp_path):
    images = torch.stack([torch.full((3, 2, 2), v / 4) for v in range(5)])
    grid = make_grid(images, nrow=2, padding=1, pad_value=1.0)
    assert grid.shape == (3, 3 * 3 + 1, 2 * 3 + 1)
    assert torch.equal(grid[:, 1:3, 4:6], images[1]) and torch.equal(grid[:, 7:9, 1:3], images[4])
    assert (grid[:, 7:9, 4:6] == 1).all() and (grid[:, 0] == 1).all()  # empty cell and border: pad value
    assert torch.equal(make_grid(images[:1]), images[0])  # one image: no padding
    assert make_grid(torch.rand(2, 1, 4, 4)).shape[0] == 3
    norm = make_grid(torch.tensor([[[[-1.0, 1.0]]]]).repeat(2, 1, 1, 1), normalize=True, value_range=(-1, 1))
    assert norm[0, 2, 2:4].tolist() == pytest.approx([0.0, 1.0], abs=1e-4)
    save_image(images, tmp_path / "sub" / "g.jpg", nrow=5)
    with PIL.Image.open(tmp_path / "sub" / "g.jpg") as image:
        assert image.format == "JPEG" and image.size == (5 * 4 + 2, 4 + 2)


def test_cli_info_and_convert(tmp_path):
    sd, path = _sg1_checkpoint(tmp_path, discriminator=False)
    result = CliRunner().invoke(cli, ["info", "--network", str(path)], catch_exceptions=False)
    assert result.exit_code == 0 and "MMGeneration checkpoint" in result.output and "StyleGAN1" in result.output
    dst = tmp_path / "out.safetensors"
    result = CliRunner().invoke(cli, ["convert", str(path), str(dst)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    z = torch.randn(2, 8)
    with torch.no_grad():
        assert torch.equal(stylegan.load(dst)(z), stylegan.load(path)(z))
