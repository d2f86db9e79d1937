"""`stylegan align`: faces cut out of photos as FFHQ was made (or in the unaligned framing of FFHQ-U)."""
from __future__ import annotations

from pathlib import Path

import click

from ..io.outputs import RunRecord, check_outputs
from ..latent import ALIGN_MAX_SIZE
from .common import cli, user_errors

UNALIGNED_SHIFT = 0.2  # the random shift of FFHQ-U's crops, in units of the crop size


@cli.command()
@click.option("--target", required=True, type=click.Path(), help="A photo, or a folder of photos")
@click.option("--outdir", required=True, type=click.Path(),
              help="Folder for the aligned faces: <photo name>.png (with --all <photo name>-1.png, -2.png, ...)")
@click.option("--size", type=click.IntRange(1, ALIGN_MAX_SIZE), default=None,
              help="Output size in pixels  [default: the resolution of --network, else 1024]")
@click.option("--network", default=None, help="Align for this checkpoint: --size defaults to its resolution")
@click.option("--landmarks", default=None, type=click.Path(dir_okay=False),
              help="JSON or CSV of 5 or 68 [x, y] points per face, from your own detector (see the README)")
@click.option("--all", "all_faces", is_flag=True, help="Align every face of a photo, not only the largest")
@click.option("--no-rotation", is_flag=True, help="Keep the photo upright (the crop is not turned to level the eyes)")
@click.option("--unaligned", is_flag=True,
              help=f"The framing of FFHQ-U, StyleGAN3's unaligned training data: --no-rotation, --random-shift "
                   f"{UNALIGNED_SHIFT} and --no-padding")
@click.option("--random-shift", type=click.FloatRange(0, 10), default=None,
              help="Move each crop by a normal draw of this many crop sizes (redrawn until it fits in the photo)")
@click.option("--no-padding", is_flag=True, help="Black, not blurred reflections, where the crop leaves the photo")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the random shift")
@click.option("--overwrite", is_flag=True, help="Align every photo anew, even when OUTDIR holds faces aligned with "
              "other settings")
@user_errors
def align(target, outdir, size, network, landmarks, all_faces, no_rotation, unaligned, random_shift, no_padding, seed,
          overwrite):
    """Cut the faces of a photo (or of each photo of a folder, resumably) out as FFHQ was made.

    Landmarks come from the built-in five-point face detector (MTCNN), or from --landmarks. A photo without a
    face is reported in one line and nothing is written for it. The settings are recorded in
    OUTDIR/stylegan-align.json: a rerun with the same settings skips the photos already aligned."""
    from ..latent.align import Framing
    from ..latent.align_files import align_files, earlier_outputs, output_name, plan_outputs
    shift = random_shift if random_shift is not None else UNALIGNED_SHIFT if unaligned else 0.0
    framing = Framing(rotation=not (no_rotation or unaligned), shift=shift, padding=not (no_padding or unaligned))
    files = plan_outputs(target, outdir, all_faces)
    out = Path(outdir)
    check_outputs([out], [out / output_name(f, all_faces) for f in files])
    if size is None:
        size = _network_resolution(network) if network is not None else 1024
    settings = dict(size=size, rotation=framing.rotation, shift=framing.shift, padding=framing.padding,
                    seed=seed if framing.shift else None, all=all_faces,
                    landmarks=str(Path(landmarks).resolve()) if landmarks else None)
    record = RunRecord(out, "align", settings, overwrite, earlier_outputs(out, files, all_faces)).check()
    with record.started():
        counts = align_files(target, outdir, size, framing, landmarks, all_faces, seed, report=click.echo)
    if len(files) > 1:
        faces = f"{counts['faces']} face{'s' * (counts['faces'] != 1)}"
        click.echo(f"{len(files)} photos: {counts['aligned']} aligned ({faces}), {counts['skipped']} already aligned, "
                   f"{counts['no face']} without a face, {counts['unreadable']} unreadable")


def _network_resolution(network: str) -> int:
    from .. import hub
    return int(hub.load(network).img_resolution)
