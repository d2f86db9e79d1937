"""Export to ONNX and TorchScript: exported files reproduce PyTorch, at any batch size; sidecar; errors.

ONNX cases need the `export` extra (onnx, onnxscript, onnxruntime) and skip without it. Exporting is the
slow part (seconds per file), so each file is exported once per module and checked by several tests.
"""
import copy
import json
import subprocess
import sys
import warnings

import numpy as np
import PIL.Image
import pytest
import torch
from click.testing import CliRunner
from conftest import (
    DATA,
    ROOT,
    U16,
    float32_bound,
    float64_evaluation,
    largest_fan_in,
    max_diff,
    reduced_precision_bound,
)

import stylegan
from stylegan.cli import cli
from stylegan.export import ExportSpec, ExportVerificationError, export_generator, sidecar_path
from stylegan.formats.native import ARCHITECTURES
from stylegan.io import to_uint8
from stylegan.latent import mix, style_ranges
from stylegan.latent.generate import input_transform, set_input_transform
from stylegan.models.precision import configure


def needs_onnx():
    for module in ("onnx", "onnxscript", "onnxruntime"):
        pytest.importorskip(module, reason=f"ONNX export tests need {module}: pip install 'stylegan[export]'")


def random_generator(generation: int) -> torch.nn.Module:
    """A tiny random generator of a generation (StyleGAN1 once its model is part of the package)."""
    cls = ARCHITECTURES.get(f"stylegan{generation}.Generator")
    if cls is None:
        pytest.skip(f"StyleGAN{generation} is not part of this build")
    torch.manual_seed(1)
    kwargs = dict(z_dim=16, c_dim=0, w_dim=16, img_resolution=16, img_channels=3, mapping_kwargs=dict(num_layers=2))
    if generation == 3:
        kwargs.update(channel_base=512, channel_max=16, num_layers=4, num_critical=1)
    else:
        kwargs.update(channel_base=256, channel_max=16)
    G = cls(**kwargs).eval()
    with torch.no_grad():
        G.mapping.w_avg.copy_(G.mapping(torch.randn([256, G.z_dim]), None)[:, 0].mean(dim=0))
        for name, buf in G.named_buffers():
            if name.endswith("magnitude_ema"):
                buf.fill_(0.5)  # a trained value, so the input gain is not the identity
    return G


def ort_run(path, **inputs):
    import onnxruntime
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {k: np.asarray(v, dtype=np.float32) for k, v in inputs.items()})[0]


def ts_run(path, *inputs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch.jit is deprecated upstream, still supported
        module = torch.jit.load(str(path))
    with torch.no_grad():
        return module(*inputs)


def assert_correct_float32(got, G: torch.nn.Module, compute) -> None:
    """`got`, an exported model's float32 output, is a correct float32 evaluation of `compute(dtype)` (G's
    computation in PyTorch, inputs cast to dtype): within the float32 rounding bound (conftest) of its
    float64 value. A wrong constant or operator in the exported graph moves it far beyond rounding."""
    with torch.no_grad():
        ours32 = compute(torch.float32)
        with float64_evaluation(G):
            exact = compute(torch.float64)
    bound = float32_bound(ours32, exact, largest_fan_in(G))
    diff = max_diff(got, exact)
    assert diff <= bound, f"differs by {diff:.3g} from the float64 value, beyond the rounding bound {bound:.3g}"


def assert_correct_float16(got, G: torch.nn.Module, compute) -> None:
    """The same for an output whose synthesis layers computed in float16 (`reduced_precision_bound`)."""
    with torch.no_grad():
        ours32 = compute(torch.float32)
        with float64_evaluation(G):
            exact = compute(torch.float64)
    bound = reduced_precision_bound(ours32, exact, largest_fan_in(G), U16)
    diff = max_diff(got, exact)
    assert 0 < diff <= bound, f"differs by {diff:.3g} from the float64 value; the float16 rounding bound is {bound:.3g}"


def seeds_z(G, seeds):
    return stylegan.seeds_to_z(seeds, G.z_dim)


@pytest.fixture(scope="module")
def sg2():
    return stylegan.load(DATA / "sg2_skip_32.pkl")


@pytest.fixture(scope="module")
def sg3():
    return stylegan.load(DATA / "sg3t_32.pkl")


@pytest.fixture(scope="module")
def sg2_onnx(sg2, tmp_path_factory):
    """The StyleGAN2 fixture's mapping, synthesis and full generator as ONNX (dynamic batch, psi input)."""
    needs_onnx()
    out = tmp_path_factory.mktemp("sg2_onnx")
    return {part: export_generator(sg2, out / f"{part}.onnx", "onnx", ExportSpec(part=part))
            for part in ("mapping", "synthesis", "full")}


# --- the model options the exported graphs use ------------------------------------------------------------------


@pytest.mark.slow
def test_stylegan3_non_fused_modconv_and_per_call_transform(sg3):
    ws = stylegan.latent.seeds_to_ws(sg3, [1, 2, 3], truncation_psi=0.7)
    transform = torch.from_numpy(input_transform((0.2, 0.1), 15.0)).to(torch.float32)
    G = copy.deepcopy(sg3)
    set_input_transform(G, (0.2, 0.1), 15.0)
    with torch.no_grad():
        assert max_diff(sg3.synthesis(ws, fused_modconv=False), sg3.synthesis(ws)) <= 1e-5
        assert max_diff(sg3.synthesis(ws, input_transform=transform), G.synthesis(ws)) <= 1e-6
        assert torch.equal(sg3.synthesis.input.transform, torch.eye(3))  # the stored transform is untouched


@pytest.mark.slow
@pytest.mark.parametrize("name", ["sg2_skip_32.pkl", "sg3t_32.pkl"])
def test_fp16_precision_computes_float16_layers_on_the_cpu(name):
    G = stylegan.load(DATA / name)
    ws = stylegan.latent.seeds_to_ws(G, [1, 2])
    with torch.no_grad():
        default, fp32 = G.synthesis(ws), G.synthesis(ws, force_fp32=True)
        fp16 = configure(G, "fp16").synthesis(ws)
    assert torch.equal(default, fp32)  # on the CPU the default stays float32
    assert_correct_float16(fp16, configure(G, "fp32"), lambda dtype: G.synthesis(ws.to(dtype)))


# --- ONNX ------------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_onnx_sg2_parts_match_pytorch_at_batch_1_and_3(sg2, sg2_onnx):
    middle = style_ranges(sg2)["middle"]
    for batch in (1, 3):
        z = seeds_z(sg2, range(10, 10 + batch))
        with torch.no_grad():
            ws = sg2.mapping(z, None, truncation_psi=0.5)
            w_plus = mix(ws, ws.roll(1, dims=0), middle)  # style-mixed ws
        assert_correct_float32(ort_run(sg2_onnx["mapping"].path, z=z, truncation_psi=0.5), sg2,
                               lambda dtype: sg2.mapping(z.to(dtype), None, truncation_psi=0.5))
        assert_correct_float32(ort_run(sg2_onnx["synthesis"].path, ws=w_plus), sg2,
                               lambda dtype: sg2.synthesis(w_plus.to(dtype)))
        assert_correct_float32(ort_run(sg2_onnx["full"].path, z=z, truncation_psi=0.5), sg2,
                               lambda dtype: sg2(z.to(dtype), None, truncation_psi=0.5))
    for result in sg2_onnx.values():
        assert set(result.diffs) == {3, 1}  # the export verified itself at both batch sizes


def test_onnx_keeps_the_normalisation_epsilons(sg2, sg2_onnx):
    # z = 0 makes the z normalisation divide 0 by sqrt(0 + 1e-8): only the epsilon keeps it finite
    z = torch.zeros([1, sg2.z_dim])
    got = ort_run(sg2_onnx["mapping"].path, z=z, truncation_psi=0.5)
    assert np.isfinite(got).all()
    assert_correct_float32(got, sg2, lambda dtype: sg2.mapping(z.to(dtype), None, truncation_psi=0.5))


def test_onnx_graph_is_plain_onnx_with_a_dynamic_batch_axis(sg2_onnx):
    import onnx
    model = onnx.load(str(sg2_onnx["full"].path))
    onnx.checker.check_model(model)
    assert {o.domain for o in model.opset_import} <= {"", "ai.onnx"}
    assert max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) >= 17
    assert all(node.domain in ("", "ai.onnx") for node in model.graph.node)
    assert not model.functions
    inputs = {i.name: i.type.tensor_type.shape.dim for i in model.graph.input}
    assert list(inputs) == ["z", "truncation_psi"]
    assert inputs["z"][0].dim_param and inputs["z"][1].dim_value == 64
    assert len(inputs["truncation_psi"]) == 0


def test_sidecar_matches_the_model(sg2, sg2_onnx):
    meta = json.loads(sidecar_path(sg2_onnx["synthesis"].path).read_text())
    assert meta["part"] == "synthesis" and meta["format"] == "onnx" and meta["generation"] == 2
    assert (meta["img_resolution"], meta["img_channels"], meta["num_ws"], meta["w_dim"], meta["z_dim"],
            meta["c_dim"]) == (32, 3, sg2.num_ws, sg2.w_dim, sg2.z_dim, 0)
    assert meta["style_ranges"] == style_ranges(sg2)
    assert meta["ws_resolutions"] == sg2.synthesis.ws_resolutions()
    assert np.array_equal(np.asarray(meta["w_avg"], np.float32), sg2.mapping.w_avg.numpy())
    assert meta["inputs"] == [{"name": "ws", "shape": ["batch", sg2.num_ws, sg2.w_dim], "dtype": "float32"}]
    assert meta["outputs"] == [{"name": "img", "shape": ["batch", 3, 32, 32], "dtype": "float32"}]
    assert meta["noise_mode"] == "const" and meta["batch"] == "dynamic" and meta["opset"] >= 17
    assert meta["verification"]["max_abs_diff"] == {str(k): v for k, v in sg2_onnx["synthesis"].diffs.items()}
    mapping = json.loads(sidecar_path(sg2_onnx["mapping"].path).read_text())
    assert mapping["truncation"] == {"psi": "input", "cutoff": None} and "noise_mode" not in mapping


@pytest.mark.slow
def test_onnx_sg3_full_with_transform_input(sg3, tmp_path):
    needs_onnx()
    result = export_generator(sg3, tmp_path / "sg3.onnx", "onnx", ExportSpec(part="full"))
    transform = input_transform((0.25, -0.1), 30.0).astype(np.float32)
    G = stylegan.load(DATA / "sg3t_32.pkl")
    set_input_transform(G, (0.25, -0.1), 30.0)
    for batch in (1, 3):
        z = seeds_z(sg3, range(batch))
        got = ort_run(result.path, z=z, truncation_psi=0.8, transform=transform)
        assert_correct_float32(got, G, lambda dtype: G(z.to(dtype), None, truncation_psi=0.8))
    # The identity transform gives the untransformed generator.
    z = seeds_z(sg3, [4])
    assert_correct_float32(ort_run(result.path, z=z, truncation_psi=1.0, transform=np.eye(3)), sg3,
                           lambda dtype: sg3(z.to(dtype), None))


def test_onnx_random_stylegan3_synthesis(tmp_path):
    needs_onnx()
    G = random_generator(3)
    result = export_generator(G, tmp_path / "r3.onnx", "onnx", ExportSpec(part="synthesis"))
    with torch.no_grad():
        ws = G.mapping(seeds_z(G, range(3)), None)
    assert_correct_float32(ort_run(result.path, ws=ws, transform=np.eye(3)), G, lambda dtype: G.synthesis(ws.to(dtype)))


def test_onnx_random_stylegan1_full(tmp_path):
    needs_onnx()
    G = random_generator(1)
    result = export_generator(G, tmp_path / "r1.onnx", "onnx", ExportSpec(part="full", noise_mode="none"))
    for batch in (1, 3):
        z = seeds_z(G, range(batch))
        assert_correct_float32(ort_run(result.path, z=z, truncation_psi=0.7), G,
                               lambda dtype: G(z.to(dtype), None, truncation_psi=0.7, noise_mode="none"))


def test_onnx_conditional_fixed_batch_with_constant_truncation(tmp_path):
    needs_onnx()
    G = stylegan.load(DATA / "sg2_cond_orig_32.pkl")
    spec = ExportSpec(part="mapping", batch=2, truncation_psi=0.6, truncation_cutoff=3)
    result = export_generator(G, tmp_path / "cond.onnx", "onnx", spec)
    z = seeds_z(G, [7, 8])
    c = torch.eye(G.c_dim)[[1, 2]]
    assert_correct_float32(ort_run(result.path, z=z, c=c), G,
                           lambda dtype: G.mapping(z.to(dtype), c.to(dtype), truncation_psi=0.6, truncation_cutoff=3))
    meta = json.loads(sidecar_path(result.path).read_text())
    assert meta["batch"] == 2 and meta["truncation"] == {"psi": 0.6, "cutoff": 3}
    assert [i["name"] for i in meta["inputs"]] == ["z", "c"] and meta["inputs"][0]["shape"] == [2, G.z_dim]


@pytest.mark.slow
def test_onnx_fp16_synthesis(sg2, sg2_onnx, tmp_path):
    """fp16: the synthesis layers compute in float16; the weights are stored as float16 (about half the file)."""
    import onnx
    result = export_generator(sg2, tmp_path / "half.onnx", "onnx", ExportSpec(part="synthesis", precision="fp16"))
    print(f"fp16 ONNX synthesis: max abs difference {max(result.diffs.values()):.2e}, "
          f"{result.size} bytes vs {sg2_onnx['synthesis'].size} in fp32")
    ws = stylegan.latent.seeds_to_ws(sg2, [5, 6])
    assert_correct_float16(ort_run(result.path, ws=ws), sg2, lambda dtype: sg2.synthesis(ws.to(dtype)))
    assert result.size < 0.6 * sg2_onnx["synthesis"].size
    model = onnx.load(str(result.path))
    convs = [n for n in model.graph.node if n.op_type == "Conv"]
    assert convs and any(n.op_type == "Cast" and n.attribute[0].i == onnx.TensorProto.FLOAT16
                         for n in model.graph.node)


def test_example_runs_with_onnxruntime_and_numpy_only(sg2, sg2_onnx, tmp_path):
    """examples/onnx_generate.py style-mixes with the exported mapping and synthesis, without torch."""
    out = tmp_path / "mix.png"
    blocker = "import sys, runpy; sys.modules['torch'] = sys.modules['stylegan'] = None; " \
              "sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')"
    args = [sys.executable, "-c", blocker, str(ROOT / "examples" / "onnx_generate.py"),
            "--mapping", str(sg2_onnx["mapping"].path), "--synthesis", str(sg2_onnx["synthesis"].path),
            "--seeds", "1,2", "--mix", "3,4,5", "--styles", "coarse", "--trunc", "0.7", "--out", str(out)]
    run = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    with PIL.Image.open(out) as image:
        grid = np.asarray(image)
    assert grid.shape == (3 * 32, 4 * 32, 3)
    ws_a = stylegan.latent.seeds_to_ws(sg2, [1, 2], truncation_psi=0.7)
    ws_b = stylegan.latent.seeds_to_ws(sg2, [3, 4, 5], truncation_psi=0.7)
    with torch.no_grad():
        cell = to_uint8(sg2.synthesis(mix(ws_a[1:2], ws_b[2:3], style_ranges(sg2)["coarse"])))[0]
        top = to_uint8(sg2.synthesis(ws_b[:1]))[0]
    for got, expected in ((grid[64:96, 96:128], cell), (grid[0:32, 32:64], top)):
        assert np.abs(got.astype(int) - expected.astype(int)).max() <= 1


# --- TorchScript -----------------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("name,part", [("sg2_skip_32.pkl", "full"), ("sg2_skip_32.pkl", "synthesis"),
                                       ("sg3t_32.pkl", "full"), ("sg3t_32.pkl", "mapping")])
def test_torchscript_fixture_parts_match_pytorch(name, part, tmp_path):
    G = stylegan.load(DATA / name)
    result = export_generator(G, tmp_path / "g.pt", "torchscript", ExportSpec(part=part))
    has_transform = G.generation == 3 and part != "mapping"
    extra = (torch.eye(3),) if has_transform else ()
    for batch in (1, 3):
        z = seeds_z(G, range(20, 20 + batch))
        with torch.no_grad():
            ws = G.mapping(z, None, truncation_psi=0.7)
            ws = mix(ws, ws.roll(1, dims=0), range(G.num_ws // 2, G.num_ws))
        if part == "mapping":
            compute, args = (lambda dtype: G.mapping(z.to(dtype), None, truncation_psi=0.7)), (z, torch.tensor(0.7))
        elif part == "synthesis":
            compute, args = (lambda dtype: G.synthesis(ws.to(dtype))), (ws,)
        else:
            compute, args = (lambda dtype: G(z.to(dtype), None, truncation_psi=0.7)), (z, torch.tensor(0.7))
        assert_correct_float32(ts_run(result.path, *args, *extra), G, compute)


@pytest.mark.parametrize("generation", [1, 3])
def test_torchscript_random_models(generation, tmp_path):
    G = random_generator(generation)
    result = export_generator(G, tmp_path / "g.pt", "torchscript", ExportSpec(part="full", truncation_psi=0.5))
    extra = (torch.eye(3),) if generation == 3 else ()
    for batch in (1, 3):
        z = seeds_z(G, range(batch))
        assert_correct_float32(ts_run(result.path, z, *extra), G,
                               lambda dtype: G(z.to(dtype), None, truncation_psi=0.5))


@pytest.mark.slow
def test_torchscript_fp16(sg2, tmp_path):
    result = export_generator(sg2, tmp_path / "half.pt", "torchscript", ExportSpec(part="full", precision="fp16"))
    print(f"fp16 TorchScript generator: max abs difference {max(result.diffs.values()):.2e}")
    z = seeds_z(sg2, [5, 6])
    assert_correct_float16(ts_run(result.path, z, torch.tensor(1.0)), sg2, lambda dtype: sg2(z.to(dtype), None))


@pytest.mark.slow
@pytest.mark.parametrize("noise_mode", ["const", "none"])
def test_torchscript_noise_modes(sg2, noise_mode, tmp_path):
    G = copy.deepcopy(sg2)
    for layer in G.synthesis.noise_layers():
        layer.noise_strength.data.fill_(0.5)  # strong noise, so const and none differ clearly
    result = export_generator(G, tmp_path / "g.pt", "torchscript", ExportSpec(part="synthesis", noise_mode=noise_mode))
    ws = stylegan.latent.seeds_to_ws(G, [3, 4])
    other_mode = "none" if noise_mode == "const" else "const"
    got = ts_run(result.path, ws)
    assert_correct_float32(got, G, lambda dtype: G.synthesis(ws.to(dtype), noise_mode=noise_mode))
    with pytest.raises(AssertionError, match="beyond the rounding bound"):
        assert_correct_float32(got, G, lambda dtype: G.synthesis(ws.to(dtype), noise_mode=other_mode))


# --- verification and errors -------------------------------------------------------------------------------------


def test_failed_verification_writes_nothing(sg2, tmp_path):
    with pytest.raises(ExportVerificationError, match="differs from PyTorch"):
        export_generator(sg2, tmp_path / "g.pt", "torchscript", ExportSpec(part="mapping"), tolerance=-1)
    assert list(tmp_path.iterdir()) == []


def run_cli(*args):
    return CliRunner().invoke(cli, ["export", *[str(a) for a in args]], catch_exceptions=False)


@pytest.mark.slow
def test_cli_export_prints_files_inputs_and_verification(tmp_path):
    out = tmp_path / "sub" / "sg3.pt"
    result = run_cli("--network", DATA / "sg3t_32.pkl", "--format", "torchscript", "--out", out,
                     "--part", "synthesis", "--batch", "2", "--seeds", "5")
    assert result.exit_code == 0, result.output
    assert "inputs   ws [2, 16, 64], transform [3, 3]" in result.output
    assert "outputs  img [2, 3, 32, 32]" in result.output
    assert "max abs difference to PyTorch" in result.output and "at batch 2" in result.output
    assert sorted(p.name for p in out.parent.iterdir()) == ["sg3.pt", "sg3.pt.json"]
    assert json.loads((tmp_path / "sub" / "sg3.pt.json").read_text())["source"] == "sg3t_32.pkl"


@pytest.mark.parametrize("args,message", [
    (["--part", "synthesis", "--trunc", "0.7"], "synthesis part takes ws"),
    (["--part", "synthesis", "--trunc-cutoff", "4"], "synthesis part takes ws"),
    (["--batch", "0"], "--batch must be a positive number"),
    (["--batch", "many"], "--batch must be a positive number"),
    (["--part", "mapping", "--precision", "fp16"], "mapping network always computes in float32"),
    (["--trunc", "nan"], "finite"),
    (["--trunc-cutoff", "99"], "between 0 and num_ws"),
    (["--seeds", "x"], "cannot parse seeds"),
    (["--noise-mode", "random"], "Invalid value for '--noise-mode'"),
    (["--format", "tflite"], "Invalid value for '--format'"),
])
def test_cli_export_unsupported_combinations(tmp_path, args, message):
    base = {"--network": DATA / "sg2_skip_32.pkl", "--format": "torchscript", "--out": tmp_path / "g.pt"}
    for flag in args[::2]:
        base.pop(flag, None)
    result = run_cli(*[v for kv in base.items() for v in kv], *args)
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "g.pt").exists()


def test_cli_export_missing_network(tmp_path):
    result = run_cli("--network", tmp_path / "nope.pkl", "--format", "onnx", "--out", tmp_path / "g.onnx")
    assert result.exit_code != 0
    assert "nope.pkl: no such file" in result.output
    assert list(tmp_path.iterdir()) == []
