"""ADA: the augmentation pipeline (identity at p = 0, each transform's definition, the official outputs,
gradients) and the adaptive-p controller (direction, clamping, interval, resume, multi-process sums)."""
import math
import threading

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import DATA, U32, U64, max_diff

from stylegan.formats.safe_pickle import safe_load
from stylegan.ops import downsample2d, upsample2d
from stylegan.train.augment import PRESETS, SYM6, AdaController, AugmentPipe, band_filters

GEOMETRIC = ["xflip", "rotate90", "xint", "scale", "rotate", "aniso", "xfrac"]
COLOUR = ["brightness", "contrast", "lumaflip", "hue", "saturation"]
ALL = GEOMETRIC + COLOUR + ["imgfilter", "noise", "cutout"]


def smooth_images(n=2, channels=3, size=32, seed=0):
    """Band-limited test images in [-1, 1]: a few low-frequency cosines per channel."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    img = torch.zeros(n, channels, size, size)
    for fx in range(3):
        for fy in range(3):
            amp = torch.randn(n, channels, 1, 1, generator=g) / (1 + fx + fy)
            phase = torch.rand(n, channels, 1, 1, generator=g) * 2 * math.pi
            img += amp * torch.cos(2 * math.pi * (fx * xx + fy * yy) / size + phase)
    return img / img.abs().amax(dim=(1, 2, 3), keepdim=True)


def pipe_with(p=1.0, **kwargs):
    pipe = AugmentPipe(**kwargs)
    pipe.p.fill_(p)
    return pipe


# -- the pipeline -----------------------------------------------------------------------------------

def test_presets_are_the_official_ones():
    assert list(PRESETS) == ["blit", "geom", "color", "filter", "noise", "cutout", "bg", "bgc", "bgcf", "bgcfn",
                             "bgcfnc"]
    assert set(PRESETS["bgcfnc"]) == set(ALL)
    assert AugmentPipe.from_preset("bgc", xflip=0).xflip == 0
    with pytest.raises(ValueError, match="unknown augmentation preset"):
        AugmentPipe.from_preset("bgx")


def test_state_matches_an_official_pickle():
    with open(DATA / "sg2_cond_orig_32.pkl", "rb") as f:
        official = safe_load(f)["augment_pipe"]
    buffers = official.state["_buffers"]
    pipe = AugmentPipe(**official.state["_init_kwargs"])
    assert list(pipe.state_dict()) == list(buffers) == ["p", "Hz_geom", "Hz_fbank"]
    ours = pipe.state_dict()
    assert torch.equal(ours["p"], buffers["p"])
    # Hz_geom: float32 taps divided by their float32 sum (12 terms, in a CPU-dependent order); each value is
    # off by at most the sum's error plus its own rounding.
    geom = buffers["Hz_geom"]
    assert ((ours["Hz_geom"] - geom).abs() <= (12 + 1) * U32 * geom.abs()).all()
    # Hz_fbank: built in float64 (3 rounds of 7-tap convolutions of values below 1: under 64 roundings of
    # size U64), then rounded once to float32. Entries that are exactly 0 in theory come out at ~1e-16 with
    # CPU-dependent digits, so the float64 part is an absolute bound.
    fbank = buffers["Hz_fbank"].double()
    assert ((ours["Hz_fbank"].double() - fbank).abs() <= U32 * fbank.abs() + 64 * U64).all()
    pipe.load_state_dict(buffers)
    for name in ["xflip", "rotate90", "xint", "xint_max", "scale_std", "saturation_std", "imgfilter_bands"]:
        assert getattr(pipe, name) == official.state[name]


@pytest.mark.parametrize("preset", list(PRESETS))
@pytest.mark.parametrize("channels", [1, 3])
def test_p_zero_is_exactly_the_identity(preset, channels):
    x = torch.rand(4, channels, 24, 24) * 2 - 1
    assert torch.equal(pipe_with(0.0, **PRESETS[preset])(x), x)


@pytest.mark.parametrize("name", ALL)
def test_multiplier_zero_is_exactly_the_identity(name):
    x = torch.rand(3, 3, 16, 16) * 2 - 1
    others = {k: 1 for k in ALL if k != name}
    torch.manual_seed(5)
    with_zero = pipe_with(1.0, **others, **{name: 0})(x)
    torch.manual_seed(5)
    without = pipe_with(1.0, **others)(x)
    assert torch.equal(with_zero, without)  # the op is skipped, and draws no random numbers
    assert torch.equal(pipe_with(1.0, **{name: 0})(x), x)


@pytest.mark.parametrize("name", ALL)
def test_each_augmentation_changes_images_at_p1_and_keeps_them_sane(name):
    x = smooth_images(n=8)
    y = pipe_with(1.0, **{name: 1})(x)
    assert y.shape == x.shape and torch.isfinite(y).all()
    assert not torch.equal(y, x)
    if name in GEOMETRIC:  # moving pixels around (edges mirrored) keeps the average colour roughly
        shift = (y.mean(dim=(2, 3)) - x.mean(dim=(2, 3))).abs()
        assert shift.max() < 0.25 and shift.mean() < 0.05
    if name in COLOUR:
        assert y.abs().max() < 16


def test_untouched_samples_come_back_bit_for_bit():
    x = torch.rand(64, 3, 16, 16) * 2 - 1
    y = pipe_with(0.1, **PRESETS["bgcf"])(x)
    same = [torch.equal(a, b) for a, b in zip(x, y)]
    assert 5 < sum(same) < 30  # each of 16 draws spares a sample with probability about 0.9: 0.9^16 = 19%


def test_xint_is_an_integer_shift_with_mirrored_edges():
    x = torch.rand(2, 3, 16, 16)
    y = pipe_with(xint=1)(x, debug_percentile=0.75)  # t = 0.25 * xint_max = 1/16 of the size: one pixel
    expected = F.pad(x, [1, 0, 1, 0], mode="reflect")[..., :16, :16]
    assert max_diff(y, expected) < 1e-5


def test_xflip_and_rotate90_on_band_limited_images():
    # The blits run through the same wavelet resampling as every geometric op (as in the official code),
    # so they equal torch.flip / torch.rot90 up to the filters' small phase error on smooth images.
    x = smooth_images(size=64)
    assert max_diff(pipe_with(xflip=1)(x, debug_percentile=0.9), x.flip(3)) < 0.02
    assert max_diff(pipe_with(xflip=1)(x, debug_percentile=0.1), x) == 0
    for q, k in [(0.3, 1), (0.6, 2), (0.9, 3)]:
        assert max_diff(pipe_with(rotate90=1)(x, debug_percentile=q), torch.rot90(x, k, [2, 3])) < 0.02


def test_resampling_round_trip_is_the_identity():
    # Upsampling with an orthogonal wavelet's low-pass filter and downsampling with its mirror is the
    # identity away from the borders, for any image (not only band-limited ones).
    x = torch.rand(2, 3, 32, 32)
    f = AugmentPipe().Hz_geom
    y = downsample2d(upsample2d(x, f, up=2), f, down=2, flip_filter=True)
    assert max_diff(y[..., 6:-6, 6:-6], x[..., 6:-6, 6:-6]) < 1e-6
    assert abs(float(f.sum()) - 1) < 1e-6 and len(SYM6) == 12


def test_band_filters_sum_to_an_impulse():
    bank = band_filters()
    impulse = np.zeros(bank.shape[1])
    impulse[bank.shape[1] // 2] = 1
    assert bank.shape == (4, 43) and np.abs(bank.sum(axis=0) - impulse).max() < 1e-11


def test_colour_transforms_follow_their_definitions():
    x = torch.rand(32, 3, 8, 8) * 2 - 1
    grey = x.mean(dim=1, keepdim=True)
    chroma = (x - grey).flatten(1).norm(dim=1)
    d = pipe_with(brightness=1)(x) - x  # one offset per image
    assert max_diff(d, d[:, :1, :1, :1].expand_as(d)) < 1e-6 and d.abs().max() > 0
    r = pipe_with(contrast=1)(x) / x  # one factor per image
    assert max_diff(r, r[:, :1, :1, :1].expand_as(r)) < 1e-3
    y = pipe_with(lumaflip=1)(x)  # either unchanged, or the grey level negated, chroma kept
    flipped = torch.tensor([not torch.equal(a, b) for a, b in zip(x, y)])
    assert 0 < flipped.sum() < 32
    assert max_diff(y[flipped], (x - 2 * grey)[flipped]) < 1e-5
    for name in ["hue", "saturation"]:
        y = pipe_with(**{name: 1})(x)
        assert max_diff(y.mean(dim=1, keepdim=True), grey) < 1e-5  # the grey level is kept
        new_chroma = (y - y.mean(dim=1, keepdim=True)).flatten(1).norm(dim=1)
        if name == "hue":  # a rotation about the grey axis keeps the chroma length
            assert max_diff(new_chroma, chroma) < 1e-4
        else:  # saturation scales it by one factor per image
            factor = (y - grey) / (x - grey)
            assert max_diff(factor, factor[:, :1, :1, :1].expand_as(factor)) < 1e-2


@pytest.mark.parametrize("channels", [1, 2, 4])
def test_other_channel_counts_get_grey_level_colour_maps(channels):
    x = torch.rand(6, channels, 8, 8) * 2 - 1
    y = pipe_with(**PRESETS["color"])(x)
    assert y.shape == x.shape
    # Every channel of an image gets the same affine map; hue and saturation do not apply.
    torch.manual_seed(1)
    y = pipe_with(brightness=1, contrast=1)(x)
    gain = (y[:, :, 0, 0] - y[:, :, 0, 1]) / (x[:, :, 0, 0] - x[:, :, 0, 1])
    assert max_diff(gain, gain[:, :1].expand_as(gain)) < 1e-3
    assert max_diff(pipe_with(lumaflip=1)(x, debug_percentile=0.9), -x) < 1e-6
    assert pipe_with(**PRESETS["bgcfnc"])(x).shape == x.shape


def test_cutout_zeroes_a_centred_square_and_nothing_else():
    x = torch.rand(2, 3, 16, 16) + 1
    y = pipe_with(cutout=1)(x, debug_percentile=0.5)
    assert (y[..., 4:12, 4:12] == 0).all()
    mask = torch.ones(16, 16, dtype=torch.bool)
    mask[4:12, 4:12] = False
    assert torch.equal(y[..., mask], x[..., mask])


def test_noise_adds_per_image_gaussian_noise():
    x = torch.zeros(16, 3, 32, 32)
    y = pipe_with(noise=1)(x)
    std = y.flatten(1).std(dim=1)
    assert (std > 0).all() and std.max() < 0.6


@pytest.mark.parametrize("case", ["bgc_rgb_p1_seed1", "bgcfnc_rgb_p06_seed2", "bgc_gray_p1_seed3",
                                  "bgcfc_rgb_q03", "bgcfc_rgb_q085"])
def test_same_seed_same_output_as_the_official_pipeline(case):
    # tests/data/augment_ref.npz: the official AugmentPipe's outputs for these inputs and seeds (see
    # tests/data/README.md). The debug-percentile cases do not depend on the random number stream.
    ref = np.load(DATA / "augment_ref.npz")[case]
    rs = np.random.RandomState(0)
    rgb = torch.from_numpy((rs.rand(4, 3, 24, 24) * 2 - 1).astype(np.float32))
    gray = torch.from_numpy((rs.rand(4, 1, 24, 24) * 2 - 1).astype(np.float32))
    spec, image, p, seed, q = {
        "bgc_rgb_p1_seed1": ("bgc", rgb, 1.0, 1, None),
        "bgcfnc_rgb_p06_seed2": ("bgcfnc", rgb, 0.6, 2, None),
        "bgc_gray_p1_seed3": ("bgc", gray, 1.0, 3, None),
        "bgcfc_rgb_q03": ("bgcf", rgb, 1.0, 0, 0.3),
        "bgcfc_rgb_q085": ("bgcf", rgb, 1.0, 0, 0.85),
    }[case]
    kwargs = dict(PRESETS[spec], cutout=1) if case.startswith("bgcfc") else PRESETS[spec]
    torch.manual_seed(seed)
    out = pipe_with(p, **kwargs)(image, debug_percentile=q)
    assert max_diff(out, ref) < 1e-4 * max(1.0, float(np.abs(ref).max()))


def test_gradients_flow_through_every_stage():
    x = (torch.rand(4, 3, 16, 16) * 2 - 1).requires_grad_(True)
    pipe_with(**PRESETS["bgcfnc"])(x).square().sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_gradients_are_exact_including_second_order():
    # Deterministic settings (debug percentile) in float64; second order is what R1 through D(aug(x)) needs.
    x = torch.rand(1, 3, 8, 8, dtype=torch.float64, requires_grad=True)
    pipe = pipe_with(**dict(PRESETS["bgcf"], cutout=1))

    def fn(images):
        return pipe(images, debug_percentile=0.3)

    assert torch.autograd.gradcheck(fn, (x,), eps=1e-6, atol=1e-6, fast_mode=True)
    assert torch.autograd.gradgradcheck(fn, (x,), eps=1e-6, atol=1e-6, fast_mode=True)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu_on_deterministic_settings():
    x = smooth_images()
    pipe = pipe_with(**dict(PRESETS["bgcf"], cutout=1))
    cpu = pipe(x, debug_percentile=0.7)
    gpu = pipe.cuda()(x.cuda(), debug_percentile=0.7)
    assert max_diff(gpu, cpu) < 1e-4


# -- the adaptive controller ------------------------------------------------------------------------

def run_controller(ctrl, r_t, iterations, batch=64):
    """Feed `iterations` minibatches of real logits whose mean sign is `r_t`."""
    for _ in range(iterations):
        positive = int(round((1 + r_t) / 2 * batch))
        ctrl.accumulate(torch.tensor([1.0] * positive + [-1.0] * (batch - positive)))
        ctrl.step(batch)


def test_controller_moves_p_as_published():
    pipe = pipe_with(0.0)
    ctrl = AdaController(pipe)  # target 0.6, every 4 minibatches, 500 kimg per unit of p
    run_controller(ctrl, 1.0, 3)
    assert ctrl.p == 0  # nothing before the 4th minibatch
    run_controller(ctrl, 1.0, 1)  # D overfits: r_t = 1 > 0.6
    step = 64 * 4 / 500_000
    assert ctrl.p == float(torch.tensor(0.0) + step) and ctrl.last_signs == 1.0
    run_controller(ctrl, 0.8, 4 * 99)
    assert abs(ctrl.p - 100 * step) < 1e-6
    run_controller(ctrl, 0.5, 4 * 30)  # r_t < target: p falls
    assert abs(ctrl.p - 70 * step) < 1e-6


def test_controller_never_goes_below_zero_and_holds_at_the_target():
    pipe = pipe_with(0.0003)
    ctrl = AdaController(pipe)
    run_controller(ctrl, -0.5, 4 * 5)
    assert ctrl.p == 0
    pipe.p.fill_(0.25)
    run_controller(ctrl, 0.6, 4 * 5, batch=80)  # r_t == target exactly: sign 0, no change
    assert ctrl.p == 0.25 and ctrl.last_signs == 0.6


def test_controller_is_not_clamped_above_one():
    pipe = pipe_with(0.9999)
    run_controller(AdaController(pipe, kimg=1), 1.0, 4)
    assert float(pipe.p) > 1


def test_controller_state_resumes_exactly():
    a = AdaController(pipe_with(0.1))
    run_controller(a, 0.9, 6)  # one adjustment, then two minibatches into the next interval
    state = a.state_dict()
    assert state["batches"] == 2 and state["count"] == 128
    b = AdaController(pipe_with(0.5))
    b.load_state_dict(state)
    for ctrl in (a, b):
        run_controller(ctrl, 0.2, 2)  # completes the interval: r_t = (0.9 + 0.9 + 0.2 + 0.2) / 4 = 0.55
        run_controller(ctrl, 0.9, 9)
    assert a.p == b.p and a.state_dict() == b.state_dict()


def test_controller_sums_statistics_over_processes():
    # Two "processes" (threads) each see half of every minibatch; `reduce` is an all-reduce over them.
    # Their p must equal that of one process that sees the whole minibatches.
    barrier, slots = threading.Barrier(2), [None, None]

    def make_reduce(rank):
        def reduce(t):
            slots[rank] = t.clone()
            barrier.wait()
            total = slots[0] + slots[1]
            barrier.wait()
            return total
        return reduce

    g = torch.Generator().manual_seed(3)
    batches = [torch.randn(16, 1, generator=g) + 0.3 * math.sin(i / 5) for i in range(64)]
    single = AdaController(pipe_with(0.2), kimg=10)
    for logits in batches:
        single.accumulate(logits)
        single.step(16)

    shards = [AdaController(pipe_with(0.2), kimg=10, reduce=make_reduce(r)) for r in range(2)]
    states = [None, None]

    def worker(rank):
        for logits in batches:
            shards[rank].accumulate(logits[rank::2])
            shards[rank].step(16)
        states[rank] = shards[rank].state_dict()

    threads = [threading.Thread(target=worker, args=(r,)) for r in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert single.p != 0.2 and shards[0].p == shards[1].p == single.p
    assert states[0] == states[1] == single.state_dict()


def test_controller_ignores_nan_logits_and_empty_intervals():
    pipe = pipe_with(0.5)
    ctrl = AdaController(pipe, interval=1)
    ctrl.step(64)  # no statistics: p unchanged
    assert ctrl.p == 0.5
    ctrl.accumulate(torch.tensor([float("nan"), 1.0, 1.0]))
    ctrl.step(3)
    assert ctrl.last_signs == pytest.approx(2 / 3) and ctrl.p > 0.5
