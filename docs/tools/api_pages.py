"""The API reference, generated from the package's interfaces: one page per package, one entry per name of its
`__all__`, each rendered by mkdocstrings from the object's own signature and docstring.

The package interfaces import their modules on first use (`stylegan.lazy.exports`), so a name's home is read
from each `__init__.py` statically: the `exports(__name__, {...})` table, `from .module import name` lines, or
a definition in the `__init__` itself. An object exported by several packages is rendered once, where it is
first listed; the other packages link to it.
"""
from __future__ import annotations

import ast
import importlib.util
from dataclasses import dataclass
from pathlib import Path

# (package, page title's one-line summary), in the order of the data flow.
PACKAGES: tuple[tuple[str, str], ...] = (
    ("stylegan", "Loading, saving and the network classes"),
    ("stylegan.latent", "Seeds, ws, mixing, walks, generation, directions and projection"),
    ("stylegan.models", "The networks and the inference precision"),
    ("stylegan.media", "The papers' figures, walks and the demo"),
    ("stylegan.io", "Images, ws, directions, noise and videos in and out"),
    ("stylegan.hub", "Published checkpoints, URLs and the cache"),
    ("stylegan.data", "Datasets and builtin:toonfaces"),
    ("stylegan.train", "Training and ADA augmentation"),
    ("stylegan.metrics", "FID, KID, precision/recall, PPL and equivariance"),
    ("stylegan.export", "ONNX and TorchScript export"),
    ("stylegan.nets", "Feature networks: InceptionV3, VGG16 and LPIPS"),
    ("stylegan.pipeline", "Recipes chaining models"),
    ("stylegan.studio", "The studio from Python"),
    ("stylegan.runtime", "Process-wide settings: threads and memory"),
    ("stylegan.apis", "MMGeneration-style entry points"),
    ("stylegan.utils", "Notebook helpers"),
    ("stylegan.ops", "The differentiable building blocks"),
)
# Packages whose interface is a module of another name (`stylegan.apis` is `from .compat.apis import *`).
INTERFACE_MODULES = {"stylegan.apis": "stylegan.compat.apis", "stylegan.utils": "stylegan.compat.utils"}


@dataclass(frozen=True)
class Entry:
    """One public name of a package and the dotted path of the object it stands for."""
    name: str
    target: str


def page_path(package: str) -> str:
    """The page of a package, relative to the docs folder."""
    return f"reference/api/{package.replace('.', '-')}.md"


def _source(module: str) -> tuple[Path, ast.Module]:
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise LookupError(f"{module}: not found")
    path = Path(spec.origin)
    return path, ast.parse(path.read_text(encoding="utf-8"))


def _exports_table(tree: ast.Module) -> dict[str, str]:
    """The `exports(__name__, {...})` table of an interface: public name -> 'module' or 'module:attribute'."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "exports" and len(node.args) == 2:
            return ast.literal_eval(node.args[1])
    return {}


def _all_names(tree: ast.Module) -> list[str]:
    """A module's `__all__`; without one, the functions and classes it defines whose names are public."""
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__all__" for t in node.targets):
            return list(ast.literal_eval(node.value))
    return [node.name for node in tree.body
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and not node.name.startswith("_")]


def entries(package: str) -> list[Entry]:
    """The public names of `package` (its `__all__` in order, else its public definitions) with the path of the
    object each stands for."""
    module = INTERFACE_MODULES.get(package, package)
    path, tree = _source(module)
    is_package = path.name == "__init__.py"
    base = module if is_package else module.rpartition(".")[0]
    homes: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):
            source = importlib.util.resolve_name("." * node.level + (node.module or ""), base) if node.level \
                else node.module
            for alias in node.names:
                homes[alias.asname or alias.name] = f"{source}.{alias.name}"
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            homes[node.name] = f"{module}.{node.name}"
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                if isinstance(target, ast.Name):
                    homes[target.id] = f"{module}.{target.id}"
    for name, where in _exports_table(tree).items():
        source, _, attribute = where.partition(":")
        homes[name] = f"{importlib.util.resolve_name('.' + source, base)}.{attribute or name}"
    found = []
    for name in _all_names(tree):
        if name not in homes:
            raise LookupError(f"{package}.__all__ names {name!r}, which {path.name} neither defines nor imports")
        found.append(Entry(name, homes[name]))
    return found


def _summary(module: str) -> str:
    """The first paragraph of a module's docstring."""
    _, tree = _source(module)
    return (ast.get_docstring(tree) or "").split("\n\n")[0]


def render(package: str, title: str, rendered: dict[str, str]) -> str:
    """The Markdown of one package's page; `rendered` maps each object already on a page to that page's
    public name for it, and is updated with this page's objects."""
    module = INTERFACE_MODULES.get(package, package)
    lines = [f"# `{package}`: {title}", "", _summary(module), ""]
    if module != package:
        lines += [f"`{package}` is the import path of `{module}`.", ""]
    for entry in entries(package):
        public = f"{package}.{entry.name}"
        if entry.target in rendered:
            lines += [f"## `{entry.name}`", "", f"The same object as [`{rendered[entry.target]}`][{entry.target}].",
                      ""]
            continue
        rendered[entry.target] = public
        lines += [f"::: {entry.target}", "    options:", "      heading_level: 2", ""]
    return "\n".join(lines)


def pages() -> dict[str, str]:
    """Every API page: path (relative to the docs folder) -> Markdown, plus the index page."""
    rendered: dict[str, str] = {}
    out = {page_path(package): render(package, title, rendered) for package, title in PACKAGES}
    rows = [f"| [`{package}`]({Path(page_path(package)).name}) | {title} |" for package, title in PACKAGES]
    out["reference/api/index.md"] = "\n".join([
        "# Python API", "",
        "Every public name of the Python API, package by package: what each package's `__all__` exports, "
        "with its signature, types and docstring, generated from the code when the site is built. "
        "Names are imported on first use, so `import stylegan` stays cheap.", "",
        "| package | what |", "| --- | --- |", *rows, ""])
    return out
