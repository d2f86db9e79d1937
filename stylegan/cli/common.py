"""The command group and the option parsing shared by every verb."""
from __future__ import annotations

import functools
import os
from dataclasses import dataclass, fields
from pathlib import Path

import click

from ..errors import StyleGANError
from ..hub.builtin import DEMO
from ..hub.cache import DOWNLOAD_ENV, OFFLINE_ENV
from ..io.outputs import describe_os_error
from ..runtime import THREADS_ENV
from ..models import PRECISIONS


def _set_env(name: str):
    """A flag callback that turns the flag into the environment setting the package reads (so that
    worker processes see it too)."""
    def callback(ctx: click.Context, param: click.Parameter, value: bool) -> None:
        if value:
            os.environ[name] = "1"
    return callback


NETWORK_ACCESS_OPTIONS = (
    ("--offline", OFFLINE_ENV, "Never use the network: networks and weights come from local files and the cache"),
    ("--download-weights", DOWNLOAD_ENV, "Download missing feature-network weights (InceptionV3, VGG16, LPIPS) "
                                         "from their official addresses into the cache"),
)
# The verbs that may use feature-network weights (metrics, perceptual projection losses).
WEIGHT_VERBS = frozenset({"metrics", "project", "pipeline", "studio", "train", "encoder"})
# The verbs that compute with torch on the CPU (and take --threads).
COMPUTE_VERBS = frozenset({"align", "generate", "mix", "noise", "truncation", "interpolate", "layers", "project",
                           "morph", "crossover", "expression", "edit", "directions", "demo", "pipeline", "metrics",
                           "train", "export", "studio", "encoder"})


def _set_threads(ctx: click.Context, param: click.Parameter, value: int | None) -> None:
    if value is not None:
        os.environ[THREADS_ENV] = str(value)


class Verb(click.Command):
    """A verb; those that compute apply the thread count (--threads, $STYLEGAN_THREADS) before they run."""

    def invoke(self, ctx: click.Context):
        """Apply the thread settings of a computing verb, then run it."""
        if ctx.find_root().invoked_subcommand in COMPUTE_VERBS:
            from ..runtime import set_threads, thread_count
            try:
                count = thread_count()
            except StyleGANError as exc:
                raise click.ClickException(str(exc)) from None
            if count is not None:  # (torch is imported only when there is something to set)
                set_threads(count)
        return super().invoke(ctx)


class Group(click.Group):
    """The verb group: every verb also takes --offline, those that use feature-network weights
    --download-weights, and those that compute --threads."""

    command_class = Verb
    group_class = type  # subgroups (directions) are Groups too, so their verbs are Verbs

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is not None and not isinstance(command, click.Group):  # (a group's verbs get the options)
            verb = cmd_name if ctx.parent is None else ctx.info_name  # the top-level verb: `directions sefa`
            names = {opt for param in command.params for opt in getattr(param, "opts", ())}
            if not any(flag in names for flag, _, _ in NETWORK_ACCESS_OPTIONS):
                network_access_options(command, weights=verb in WEIGHT_VERBS)
            if verb in COMPUTE_VERBS and "--threads" not in names:
                click.option("--threads", type=click.IntRange(1, 4096), default=None, expose_value=False,
                             is_eager=True, callback=_set_threads,
                             help=f"CPU threads for torch  [default: ${THREADS_ENV}, else one per core]")(command)
        return command


def network_access_options(func, weights: bool = True):
    """Add --offline and, with `weights`, --download-weights to a command (they set the environment settings)."""
    for flag, env, help_text in NETWORK_ACCESS_OPTIONS:
        if weights or flag != "--download-weights":
            func = click.option(flag, is_flag=True, expose_value=False, is_eager=True, callback=_set_env(env),
                                help=help_text)(func)
    return func


@click.group(cls=Group)
@click.version_option(package_name="stylegan")
@network_access_options
def cli() -> None:
    """StyleGAN 1/2/3: load checkpoints safely, generate, and more. Run `stylegan VERB --help`."""


def user_errors(func):
    """Report package errors and file-system faults (permission, no space, a file or folder in the way) as
    one-line CLI errors instead of tracebacks."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except StyleGANError as exc:
            raise click.ClickException(str(exc)) from None
        except OSError as exc:
            raise click.ClickException(describe_os_error(exc)) from None
    return wrapper


def resolve_device(name: str):
    """'auto' -> cuda when available, else cpu; a clear error for CUDA on a machine without it."""
    import torch
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise StyleGANError("--device cuda was asked for, but PyTorch sees no CUDA GPU; use --device cpu")
    try:
        return torch.device(name)
    except RuntimeError:
        raise StyleGANError(f"unknown device {name!r}; use cpu, cuda, cuda:N or auto") from None


def parse_grid(text: str | None) -> tuple[int, int] | None:
    """'4x2' -> (4, 2) columns and rows; None stays None."""
    if text is None:
        return None
    try:
        cols, rows = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise StyleGANError(f"--grid must look like COLSxROWS (e.g. 4x2), got {text!r}") from None
    if cols < 1 or rows < 1:
        raise StyleGANError(f"--grid needs at least one column and one row, got {text!r}")
    return cols, rows


def parse_vec2(text: str) -> tuple[float, float]:
    """'0.3,1' -> (0.3, 1.0)."""
    try:
        x, y = (float(v) for v in text.split(","))
    except ValueError:
        raise StyleGANError(f"expected two numbers like 0.3,1 but got {text!r}") from None
    return x, y


CONFIG_HELP = "MMGeneration checkpoints: their config file or model-zoo config name (colour order, StyleGAN3 layers)"


@dataclass
class GeneratorOptions:
    """The options every generating verb shares (see `generator_options`)."""
    network: str
    truncation_psi: float
    truncation_cutoff: int | None
    class_idx: int | None
    noise_mode: str
    translate: str
    rotate: float
    device: str
    precision: str
    compile_: bool
    config: str | None

    def load(self, batch: int = 1):
        """G_ema on the chosen device, with the StyleGAN3 transform and the speed options applied (`batch`:
        the images per call the verb renders, for which --precision auto measures)."""
        from .. import hub
        from ..latent.generate import set_input_transform
        from ..models.precision import configure
        G = hub.load(self.network, device=resolve_device(self.device), config=self.config)
        set_input_transform(G, parse_vec2(self.translate), self.rotate)
        return configure(G, self.precision, self.compile_, batch)

    def sources(self, G, text: str):
        """ws and labels for seeds and/or ws files, with these options' truncation and class."""
        from ..latent.space import sources_to_ws
        return sources_to_ws(G, text, self.truncation_psi, self.truncation_cutoff, self.class_idx)


def generator_options(func=None, *, truncation: bool = True):
    """Add the shared generator options to a verb; it receives them as one `gen: GeneratorOptions`.

    With `truncation=False` the verb defines its own `--trunc` (psi 1 is used for its sources)."""
    if func is None:
        return functools.partial(generator_options, truncation=truncation)
    options = [
        click.option("--network", default=DEMO, show_default=True,
                     help="Checkpoint: NVIDIA .pkl (PyTorch or TF era), rosinality "
                     ".pt, MMGeneration .pth or native .safetensors; a file, an http(s) URL or a published "
                     "checkpoint's name (`stylegan models`)"),
        click.option("--trunc", "truncation_psi", type=float, default=1.0, show_default=True, help="Truncation psi"),
        click.option("--trunc-cutoff", "truncation_cutoff", type=int, default=None,
                     help="Truncate only the first N ws"),
        click.option("--class", "class_idx", type=int, default=None, help="Class label for conditional networks"),
        click.option("--noise-mode", type=click.Choice(["const", "random", "none"]), default="const",
                     show_default=True, help="Per-layer noise: the stored maps (const), fresh draws (random) or none"),
        click.option("--translate", default="0,0", show_default=True, help="StyleGAN3: translate X,Y"),
        click.option("--rotate", type=float, default=0.0, show_default=True, help="StyleGAN3: rotate, degrees"),
        click.option("--device", default="auto", show_default=True, help="cpu, cuda, cuda:N or auto"),
        click.option("--precision", type=click.Choice(PRECISIONS), default="auto", show_default=True,
                     envvar="STYLEGAN_PRECISION",
                     help="What the mixed-precision layers compute in: auto (the fastest on this machine within "
                          "40 dB of fp32, measured once and cached; `stylegan info --speed`), official (fp16 on "
                          "CUDA, else fp32), fp32 (the official CPU arithmetic), fp16 or bf16  "
                          "[env: STYLEGAN_PRECISION]"),
        click.option("--compile", "compile_", is_flag=True, help="torch.compile the synthesis network"),
        click.option("--config", default=None, help=CONFIG_HELP),
    ]
    if not truncation:
        del options[1]

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        names = [f.name for f in fields(GeneratorOptions) if truncation or f.name != "truncation_psi"]
        values = {name: kwargs.pop(name) for name in names}
        gen = GeneratorOptions(**{"truncation_psi": 1.0, **values})
        return func(*args, gen=gen, **kwargs)

    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper


def projection_noise(G, projected_w: str | None, noise_mode: str):
    """With --projected-w and the stored noise (--noise-mode const), the noise the projection optimised
    (noise.npz beside the ws file), so that its ws render as the projection did; None otherwise."""
    from ..io.latents import projection_noise as stored_noise
    noise = stored_noise(projected_w, G) if projected_w is not None and noise_mode == "const" else None
    if noise is not None:
        click.echo(f"using the projection's noise ({Path(projected_w).with_name('noise.npz')})", err=True)
    return noise
