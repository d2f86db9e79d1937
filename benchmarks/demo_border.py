"""Where a StyleGAN2 generator's edge rows come from, and how much its discriminator sees them.

    python -m benchmarks.demo_border [--network SNAPSHOT] [--faces 64]

For each modulated layer of the synthesis network at 16² and up (and the residual skip convolutions of a
resnet generator), the mean absolute step between the last two rows, the first two rows, the last two
columns and the first two columns of its output, each divided by the mean step between neighbouring
interior rows: about 1 where an edge looks like the interior, well above 1 where the layer treats that edge
as a place of its own. `--network` given a run snapshot (which holds D) adds the mean absolute gradient
of D's output with respect to each row of dataset faces: how strongly training pushes on each pixel row.
"""
from __future__ import annotations

import argparse

import numpy as np
import torch
from torch import nn

from stylegan.data.toonfaces import toonface
from stylegan import load_networks
from stylegan.latent import seeds_to_ws

from .demo_model import print_table


def layer_outputs(G: nn.Module, ws: torch.Tensor) -> dict[str, torch.Tensor]:
    """The output of every convolution, skip and toRGB layer of a StyleGAN2 synthesis network, by name."""
    outputs, hooks = {}, []
    for res in G.synthesis.block_resolutions:
        block = getattr(G.synthesis, f"b{res}")
        for name in ("conv0", "conv1", "skip", "torgb"):
            if hasattr(block, name):
                hooks.append(getattr(block, name).register_forward_hook(
                    lambda module, args, out, key=f"b{res}.{name}": outputs.__setitem__(key, out.float())))
    try:
        with torch.no_grad():
            G.synthesis(ws, noise_mode="const")
    finally:
        for hook in hooks:
            hook.remove()
    return outputs


def edge_steps(x: torch.Tensor) -> dict[str, float]:
    """Edge-row and edge-column steps of x [N, C, H, W] relative to the mean interior row step."""
    interior = float((x[:, :, 2:-1] - x[:, :, 1:-2]).abs().mean())
    return {"bottom": float((x[:, :, -1] - x[:, :, -2]).abs().mean()) / interior,
            "top": float((x[:, :, 1] - x[:, :, 0]).abs().mean()) / interior,
            "right": float((x[..., -1] - x[..., -2]).abs().mean()) / interior,
            "left": float((x[..., 1] - x[..., 0]).abs().mean()) / interior}


def edge_rows(G: nn.Module, faces: int = 64) -> list[dict]:
    """One row per layer at 16² and up: its edge steps for `faces` faces at psi 1 (seeds 0 on)."""
    outputs = layer_outputs(G, seeds_to_ws(G, range(faces), 1.0))
    return [{"layer": name, "shape": "x".join(map(str, out.shape[1:]))}
            | {k: f"{v:.2f}" for k, v in edge_steps(out).items()}
            for name, out in outputs.items() if out.shape[-1] >= 16]


def discriminator_row_gradient(D: nn.Module, faces: int = 64) -> np.ndarray:
    """Mean |d D(x) / d x| per pixel row over dataset faces 0..faces-1 (averaged over channels and columns)."""
    x = torch.from_numpy(np.stack([toonface(i, D.img_resolution) for i in range(faces)]))
    x = (x.permute(0, 3, 1, 2).float() / 127.5 - 1).requires_grad_(True)
    D(x, None).sum().backward()
    return x.grad.abs().mean(dim=(0, 1, 3)).numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--network", default="builtin:demo", help="Model or run snapshot to check")
    parser.add_argument("--faces", type=int, default=64)
    args = parser.parse_args()
    nets = load_networks(args.network)
    G = nets["G_ema"].eval()
    if G.generation != 2:
        parser.error("the layer check reads StyleGAN2 synthesis blocks")
    print("Edge steps of each layer's output (x the interior row step; 1 = like the interior):")
    print_table(edge_rows(G, args.faces))
    if "D" in nets:
        g = discriminator_row_gradient(nets["D"].eval(), args.faces)
        print("D's gradient per pixel row (mean |dD/dx|, x 1000): rows 0-2 "
              + " ".join(f"{v * 1000:.2f}" for v in g[:3]) + f", interior median {np.median(g[3:-3]) * 1000:.2f}, "
              + "last three rows " + " ".join(f"{v * 1000:.2f}" for v in g[-3:]))


if __name__ == "__main__":
    main()
