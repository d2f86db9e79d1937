"""Metrics end to end: generator and dataset passes, the statistics cache, PPL on a toy generator with a
known path length, reports, and the `stylegan metrics` command."""
import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from conftest import DATA
from test_dataset import write_dataset
from torch import nn

import stylegan
from stylegan.cli import cli
from stylegan.data.dataset import ImageDataset
from stylegan.data.toonfaces import toonface
from stylegan.errors import InputError
from stylegan.metrics import (
    MetricOptions,
    calc_metric,
    frechet_distance,
    kernel_distance,
    precision_recall,
    report_metric,
)
from stylegan.metrics.ppl import compute_ppl
from stylegan.nets import VGG16, InceptionV3


class PoolFeatures(nn.Module):
    """A cheap stand-in detector: 4x4 average-pooled pixels; counts the images it sees."""

    def __init__(self, fingerprint="pool-v1"):
        super().__init__()
        self.fingerprint = fingerprint
        self.seen = 0

    def forward(self, images):
        self.seen += len(images)
        return nn.functional.adaptive_avg_pool2d(images.float(), 4).flatten(1)


@pytest.fixture(scope="module")
def G():
    return stylegan.load(DATA / "sg2_skip_32.pkl")


@pytest.fixture
def dataset_zip(tmp_path):
    rng = np.random.RandomState(0)
    write_dataset(tmp_path / "data.zip", [rng.randint(0, 256, (32, 32, 3), dtype=np.uint8) for _ in range(12)],
                  as_zip=True)
    return tmp_path / "data.zip"


def _opts(G, dataset_zip, tmp_path, **kwargs):
    return MetricOptions(G=G, dataset_kwargs=dict(path=dataset_zip, resolution=32), cache_dir=tmp_path / "cache",
                         progress=False, num_workers=0, **kwargs)


def _generated_features(G, detector, n, seed=0):
    """The generator pass written out: latents from a seeded generator, four at a time, random noise
    inputs from the seeded global generator, the official uint8 conversion."""
    z_gen = torch.Generator().manual_seed(seed)
    feats = []
    with torch.random.fork_rng(), torch.no_grad():
        torch.manual_seed(seed)
        for _ in range(-(-n // 4)):
            img = G(torch.randn([4, G.z_dim], generator=z_gen), None, noise_mode="random")
            feats.append(detector((img * 127.5 + 128).clamp(0, 255).to(torch.uint8)))
    return torch.cat(feats)[:n].numpy().astype(np.float64)


def test_fid_end_to_end_equals_a_direct_computation(G, dataset_zip, tmp_path):
    detector = PoolFeatures()
    result = calc_metric("fid50k_full", _opts(G, dataset_zip, tmp_path, inception=detector), num_gen=10)
    ds = ImageDataset(dataset_zip)
    real = detector(torch.from_numpy(np.stack([ds[i][0] for i in range(len(ds))]))).numpy().astype(np.float64)
    gen = _generated_features(G, detector, 10)
    expected = frechet_distance(gen.mean(0), np.cov(gen, rowvar=False, bias=True),
                                real.mean(0), np.cov(real, rowvar=False, bias=True))
    assert result["results"]["fid50k_full"] == pytest.approx(expected, rel=1e-4)
    assert result["metric"] == "fid50k_full" and result["num_gpus"] == 1 and result["sample_overrides"] == {"num_gen": 10}


def test_kid_end_to_end_equals_a_direct_computation(G, dataset_zip, tmp_path):
    detector = PoolFeatures()
    result = calc_metric("kid50k_full", _opts(G, dataset_zip, tmp_path, inception=detector, seed=3), num_gen=12)
    ds = ImageDataset(dataset_zip)
    real = detector(torch.from_numpy(np.stack([ds[i][0] for i in range(len(ds))]))).numpy()
    gen = _generated_features(G, detector, 12, seed=3).astype(np.float32)
    expected = kernel_distance(real, gen, 100, 1000, np.random.RandomState(3))
    assert result["results"]["kid50k_full"] == pytest.approx(expected, rel=1e-5)


def test_dataset_statistics_are_cached_by_content_and_options(G, dataset_zip, tmp_path):
    detector = PoolFeatures()
    opts = _opts(G, dataset_zip, tmp_path, inception=detector)
    first = calc_metric("fid50k_full", opts, num_gen=4)["results"]["fid50k_full"]
    assert detector.seen == 12 + 4 and len(list((tmp_path / "cache").glob("data-inception-*.npz"))) == 1
    second = calc_metric("fid50k_full", opts, num_gen=4)["results"]["fid50k_full"]
    assert detector.seen == 12 + 4 + 4 and second == pytest.approx(first, rel=1e-12)   # hit: only generated images
    calc_metric("fid50k_full", opts, num_gen=4, max_real=8)   # other options: miss
    assert detector.seen == 20 + 8 + 4
    opts.inception = PoolFeatures("pool-v2")                  # other detector weights: miss
    calc_metric("fid50k_full", opts, num_gen=4)
    assert opts.inception.seen == 16
    rng = np.random.RandomState(1)                            # same name, other content: miss
    dataset_zip.unlink()
    write_dataset(dataset_zip, [rng.randint(0, 256, (32, 32, 3), dtype=np.uint8) for _ in range(12)], as_zip=True)
    calc_metric("fid50k_full", opts, num_gen=4)
    assert opts.inception.seen == 32 and len(list((tmp_path / "cache").glob("*.npz"))) == 4
    fresh = PoolFeatures()
    calc_metric("fid50k_full", _opts(G, dataset_zip, tmp_path / "off", inception=fresh, cache=False), num_gen=4)
    assert fresh.seen == 16 and not (tmp_path / "off").exists()


def test_precision_recall_end_to_end_equals_a_direct_computation(G, dataset_zip, tmp_path):
    detector = PoolFeatures()
    result = calc_metric("pr50k3_full", _opts(G, dataset_zip, tmp_path, vgg16=detector), num_gen=8)["results"]
    ds = ImageDataset(dataset_zip)
    real = detector(torch.from_numpy(np.stack([ds[i][0] for i in range(len(ds))])))
    gen = torch.from_numpy(_generated_features(G, detector, 8).astype(np.float32))
    precision, recall = precision_recall(real, gen, nhood_size=3)
    assert result == {"pr50k3_full_precision": precision, "pr50k3_full_recall": recall}


class _Mapping(nn.Module):
    def forward(self, z, c):
        return z.to(torch.float64)[:, None, :].repeat(1, 2, 1)


class _Synthesis(nn.Module):
    def __init__(self, A):
        super().__init__()
        self.register_buffer("A", A)

    def forward(self, ws, noise_mode="const", force_fp32=False):
        return (ws[:, 0] @ self.A.T).reshape(-1, 3, 4, 4)


class LinearToy(nn.Module):
    """img = A w: a generator whose perceptual path length is known in closed form when the
    'perceptual' distance is the plain squared distance of the pixels."""
    z_dim, c_dim, img_resolution, img_channels = 6, 0, 4, 3

    def __init__(self):
        super().__init__()
        self.mapping = _Mapping()
        self.synthesis = _Synthesis(torch.randn(48, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(1)))


class PixelDistance(nn.Module):
    def lpips_features(self, img):
        return img.flatten(1)


def test_ppl_of_a_linear_generator_has_the_closed_form(tmp_path):
    G = LinearToy()
    opts = MetricOptions(G=G, vgg16=PixelDistance(), seed=5, progress=False)
    got = compute_ppl(opts, num_samples=10, epsilon=1e-4, space="w", sampling="end", crop=False, batch_size=2)[""]
    # d(img)/d(t) along the path is A (w1 - w0), scaled by 255/2 for the [0, 255] range; epsilon cancels.
    gen = torch.Generator().manual_seed(5)
    dist = []
    for _ in range(5):
        torch.rand(2, generator=gen)
        z0, z1 = torch.randn(4, 6, generator=gen).to(torch.float64).chunk(2)
        dist += list(((z1 - z0) @ G.synthesis.A.T * 127.5).square().sum(1).numpy())
    dist = np.array(dist)
    lo, hi = np.percentile(dist, 1, method="lower"), np.percentile(dist, 99, method="higher")
    assert got == pytest.approx(dist[(dist >= lo) & (dist <= hi)].mean(), rel=1e-6)
    # The path is straight, so measuring anywhere along it ('full') gives the same lengths.
    full = compute_ppl(opts, num_samples=10, epsilon=1e-4, space="w", sampling="full", crop=False, batch_size=2)[""]
    assert full == pytest.approx(got, rel=1e-6)


def test_ppl2_wend_runs_on_a_stylegan2_network(G, tmp_path):
    vgg = VGG16().eval()
    vgg.has_lpips = True
    opts = MetricOptions(G=G, vgg16=vgg, progress=False)
    first = calc_metric("ppl2_wend", opts, num_gen=4)["results"]["ppl2_wend"]
    assert np.isfinite(first) and first > 0
    assert calc_metric("ppl2_wend", opts, num_gen=4)["results"]["ppl2_wend"] == first


def test_metrics_that_need_a_dataset_say_so(G):
    with pytest.raises(InputError, match="--data"):
        calc_metric("fid50k_full", MetricOptions(G=G, inception=PoolFeatures(), progress=False), num_gen=4)
    with pytest.raises(InputError, match="unknown metric"):
        calc_metric("fid1k", MetricOptions(G=G))


def test_report_writes_official_jsonl_lines(tmp_path):
    result = dict(results={"fid50k_full": 3.5}, metric="fid50k_full", total_time=1.0, total_time_str="1s", num_gpus=1)
    line = report_metric(result, run_dir=tmp_path, snapshot_pkl=tmp_path / "network-snapshot-000100.pkl")
    report_metric(result, run_dir=tmp_path, snapshot_pkl=tmp_path / "network-snapshot-000200.pkl")
    rows = [json.loads(r) for r in (tmp_path / "metric-fid50k_full.jsonl").read_text().splitlines()]
    assert json.loads(line) == rows[0] and len(rows) == 2
    assert rows[1]["snapshot_pkl"] == "network-snapshot-000200.pkl" and rows[1]["results"] == {"fid50k_full": 3.5}
    assert set(rows[0]) == {"results", "metric", "total_time", "total_time_str", "num_gpus", "snapshot_pkl", "timestamp"}


def _scaled_random_state(net: nn.Module) -> dict:
    """Random convolution weights with variance 2 / fan-in, so that features keep their scale through
    the network (PyTorch's default initialisation shrinks them to nearly zero)."""
    gen = torch.Generator().manual_seed(0)
    state = net.state_dict()
    for name, t in state.items():
        if name.endswith("conv.weight"):
            t.copy_(torch.randn(t.shape, generator=gen) * (2 / t[0].numel()) ** 0.5)
    return state


def _run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.mark.slow
def test_metrics_command_writes_jsonl_and_a_table(tmp_path, dataset_zip, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("STYLEGAN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("STYLEGAN_INCEPTION", raising=False)
    network = DATA / "sg2_skip_32.pkl"
    result = _run("metrics", "--network", network, "--data", dataset_zip, "--metrics", "fid50k_full",
                  "--num-gen", 4, "--run-dir", tmp_path / "run", "--device", "cpu", "--workers", 0)
    assert result.exit_code != 0 and "pt_inception-2015-12-05-6726825d.pth" in result.output
    assert "Traceback" not in result.output
    hub = tmp_path / "torch" / "hub" / "checkpoints"
    hub.mkdir(parents=True)
    torch.save(_scaled_random_state(InceptionV3()), hub / "pt_inception-2015-12-05-6726825d.pth")
    result = _run("metrics", "--network", network, "--data", dataset_zip, "--metrics", "kid50k_full,eqt50k_int",
                  "--num-gen", 4, "--max-real", 4, "--run-dir", tmp_path / "run", "--device", "cpu", "--workers", 0)
    assert result.exit_code == 0, result.output
    kid = json.loads((tmp_path / "run" / "metric-kid50k_full.jsonl").read_text())
    eqt = json.loads((tmp_path / "run" / "metric-eqt50k_int.jsonl").read_text())
    assert kid["metric"] == "kid50k_full" and kid["sample_overrides"] == {"num_gen": 4, "max_real": 4}
    assert np.isfinite(kid["results"]["kid50k_full"]) and kid["results"]["kid50k_full"] != 0
    assert eqt["sample_overrides"] == {"num_gen": 4} and eqt["results"]["eqt50k_int"] < 40
    table = [line for line in result.output.splitlines() if line.strip()][-3:]
    assert table[0].split() == ["metric", "value", "time"]
    assert table[1].split()[0] == "kid50k_full" and table[2].split()[0] == "eqt50k_int"
    assert len(list((tmp_path / "cache").glob("data-inception-*.npz"))) == 1


@pytest.mark.parametrize("args,message", [
    (["--metrics", "fid1k"], "unknown metric 'fid1k'"),
    (["--metrics", "fid50k_full", "--data", "missing.zip"], "no such dataset"),
    (["--metrics", "eqt50k_int", "--gpus", "2"], "CUDA GPUs"),
])
def test_metrics_command_bad_input(tmp_path, args, message, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("STYLEGAN_INCEPTION", str(tmp_path / "x.pth"))
    torch.save(InceptionV3().state_dict(), tmp_path / "x.pth")
    result = _run("metrics", "--network", DATA / "sg2_skip_32.pkl", "--device", "cpu", *args)
    assert result.exit_code != 0 and message in result.output and "Traceback" not in result.output


def test_fid_against_the_builtin_dataset(G, tmp_path):
    detector = PoolFeatures()
    opts = MetricOptions(G=G, dataset_kwargs=dict(path="builtin:toonfaces", resolution=32, max_size=12),
                         cache_dir=tmp_path / "cache", progress=False, num_workers=0, inception=detector)
    result = calc_metric("fid50k_full", opts, num_gen=10, max_real=12)
    real = detector(torch.from_numpy(np.stack([toonface(i, 32).transpose(2, 0, 1) for i in range(12)])))
    real = real.numpy().astype(np.float64)
    gen = _generated_features(G, detector, 10)
    expected = frechet_distance(gen.mean(0), np.cov(gen, rowvar=False, bias=True),
                                real.mean(0), np.cov(real, rowvar=False, bias=True))
    assert result["results"]["fid50k_full"] == pytest.approx(expected, rel=1e-4)
