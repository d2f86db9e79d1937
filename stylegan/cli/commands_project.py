"""`stylegan project` and the Image2StyleGAN applications: `morph`, `crossover`, `expression`."""
from __future__ import annotations

from pathlib import Path

import click

from ..errors import StyleGANError
from ..hub.builtin import DEMO
from ..io.outputs import RunRecord, check_outputs, network_identity
from ..latent import PROJECTION_METHODS as METHODS
from .common import GeneratorOptions, cli, generator_options, resolve_device, user_errors


@cli.command("project")
@click.option("--network", default=DEMO, show_default=True, help="Checkpoint to project into")
@click.option("--target", required=True, type=click.Path(), help="An image, or a folder of images")
@click.option("--method", type=click.Choice(sorted(METHODS)), default="official", show_default=True,
              help="official (StyleGAN2 projector: W, noise optimised), image2stylegan (W+) or pti (pivotal "
                   "tuning: the official projector's w, then the generator tuned; writes tuned.safetensors)")
@click.option("--tune-steps", type=click.IntRange(1), default=None, help="pti: most tuning steps  [default: 350]")
@click.option("--tune-lr", type=click.FloatRange(0, min_open=True), default=None,
              help="pti: tuning learning rate  [default: 3e-4]")
@click.option("--locality", is_flag=True, help="pti: keep the images of other latents near the pivot as they were "
              "(the locality regulariser)")
@click.option("--space", type=click.Choice(["w", "w+"]), default=None,
              help="Default: w (official), w+ (image2stylegan)")
@click.option("--num-steps", type=int, default=None, help="Default: 1000 (official), 5000 (image2stylegan)")
@click.option("--loss", default=None, help="auto, lpips, vgg, pixel, msssim, discriminator, or a sum like pixel+msssim")
@click.option("--init", default="mean", show_default=True,
              help="mean, random, encoder (the --encoder's ws), or a seed")
@click.option("--encoder", "encoder_path", default=None, type=click.Path(),
              help="An encoder for this network (`stylegan encoder train`; its folder or encoder.safetensors), for "
                   "--method encoder and --init encoder  [default for builtin:demo: its bundled encoder]")
@click.option("--lr", type=float, default=None, help="Learning rate (default per method)")
@click.option("--no-noise", is_flag=True, help="Do not optimise the noise inputs")
@click.option("--stabilize", is_flag=True, help="StyleGAN3: keep the input layer's transform at w_avg")
@click.option("--class", "class_idx", type=int, default=None, help="Class label for conditional networks")
@click.option("--seed", type=int, default=303, show_default=True,
              help="Seed of the initial noise (and of --init random)")
@click.option("--align", is_flag=True, help="First cut each target's largest face out as FFHQ was made "
              "(`stylegan align`); targets without a face are skipped")
@click.option("--save-video", is_flag=True, help="Also write proj.mp4 (target | projection, per step)")
@click.option("--vgg", default=None, type=click.Path(dir_okay=False),
              help="VGG16 weights (vgg16-397923af.pth or vgg16.pt); default: $STYLEGAN_VGG16 or the torch hub cache")
@click.option("--device", default="auto", show_default=True, help="cpu, cuda, cuda:N or auto")
@click.option("--outdir", type=click.Path(), required=True,
              help="Folder for the projection (one subfolder per image when TARGET is a folder)")
@click.option("--overwrite", is_flag=True, help="Project every target anew, even when OUTDIR holds projections made "
              "with other settings")
@user_errors
def project_cmd(network, target, method, tune_steps, tune_lr, locality, space, num_steps, loss, init, encoder_path,
                lr, no_noise, stabilize, class_idx, seed, align, save_video, vgg, device, outdir, overwrite):
    """Project an image (or each image of a folder, resumably) into W or W+.

    The settings are recorded in OUTDIR/stylegan-project.json: a rerun with the same settings skips the
    targets already projected, one with other settings stops (add --overwrite to project anew)."""
    from ..latent.projection import image_files, project_files
    files = image_files(target)
    record = _prepare_outdir(Path(target), files, Path(outdir), save_video, overwrite,
                             dict(network=network_identity(network), method=method, space=space,
                                  num_steps=num_steps, loss=loss, init=init, lr=lr, no_noise=no_noise,
                                  stabilize=stabilize, class_idx=class_idx, seed=seed, vgg=vgg,
                                  encoder=network_identity(encoder_path) if encoder_path else None,
                                  **(dict(tune_steps=tune_steps, tune_lr=tune_lr, locality=locality)
                                     if method == "pti" else {}), **({"align": True} if align else {})))
    if method != "pti" and (tune_steps or tune_lr or locality):
        raise StyleGANError("--tune-steps, --tune-lr and --locality are for --method pti")
    from .. import hub
    from ..io.images import decode_image
    from ..latent.perceptual import PROJECTION_LOSSES
    from ..nets import WeightsMissingError, load_vgg16_net
    from ..runtime import keep_freed_memory
    if Path(target).is_dir():
        keep_freed_memory()
    nets = hub.load_networks(network, ("G_ema", "D"), resolve_device(device))
    G, D = nets["G_ema"], nets.get("D")
    encoder = None
    if encoder_path is not None or (init == "encoder" or method == "encoder") and network == DEMO:
        from ..latent.encoding import load_encoder
        encoder = load_encoder(encoder_path or DEMO, G, resolve_device(device))
    if stabilize and not hasattr(G.synthesis, "input"):
        raise StyleGANError("--stabilize is for StyleGAN3 networks (it fixes their input transform)")
    try:
        vgg_net = load_vgg16_net(vgg, PROJECTION_LOSSES)
    except WeightsMissingError:
        if vgg is not None:
            raise
        vgg_net = None  # the losses fall back (and say so); the summary has no LPIPS column
    has_lpips = vgg_net is not None and vgg_net.has_lpips
    if not Path(target).is_dir():
        decode_image(files[0], G.img_channels)  # a damaged single target is refused before anything is written
    init_value = int(init) if init.isdigit() else init
    with record.started():
        rows = project_files(G, target, outdir, method=method, space=space, loss=loss, num_steps=num_steps, lr=lr,
                             init=init_value, optimize_noise=False if no_noise else None, seed=seed,
                             class_idx=class_idx, D=D, vgg=vgg_net, stabilize=stabilize, save_video=save_video,
                             encoder=encoder, align=align, report=click.echo,
                             **(dict(tune_steps=tune_steps, tune_lr=tune_lr, locality=locality)
                                if method == "pti" else {}))
    if len(rows) > 1:
        click.echo(f"{'target':<30}{'loss':>10}{'PSNR dB':>10}" + (f"{'LPIPS':>10}" if has_lpips else ""))
        for name, final, value, distance in rows:
            click.echo(f"{name:<30}{final:>10.4f}{value:>10.2f}" + (f"{distance:>10.4f}" if has_lpips else ""))


def _prepare_outdir(target: Path, files: list[Path], out: Path, save_video: bool, overwrite: bool,
                    settings: dict) -> RunRecord:
    """Before any work: every output writable, and a resumed folder made with the same settings."""
    names = ["target.png", "proj.png", "noise.npz", "projected_w.npz"] + (["proj.mp4"] if save_video else []) + \
        (["tuned.safetensors"] if settings["method"] == "pti" else [])
    folders = [out / f.stem if len(files) > 1 or target.is_dir() else out for f in files]
    check_outputs([out], [folder / name for folder in folders for name in names])
    return RunRecord(out, "project", settings, overwrite, ("projected_w.npz", "*/projected_w.npz")).check()


def _save_strip(images, labels, path: Path) -> None:
    from ..io.images import save_png
    from ..media.figures import labeled_grid
    save_png(labeled_grid([list(images)], None, labels), path)
    click.echo(str(path))


@cli.command()
@generator_options
@click.argument("source_a")
@click.argument("source_b")
@click.option("--steps", type=int, default=8, show_default=True, help="Interpolation steps from A to B")
@click.option("--video", "video_path", default=None, type=click.Path(), help="Also write a video")
@click.option("--outdir", type=click.Path(), default="out", show_default=True, help="Folder for the output files")
@user_errors
def morph(gen: GeneratorOptions, source_a, source_b, steps, video_path, outdir):
    """Morph between two ws (.npz from projection, or seeds) by linear interpolation in W+."""
    import torch

    from ..io.video import write_video
    from ..latent.generate import render
    from ..latent.space import interpolate
    if steps < 1:
        raise StyleGANError("--steps must be at least 1")
    check_outputs(files=[Path(outdir) / "morph.png"] + ([video_path] if video_path else []))
    G = gen.load()
    a, _ = gen.sources(G, source_a)
    b, _ = gen.sources(G, source_b)
    path = interpolate(torch.cat([a[:1], b[:1]]), steps, "linear")
    images = render(G, path, gen.noise_mode)
    _save_strip(images, [f"{i}/{steps}" for i in range(steps + 1)], Path(outdir) / "morph.png")
    if video_path:
        write_video(iter(images), video_path, fps=max(steps / 2, 1))
        click.echo(video_path)


@cli.command()
@generator_options
@click.option("--content", required=True, help="ws file or seed giving the first (content) layers")
@click.option("--style", "style_src", required=True, help="ws file or seed giving the remaining (style) layers")
@click.option("--layers", "layer_spec", default=None, help="Layers taken from the style, e.g. 9-17 (default: 9 and up)")
@click.option("--outdir", type=click.Path(), default="out", show_default=True, help="Folder for the output files")
@user_errors
def crossover(gen: GeneratorOptions, content, style_src, layer_spec, outdir):
    """Layer crossover: content layers from one image, style layers from another."""
    import torch

    from ..io.latents import save_ws
    from ..latent.generate import render
    from ..latent.space import crossover as crossover_ws
    from ..latent.space import resolve_layers
    check_outputs(files=[Path(outdir) / "crossover_w.npz", Path(outdir) / "crossover.png"])
    G = gen.load()
    c, _ = gen.sources(G, content)
    s, _ = gen.sources(G, style_src)
    if layer_spec is None:
        result = crossover_ws(c[:1], s[:1], min(9, G.num_ws))
    else:
        layers = resolve_layers(G, layer_spec)
        result = c[:1].clone()
        result[:, layers] = s[:1, layers]
    images = render(G, torch.cat([c[:1], s[:1], result]), gen.noise_mode)
    out = Path(outdir)
    save_ws(out / "crossover_w.npz", result)
    _save_strip(images, ["content", "style", "crossover"], out / "crossover.png")


@cli.command()
@generator_options
@click.option("--target", "target_src", required=True, help="ws file or seed to edit")
@click.option("--neutral", required=True, help="ws file or seed with a neutral expression")
@click.option("--expressive", required=True, help="ws file or seed with the expression to transfer")
@click.option("--strength", default="1.0", show_default=True, help="One value or a list, e.g. 0,0.5,1,1.5")
@click.option("--outdir", type=click.Path(), default="out", show_default=True, help="Folder for the output files")
@user_errors
def expression(gen: GeneratorOptions, target_src, neutral, expressive, strength, outdir):
    """Expression transfer: target + strength * (expressive - neutral)."""
    import torch

    from ..io.latents import save_ws
    from ..latent.generate import render
    from ..latent.space import expression as expression_ws
    try:
        strengths = [float(v) for v in strength.split(",")]
    except ValueError:
        raise StyleGANError(f"--strength must be numbers like 1.0 or 0,0.5,1, got {strength!r}") from None
    check_outputs(files=[Path(outdir) / "expression_w.npz", Path(outdir) / "expression.png"])
    G = gen.load()
    w1, _ = gen.sources(G, target_src)
    w2, _ = gen.sources(G, neutral)
    w3, _ = gen.sources(G, expressive)
    results = torch.cat([expression_ws(w1[:1], w2[:1], w3[:1], k) for k in strengths])
    images = render(G, torch.cat([w1[:1], w2[:1], w3[:1], results]), gen.noise_mode)
    out = Path(outdir)
    save_ws(out / "expression_w.npz", results)
    _save_strip(images, ["target", "neutral", "expressive"] + [f"k={k:g}" for k in strengths],
                out / "expression.png")
