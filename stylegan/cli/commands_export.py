"""`stylegan export`: ONNX and TorchScript generators for deployment, checked against PyTorch."""
from __future__ import annotations

from pathlib import Path

import click

from ..errors import InputError
from ..export import DEFAULT_TOLERANCE, FORMATS, NOISE_MODES, PARTS, PRECISIONS
from ..hub.builtin import DEMO
from ..io.outputs import check_outputs
from ..latent.seeds import parse_seeds
from .common import cli, user_errors

PART_NAMES = {"mapping": "mapping network", "synthesis": "synthesis network", "full": "generator (z -> image)"}


def parse_batch(text: str) -> int | None:
    """'dynamic' -> None (a dynamic batch axis); 'N' -> N."""
    if text.strip().lower() == "dynamic":
        return None
    try:
        batch = int(text)
    except ValueError:
        raise InputError(f"--batch must be a positive number or 'dynamic', got {text!r}") from None
    if batch < 1:
        raise InputError(f"--batch must be a positive number or 'dynamic', got {text!r}")
    return batch


def _shape(shape: tuple) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


@cli.command("export")
@click.option("--network", default=DEMO, show_default=True, help="Checkpoint: NVIDIA .pkl or native .safetensors")
@click.option("--format", "fmt", type=click.Choice(FORMATS), required=True, help="onnx or torchscript")
@click.option("--out", required=True, type=click.Path(), help="Output file; its sidecar is OUT.json")
@click.option("--part", type=click.Choice(PARTS), default="full", show_default=True,
              help="mapping (z -> ws), synthesis (ws -> image) or full (z -> image)")
@click.option("--batch", default="dynamic", show_default=True, help="Batch size N, or dynamic")
@click.option("--precision", type=click.Choice(PRECISIONS), default="fp32", show_default=True,
              help="What the synthesis layers compute in")
@click.option("--trunc", "truncation_psi", type=float, default=None,
              help="Bake truncation psi in as a constant (default: psi is an input)")
@click.option("--trunc-cutoff", "truncation_cutoff", type=int, default=None, help="Truncate only the first N ws")
@click.option("--noise-mode", type=click.Choice(NOISE_MODES), default="const", show_default=True,
              help="Bake the stored noise in, or leave noise out")
@click.option("--seeds", default="0-2", show_default=True, help="Seeds the exported model is checked with")
@click.option("--tolerance", type=float, default=None,
              help=f"Largest accepted abs difference to PyTorch [default: {DEFAULT_TOLERANCE['fp32']:g} for fp32, "
                   f"{DEFAULT_TOLERANCE['fp16']:g} for fp16]")
@click.option("--no-verify", is_flag=True, help="Skip running the exported model")
@user_errors
def export(network: str, fmt: str, out: str, part: str, batch: str, precision: str, truncation_psi: float | None,
           truncation_cutoff: int | None, noise_mode: str, seeds: str, tolerance: float | None,
           no_verify: bool) -> None:
    """Export the mapping, the synthesis or the whole generator to ONNX or TorchScript, run it on a few seeds,
    and fail if it differs from PyTorch by more than the tolerance."""
    from .. import hub
    from ..export import ExportSpec, export_generator, sidecar_path
    check_outputs(files=[out, sidecar_path(out)])
    spec = ExportSpec(part=part, batch=parse_batch(batch), precision=precision, truncation_psi=truncation_psi,
                      truncation_cutoff=truncation_cutoff, noise_mode=noise_mode)
    seed_list = parse_seeds(seeds)
    G = hub.load(network, device="cpu")
    result = export_generator(G, out, fmt, spec, check=not no_verify, seeds=seed_list, tolerance=tolerance,
                              source=Path(network).name)
    io = result.part
    click.echo(f"{result.path}: {fmt} {PART_NAMES[part]}, StyleGAN{G.generation} {G.img_resolution}x"
               f"{G.img_resolution}, {precision}, {result.size / 2 ** 20:.1f} MiB")
    click.echo("  inputs   " + ", ".join(f"{t.name} {_shape(t.shape)}" for t in io.inputs))
    click.echo("  outputs  " + ", ".join(f"{t.name} {_shape(t.shape)}" for t in io.outputs))
    click.echo(f"{result.sidecar_path}: sidecar (dims, style ranges, w_avg)")
    if result.diffs:
        diffs = ", ".join(f"{d:.2e} at batch {b}" for b, d in result.diffs.items())
        click.echo(f"verified with {result.runtime} on seeds {seeds}: max abs difference to PyTorch {diffs} "
                   f"(tolerance {result.tolerance:g})")
