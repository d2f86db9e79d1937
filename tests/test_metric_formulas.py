"""FID, KID, precision/recall and the PPL percentile filter against independent formulas and known values."""
import numpy as np
import pytest
import scipy.linalg
import torch

from stylegan.errors import InputError
from stylegan.metrics import FeatureStats, frechet_distance, kernel_distance, precision_recall, trimmed_mean


def _gaussian_stats(rng, n, d, shift=0.0):
    x = rng.randn(n, d) @ rng.randn(d, d) * 0.5 + shift
    stats = FeatureStats(capture_mean_cov=True, capture_all=True)
    for chunk in np.array_split(x, 3):
        stats.append(chunk)
    return x, stats


def test_feature_stats_mean_and_covariance_match_numpy():
    rng = np.random.RandomState(0)
    x, stats = _gaussian_stats(rng, 50, 6)
    mean, cov = stats.get_mean_cov()
    assert np.allclose(mean, x.astype(np.float32).mean(0), atol=1e-6)
    assert np.allclose(cov, np.cov(x.astype(np.float32).astype(np.float64), rowvar=False, bias=True), atol=1e-6)
    capped = FeatureStats(capture_all=True, max_items=7)
    capped.append(x[:5])
    capped.append(x[5:])
    assert capped.is_full() and capped.get_all().shape == (7, 6)


def test_fid_matches_a_direct_eigenvalue_computation():
    rng = np.random.RandomState(1)
    _, a = _gaussian_stats(rng, 400, 8)
    _, b = _gaussian_stats(rng, 300, 8, shift=0.3)
    (m1, s1), (m2, s2) = a.get_mean_cov(), b.get_mean_cov()
    # tr((s1 s2)^(1/2)) = sum of sqrt(eigenvalues of s1^(1/2) s2 s1^(1/2)), a symmetric PSD matrix.
    w, v = scipy.linalg.eigh(s1)
    root1 = v @ np.diag(np.sqrt(np.clip(w, 0, None))) @ v.T
    tr_sqrt = np.sqrt(np.clip(scipy.linalg.eigvalsh(root1 @ s2 @ root1), 0, None)).sum()
    expected = np.sum((m1 - m2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * tr_sqrt
    assert frechet_distance(m1, s1, m2, s2) == pytest.approx(expected, rel=1e-9)
    assert frechet_distance(m1, s1, m1, s1) == pytest.approx(0, abs=1e-8)


def test_fid_of_two_gaussians_with_a_shared_eigenbasis_has_a_closed_form():
    rng = np.random.RandomState(2)
    q, _ = np.linalg.qr(rng.randn(5, 5))
    lam1, lam2 = np.array([4.0, 1.0, 0.25, 9.0, 2.0]), np.array([1.0, 1.0, 1.0, 4.0, 0.5])
    mu1, mu2 = rng.randn(5), rng.randn(5)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(lam1) - np.sqrt(lam2)) ** 2)
    fid = frechet_distance(mu1, q @ np.diag(lam1) @ q.T, mu2, q @ np.diag(lam2) @ q.T)
    assert fid == pytest.approx(expected, rel=1e-9)


def _unbiased_mmd2(x, y):
    d = x.shape[1]
    k = lambda a, b: (a @ b.T / d + 1) ** 3  # noqa: E731
    m, n = len(x), len(y)
    kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
    return ((kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
            - 2 * kxy.mean())


def test_kid_equals_the_unbiased_mmd_when_subsets_are_the_whole_sets():
    rng = np.random.RandomState(3)
    real, gen = rng.randn(40, 16), rng.randn(40, 16) * 1.3 + 0.2
    expected = _unbiased_mmd2(gen, real)
    # Subsets of size n drawn without replacement are permutations; the estimate does not depend on order.
    assert kernel_distance(real, gen, num_subsets=3, max_subset_size=1000) == pytest.approx(expected, rel=1e-9)
    assert expected > 0.05


def test_kid_averages_the_mmd_of_random_subsets():
    rng = np.random.RandomState(4)
    real, gen = rng.randn(60, 8), rng.randn(50, 8) + 0.5
    draws = np.random.RandomState(9)
    expected = []
    for _ in range(4):
        x = gen[draws.choice(50, 20, replace=False)]
        y = real[draws.choice(60, 20, replace=False)]
        expected.append(_unbiased_mmd2(x, y))
    got = kernel_distance(real, gen, num_subsets=4, max_subset_size=20, rng=np.random.RandomState(9))
    assert got == pytest.approx(np.mean(expected), rel=1e-9)


def _clusters():
    # Real: cluster A (x = 0..49) and cluster B (x = 1000..1049) on a line. Generated: exact copies of A
    # and a tight cluster C far from both. Generated A covers real A only, so precision = recall = 0.5.
    a = np.stack([np.arange(50), np.zeros(50)], 1)
    real = np.concatenate([a, a + [1000, 0]])
    gen = np.concatenate([a, np.stack([np.full(50, 3000.0), np.arange(50) / 4], 1)])
    return torch.tensor(real, dtype=torch.float32), torch.tensor(gen, dtype=torch.float32)


def test_precision_and_recall_of_point_sets_with_known_overlap():
    real, gen = _clusters()
    assert precision_recall(real, gen, nhood_size=3) == (0.5, 0.5)
    assert precision_recall(real, real, nhood_size=3) == (1.0, 1.0)
    # Dropping cluster C from the generated set: every generated point is realistic, half the real ones covered.
    assert precision_recall(real, gen[:50], nhood_size=3) == (1.0, 0.5)


def test_precision_and_recall_do_not_depend_on_batching():
    rng = np.random.RandomState(5)
    real = torch.tensor(rng.randn(70, 12), dtype=torch.float32)
    gen = torch.tensor(rng.randn(60, 12) * 1.4, dtype=torch.float32)
    whole = precision_recall(real, gen, nhood_size=3)
    assert precision_recall(real, gen, nhood_size=3, row_batch_size=7, col_batch_size=11) == whole
    assert 0 < whole[0] < 1 and 0 < whole[1] < 1


def test_trimmed_mean_drops_values_outside_the_1st_to_99th_percentiles():
    values = np.arange(201, dtype=np.float64) ** 2  # 1st percentile (lower) = 2^2, 99th (higher) = 198^2
    expected = np.mean(np.arange(2, 199, dtype=np.float64) ** 2)
    assert trimmed_mean(values) == pytest.approx(expected, rel=1e-12)


def test_too_few_samples_are_refused_with_a_message():
    with pytest.raises(InputError, match="at least 2"):
        kernel_distance(np.zeros((1, 3)), np.zeros((5, 3)))
    with pytest.raises(InputError, match="more than 3 samples"):
        precision_recall(torch.zeros(3, 2), torch.zeros(5, 2), nhood_size=3)
