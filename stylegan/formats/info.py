"""A readable description of a checkpoint and its networks (what `stylegan info` prints)."""
from __future__ import annotations

from pathlib import Path

from torch import nn

from ..models.common import style_ranges
from . import FORMAT_NAMES, detect_format, load_networks


def _count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _ranges(indices: list[int]) -> str:
    if not indices:
        return "-"
    return f"{indices[0]}-{indices[-1]}" if len(indices) > 1 else str(indices[0])


def _generator_lines(G: nn.Module) -> list[str]:
    lines = [
        f"  generation      StyleGAN{G.generation}",
        f"  resolution      {G.img_resolution}x{G.img_resolution}, {G.img_channels} channels",
        f"  z_dim / w_dim   {G.z_dim} / {G.w_dim}",
        f"  c_dim           {G.c_dim}" + (" (unconditional)" if G.c_dim == 0 else " (conditional: use --class)"),
        f"  num_ws          {G.num_ws}",
        "  styles          " + ", ".join(f"{k} {_ranges(v)}" for k, v in style_ranges(G).items()),
        f"  parameters      mapping {_count(G.mapping):,}, synthesis {_count(G.synthesis):,}, total {_count(G):,}",
    ]
    psi, cutoff = getattr(G, "default_truncation", (1.0, None))
    if psi != 1:
        lines.append(f"  truncation      its home code truncates by default: psi {psi:g} on the first {cutoff} ws "
                     f"(--trunc {psi:g} --trunc-cutoff {cutoff})")
    if float(getattr(G.synthesis, "lod", 0)) != 0:
        lines.append(f"  progressive     lod {float(G.synthesis.lod):g} (a snapshot taken while growing)")
    if G.generation == 3:
        lines.append("  layers          name              size  channels  sampling rate  cutoff")
        s = G.synthesis
        lines.append(f"                  {'input':<16}{int(s.input.size[0]):>6}{s.input.channels:>10}"
                     f"{s.input.sampling_rate:>15g}{s.input.bandwidth:>8.3g}")
        for name in s.layer_names:
            layer = getattr(s, name)
            lines.append(f"                  {name:<16}{int(layer.out_size[0]):>6}{layer.out_channels:>10}"
                         f"{layer.out_sampling_rate:>15g}{layer.out_cutoff:>8.3g}")
    return lines


def describe(path: str | Path, config: str | Path | None = None, label: str | None = None) -> str:
    """Multi-line description of a local checkpoint file: format, then each network's dimensions, style bands
    and parameter counts. `label` is how the file is named in the first line (default: its path).

    `config`: for MMGeneration checkpoints, their config file or model-zoo name (see `load_networks`).
    """
    fmt = detect_format(path)
    nets = load_networks(path, config=config)
    order = ("G_ema", "G", "D")
    nets = {k: nets[k] for k in sorted(nets, key=lambda k: order.index(k) if k in order else len(order))}
    lines = [f"file            {label or path}", f"format          {FORMAT_NAMES.get(fmt, fmt)}",
             f"networks        {', '.join(nets)}"]
    shown: dict[str, str] = {}
    for name, net in nets.items():
        lines.append(f"{name}:")
        same = next((other for other, cfg in shown.items() if cfg == getattr(net, "config", None)), None)
        shown[name] = getattr(net, "config", None)
        if same is not None:
            lines.append(f"  same architecture as {same}")
        elif hasattr(net, "synthesis"):
            lines += _generator_lines(net)
        else:
            lines += [f"  resolution      {net.img_resolution}x{net.img_resolution}, {net.img_channels} channels",
                      f"  c_dim           {net.c_dim}",
                      f"  architecture    {getattr(net, 'architecture', None) or net.b4.architecture}",
                      f"  parameters      {_count(net):,}"]
    return "\n".join(lines)
