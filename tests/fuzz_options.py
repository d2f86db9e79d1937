"""Odd option values for the command line, for tests/input_fuzz.py: a valid command per verb (`BASES`), the
options worth trying (`SLOTS`, each with a list of values of its kind) and `option_case`, which sets one option
of one verb to one odd value.

Values may hold placeholders, resolved in the case's own folder: `{network}`, `{ws}`, ... name the intact
inputs; `{dir:NAME}`, `{fifo:NAME}`, `{devnull:NAME}` (a link to /dev/null), `{empty:NAME}`, `{file:NAME}` (text)
and `{mixed:NAME}` (a folder of one image, a FIFO, a link to /dev/null, a text file and a folder, all named
like images) are made there; `{missing:NAME}` is not; `{long:SUFFIX}` is a 3,000-character name. No value
names a place outside the case's folder that a verb could write to.
"""
from __future__ import annotations

import os
import random
import re
import shutil
from pathlib import Path

SEEDS = ["", " ", "-1", "1-", "-", "3-1", "0-4294967296", "4294967295", "4294967296", "1,,2", ",", " 1", "1 ", "١٢",
         "²", "٣-٥", "1e3", "0x1f", "nan", "inf", "1.5", "9" * 400, "0-" + "9" * 30, "a" * 3000, "0-3,2", "{ws}",
         "{ws}:1", "{missing:m.npz}", "{dir:d.npz}", "{devnull:null.npz}", "{fifo:fifo.npz}", "{empty:e.npz}",
         "~nosuchuser/x.npz", "{long:.npz}", "0,{ws}", "{file:text.npz}"]
FLOATS = ["nan", "NaN", "inf", "-inf", "1e308", "-1e308", "1e-320", "", "x", "١", "1,2", "0x10", "+.5", "-0", "1e999",
          "9" * 400, "½", "0", "-1", "1e6"]
INTS = ["-1", "0", "1", "7", "2147483648", "9223372036854775808", "9" * 30, "١٢", "²", "1.5", "nan", "", "0x10", " 3",
        "+3", "1e3", "-0", "100000"]
COUNTS = ["-1", "0", "1", "2", "1.5", "nan", "", "0x10", "١٢", "²", " 2", "+2", "x"]  # amounts of work: never huge
GRIDS = ["0x0", "1x0", "x", "4x", "1x1x1", "-1x2", "١x٢", "4X2", "nanxnan", "", "2 x 2", "99999x99999", "1x99999999",
         "2x1", "1x1"]
PAIRS = ["nan,0", "inf,inf", "1", "1,2,3", "", ",", "1e308,1e308", "١,٢", "0.5,0.5", "x,y", "-inf,0"]
LAYERS = ["99", "-1", "0-99", "5-2", "coarse", "bogus", "", "0-", "1e3", "²", "0,0,0", "all", "fine,coarse",
          "0-3,9999999999999999999", "١"]
STRENGTHS = ["0:1:0", "0:1:-1", "nan:1:3", "1:0:2", "::", "0,,1", "inf", "1e308", "x", "١", "0:1:2:3", "-inf,inf", ""]
PSI_LISTS = ["nan", "0,nan", "inf", "", ",", "1,,2", "x", "1e308", "١", "0," * 200]
RESOLUTIONS = ["0x0", "99999x99999", "-1x-1", "x", "١x١", "32x16", "32", "16x16", "nanxnan", ""]
DEVICES = ["", "cuda", "cuda:99", "mps", "meta", "cpu:0", "cpu:-1", "xla", "cuda:x", "auto", "CPU", "cpu"]
LOSSES = ["", "lpips", "vgg", "pixel+", "+", "pixel*2", "pixel+pixel", "msssim", "PIXEL", "x"]
INITS = ["", "mean", "random", "encoder", "x", "{ws}", "{missing:m.npz}", "{fifo:f.npz}"]
EXPORT_BATCHES = ["0", "-1", "dynamic", "x", "9" * 30, "1.5", "", "١", "2"]
URLS = ["http://", "https://[", "http://:0/x.pkl", "https://127.0.0.1:99999/x.pkl", "ftp://example.invalid/x.pkl",
        "file:///etc/passwd", "http://user@/x.pkl", "https://exa mple/x.pkl", "builtin:", "builtin:nosuch",
        "builtin:demo/../x", "ffhq-nosuch-sg9", "http://[::1]:80/x.pkl", "HTTPS://x/y.pkl",
        "https://x/" + "a" * 3000 + ".pkl"]


def in_paths(suffix: str, valid: str, folders: bool = False) -> list[str]:
    """Odd values for an input path of files ending in `suffix` (`valid` is an intact one); with `folders`,
    for an option that also takes a folder (which is then searched, so never the root)."""
    values = [valid, f"{{dir:d{suffix}}}", f"{{devnull:null{suffix}}}", f"{{fifo:fifo{suffix}}}",
              f"{{missing:missing{suffix}}}", f"{{long:{suffix}}}", f"~nosuchuser/x{suffix}",
              f"{{empty:empty{suffix}}}", f"{{file:text{suffix}}}", "", f"é²/x{suffix}",
              f"\\\\server\\share\\x{suffix}", "{dir:d}/", f"{{file:text}}/x{suffix}"]
    return values + (["{mixed:m}", "."] if folders else ["/", "."])


def out_files(suffix: str) -> list[str]:
    """Odd values for an output file ending in `suffix`."""
    return [f"{{dir:d{suffix}}}", f"{{devnull:null{suffix}}}", f"{{fifo:fifo{suffix}}}", f"{{file:text}}/x{suffix}",
            f"{{long:{suffix}}}", f"~nosuchuser/x{suffix}", "", "{dir:d}/", "x", "x.unknown",
            f"{{missing:m}}/x{suffix}", f"{{file:existing{suffix}}}"]


OUT_DIRS = ["{dir:d}", "{devnull:null}", "{fifo:fifo}", "{file:text}", "{long:}", "~nosuchuser/x", "", ".",
            "{file:text}/sub", "{missing:a}/b/c", "é²", "{dir:d}/", "{long:}/x"]
NETWORKS = in_paths(".pkl", "{network}") + URLS

GENERATOR = ["--network", "{network}"]
BASES: dict[str, list[str]] = {
    "generate": ["generate", *GENERATOR, "--seeds", "0-1", "--outdir", "out"],
    "generate-sg3": ["generate", "--network", "{sg3}", "--seeds", "0", "--outdir", "out"],
    "generate-cond": ["generate", "--network", "{cond}", "--seeds", "0", "--class", "1", "--outdir", "out"],
    "truncation": ["truncation", *GENERATOR, "--seeds", "1", "--trunc", "0,1", "--outdir", "out"],
    "mix": ["mix", *GENERATOR, "--rows", "1", "--cols", "2", "--styles", "0-1", "--outdir", "out"],
    "interpolate": ["interpolate", *GENERATOR, "--seeds", "1,2", "--frames-per-step", "2", "--output", "out/walk.gif"],
    "edit": ["edit", *GENERATOR, "--seeds", "0", "--direction", "{dirs}:1", "--strength", "0,1", "--outdir", "out"],
    "project": ["project", *GENERATOR, "--target", "{image}", "--method", "image2stylegan", "--loss", "pixel",
                "--num-steps", "1", "--outdir", "out"],
    "noise": ["noise", *GENERATOR, "--seeds", "1", "--samples", "1", "--std-samples", "2", "--outdir", "out"],
    "layers": ["layers", *GENERATOR, "--seed-a", "1", "--seed-b", "2", "--outdir", "out"],
    "morph": ["morph", *GENERATOR, "1", "2", "--steps", "2", "--outdir", "out"],
    "crossover": ["crossover", *GENERATOR, "--content", "1", "--style", "2", "--layers", "2-3", "--outdir", "out"],
    "expression": ["expression", *GENERATOR, "--target", "1", "--neutral", "2", "--expressive", "3", "--strength",
                   "0,1", "--outdir", "out"],
    "convert": ["convert", "{network}", "out/copy.safetensors"],
    "info": ["info", *GENERATOR],
    "dataset": ["dataset", "--source", "{images}", "--dest", "out/data.zip"],
    "pipeline": ["pipeline", "{recipe}", "--seeds", "0", "--outdir", "out"],
    "directions": ["directions", "sefa", *GENERATOR, "--num", "2", "--out", "out/dirs.npz"],
    "export": ["export", *GENERATOR, "--format", "torchscript", "--out", "out/g.pt", "--no-verify"],
    "encoder": ["encoder", "train", *GENERATOR, "--out", "out/enc", "--steps", "1", "--batch", "2", "--channel-base",
                "64", "--channel-max", "8", "--features", "8", "--iterations", "1"],
}
# (base, option or the index of a positional argument, values)
SLOTS: list[tuple[str, str | int, list[str]]] = [
    ("generate", "--seeds", SEEDS), ("generate", "--trunc", FLOATS), ("generate", "--trunc-cutoff", INTS),
    ("generate", "--class", INTS), ("generate", "--grid", GRIDS), ("generate", "--batch", INTS),
    ("generate", "--network", NETWORKS), ("generate", "--outdir", OUT_DIRS),
    ("generate", "--projected-w", in_paths(".npz", "{ws}")),
    ("generate", "--settings", in_paths(".json", "{settings}")),
    ("generate", "--device", DEVICES), ("generate-sg3", "--translate", PAIRS), ("generate-sg3", "--rotate", FLOATS),
    ("generate-cond", "--class", INTS), ("truncation", "--trunc", PSI_LISTS), ("truncation", "--seeds", SEEDS),
    ("mix", "--rows", SEEDS), ("mix", "--cols", SEEDS), ("mix", "--styles", LAYERS), ("mix", "--weight", FLOATS),
    ("interpolate", "--seeds", SEEDS), ("interpolate", "--frames-per-step", COUNTS), ("interpolate", "--grid", GRIDS),
    ("interpolate", "--fps", FLOATS), ("interpolate", "--output", out_files(".gif")),
    ("edit", "--direction", in_paths(".npz", "{dirs}") + ["{dirs}:99", "{dirs}:-1", "{dirs}:²", "{dirs}:" + "9" * 30]),
    ("edit", "--strength", STRENGTHS), ("edit", "--layers", LAYERS),
    ("edit", "--projected-w", in_paths(".npz", "{ws}")),
    ("project", "--target", in_paths(".png", "{image}", folders=True)), ("project", "--num-steps", COUNTS),
    ("project", "--lr", FLOATS), ("project", "--loss", LOSSES), ("project", "--init", INITS),
    ("project", "--seed", INTS), ("project", "--outdir", OUT_DIRS), ("noise", "--samples", COUNTS),
    ("noise", "--std-samples", COUNTS), ("noise", "--noise-seed", INTS), ("layers", "--seed-a", SEEDS),
    ("layers", "--seed-b", SEEDS), ("morph", 3, SEEDS), ("morph", "--steps", COUNTS), ("crossover", "--content", SEEDS),
    ("crossover", "--layers", LAYERS), ("expression", "--strength", STRENGTHS), ("expression", "--neutral", SEEDS),
    ("convert", 1, NETWORKS), ("convert", 2, out_files(".safetensors")), ("info", "--network", NETWORKS),
    ("dataset", "--source", in_paths(".zip", "{images}", folders=True)), ("dataset", "--dest", out_files(".zip")),
    ("dataset", "--resolution", RESOLUTIONS), ("dataset", "--max-images", COUNTS),
    ("dataset", "--labels", in_paths(".json", "{settings}")), ("pipeline", 1, in_paths(".toml", "{recipe}")),
    ("pipeline", "--seeds", SEEDS), ("pipeline", "--outdir", OUT_DIRS), ("directions", "--num", COUNTS),
    ("directions", "--layers", LAYERS), ("directions", "--out", out_files(".npz")),
    ("export", "--batch", EXPORT_BATCHES), ("encoder", "--data", in_paths(".zip", "{images}", folders=True)),
    ("encoder", "--data-share", FLOATS), ("encoder", "--start", in_paths(".safetensors", "{network}")),
    ("encoder", "--out", OUT_DIRS), ("encoder", "--steps", COUNTS), ("encoder", "--iterations", COUNTS),
    ("encoder", "--lr", FLOATS), ("encoder", "--batch", COUNTS),
]
PLACEHOLDER = re.compile(r"\{(\w+)(?::([^}]*))?\}")


def _make(folder: Path, what: str, name: str, corpus: dict[str, Path]) -> Path:
    """Make the special file `what` named `name` in `folder` (once) and return its path."""
    path = folder / name
    if what == "long":
        return folder / ("n" * 3000 + name)
    if what == "missing" or os.path.lexists(path):
        return path
    if what == "dir":
        path.mkdir()
    elif what == "fifo":
        os.mkfifo(path)
    elif what == "devnull":
        path.symlink_to(os.devnull)
    elif what in ("empty", "file"):
        path.write_text("" if what == "empty" else "not what this option expects\n")
    elif what == "mixed":
        path.mkdir()
        shutil.copy(corpus["image.png"], path / "good.png")
        os.mkfifo(path / "fifo.png")
        (path / "null.png").symlink_to(os.devnull)
        (path / "text.png").write_text("text\n")
        (path / "folder.png").mkdir()
    else:
        raise ValueError(f"unknown placeholder {what!r}")
    return path


def resolve(value: str, folder: Path, corpus: dict[str, Path]) -> str:
    """`value` with its placeholders replaced (special files made in `folder`)."""
    def one(match: re.Match) -> str:
        what, name = match.group(1), match.group(2)
        if name is None:
            return str(corpus[REFERENCES[what]])
        return str(_make(folder, what, name, corpus))
    return PLACEHOLDER.sub(one, value)


# The intact inputs the placeholders name (keys of the corpus).
REFERENCES = {"network": "nvidia.pkl", "sg3": "sg3.pkl", "cond": "cond.pkl", "ws": "ws.npz", "dirs": "dirs.npz",
              "image": "image.png", "images": "images", "recipe": "recipe.toml", "settings": "settings.json"}


def option_case(rng: random.Random, folder: Path, corpus: dict[str, Path]) -> tuple[list[str], str, str]:
    """One verb with one option set to an odd value: (argv, "verb option", the value as written)."""
    base, option, values = rng.choice(SLOTS)
    value = rng.choice(values)
    argv = list(BASES[base])
    if isinstance(option, int):
        argv[option] = value
    elif option in argv:
        argv[argv.index(option) + 1] = value
    else:
        argv += [option, value]
    label = f"{base} {option if isinstance(option, str) else f'argument {option}'}"
    return [resolve(a, folder, corpus) for a in argv], label, value
