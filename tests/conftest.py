"""Shared test helpers: the reference data, tiny random networks, and the float32 rounding bound that every
comparison with outputs of the official code uses."""
from __future__ import annotations

import contextlib
import math
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"

U32 = 2.0 ** -24  # float32 unit roundoff: rounding a value changes it by at most this fraction of it
U64 = 2.0 ** -53  # the same for float64
U16 = 2.0 ** -11  # and for float16


def reference(path: Path) -> dict[str, np.ndarray]:
    """The arrays of a NAME_ref.npz file beside a NAME.pkl."""
    return dict(np.load(path.with_name(path.stem + "_ref.npz")))


def max_diff(a, b) -> float:
    """Largest absolute difference between two arrays/tensors."""
    a = a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)
    b = b.detach().cpu().numpy() if isinstance(b, torch.Tensor) else np.asarray(b)
    assert a.shape == b.shape, (a.shape, b.shape)
    return float(np.abs(a.astype(np.float64) - b.astype(np.float64)).max())


# -- the float32 rounding bound -------------------------------------------------------------------------------
#
# A float32 evaluation of a network differs from the exact value only by rounding. How large that error is
# depends on the computation (how many terms each sum adds, how much later layers amplify it: instance
# normalisation of nearly flat features amplifies a lot), not on the kernel that runs it. AVX2, AVX-512,
# AMX, ARM, oneDNN's Winograd or direct convolutions, TensorFlow or torch change the order of the sums, hence
# which elements err and in which direction, but not the error's scale: a sum of n terms errs by about
# sqrt(n) * U32 of their magnitude in any order (Higham & Mary, "A new approach to probabilistic rounding
# error analysis", 2019). So the bound is measured on the machine at hand:
# - our network evaluated in float64 stands for the exact value (its own error is 2^29 times smaller);
# - its distance to our float32 evaluation is one float32 rounding error of this very computation;
# - any other correct float32 evaluation (the official code, on whatever machine made the reference) lies
#   within FACTOR times that of the exact value. FACTOR = 4 covers the spread between two realisations of a
#   maximum over thousands of elements (measured ratios official/ours: 0.8 to 1.2 on every reference file);
#   a floor of one sum of n terms, sqrt(n) * U32 * max|exact| with n the largest fan-in, keeps a machine
#   whose float32 happens to be very accurate from shrinking the bound below what rounding can give.
# Comparing the official output with our float64 value (not with our float32 one) means a wrong gain,
# epsilon, filter tap or layer order moves our value while the bound stays at rounding size: it fails.
# That bound is taken from our own float32 error, so a fault that only our float32 path has (a stray cast
# to a lower precision, a float32-only kernel) would widen it: our float32 output is therefore also compared
# with the official float32 output directly, within a bound taken from the official output's own distance
# to the exact value (see `direct_float32_bound`), which a fault of ours cannot widen.
FACTOR = 4


@contextlib.contextmanager
def float64_evaluation(*nets: torch.nn.Module) -> Iterator[None]:
    """Evaluate `nets` in float64. Our networks pin float32 as the official ones do (`.to(torch.float32)`,
    default-dtype constants); inside this context that name and the default dtype mean float64. The
    networks are back in float32, bit for bit, afterwards (float32 -> float64 -> float32 is exact)."""
    float32 = torch.float32
    for net in nets:
        net.double()
    torch.float32 = torch.float64
    torch.set_default_dtype(torch.float64)
    try:
        yield
    finally:
        torch.float32 = float32
        torch.set_default_dtype(float32)
        for net in nets:
            net.float()


def largest_fan_in(*nets: torch.nn.Module) -> int:
    """The longest sum in the networks: inputs per output of their largest weight."""
    return max(p[0].numel() for net in nets for p in net.parameters() if p.ndim >= 2)


def float32_bound(ours32: torch.Tensor, exact: torch.Tensor, fan_in: int) -> float:
    """How far a correct float32 evaluation of `exact` may lie from it (see the comment above)."""
    measured = float((ours32.double() - exact).abs().max())
    floor = math.sqrt(fan_in) * U32 * float(exact.abs().max())
    return FACTOR * max(measured, floor)


def direct_float32_bound(other32: np.ndarray | torch.Tensor, exact: torch.Tensor, fan_in: int) -> float:
    """How far a correct float32 evaluation may lie from `other32`, another correct one: each lies within
    FACTOR times the other's rounding error of the exact value, so within (1 + FACTOR) times `other32`'s
    error of it (with the same floor of one sum of n terms)."""
    other = torch.as_tensor(np.asarray(other32.detach().cpu() if isinstance(other32, torch.Tensor) else other32))
    measured = float((other.double() - exact.detach().cpu()).abs().max())
    floor = math.sqrt(fan_in) * U32 * float(exact.abs().max())
    return (1 + FACTOR) * max(measured, floor)


def reduced_precision_bound(ours32: torch.Tensor, exact: torch.Tensor, fan_in: int, unit: float) -> float:
    """The same bound for an evaluation whose layers round to a unit roundoff `unit` (2^-11 for float16):
    to first order a computation's rounding error scales with the unit roundoff, so this computation's
    measured float32 error times unit / U32, with the floor of one sum of n terms at that unit."""
    measured = float((ours32.double() - exact).abs().max())
    return FACTOR * max(measured * unit / U32, math.sqrt(fan_in) * unit * float(exact.abs().max()))


def assert_matches_to_rounding(compute: Callable[[torch.dtype], dict[str, torch.Tensor]],
                               expected: dict[str, np.ndarray], *nets: torch.nn.Module) -> dict[str, float]:
    """`compute(dtype)` (inputs cast to `dtype`) evaluated with `nets` in float32 and in float64 gives
    `expected` (float32 outputs of another implementation) within the float32 rounding bound, and our float32
    output lies within `direct_float32_bound` of `expected`; returns each output's difference from the
    float64 value as a fraction of its bound (for printing)."""
    fan_in = largest_fan_in(*nets)
    with torch.no_grad():
        ours32 = compute(torch.float32)
        with float64_evaluation(*nets):
            exact = compute(torch.float64)
    ratios = {}
    for key, value in exact.items():
        assert value.dtype == torch.float64, f"{key} was computed in {value.dtype}, not float64"
        bound = float32_bound(ours32[key], value, fan_in)
        diff = max_diff(value, expected[key])
        ratios[key] = diff / bound
        assert diff <= bound, f"{key}: differs by {diff:.3g} from the reference, beyond the rounding bound {bound:.3g}"
        direct = direct_float32_bound(expected[key], value, fan_in)
        diff32 = max_diff(ours32[key], expected[key])
        assert diff32 <= direct, f"{key}: our float32 output differs by {diff32:.3g} from the reference, beyond " \
                                 f"the bound {direct:.3g} set by the reference's own rounding"
    return ratios


@pytest.fixture(autouse=True)
def _deterministic():
    torch.manual_seed(0)
    yield


@pytest.fixture(autouse=True)
def _private_download_cache(tmp_path_factory, monkeypatch):
    """Every test sees an empty download cache and none of the settings of the machine it runs on (restored
    afterwards, also when a command line under test sets them)."""
    monkeypatch.setenv("STYLEGAN_CACHE", str(tmp_path_factory.mktemp("stylegan-cache")))
    for name in ("STYLEGAN_OFFLINE", "STYLEGAN_DOWNLOAD", "STYLEGAN_TIMEOUT", "STYLEGAN_THREADS"):
        monkeypatch.delenv(name, raising=False)
    # The command line's --precision auto picks by timing, which varies between runs; the suite compares the
    # command line's outputs with the official float32 arithmetic, and tests auto on its own.
    monkeypatch.setenv("STYLEGAN_PRECISION", "fp32")


@pytest.fixture(autouse=True)
def _own_folder_and_threads(tmp_path_factory, monkeypatch):
    """Every test runs in a folder of its own (nothing it writes by default lands in the checkout, and files
    already in the current folder, such as the quick start's out/, cannot disturb it), and with the thread
    count it started with."""
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)
