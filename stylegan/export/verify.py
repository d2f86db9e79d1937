"""Checking an exported file against PyTorch: the same seeds through both, the largest difference.

The reference is the generator as a Python user runs it (`G.mapping`, `G.synthesis`, `G(...)`, with a
StyleGAN3 transform stored in the input layer), on the CPU in float32. The synthesis is checked with
style-mixed ws (W+), a StyleGAN3 part with a non-identity transform, truncation with psi = 0.7.
"""
from __future__ import annotations

import contextlib
from typing import Callable, Iterator, Sequence

import numpy as np
import torch
from torch import nn

from ..errors import StyleGANError
from ..latent.generate import input_transform
from ..latent.space import mix, seeds_to_z
from .parts import Part, has_input_transform

VERIFY_PSI = 0.7
VERIFY_TRANSFORM = dict(translate=(0.125, -0.0625), rotate=10.0)
Runner = Callable[[str, dict], np.ndarray]


def verification_inputs(part: Part, seeds: Sequence[int]) -> dict[str, torch.Tensor]:
    """The exported part's inputs for `seeds`, by name, in input order."""
    G = part.G
    z = seeds_to_z(seeds, G.z_dim)
    c = torch.zeros([len(seeds), G.c_dim])
    if G.c_dim > 0:
        c[range(len(seeds)), [s % G.c_dim for s in seeds]] = 1
    values = {"z": z, "c": c, "truncation_psi": torch.tensor(VERIFY_PSI),
              "transform": torch.from_numpy(input_transform(**VERIFY_TRANSFORM)).to(torch.float32)}
    if any(spec.name == "ws" for spec in part.inputs):
        with torch.no_grad():
            ws = G.mapping(z, c if G.c_dim > 0 else None, truncation_psi=VERIFY_PSI)
        values["ws"] = mix(ws, ws.roll(1, dims=0), range(G.num_ws // 2, G.num_ws))
    return {spec.name: values[spec.name] for spec in part.inputs}


@contextlib.contextmanager
def stored_transform(G: nn.Module, transform: torch.Tensor | None) -> Iterator[None]:
    """Temporarily store a StyleGAN3 input transform in G, as `set_input_transform` does."""
    if transform is None:
        yield
        return
    saved = G.synthesis.input.transform.clone()
    G.synthesis.input.transform.copy_(transform)
    try:
        yield
    finally:
        G.synthesis.input.transform.copy_(saved)


@torch.no_grad()
def reference_output(G: nn.Module, part: Part, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
    """What plain PyTorch computes for the inputs (G on the CPU, float32)."""
    spec = part.spec
    c = inputs.get("c")
    psi = float(inputs["truncation_psi"]) if "truncation_psi" in inputs else spec.truncation_psi
    truncation = dict(truncation_psi=psi, truncation_cutoff=spec.truncation_cutoff)
    if spec.part == "mapping":
        return G.mapping(inputs["z"], c, **truncation)
    transform = inputs.get("transform") if has_input_transform(G) else None
    with stored_transform(G, transform):
        if spec.part == "synthesis":
            return G.synthesis(inputs["ws"], noise_mode=spec.noise_mode)
        return G(inputs["z"], c, noise_mode=spec.noise_mode, **truncation)


def verify(G: nn.Module, part: Part, path: str, run: Runner, seeds: Sequence[int]) -> dict[int, float]:
    """Run the exported file on `seeds` and compare with PyTorch: {batch size: max abs difference}.

    A dynamic batch axis is checked with all seeds at once and with the first seed alone; a fixed batch
    with that many samples (seeds repeated as needed).
    """
    seeds = list(seeds)
    if part.spec.batch is not None:
        batches = [[seeds[i % len(seeds)] for i in range(part.spec.batch)]]
    else:
        batches = [seeds] + ([seeds[:1]] if len(seeds) > 1 else [])
    diffs = {}
    for batch in batches:
        inputs = verification_inputs(part, batch)
        expected = reference_output(G, part, inputs).numpy()
        got = run(path, {name: value.numpy() for name, value in inputs.items()})
        if got.shape != expected.shape:
            raise StyleGANError(f"the exported model returned shape {list(got.shape)} for a batch of {len(batch)}; "
                                f"PyTorch gives {list(expected.shape)}")
        diff = float(np.abs(got.astype(np.float64) - expected).max())
        diffs[len(batch)] = diff if np.isfinite(diff) else float("inf")  # NaN or inf outputs fail any tolerance
    return diffs
