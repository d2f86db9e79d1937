"""`precision='auto'`: the fastest precision for a network on this machine, found by measurement.

Which precision is fastest depends on the processor, not on the network alone: StyleGAN2 at 256² ran 1.5x
faster in bfloat16 than in float32 on an AVX512-BF16 CPU where StyleGAN3-T ran 1.8x slower in it. So the
first time a network configuration runs at a batch size on a device, each candidate (float32; bfloat16 and
float16 where the processor has units for them) renders the same ws once to warm up and twice timed, and
the fastest whose 8-bit output stays within MIN_PSNR of float32's is kept, a reduced precision only when
it beats float32 by MIN_GAIN (timings vary by a few percent from call to call; rounding is not worth that).
The decision is cached (in the cache folder, keyed by processor, torch version, configuration and batch)
and reused from then on; a candidate outside the bound is never chosen, however fast. Networks without
reduced-precision layers (StyleGAN1, `num_fp16_res=0`) compute the same in every mode: float32, unmeasured.
"""
from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import asdict, dataclass, field
from typing import Callable

import torch
from torch import nn

from ..runtime import device_name, read_record, write_record

MIN_PSNR = 40.0  # dB of the 8-bit output against float32 (at most about 2.5 levels of RMS difference)
IDENTICAL = 100.0  # the PSNR recorded for outputs that equal float32's
MIN_GAIN = 1.1  # how much faster than float32 a reduced precision must be to be chosen
TIMED_CALLS = 2
CACHE_FILE = "precision.json"


@dataclass
class Choice:
    """What `choose` decided: the precision, and per candidate its seconds per call and PSNR against fp32."""
    precision: str
    seconds: dict[str, float] = field(default_factory=dict)
    psnr: dict[str, float] = field(default_factory=dict)
    cached: bool = False


def candidates(device: torch.device) -> list[str]:
    """The precisions worth timing on `device`: float32, and the reduced ones it has units for."""
    if device.type == "cuda":
        return ["fp32", "fp16"] + (["bf16"] if torch.cuda.is_bf16_supported() else [])
    found = ["fp32"]
    if device.type == "cpu" and torch.ops.mkldnn._is_mkldnn_bf16_supported():
        found.append("bf16")
    if device.type == "cpu" and getattr(torch.ops.mkldnn, "_is_mkldnn_fp16_supported", lambda: False)():
        found.append("fp16")
    return found


def cache_key(G: nn.Module, batch: int, device: torch.device) -> str:
    """Processor, torch version, the network's configuration (its architecture record) and the batch."""
    config = json.dumps({"class": type(G).__name__, "config": getattr(G, "config", None)}, sort_keys=True,
                        default=str)
    digest = hashlib.sha256(config.encode()).hexdigest()[:16]
    return f"{device_name(device)} | torch {torch.__version__} | {type(G).__name__} {digest} | batch {batch}"


def _psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    """PSNR in dB between two images in [-1, 1] as the 8-bit files would hold them."""
    def to8(x):
        return (x.float() * 127.5 + 128).clamp(0, 255).floor()
    mse = float((to8(a) - to8(b)).square().mean())
    return IDENTICAL if mse == 0 else min(10 * math.log10(255 ** 2 / mse), IDENTICAL)


def _time(render: Callable[[], torch.Tensor], device: torch.device) -> tuple[float, torch.Tensor]:
    out = render()  # warm-up (first-call allocations, kernel selection)
    best = math.inf
    for _ in range(TIMED_CALLS):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        out = render()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        best = min(best, time.perf_counter() - start)
    return best, out


def choose(G: nn.Module, batch: int = 1, configure: Callable[[nn.Module, str], None] | None = None,
           options: list[str] | None = None, use_cache: bool = True) -> Choice:
    """The fastest precision for G at `batch` on its device whose output is within MIN_PSNR of float32's;
    measured once and cached. `configure(G, name)` puts G in a candidate's precision (default: setting
    `G.synthesis.precision`); `options` replaces the candidates (both for tests)."""
    device = next(G.parameters()).device
    if options is None and not any(getattr(m, "use_fp16", False) for m in G.synthesis.modules()):
        return Choice("fp32")
    key = cache_key(G, batch, device)
    if use_cache and options is None:
        record = read_record(CACHE_FILE).get(key)
        if isinstance(record, dict) and record.get("precision") in candidates(device):
            return Choice(**{**record, "cached": True})
    configure = configure or (lambda net, name: setattr(net.synthesis, "precision", name))
    previous = G.synthesis.precision
    generator = torch.Generator().manual_seed(0)
    z = torch.randn([batch, G.z_dim], generator=generator).to(device)
    c = torch.zeros([batch, G.c_dim], device=device)
    if G.c_dim:
        c[:, 0] = 1
    with torch.no_grad():
        ws = G.mapping(z, c, truncation_psi=0.7)
        choice = Choice("fp32")
        reference = None
        try:
            for name in ["fp32"] + [n for n in options or candidates(device) if n != "fp32"]:
                configure(G, name)
                seconds, image = _time(lambda: G.synthesis(ws, noise_mode="const"), device)
                reference = image if reference is None else reference
                choice.seconds[name], choice.psnr[name] = seconds, _psnr(image, reference)
        finally:
            configure(G, previous)
    allowed = [n for n in choice.seconds if choice.psnr[n] >= MIN_PSNR and
               (n == "fp32" or choice.seconds[n] * MIN_GAIN <= choice.seconds["fp32"])]
    choice.precision = min(allowed, key=choice.seconds.__getitem__)
    if use_cache and options is None:
        write_record(CACHE_FILE, {**read_record(CACHE_FILE), key: {k: v for k, v in asdict(choice).items()
                                                                    if k != "cached"}})
    return choice


__all__ = ["CACHE_FILE", "Choice", "MIN_GAIN", "MIN_PSNR", "cache_key", "candidates", "choose"]
