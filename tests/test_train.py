"""Training: every configuration runs, the regularisers equal direct recomputations, resume is exact, two
processes equal one, bad runs stop cleanly."""
import copy
import json
import math

import numpy as np
import PIL.Image
import pytest
import torch
import torch.nn.functional as F
from click.testing import CliRunner

import stylegan
from stylegan.cli import cli
from stylegan.train.log import open_stats, read_stats
from stylegan.train.loop import TrainingError, fade_lod, update_ema
from stylegan.train.loss import GANLoss
from stylegan.train.options import TrainOptions, build_networks, lod_at
from stylegan.train.run import train
from stylegan.train.snapshot import latest_snapshot, load_snapshot


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data")
    rng = np.random.RandomState(0)
    for i in range(24):
        base = rng.rand(1, 1, 3) * 255
        image = np.clip(base + rng.randn(16, 16, 3) * 30, 0, 255).astype(np.uint8)
        PIL.Image.fromarray(image).save(folder / f"img{i:03d}.png")
    return folder


def tiny(outdir, data, **overrides) -> TrainOptions:
    options = dict(outdir=str(outdir), data=str(data), cfg="stylegan2", batch=4, gamma=1.0, kimg=0.016, tick=0.008,
                   snap=1, aug="noaug", cbase=256, cmax=16, map_depth=2, workers=0, z_dim=16, w_dim=16)
    return TrainOptions(**{**options, **overrides})


def _weights(module):
    return {k: v.clone() for k, v in module.state_dict().items()}


@pytest.mark.slow
@pytest.mark.parametrize("cfg, bf16", [("stylegan2", False), ("stylegan3-t", False), ("stylegan3-r", False),
                                       ("stylegan1", False), ("stylegan3-r", True), ("stylegan1", True)])
def test_every_configuration_trains(tmp_path, data, cfg, bf16):
    extra = dict(cbase=1024, cmax=16) if cfg.startswith("stylegan3") else {}
    if cfg == "stylegan1":
        extra = dict(lod_kimg=0.004, lod_transition_kimg=0.004)
    opts = tiny(tmp_path, data, cfg=cfg, bf16=bf16, **extra)
    run_dir = train(opts, show_progress=False)
    snapshot = latest_snapshot(run_dir)
    assert snapshot is not None
    nets = stylegan.load_networks(snapshot)
    assert nets["G_ema"].img_resolution == 16
    with torch.no_grad():
        assert torch.isfinite(nets["G_ema"](torch.randn(2, nets["G_ema"].z_dim), None)).all()
    # Both networks learned: most of their parameter tensors moved away from the initial weights (the run
    # seeds them as here); zero or missing gradients would leave them where they started (Adam moves a
    # parameter only along a non-zero gradient).
    torch.manual_seed(opts.seed)
    initial = dict(zip(("G", "D"), build_networks(opts, 16, 3, 0)))
    for name, start in initial.items():
        trained = dict(nets[name].named_parameters())
        moved = [k for k, p in start.named_parameters() if not torch.equal(p, trained[k])]
        assert len(moved) >= 0.5 * len(trained), f"{name}: only {len(moved)} of {len(trained)} tensors trained"
    ticks = read_stats(run_dir)
    assert len(ticks) == 2 and all(math.isfinite(t["Loss/G/loss"]["mean"]) and math.isfinite(t["Loss/D/loss"]["mean"])
                                   for t in ticks)
    assert (run_dir / "reals.png").exists() and (run_dir / "fakes_init.png").exists()


def _tiny_gd():
    opts = tiny("x", "y")
    torch.manual_seed(0)
    return build_networks(opts, 16, 3, 0)


def test_r1_penalty_equals_direct_autograd():
    G, D = _tiny_gd()
    loss = GANLoss(G, D, r1_gamma=4.0)
    real = torch.randn(4, 3, 16, 16)
    c = torch.zeros(4, 0)
    D.requires_grad_(True)
    stats = loss.accumulate_gradients("Dreg", real, c, torch.randn(4, 16), c, gain=3.0, cur_nimg=0)
    ours = {n: p.grad.clone() for n, p in D.named_parameters() if p.grad is not None}
    D.zero_grad(set_to_none=True)
    x = real.clone().requires_grad_(True)
    grad = torch.autograd.grad(D(x, c).sum(), x, create_graph=True)[0]
    penalty = grad.square().sum([1, 2, 3])
    assert torch.allclose(stats["Loss/r1_penalty"], penalty.detach(), rtol=1e-5)
    (penalty * 2.0).mean().mul(3.0).backward()
    for name, g in ours.items():
        assert torch.allclose(g, dict(D.named_parameters())[name].grad, rtol=1e-4, atol=1e-7), name


def test_path_length_penalty_equals_direct_autograd():
    G, D = _tiny_gd()
    loss = GANLoss(G, D, pl_weight=2.0)
    loss.pl_mean = torch.tensor(0.5)
    z, c = torch.randn(4, 16), torch.zeros(4, 0)
    torch.manual_seed(7)
    stats = loss.accumulate_gradients("Greg", torch.zeros(4, 3, 16, 16), c, z, c, gain=1.0, cur_nimg=0)
    torch.manual_seed(7)
    ws = G.mapping(z[:2], c[:2])
    img = G.synthesis(ws, noise_mode="random")
    noise = torch.randn_like(img) / math.sqrt(16 * 16)
    grad = torch.autograd.grad((img * noise).sum(), ws)[0]
    lengths = grad.square().sum(2).mean(1).sqrt()
    mean = torch.tensor(0.5).lerp(lengths.mean(), 0.01)  # updated before the penalty, as the official loss
    assert torch.allclose(stats["Loss/pl_penalty"], (lengths - mean).square(), rtol=1e-4)
    assert torch.allclose(loss.pl_mean, mean, rtol=1e-5)


@pytest.mark.parametrize("phase", ["Gboth", "Dboth"])
def test_bf16_gradients_follow_fp32(phase):
    G, D = _tiny_gd()
    module = G if phase == "Gboth" else D
    module.requires_grad_(True)
    real, z, c = torch.randn(4, 3, 16, 16), torch.randn(4, 16), torch.zeros(4, 0)
    grads, stats = {}, {}
    for bf16 in (False, True):
        module.zero_grad(set_to_none=True)
        torch.manual_seed(3)
        loss = GANLoss(G, D, r1_gamma=4.0, pl_weight=2.0, style_mixing_prob=0.9, bf16=bf16)
        stats[bf16] = loss.accumulate_gradients(phase, real, c, z, c, gain=1.0, cur_nimg=0)
        grads[bf16] = torch.cat([p.grad.flatten() for p in module.parameters() if p.grad is not None])
        assert all(v.dtype == torch.float32 for v in stats[bf16].values())
    assert not torch.equal(grads[False], grads[True])  # the bf16 path really ran in bfloat16
    # bfloat16 keeps 8 mantissa bits: a few percent of gradient error, far below one minibatch's sampling noise
    assert F.cosine_similarity(grads[False], grads[True], dim=0) > 0.95
    for key, value in stats[False].items():
        assert torch.allclose(stats[True][key], value, rtol=0.1, atol=0.05), key


def test_ema_update_math():
    G, _ = _tiny_gd()
    G_ema = stylegan.StyleGAN2Generator(**G.config)
    before = _weights(G_ema)
    update_ema(G_ema, G, batch=32, cur_nimg=10_000, ema_kimg=10, rampup=None)
    beta = 0.5 ** (32 / 10_000)
    name = "mapping.fc0.weight"
    expected = dict(G.named_parameters())[name].detach().lerp(before[name], beta)
    assert torch.allclose(G_ema.state_dict()[name], expected)
    previous = G_ema.state_dict()[name].clone()
    update_ema(G_ema, G, batch=32, cur_nimg=100, ema_kimg=10, rampup=0.05)  # ramp-up: ema_nimg = 100 * 0.05
    expected = dict(G.named_parameters())[name].detach().lerp(previous, 0.5 ** (32 / 5))
    assert torch.allclose(G_ema.state_dict()[name], expected)


def test_lod_schedule_and_fade():
    opts = tiny("x", "y", lod_kimg=600, lod_transition_kimg=600)
    assert lod_at(opts, 64, 0) == 3 and lod_at(opts, 64, 600) == 3
    assert lod_at(opts, 64, 900) == 2.5 and lod_at(opts, 64, 1200) == 2 and lod_at(opts, 64, 10_000) == 0
    x = torch.arange(16.0).reshape(1, 1, 4, 4)
    assert torch.equal(fade_lod(x, 0), x)
    one = fade_lod(x, 1)
    assert torch.equal(one[..., :2, :2], torch.full((1, 1, 2, 2), x[..., :2, :2].mean()))
    assert torch.allclose(fade_lod(x, 0.5), 0.5 * x + 0.5 * one)


def test_resume_equals_uninterrupted_run(tmp_path, data):
    straight = train(tiny(tmp_path / "a", data, kimg=0.032, tick=0.016, snap=100), show_progress=False)
    first = train(tiny(tmp_path / "b", data, kimg=0.016, tick=0.016, snap=1), show_progress=False)
    resumed = train(tiny(tmp_path / "b", data, kimg=0.032, tick=0.016, snap=1, resume=str(first)),
                    show_progress=False)
    assert resumed == first  # a resumed run folder continues in place
    a, state_a = load_snapshot(straight)
    b, state_b = load_snapshot(first)
    assert state_a["progress"] == state_b["progress"] == {"cur_nimg": 32, "cur_tick": 2, "batch_idx": 8}
    for name in ("G", "D", "G_ema"):
        for key, value in a[name].state_dict().items():
            assert torch.equal(value, b[name].state_dict()[key]), (name, key)
    assert torch.equal(state_a["loss"]["pl_mean"], state_b["loss"]["pl_mean"])


def test_a_generator_only_checkpoint_starts_a_run_with_a_fresh_discriminator(tmp_path, data):
    """A file with G_ema alone (as builtin:demo ships) starts a new run: G and G_ema from it, D from scratch."""
    from stylegan.formats import native
    from stylegan.train.loop import _load_resume
    source = load_snapshot(train(tiny(tmp_path / "src", data, kimg=0.008, tick=0.008), show_progress=False))[0]
    only_g = tmp_path / "generator.safetensors"
    native.save_networks({"G_ema": source["G_ema"]}, only_g)
    opts = tiny(tmp_path / "new", data, resume=str(only_g), seed=1)
    torch.manual_seed(opts.seed)
    G, D = build_networks(opts, 16, 3, 0)
    G_ema, fresh_d, lines = copy.deepcopy(G), copy.deepcopy(D.state_dict()), []
    assert _load_resume(opts, G, D, G_ema, lines.append) is None  # no optimiser state: a new run
    for module in (G, G_ema):
        for key, value in source["G_ema"].state_dict().items():
            assert torch.equal(module.state_dict()[key], value), key
    assert all(torch.equal(D.state_dict()[k], v) for k, v in fresh_d.items())
    assert lines == [f"{only_g} holds no discriminator: D starts from scratch, G and G_ema from its generator"]
    run_dir = train(tiny(tmp_path / "new", data, resume=str(only_g)), show_progress=False, log=lines.append)
    assert latest_snapshot(run_dir) is not None
    # Other widths: what fits is copied and the rest counted; nothing fitting is refused.
    narrow = tiny(tmp_path / "narrow", data, resume=str(only_g), cmax=8)
    G, D = build_networks(narrow, 16, 3, 0)
    lines.clear()
    _load_resume(narrow, G, D, copy.deepcopy(G), lines.append)
    total = len(G.state_dict())
    copied = sum(torch.equal(v, source["G_ema"].state_dict()[k]) for k, v in G.state_dict().items()
                 if k in source["G_ema"].state_dict() and v.shape == source["G_ema"].state_dict()[k].shape)
    assert 0 < copied < total
    assert f"G: {copied} of its {total} tensors come from {only_g}, the others (another shape or name) start " \
           f"from scratch" in lines
    other = tiny(tmp_path / "other", data, resume=str(only_g), z_dim=24, w_dim=24, cmax=8)
    G, D = build_networks(other, 16, 3, 0)
    with pytest.raises(stylegan.errors.InputError, match="none of its generator's weights fit"):
        _load_resume(other, G, D, copy.deepcopy(G), lines.append)


def test_a_checkpoint_without_a_generator_is_refused_in_one_line(tmp_path, data):
    from stylegan.formats import native
    source = load_snapshot(train(tiny(tmp_path / "src", data, kimg=0.008, tick=0.008), show_progress=False))[0]
    only_d = tmp_path / "discriminator.safetensors"
    native.save_networks({"D": source["D"]}, only_d)
    with pytest.raises(stylegan.errors.CheckpointError, match="holds no generator"):
        train(tiny(tmp_path / "new", data, resume=str(only_d)), show_progress=False)


@pytest.mark.slow
def test_an_error_in_a_spawned_process_is_one_line(tmp_path, data):
    """With --gpus 2 the error is raised in the worker processes; the user still gets one line."""
    from stylegan.formats import native
    source = load_snapshot(train(tiny(tmp_path / "src", data, kimg=0.008, tick=0.008), show_progress=False))[0]
    only_d = tmp_path / "discriminator.safetensors"
    native.save_networks({"D": source["D"]}, only_d)
    result = CliRunner().invoke(cli, ["train", "--outdir", str(tmp_path / "new"), "--cfg", "stylegan2", "--data",
                                      str(data), "--batch", "8", "--gamma", "1", "--gpus", "2", "--resume",
                                      str(only_d), "--cbase", "256", "--cmax", "16", "--map-depth", "2",
                                      "--workers", "0", "--kimg", "0.008"])
    assert result.exit_code == 1, result.output
    assert "holds no generator (G or G_ema)" in result.output and "Traceback" not in result.output


@pytest.mark.slow
def test_two_processes_equal_one(tmp_path, data):
    one = train(tiny(tmp_path / "one", data, batch=8, batch_gpu=4, kimg=0.024, tick=0.024), show_progress=False)
    two = train(tiny(tmp_path / "two", data, batch=8, batch_gpu=4, gpus=2, kimg=0.024, tick=0.024),
                show_progress=False)
    # The logged losses (means over the global batch) agree to float rounding.
    import json
    stats = [json.loads((run / "stats.jsonl").read_text().splitlines()[0]) for run in (one, two)]
    for key in ("Loss/G/loss", "Loss/D/loss", "Loss/r1_penalty", "Loss/pl_penalty"):
        assert stats[0][key]["num"] == stats[1][key]["num"]
        assert abs(stats[0][key]["mean"] - stats[1][key]["mean"]) <= 1e-5 * max(1, abs(stats[0][key]["mean"]))
    # Parameters: gradients agree to rounding, but Adam turns near-zero gradients into full-size steps of
    # either sign, so the bound is two steps of the learning rate per update.
    a, _ = load_snapshot(one)
    b, _ = load_snapshot(two)
    worst = max(float((v - b[n].state_dict()[k]).abs().max()) for n in ("G", "D") for k, v in a[n].state_dict().items()
                if v.is_floating_point())
    print("max parameter difference, 2 processes vs 1:", worst)
    assert worst <= 2 * 0.002 * 3
    z = torch.randn(4, 16)
    with torch.no_grad():
        diff = (a["G_ema"](z, None) - b["G_ema"](z, None)).abs().max()
    print("max G_ema output difference:", float(diff))
    assert diff < 1e-4


@pytest.mark.slow
def test_stop_request_writes_a_snapshot_and_resumes(tmp_path, data):
    calls = {"n": 0}

    def stop():
        calls["n"] += 1
        return calls["n"] >= 3

    run_dir = train(tiny(tmp_path, data, kimg=1.0, tick=0.5, snap=100), show_progress=False, stop=stop)
    _, state = load_snapshot(run_dir)
    assert state["progress"]["batch_idx"] == 3
    train(tiny(tmp_path, data, kimg=0.02, resume=str(run_dir)), show_progress=False)
    _, state = load_snapshot(run_dir)
    assert state["progress"]["cur_nimg"] == 20


def test_a_run_resumes_in_bf16(tmp_path, data):
    run_dir = train(tiny(tmp_path, data, kimg=0.008, tick=0.008), show_progress=False)
    train(tiny(tmp_path, data, kimg=0.016, tick=0.008, bf16=True, resume=str(run_dir)), show_progress=False)
    _, state = load_snapshot(run_dir)
    assert state["progress"]["cur_nimg"] == 16 and state["options"]["bf16"] is True
    assert not state["options"]["fp32"]  # the saved options of the run are kept; only speed options change
    last = json.loads((run_dir / "stats.jsonl").read_text().splitlines()[-1])
    assert all(math.isfinite(v["mean"]) for k, v in last.items() if k.startswith("Loss/"))


def test_non_finite_losses_stop_the_run(tmp_path, data, monkeypatch):
    run_dir = train(tiny(tmp_path, data, kimg=0.008, tick=0.004, snap=1), show_progress=False)
    good = latest_snapshot(run_dir).read_bytes()
    original = GANLoss.accumulate_gradients

    def poisoned(self, *args, **kwargs):
        stats = original(self, *args, **kwargs)
        return {k: v * float("nan") for k, v in stats.items()}

    monkeypatch.setattr(GANLoss, "accumulate_gradients", poisoned)
    with pytest.raises(TrainingError, match="NaN or infinite"):
        train(tiny(tmp_path, data, kimg=0.016, resume=str(run_dir)), show_progress=False)
    assert latest_snapshot(run_dir).read_bytes() == good


def test_cli_train_and_options(tmp_path, data):
    runner = CliRunner()
    result = runner.invoke(cli, ["train", "--outdir", str(tmp_path), "--cfg", "stylegan2", "--data", str(data),
                                 "--batch", "4", "--gamma", "1", "--kimg", "0.008", "--tick", "0.004", "--snap", "1",
                                 "--aug", "noaug", "--cbase", "256", "--cmax", "16", "--map-depth", "2",
                                 "--workers", "0", "--mirror", "1"])
    assert result.exit_code == 0, result.output
    # Snapshots at 0.004 and 0.008 kimg: named by the exact kimg, so neither overwrites the other.
    assert "snapshot network-snapshot-000000.004.safetensors" in result.output
    assert "snapshot network-snapshot-000000.008.safetensors" in result.output
    run_dir = next(p for p in tmp_path.iterdir() if p.is_dir())
    assert latest_snapshot(run_dir).name == "network-snapshot-000000.008.safetensors"
    # The hint the run prints, as it is: the recorded options (ticks, workers, mirror) carry over.
    recorded = json.loads((run_dir / "training_options.json").read_text())
    result = runner.invoke(cli, ["train", "--resume", str(run_dir), "--kimg", "0.016"])
    assert result.exit_code == 0, result.output
    assert f"resuming {run_dir} with --kimg 0.016 (was 0.008)" in result.output
    assert "snapshot network-snapshot-000000.016.safetensors" in result.output
    assert json.loads((run_dir / "training_options.json").read_text()) == {**recorded, "kimg": 0.016,
                                                                           "resume": str(run_dir)}
    result = runner.invoke(cli, ["train", "--resume", str(run_dir), "--gamma", "5"])
    assert result.exit_code == 1 and "--gamma is part of the run being resumed (1.0)" in result.output
    result = runner.invoke(cli, ["train", "--cfg", "stylegan2", "--data", str(data)])
    assert result.exit_code == 2 and "Missing option '--outdir'" in result.output
    result = runner.invoke(cli, ["train", "--outdir", str(tmp_path), "--cfg", "stylegan2", "--data", str(data),
                                 "--batch", "6", "--gpus", "4", "--gamma", "1"])
    assert result.exit_code != 0 and "multiple of --gpus" in result.output
    result = runner.invoke(cli, ["train", "--outdir", str(tmp_path), "--cfg", "stylegan2", "--data",
                                 str(tmp_path / "nothing"), "--batch", "4", "--gamma", "1"])
    assert result.exit_code != 0 and "no such dataset" in result.output
    result = runner.invoke(cli, ["train", "--outdir", str(tmp_path), "--cfg", "stylegan3-r", "--data", str(data),
                                 "--batch", "32", "--gamma", "2", "--dry-run"])
    assert result.exit_code == 0 and '"cfg": "stylegan3-r"' in result.output


def test_generator_output_architecture_trains_and_resumes(tmp_path, data):
    """--g-arch orig builds a StyleGAN2 generator that paints RGB in its last block only; a resumed run
    keeps it from the run's saved options, and other configurations refuse it with a one-line error."""
    result = CliRunner().invoke(cli, ["train", "--outdir", str(tmp_path), "--cfg", "stylegan2", "--data", str(data),
                                      "--batch", "4", "--gamma", "1", "--kimg", "0.008", "--tick", "0.004",
                                      "--snap", "1", "--aug", "noaug", "--cbase", "256", "--cmax", "16",
                                      "--map-depth", "2", "--workers", "0", "--g-arch", "orig"])
    assert result.exit_code == 0, result.output
    run_dir = next(p for p in tmp_path.iterdir() if p.is_dir())
    resumed = train(TrainOptions(outdir="", data="", resume=str(run_dir), kimg=0.016), show_progress=False)
    assert resumed == run_dir
    G = stylegan.load(latest_snapshot(run_dir))
    blocks = [getattr(G.synthesis, f"b{res}") for res in G.synthesis.block_resolutions]
    assert [b.architecture for b in blocks] == ["orig"] * len(blocks)
    assert [hasattr(b, "torgb") for b in blocks] == [False] * (len(blocks) - 1) + [True]
    assert G.num_ws == 6
    with torch.no_grad():
        assert torch.isfinite(G(torch.randn(2, G.z_dim), None)).all()
    result = CliRunner().invoke(cli, ["train", "--outdir", str(tmp_path), "--cfg", "stylegan3-t", "--data",
                                      str(data), "--batch", "4", "--gamma", "1", "--g-arch", "orig", "--dry-run"])
    assert result.exit_code != 0 and "--g-arch orig applies to --cfg stylegan2 only" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("line, expected", [
    ("flags\t\t: fpu sse2 avx2 avx512f avx512bw avx512_vnni", False),
    ("flags\t\t: fpu avx2 avx512f avx512_bf16", True),
    ("flags\t\t: fpu avx2 amx_tile amx_bf16", True),
    ("Features\t: fp asimd sve bf16 i8mm", True),
    ("Features\t: fp asimd", False),
    ("model name\t: a CPU that lists no flags", None),
])
def test_cpu_bf16_units_are_read_from_the_flags(tmp_path, line, expected):
    from stylegan.runtime import cpu_has_bf16
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\n{line}\n")
    assert cpu_has_bf16(cpuinfo) is expected
    assert cpu_has_bf16(tmp_path / "absent") is None


@pytest.mark.parametrize("units, warned", [(False, True), (True, False), (None, False)])
def test_bf16_on_a_cpu_without_bf16_units_warns(tmp_path, data, monkeypatch, units, warned):
    from stylegan import runtime
    monkeypatch.setattr(runtime, "cpu_has_bf16", lambda: units)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    lines = []
    train(tiny(tmp_path, data, bf16=True), dry_run=True, log=lines.append)
    assert any("without bfloat16 units" in line for line in lines) == warned
    lines.clear()
    train(tiny(tmp_path, data, bf16=False), dry_run=True, log=lines.append)
    assert not any("bfloat16" in line for line in lines)


@pytest.mark.slow
def test_sigint_writes_a_snapshot_and_exits_cleanly(tmp_path, data):
    import signal
    import subprocess
    import sys
    import time
    cmd = [sys.executable, "-m", "stylegan.cli", "train", "--outdir", str(tmp_path), "--cfg", "stylegan2", "--data",
           str(data), "--batch", "4", "--gamma", "1", "--kimg", "1000", "--tick", "0.008", "--snap", "1000",
           "--aug", "noaug", "--cbase", "256", "--cmax", "16", "--map-depth", "2", "--workers", "0"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    deadline = time.time() + 120
    while time.time() < deadline:
        line = proc.stdout.readline()
        lines.append(line)
        if line.startswith("tick 1 "):
            break
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, "".join(lines) + out
    assert "stopped at kimg" in out and "Traceback" not in out
    run_dir = next(tmp_path.iterdir())
    _, state = load_snapshot(run_dir)
    assert state["progress"]["cur_tick"] >= 2


@pytest.mark.slow
def test_ada_moves_p_and_resumes_exactly(tmp_path, data):
    straight = train(tiny(tmp_path / "a", data, aug="ada", ada_kimg=0.01, kimg=0.032, tick=0.016, snap=100),
                     show_progress=False)
    first = train(tiny(tmp_path / "b", data, aug="ada", ada_kimg=0.01, kimg=0.016, tick=0.016, snap=1),
                  show_progress=False)
    train(tiny(tmp_path / "b", data, aug="ada", ada_kimg=0.01, kimg=0.032, resume=str(first)), show_progress=False)
    a, state_a = load_snapshot(straight)
    b, state_b = load_snapshot(first)
    assert state_a["augment_p"] > 0  # D scores reals above the 0.6 target early on: p rises
    assert state_a["augment_p"] == state_b["augment_p"]
    for key, value in a["D"].state_dict().items():
        assert torch.equal(value, b["D"].state_dict()[key]), key


@pytest.mark.slow
def test_fixed_augmentation_keeps_p(tmp_path, data):
    run_dir = train(tiny(tmp_path, data, aug="fixed", p=0.3), show_progress=False)
    _, state = load_snapshot(run_dir)
    assert abs(state["augment_p"] - 0.3) < 1e-6
    with pytest.raises(stylegan.StyleGANError, match="--augpipe"):
        train(tiny(tmp_path, data, aug="fixed", augpipe="sepia"), show_progress=False)


def test_a_torn_log_line_left_by_a_kill_is_skipped_and_isolated(tmp_path):
    whole = {"Progress/kimg": 0.1, "Loss/G/loss": {"mean": 1.0}}
    (tmp_path / "stats.jsonl").write_text(json.dumps(whole) + "\n" + '{"Progress/kimg": 0.2, "Loss/G')
    with open_stats(tmp_path) as log:  # a resumed run appends its next tick
        log.write(json.dumps({"Progress/kimg": 0.3}) + "\n")
    assert read_stats(tmp_path) == [whole, {"Progress/kimg": 0.3}]
