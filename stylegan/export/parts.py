"""What gets exported: the export settings, and the generator parts as modules with tensor-only inputs.

Each part takes its inputs positionally, in the order of `Part.inputs`, and returns one tensor. The
synthesis runs its non-fused formulation (one shared convolution per layer), so the graph is the same
for every batch size, and the noise is baked in (the stored constants) or left out.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch
from torch import nn

from ..errors import InputError
from ..latent.space import class_label
from ..models.precision import configure
from . import NOISE_MODES, PARTS, PRECISIONS

MAX_BATCH = 4096  # a fixed batch axis; the check runs the graph on this many latents


@dataclass(frozen=True)
class ExportSpec:
    """What to export. `batch=None` gives a dynamic batch axis; `truncation_psi=None` makes psi an input."""

    part: str = "full"
    batch: int | None = None
    precision: str = "fp32"
    truncation_psi: float | None = None
    truncation_cutoff: int | None = None
    noise_mode: str = "const"

    def check(self, G: nn.Module) -> None:
        """Raise InputError for settings this generator cannot be exported with."""
        for name, value, choices in (("part", self.part, PARTS), ("precision", self.precision, PRECISIONS),
                                     ("noise mode", self.noise_mode, NOISE_MODES)):
            if value not in choices:
                raise InputError(f"unknown {name} {value!r}; choose one of {', '.join(choices)}")
        if self.batch is not None and not 1 <= self.batch <= MAX_BATCH:
            raise InputError(f"batch must be a number from 1 to {MAX_BATCH} or 'dynamic', got {self.batch}")
        truncates = self.truncation_psi is not None or self.truncation_cutoff is not None
        if self.part == "synthesis" and truncates:
            raise InputError("the synthesis part takes ws, so it cannot truncate: truncate the ws before (w_avg is "
                             "in the sidecar JSON), or export the mapping or full part with --trunc")
        if self.truncation_psi is not None and not math.isfinite(self.truncation_psi):
            raise InputError(f"truncation psi must be a finite number, got {self.truncation_psi}")
        if self.truncation_cutoff is not None and not 0 <= self.truncation_cutoff <= G.num_ws:
            raise InputError(f"truncation cutoff must be between 0 and num_ws={G.num_ws}, got "
                             f"{self.truncation_cutoff}")
        if self.precision == "fp16":
            if self.part == "mapping":
                raise InputError("the mapping network always computes in float32 (it is small, and w needs the "
                                 "range); export it with --precision fp32")
            if not any(hasattr(m, "use_fp16") for m in G.synthesis.modules()):
                raise InputError(f"StyleGAN{G.generation} has no float16 layers; export it with --precision fp32")
        if float(getattr(G.synthesis, "lod", 0)) != 0:
            raise InputError("this StyleGAN1 snapshot is still growing (lod "
                             f"{float(G.synthesis.lod):g}); export a network trained to full resolution")


@dataclass(frozen=True)
class TensorSpec:
    """An input or output of an exported graph; 'batch' in `shape` marks the batch axis."""

    name: str
    shape: tuple
    dtype: str = "float32"

    @property
    def batched(self) -> bool:
        return "batch" in self.shape


def has_input_transform(G: nn.Module) -> bool:
    """Whether the synthesis takes a 3x3 input transform (StyleGAN3's Fourier features)."""
    return hasattr(G.synthesis, "input")


class Part(nn.Module):
    """One exportable part of a private, CPU, eval-mode copy of G, configured by an ExportSpec."""

    def __init__(self, G: nn.Module, spec: ExportSpec):
        super().__init__()
        spec.check(G)
        self.spec = spec
        self.G = configure(copy.deepcopy(G).cpu().eval().requires_grad_(False), spec.precision)
        if hasattr(self.G.synthesis, "progressive"):
            self.G.synthesis.progressive = False  # lod is 0 (checked): a fixed graph without reading the buffer
        if spec.precision == "fp16":
            for module in self.G.synthesis.modules():
                if hasattr(module, "use_fp16"):
                    module.use_fp16 = True
        batch = "batch" if spec.batch is None else spec.batch
        G = self.G
        inputs = []
        if spec.part == "synthesis":
            inputs.append(TensorSpec("ws", (batch, G.num_ws, G.w_dim)))
        else:
            inputs.append(TensorSpec("z", (batch, G.z_dim)))
            if G.c_dim > 0:
                inputs.append(TensorSpec("c", (batch, G.c_dim)))
            if spec.truncation_psi is None:
                inputs.append(TensorSpec("truncation_psi", ()))
        if spec.part != "mapping" and has_input_transform(G):
            inputs.append(TensorSpec("transform", (3, 3)))
        self.inputs = tuple(inputs)
        if spec.part == "mapping":
            self.outputs = (TensorSpec("ws", (batch, G.num_ws, G.w_dim)),)
        else:
            self.outputs = (TensorSpec("img", (batch, G.img_channels, G.img_resolution, G.img_resolution)),)

    def forward(self, *args: torch.Tensor) -> torch.Tensor:
        named = dict(zip([spec.name for spec in self.inputs], args))
        ws = named["ws"] if "ws" in named else self.map(named["z"], named.get("c"), named.get("truncation_psi"))
        if self.spec.part == "mapping":
            return ws
        kwargs = {"input_transform": named["transform"]} if "transform" in named else {}
        return self.G.synthesis(ws, noise_mode=self.spec.noise_mode, fused_modconv=False, **kwargs)

    def map(self, z: torch.Tensor, c: torch.Tensor | None, psi: torch.Tensor | None) -> torch.Tensor:
        """ws from z and c, truncated with the constant psi of the spec or the `psi` input."""
        cutoff = self.spec.truncation_cutoff
        if psi is None:
            return self.G.mapping(z, c, truncation_psi=self.spec.truncation_psi, truncation_cutoff=cutoff)
        ws = self.G.mapping(z, c)
        w_avg = self.G.mapping.w_avg
        if cutoff is None:
            return w_avg.lerp(ws, psi)
        return torch.cat([w_avg.lerp(ws[:, :cutoff], psi), ws[:, cutoff:]], dim=1)

    def example_inputs(self, batch: int | None = None) -> tuple[torch.Tensor, ...]:
        """Inputs for tracing: a batch of `batch` (default: the fixed batch, or 2 for a dynamic axis)."""
        batch = batch or self.spec.batch or 2
        G = self.G
        gen = torch.Generator().manual_seed(0)
        values = {
            "z": lambda: torch.randn([batch, G.z_dim], generator=gen),
            "c": lambda: class_label(G, 0).repeat(batch, 1),
            "truncation_psi": lambda: torch.tensor(0.7),
            "transform": lambda: torch.eye(3),
            "ws": lambda: G.mapping.w_avg.repeat(batch, G.num_ws, 1) + torch.randn([batch, G.num_ws, G.w_dim],
                                                                                   generator=gen),
        }
        return tuple(values[spec.name]() for spec in self.inputs)
