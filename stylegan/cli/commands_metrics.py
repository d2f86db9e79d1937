"""`stylegan metrics`: quality metrics of a checkpoint, with the official names and definitions."""
from __future__ import annotations

import click

from ..hub.builtin import DEMO
from ..io.outputs import check_outputs
from ..metrics import METRIC_DESCRIPTIONS
from .common import SEED, cli, resolve_device, user_errors

_NAMES = "\n".join(f"  {name:<12} {about}" for name, about in METRIC_DESCRIPTIONS.items())


@cli.command(epilog=f"\b\nMetrics:\n{_NAMES}")
@click.option("--network", default=DEMO, show_default=True,
              help="Checkpoint: NVIDIA .pkl or native .safetensors (G_ema is used)")
@click.option("--metrics", "metric_names", default="fid50k_full", show_default=True,
              help="Comma-separated metric names (see below)")
@click.option("--data", default=None,
              help="Dataset to compare with (zip, folder or builtin:toonfaces)  [default: recorded in the .pkl]")
@click.option("--mirror/--no-mirror", default=None,
              help="Add x-flipped images (legacy metrics; *_full metrics never mirror)  [default: as recorded]")
@click.option("--gpus", type=int, default=1, show_default=True, help="Number of GPUs, one process each")
@click.option("--detector", default=None, help="InceptionV3 weights (.pth from pytorch-fid or NVIDIA's .pt)")
@click.option("--vgg", default=None, help="VGG16 weights (torchvision's .pth or NVIDIA's .pt)")
@click.option("--run-dir", default=None,
              help="Folder for metric-NAME.jsonl  [default: the network's training run folder, else the current one]")
@click.option("--device", default="auto", show_default=True, help="cpu, cuda, cuda:N or auto (with --gpus 1)")
@click.option("--seed", type=SEED, default=0, show_default=True, help="Seed for latents, labels and transforms")
@click.option("--num-gen", type=int, default=None,
              help="Use this many generated samples instead (quick checks; not comparable with papers)")
@click.option("--max-real", type=int, default=None, help="Use at most this many real images (quick checks)")
@click.option("--cache/--no-cache", default=True, show_default=True, help="Reuse cached dataset statistics")
@click.option("--workers", type=int, default=2, show_default=True, help="Image-loading worker processes")
@user_errors
def metrics(network: str, metric_names: str, data: str | None, mirror: bool | None, gpus: int, detector: str | None,
            vgg: str | None, run_dir: str | None, device: str, seed: int, num_gen: int | None, max_real: int | None,
            cache: bool, workers: int) -> None:
    """Compute quality metrics (FID, KID, precision/recall, PPL, equivariance) of a network.

    Each result is appended to metric-NAME.jsonl, in the format of the official tools, and a short table
    is printed at the end. Feature-network weights are read from local files, or fetched with --download-weights.
    """
    from ..metrics import format_table, parse_metric_names
    from ..metrics.run import default_run_dir, evaluate
    from ..runtime import keep_freed_memory
    names = parse_metric_names(metric_names)
    folder = run_dir if run_dir is not None else default_run_dir(network)
    check_outputs([folder], [f"{folder}/metric-{name}.jsonl" for name in names])
    keep_freed_memory()
    results = evaluate(network, names, data=data, mirror=mirror, gpus=gpus,
                       device=resolve_device(device) if gpus == 1 else "cuda", run_dir=run_dir, echo=click.echo,
                       inception=detector, vgg16=vgg, seed=seed, num_gen=num_gen, max_real=max_real, cache=cache,
                       num_workers=workers)
    if results:
        click.echo(format_table(results))
