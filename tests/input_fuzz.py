"""An input fuzzer for every kind of input the package reads: seeded mutants of intact checkpoints, images,
latent, settings and recipe files, odd option values for the command line, and malformed studio requests,
each tried in a child process with a memory and a time limit (tests/fuzz_worker.py). Every input must be
accepted (a network then computes finite outputs, an image decodes to the size asked for) or refused in one
line without a traceback; a traceback, a hang, a crash, an allocation beyond the memory limit, a refusal in
several lines, or a partial or temporary file left in the case's folder is a failure.

tests/test_input_fuzz.py runs a short pass of each kind; `python -m benchmarks.fuzz` runs a longer one and
prints the table. Mutations live in tests/fuzz_mutations.py, option values in tests/fuzz_options.py, the
studio's requests in tests/studio_fuzz.py. A case is made from its kind and its seed alone (`make_case`), so
a failure is reproduced from the two numbers printed with it.
"""
from __future__ import annotations

import importlib
import json
import logging
import random
import re
import shutil
import stat
import time
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from fuzz_mutations import mutate
from fuzz_options import option_case
from fuzz_worker import (ACCEPTED, BAD_OUTPUT, CRASH, FAILURES, HANG, LINES, MEMORY, OUTCOMES, PARTIAL, REFUSED,
                         TRACEBACK, Case, Result, Worker, describe)

DATA = Path(__file__).resolve().parent / "data"
KINDS = ("checkpoints", "images", "latents", "options", "studio")
CHECKPOINTS = ("nvidia.pkl", "sg3.pkl", "tf.pkl", "tf-sg1.pkl", "native.safetensors", "rosinality.pt",
               "rosinality-legacy.pt", "mmgen.pth")
IMAGES = ("image.png", "rgba.png", "image.jpg", "progressive.jpg", "image.webp", "image.gif", "image.bmp", "image.tif")
LATENTS = ("ws.npz", "ws.npy", "noise.npz", "dirs.npz", "boundary.npy", "settings.json", "recipe.toml", "recipe.yaml")
NETWORK = DATA / "sg2_resnet_gray_32.pkl"  # the network of the latent and option cases (1 channel, 8 ws of 48)
STUDIO_NETWORK = DATA / "tf_sg2_skip_resnet_32.pkl"
FILES = {"checkpoints": CHECKPOINTS, "images": IMAGES, "latents": LATENTS}
TEMPORARY = (".tmp", ".stylegan-write-test-")  # what a file written atomically, or a writability probe, is called


# ------------------------------------------------------------------------------------------- the intact inputs

def build_corpus(root: Path) -> dict[str, Path]:
    """Write one intact input of every kind into `root`: name -> path (names as in CHECKPOINTS, IMAGES, LATENTS,
    plus the folder `images` and the networks the options use, `cond.pkl`)."""
    import numpy as np
    import PIL.Image
    import torch
    from checkpoint_builders import (mmgen_checkpoint, mmgen_stylegan2_generator, rosinality_discriminator,
                                     rosinality_generator)

    import stylegan
    from stylegan.formats.native import save_networks
    from stylegan.io import save_directions, save_noise, save_ws
    from stylegan.latent.settings import Direction, Settings, save_settings

    root.mkdir(parents=True, exist_ok=True)
    for name, source in {"nvidia.pkl": NETWORK, "sg3.pkl": "sg3t_32.pkl", "tf.pkl": "tf_sg2_revised_32.pkl",
                         "tf-sg1.pkl": "tf_sg1_cond_lod_32.pkl", "cond.pkl": "tf_ada_cond_32.pkl"}.items():
        shutil.copy(DATA / source, root / name)
    nets = stylegan.load_networks(NETWORK)
    save_networks({"G_ema": nets["G_ema"], "D": nets["D"]}, root / "native.safetensors")
    rosinality = {"g_ema": rosinality_generator(), "d": rosinality_discriminator(), "latent_avg": torch.randn(8)}
    torch.save(rosinality, root / "rosinality.pt")
    torch.save(rosinality, root / "rosinality-legacy.pt", _use_new_zipfile_serialization=False)
    torch.save(mmgen_checkpoint({"generator_ema": mmgen_stylegan2_generator(rosinality_generator(seed=3))}),
               root / "mmgen.pth")

    x = np.linspace(0, 255, 48)
    pixels = (np.add.outer(x, x)[:, :, None] / 2 + np.random.RandomState(0).randint(0, 40, (48, 48, 3)))
    image = PIL.Image.fromarray(pixels.clip(0, 255).astype(np.uint8))
    for name, fmt in {"png": "PNG", "jpg": "JPEG", "webp": "WEBP", "gif": "GIF", "bmp": "BMP", "tif": "TIFF"}.items():
        image.save(root / f"image.{name}", format=fmt)
    image.save(root / "progressive.jpg", format="JPEG", progressive=True)
    image.convert("RGBA").save(root / "rgba.png")
    (root / "images").mkdir(exist_ok=True)
    for i in range(3):
        image.rotate(90 * i).save(root / "images" / f"img{i}.png")

    G = nets["G_ema"]
    ws = torch.randn(2, G.num_ws, G.w_dim, generator=torch.Generator().manual_seed(0))
    save_ws(root / "ws.npz", ws)
    save_ws(root / "ws.npy", ws)
    save_noise(root / "noise.npz", G, [torch.randn(1, 1, r, r) for r in _noise_sizes(G)])
    rng = np.random.RandomState(1)
    save_directions(root / "dirs.npz", rng.randn(3, G.w_dim).astype(np.float32), np.ones(3, np.float32),
                    np.ones(3, np.float32), "fuzz")
    save_directions(root / "boundary.npy", rng.randn(1, G.w_dim).astype(np.float32), np.ones(1), np.zeros(1), "fuzz")
    save_settings(root / "settings.json", Settings(
        network=str(root / "nvidia.pkl"), seed=3, dx=0.25, dy=0.5, mix_seed=1, mix_layers=[0, 1], psi=0.7, cutoff=4,
        noise_mode="random", noise_seed=5, noise_off=[0],
        directions=[Direction("sefa", 0, 1.0, "coarse"), Direction("file", 1, -1.0, "0-3", str(root / "dirs.npz"))]))
    network, ws_file, dirs = ((root / name).as_posix() for name in ("nvidia.pkl", "ws.npz", "dirs.npz"))
    (root / "recipe.toml").write_text(
        f'[networks]\nmain = "{network}"\n\n[[steps]]\ntype = "generate"\n\n[[steps]]\ntype = "truncate"\npsi = 0.7\n'
        f'cutoff = 4\n\n[[steps]]\ntype = "mix"\nsource = "{ws_file}"\nlayers = "0-3"\nmode = "weight"\n'
        f'weight = 0.3\n\n'
        f'[[steps]]\ntype = "edit"\ndirection = "{dirs}:1"\nstrength = 1.5\nlayers = "coarse"\n\n'
        f'[[steps]]\ntype = "variants"\nlayers = "fine"\nsources = {{ a = 5, b = "{ws_file}" }}\n\n'
        f'[[steps]]\ntype = "save"\nname = "edited"\n\n[[steps]]\ntype = "crop"\nbox = [0.1, 0.1, 0.9, 0.9]\n\n'
        f'[[steps]]\ntype = "resize"\nsize = 24\n')
    (root / "recipe.yaml").write_text(
        f"networks:\n  main: {network}\nsteps:\n  - type: generate\n  - type: truncate\n    psi: 0.5\n"
        f"  - type: edit\n    direction: {dirs}:2\n    strength: -1\n  - type: crop\n    box: [0, 0, 0.5, 0.5]\n")
    return {path.name: path for path in root.iterdir()}


def _noise_sizes(G) -> list[int]:
    from stylegan.models.noise import noise_inputs
    return [resolution for _, resolution in noise_inputs(G)]


# ---------------------------------------------------------------------------------------------------- cases

def _latent_command(name: str, path: Path, corpus: dict[str, Path]) -> list[str]:
    network = str(corpus["nvidia.pkl"])
    if name in ("ws.npz", "ws.npy"):
        return ["generate", "--network", network, "--projected-w", str(path), "--outdir", "out"]
    if name == "noise.npz":  # read from beside the ws file it belongs to
        shutil.copy(corpus["ws.npz"], path.parent / "ws.npz")
        return ["generate", "--network", network, "--projected-w", str(path.parent / "ws.npz"), "--outdir", "out"]
    if name in ("dirs.npz", "boundary.npy"):
        spec = f"{path}:1" if name == "dirs.npz" else str(path)
        return ["edit", "--network", network, "--seeds", "0", "--direction", spec, "--strength", "0,1",
                "--outdir", "out"]
    if name == "settings.json":
        return ["generate", "--settings", str(path), "--outdir", "out"]
    return ["pipeline", str(path), "--seeds", "0", "--outdir", "out"]


def make_case(kind: str, seed: int, corpus: dict[str, Path], folder: Path) -> Case:
    """The case of `kind` that `seed` gives, its inputs written into `folder` (made empty beforehand)."""
    rng = random.Random(seed)
    if kind == "studio":
        return Case(kind, seed, "request", f"studio_fuzz.fuzz(client, files, 1, seed={seed})",
                    "input_fuzz:studio_request", [str(folder.parent / "studio"), str(STUDIO_NETWORK)], str(folder))
    if kind == "options":
        argv, label, value = option_case(rng, folder, corpus)
        return Case(kind, seed, label, f"value {value!r:.80}", "input_fuzz:run_cli", argv, str(folder))
    name = rng.choice(FILES[kind])
    intact = corpus[name]
    data, mutation = mutate(intact.read_bytes(), intact.suffix, rng)
    path = folder / name
    path.write_bytes(data)
    if kind == "checkpoints":
        return Case(kind, seed, name, mutation, "input_fuzz:read_networks", [str(path), str(intact)], str(folder))
    if kind == "images":
        return Case(kind, seed, name, mutation, "input_fuzz:read_image", [str(path)], str(folder))
    return Case(kind, seed, name, mutation, "input_fuzz:run_cli", _latent_command(name, path, corpus), str(folder))


# ------------------------------------------------------------------------------- what the worker runs (child)

def warm_up() -> None:
    """Import what the cases use and run a small network once, before the worker limits its memory."""
    import PIL.Image
    import torch
    from click.testing import CliRunner

    from stylegan.cli import cli
    from stylegan.models import StyleGAN2Generator
    PIL.Image.init()
    importlib.import_module("simplejpeg")
    CliRunner().invoke(cli, ["generate", "--help"])
    G = StyleGAN2Generator(z_dim=8, c_dim=0, w_dim=8, img_resolution=16, img_channels=3,
                           mapping_kwargs=dict(num_layers=2), channel_base=256, channel_max=16)
    with torch.no_grad():
        G(torch.randn(1, 8), None)


OUT_OF_MEMORY = re.compile(r"not enough memory|out of memory|MemoryError|allocate memory|Unable to allocate", re.I)


def refusal(message: str) -> Result:
    """A refusal as the command line shows it: one line, unless it says memory ran out (the limit is far above
    what any case needs, so that means a multi-GiB allocation was attempted)."""
    if not message.strip() or "\n" in message.strip():
        return Result(LINES, message[:300])
    return Result(MEMORY if OUT_OF_MEMORY.search(message) else REFUSED, message[:300])


def _user_error(exc: Exception) -> Result:
    from stylegan.errors import StyleGANError
    from stylegan.io.outputs import describe_os_error
    if isinstance(exc, StyleGANError):
        return refusal(str(exc))
    if isinstance(exc, OSError):
        return refusal(describe_os_error(exc))
    raise exc


_SIGNATURES: dict[str, dict] = {}


def _signature(net) -> tuple:
    """What a network is apart from its weights' values: class, config and tensor shapes."""
    return (type(net).__name__, json.dumps(getattr(net, "config", None), sort_keys=True, default=str),
            tuple((k, tuple(v.shape)) for k, v in net.state_dict().items()))


def read_networks(case: Case) -> Result:
    """Load every network of the checkpoint `case.args[0]` and run each (G on z, D on an image): refused in one
    line, or accepted with finite outputs. A network that differs from the intact file's (`case.args[1]`) only in
    its weights' values may compute non-finite values; it is accepted with a note."""
    import torch

    import stylegan
    path, intact = case.args
    try:
        nets = stylegan.load_networks(path)
    except Exception as exc:
        return _user_error(exc)
    if intact not in _SIGNATURES:
        _SIGNATURES[intact] = {name: _signature(net) for name, net in stylegan.load_networks(intact).items()}
    generator = torch.Generator().manual_seed(case.seed)
    changed = []
    for name, net in nets.items():
        with torch.no_grad():
            c = torch.zeros(2, net.c_dim)
            c[:, :1] = 1
            if hasattr(net, "mapping"):
                out = net(torch.randn(2, net.z_dim, generator=generator), c)
            else:
                out = net(torch.randn(2, net.img_channels, net.img_resolution, net.img_resolution,
                                      generator=generator), c)
        if not torch.isfinite(out).all():
            if _SIGNATURES[intact].get(name) != _signature(net):
                return Result(BAD_OUTPUT, f"{name} computes non-finite values and differs from the intact file's")
            changed.append(name)
    return Result(ACCEPTED, f"non-finite output from changed weights ({', '.join(changed)})" if changed else "")


def read_image(case: Case) -> Result:
    """Read the image `case.args[0]` as a 32x32 RGB projection target: refused in one line, or accepted with
    the size asked for."""
    from stylegan.io import read_image as read
    try:
        image = read(case.args[0], resolution=32)
    except Exception as exc:
        return _user_error(exc)
    if image.shape != (32, 32, 3) or image.dtype.name != "uint8":
        return Result(BAD_OUTPUT, f"read as {image.dtype} {image.shape}")
    return Result(ACCEPTED)


def visible_lines(output: str) -> list[str]:
    """The lines a terminal shows: progress bars redrawn and cleared with carriage returns go."""
    return [line.split("\r")[-1] for line in output.split("\n") if line.split("\r")[-1].strip()]


def run_cli(case: Case) -> Result:
    """Run `stylegan ARGS` in-process: accepted (exit 0) or refused with one `Error:` line (beside click's usage
    lines and warnings); an exception or a traceback printed is a failure."""
    from click.testing import CliRunner

    from stylegan.cli import cli
    result = CliRunner().invoke(cli, case.args)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        kind = MEMORY if isinstance(result.exception, MemoryError) else TRACEBACK
        return Result(kind, describe(result.exception))
    if "Traceback" in result.output:
        return Result(TRACEBACK, result.output[-300:])
    if result.exit_code == 0:
        return Result(ACCEPTED)
    lines = [line for line in visible_lines(result.output)
             if not line.startswith(("Usage: ", "Try '", "warning: "))]
    if len(lines) == 1 and lines[0].startswith("Error: "):
        return refusal(lines[0])
    return Result(LINES, " / ".join(lines)[:300])


_STUDIOS: dict[str, tuple] = {}


def _studio(folder: Path, network: str) -> tuple:
    """The studio app on the network with its files (tests/studio_fuzz.py) and a test client, made once per
    worker in `folder`."""
    if str(folder) not in _STUDIOS:
        import warnings
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient
        from studio_fuzz import make_files, quick_projections

        from stylegan.studio.server import create_app
        from stylegan.studio.session import Session
        shutil.rmtree(folder, ignore_errors=True)
        allowed, outside = folder / "allowed", folder / "outside"
        allowed.mkdir(parents=True)
        outside.mkdir()
        files = make_files(allowed, outside, Path(network))
        files.token = "fuzz-token"
        stack = ExitStack()
        stack.enter_context(quick_projections())
        app = create_app(Session([network], [str(allowed)], outdir=folder / "captures"), token=files.token)
        client = stack.enter_context(TestClient(app, base_url="http://127.0.0.1", raise_server_exceptions=False,
                                                headers={"authorization": f"token {files.token}"}))
        _STUDIOS[str(folder)] = (client, files, stack)
    return _STUDIOS[str(folder)]


class _Errors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def studio_request(case: Case) -> Result:
    """Send the studio request that `case.seed` gives (`studio_fuzz.fuzz` with one request): an answer below
    400 is accepted, a 4xx refused; a 5xx, an answer showing internals or an error logged is a traceback. A
    request the HTTP client itself cannot send is counted as refused."""
    from studio_fuzz import fuzz
    client, files, _ = _studio(Path(case.args[0]), case.args[1])
    errors = _Errors()
    logging.getLogger().addHandler(errors)
    try:
        tally = fuzz(client, files, 1, seed=case.seed)
    finally:
        logging.getLogger().removeHandler(errors)
    (mutation, status), = tally.by_kind
    if tally.failures or errors.records:
        return Result(TRACEBACK, (tally.failures or [errors.records[0].getMessage()])[0][:300])
    if status == 0:
        return Result(REFUSED, f"{mutation}: not sent (the HTTP client refused it)")
    return Result(ACCEPTED if status < 400 else REFUSED, f"{mutation}: {status}")


# ------------------------------------------------------------------------------------------- the parent side

def snapshot(folder: Path) -> dict[str, int]:
    """Everything in `folder` (not following links): relative name -> the kind of file (stat.S_IFMT)."""
    return {str(p.relative_to(folder)): stat.S_IFMT(p.lstat().st_mode) for p in folder.rglob("*")}


def leftovers(folder: Path, before: dict[str, int], outcome: str) -> list[str]:
    """What a case left in its folder that it should not have: temporary files and writability probes after
    it was accepted, any new file after it was refused, and always a FIFO, device or link made for the case
    that a write replaced by a file."""
    after = snapshot(folder)
    replaced = [f"{name} (replaced)" for name, kind in before.items() if after.get(name, kind) != kind]
    new = [name for name in sorted(set(after) - set(before)) if not stat.S_ISDIR(after[name])]
    if outcome == REFUSED:
        return replaced + new
    return replaced + [name for name in new if any(mark in Path(name).name for mark in TEMPORARY)]


@dataclass
class Tally:
    """Outcomes per kind, notes on accepted cases (per kind), and the failing cases with their results."""
    counts: Counter = field(default_factory=Counter)
    notes: Counter = field(default_factory=Counter)
    failures: list[tuple[Case, Result]] = field(default_factory=list)
    seconds: Counter = field(default_factory=Counter)

    def add(self, case: Case, result: Result, seconds: float) -> None:
        """Count one case."""
        self.counts[case.kind, result.outcome] += 1
        self.seconds[case.kind] += seconds
        if result.outcome == ACCEPTED and result.detail.startswith("non-finite"):
            self.notes[case.kind, "non-finite output from changed weights"] += 1
        if result.outcome in FAILURES:
            self.failures.append((case, result))

    def table(self) -> str:
        """A Markdown table: per kind, inputs tried and each outcome (the failure columns that never occurred
        beyond tracebacks, hangs, crashes and partial files are left out)."""
        shown = [o for o in OUTCOMES if o in (ACCEPTED, REFUSED, TRACEBACK, HANG, CRASH, PARTIAL)
                 or any(self.counts[k, o] for k in KINDS)]
        names = {ACCEPTED: "accepted", REFUSED: "refused in one line", TRACEBACK: "tracebacks", HANG: "hangs",
                 CRASH: "crashes", PARTIAL: "partial files", MEMORY: "memory limit", LINES: "refused in several lines",
                 BAD_OUTPUT: "bad outputs"}
        lines = ["| kind | inputs tried | " + " | ".join(names[o] for o in shown) + " |",
                 "| --- | --- | " + " | ".join("---" for _ in shown) + " |"]
        for kind in KINDS:
            row = [self.counts[kind, o] for o in shown]
            if sum(row):
                lines.append(f"| {kind} | {sum(row)} | " + " | ".join(map(str, row)) + " |")
        return "\n".join(lines)


def run_case(kind: str, seed: int, corpus: dict[str, Path], worker: Worker, scratch: Path,
             keep: bool = False) -> tuple[Case, Result]:
    """Make the case of `kind` and `seed` in a fresh folder under `scratch`, try it, check its folder for files
    left behind, and remove the folder (unless `keep`)."""
    folder = scratch / f"case-{kind}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    case = make_case(kind, seed, corpus, folder)
    before = snapshot(folder)
    result = worker.run(case)
    if kind != "studio" and result.outcome in (ACCEPTED, REFUSED):
        left = leftovers(folder, before, result.outcome)
        if left:
            result = Result(PARTIAL, f"{result.outcome}, but left {left[:5]} ({result.detail[:200]})")
    if not keep:
        shutil.rmtree(folder, ignore_errors=True)
    return case, result


def fuzz(kind: str, count: int, seed: int, corpus: dict[str, Path], worker: Worker, scratch: Path,
         seconds: float | None = None, tally: Tally | None = None) -> Tally:
    """Try `count` cases of `kind` (seeds `seed * 1_000_000 + i`), or as many as fit in `seconds`."""
    tally = tally or Tally()
    start = time.monotonic()
    for i in range(count):
        if seconds is not None and time.monotonic() - start > seconds:
            break
        began = time.monotonic()
        case, result = run_case(kind, seed * 1_000_000 + i, corpus, worker, scratch)
        tally.add(case, result, time.monotonic() - began)
    return tally
