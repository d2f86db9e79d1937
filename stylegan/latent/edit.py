"""Editing directions in W: SeFa, GANSpace, InterFaceGAN, and applying them to chosen layers.

Directions are unit vectors [K, w_dim]. Their files are read and written by `stylegan.io`
(`load_direction`, `save_directions`): `.npz` with `directions`, `scales` (one unit of strength along each
direction, e.g. the standard deviation for GANSpace), `values` and `method`; InterFaceGAN boundaries as
`.npy` [1, w_dim], the format of the published boundary files.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch import nn

from ..errors import InputError
from ..io.files import read_text
from .space import class_label, device_of, seeds_to_z


@dataclass
class Directions:
    """Unit directions [K, w_dim] with one strength unit each, the values that ranked them, and the method."""
    directions: np.ndarray
    scales: np.ndarray
    values: np.ndarray
    method: str


def style_affines_by_row(G: nn.Module) -> list[list[nn.Module]]:
    """For each ws row, the style affine layers that read it (found by tracing one synthesis pass): StyleGAN2
    and 3 name them `affine`, StyleGAN1 `style` (its AdaIN scales and biases)."""
    affines = [m for name, m in G.synthesis.named_modules() if name.rsplit(".", 1)[-1] in ("affine", "style")]
    ws = torch.randn(1, G.num_ws, G.w_dim, device=device_of(G))
    seen: dict[int, torch.Tensor] = {}

    def record(k: int):
        def hook(module, inputs, output) -> None:  # returns None: the output stays as it is
            seen.setdefault(k, inputs[0].detach())
        return hook
    hooks = [m.register_forward_hook(record(k)) for k, m in enumerate(affines)]
    try:
        with torch.no_grad():
            G.synthesis(ws)
    finally:
        for h in hooks:
            h.remove()
    rows: list[list[nn.Module]] = [[] for _ in range(G.num_ws)]
    for k, inp in seen.items():
        matches = [i for i in range(G.num_ws) if torch.equal(inp[0], ws[0, i])]
        if matches:
            rows[matches[0]].append(affines[k])
    return rows


def sefa(G: nn.Module, layers: Sequence[int] | None = None, num: int | None = None) -> Directions:
    """SeFa (closed-form factorisation): the eigenvectors of A^T A, where A stacks the style-affine weights of
    the chosen ws rows with every output channel's weight vector scaled to unit norm; largest first."""
    rows = style_affines_by_row(G)
    layers = list(range(G.num_ws)) if layers is None else list(layers)
    weights = [m.weight.detach().double().cpu() for i in layers for m in rows[i]]
    if not weights:
        raise InputError(f"no style layers read ws rows {layers}")
    a = torch.cat(weights)  # [sum of channels, w_dim]
    a = a / a.norm(dim=1, keepdim=True)
    values, vectors = torch.linalg.eigh(a.t() @ a)
    order = torch.argsort(values, descending=True)[:num]
    directions = vectors[:, order].t().numpy()
    return Directions(directions.astype(np.float32), np.ones(len(order), np.float32),
                      values[order].numpy().astype(np.float32), "sefa")


@torch.no_grad()
def ganspace(G: nn.Module, num_samples: int = 100_000, num: int | None = 64, batch_size: int = 10_000,
             seed: int = 0, class_idx: int | None = None) -> Directions:
    """GANSpace: principal components of mapped w samples, sorted by variance. The mean and covariance are
    accumulated batch by batch in float64, so a million samples need only w_dim² memory."""
    total = torch.zeros(G.w_dim, dtype=torch.float64)
    outer = torch.zeros(G.w_dim, G.w_dim, dtype=torch.float64)
    rng = np.random.RandomState(seed)
    for start in range(0, num_samples, batch_size):
        n = min(batch_size, num_samples - start)
        z = torch.from_numpy(rng.randn(n, G.z_dim)).float().to(device_of(G))
        w = G.mapping(z, class_label(G, class_idx, n))[:, 0].double().cpu()
        total += w.sum(0)
        outer += w.t() @ w
    mean = total / num_samples
    cov = (outer - num_samples * torch.outer(mean, mean)) / (num_samples - 1)
    values, vectors = torch.linalg.eigh(cov)
    order = torch.argsort(values, descending=True)[:num]
    variances = values[order].clamp_min(0)
    return Directions(vectors[:, order].t().numpy().astype(np.float32), variances.sqrt().numpy().astype(np.float32),
                      variances.numpy().astype(np.float32), "ganspace")


def project_out(primal: np.ndarray, conditions: Sequence[np.ndarray]) -> np.ndarray:
    """InterFaceGAN's conditional boundary: remove from `primal` its component in the span of the other
    boundaries, then renormalise (editing it leaves those attributes unchanged, to first order)."""
    p = primal.reshape(-1).astype(np.float64)
    if conditions:
        c = np.stack([np.asarray(b, np.float64).reshape(-1) for b in conditions], axis=1)
        p = p - c @ np.linalg.lstsq(c, p, rcond=None)[0]
    norm = np.linalg.norm(p)
    if norm < 1e-8:
        raise InputError("the boundary lies in the span of the conditions: nothing is left after projecting them out")
    return (p / norm)[None].astype(np.float32)


def fit_boundary(latents: np.ndarray, labels: np.ndarray, classifier: str = "auto", c: float = 1.0) -> np.ndarray:
    """A linear boundary [1, dim] (unit normal pointing to the positive class) separating binary labels.

    classifier: 'svm' (scikit-learn's LinearSVC, as InterFaceGAN), 'logistic' (L2-regularised logistic
    regression, no extra dependency) or 'auto' (svm when scikit-learn is installed).
    """
    x = np.asarray(latents, np.float64)
    y = np.asarray(labels).astype(int).reshape(-1)
    if set(np.unique(y)) != {0, 1}:
        raise InputError("InterFaceGAN needs both positive and negative examples (labels 0 and 1)")
    if classifier == "auto":
        try:
            import sklearn  # noqa: F401
            classifier = "svm"
        except ImportError:
            classifier = "logistic"
    if classifier == "svm":
        try:
            from sklearn.svm import LinearSVC
        except ImportError:
            raise InputError("the svm classifier needs scikit-learn (pip install scikit-learn), or use "
                             "--classifier logistic") from None
        normal = LinearSVC(C=c, max_iter=100_000).fit(x, y).coef_.reshape(-1)
    elif classifier == "logistic":
        normal = _logistic_regression(x, y, c)
    else:
        raise InputError(f"classifier must be svm, logistic or auto, got {classifier!r}")
    return (normal / np.linalg.norm(normal))[None].astype(np.float32)


def _logistic_regression(x: np.ndarray, y: np.ndarray, c: float) -> np.ndarray:
    mean, std = x.mean(0), x.std(0) + 1e-8
    xs = torch.from_numpy((x - mean) / std)
    ys = torch.from_numpy(y.astype(np.float64))
    w = torch.zeros(x.shape[1], dtype=torch.float64, requires_grad=True)
    b = torch.zeros((), dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([w, b], max_iter=500, line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        logits = xs @ w + b
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, ys) + 0.5 / (c * len(x)) * w.square().sum()
        loss.backward()
        return loss
    optimizer.step(closure)
    return (w.detach() / torch.from_numpy(std)).numpy()  # back to the unstandardised space


def read_scores(path: str | Path) -> tuple[list[int], np.ndarray]:
    """Seeds and scores (or 0/1 labels) from a CSV with columns `seed` and `score` (or `label`)."""
    path = Path(path)
    rows = list(csv.DictReader(io.StringIO(read_text(path, "scores"), newline="")))
    if not rows or "seed" not in rows[0] or not ({"score", "label"} & set(rows[0])):
        raise InputError(f"{path}: expected a CSV header with 'seed' and 'score' (or 'label') columns")
    key = "score" if "score" in rows[0] else "label"
    try:
        return [int(r["seed"]) for r in rows], np.array([float(r[key]) for r in rows])
    except ValueError as exc:
        raise InputError(f"{path}: unreadable value ({exc})") from None


def interfacegan(G: nn.Module, seeds: Sequence[int], scores: np.ndarray, ratio: float = 0.02,
                 classifier: str = "auto", conditions: Sequence[np.ndarray] = (), class_idx: int | None = None,
                 truncation_psi: float = 1.0) -> Directions:
    """InterFaceGAN: map the seeds to w, take the top and bottom `ratio` of the scores as positives and
    negatives (0/1 labels are used as they are), fit a linear boundary, optionally project out others."""
    scores = np.asarray(scores, np.float64)
    with torch.no_grad():
        z = seeds_to_z(seeds, G.z_dim, device_of(G))
        w = G.mapping(z, class_label(G, class_idx, len(seeds)), truncation_psi=truncation_psi)[:, 0].cpu().numpy()
    if set(np.unique(scores)) <= {0.0, 1.0}:
        latents, labels = w, scores.astype(int)
    else:
        k = max(1, int(round(len(scores) * ratio)))
        order = np.argsort(scores)
        latents = np.concatenate([w[order[-k:]], w[order[:k]]])
        labels = np.concatenate([np.ones(k, int), np.zeros(k, int)])
    boundary = project_out(fit_boundary(latents, labels, classifier), conditions)
    return Directions(boundary, np.ones(1, np.float32), np.zeros(1, np.float32), "interfacegan")


def apply_direction(ws: torch.Tensor, direction: torch.Tensor | np.ndarray, strength: float,
                    layers: Sequence[int] | None = None) -> torch.Tensor:
    """ws + strength * direction in the chosen ws rows (all rows when None); strength 0 is the identity."""
    d = torch.as_tensor(np.asarray(direction, np.float32) if not isinstance(direction, torch.Tensor) else direction)
    d = d.reshape(-1).to(ws.device, ws.dtype)
    if d.numel() != ws.shape[-1]:
        raise InputError(f"the direction has {d.numel()} values but this network's w has {ws.shape[-1]}")
    out = ws.clone()
    rows = list(range(ws.shape[1])) if layers is None else list(layers)
    out[:, rows] += strength * d
    return out
