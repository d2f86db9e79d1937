"""The package layout: imports run one way, from the command line down to the ops, and every package's
interface can be imported without torch."""
import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "stylegan"

# Lowest first: a part may import from its own level and the levels before it, never from a later one. The
# data flow is checkpoint -> formats -> models -> latent -> media -> files; hub resolves names into local
# files and then calls formats, which reads local files only (parsing a file never starts a download).
LAYERS = [
    {"errors", "lazy", "runtime", "__init__"},
    {"ops"},
    {"models"},
    {"io"},
    {"formats"},
    {"hub"},
    {"nets", "data"},
    {"latent"},
    {"media", "metrics"},
    {"train", "export", "studio", "compat"},
    {"pipeline", "apis", "utils"},
    {"cli"},
]
LEVEL = {part: level for level, parts in enumerate(LAYERS) for part in parts}


def part_of(module: str) -> str:
    """'stylegan.latent.space' -> 'latent'; the package itself -> '__init__'."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def imports() -> list[tuple[str, str, str]]:
    """(file, importing part, imported part) for every import of one part of the package by another."""
    found = []
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE.parent).with_suffix("").parts
        module = ".".join(rel[:-1] if rel[-1] == "__init__" else rel)
        package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
        source = part_of(module) if path.parent != PACKAGE else ("__init__" if path.stem == "__init__" else path.stem)
        for node in ast.walk(ast.parse(path.read_text())):
            targets = []
            if isinstance(node, ast.ImportFrom) and node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
                targets = [target] if node.module else [f"{target}.{a.name}" for a in node.names]
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("stylegan"):
                targets = [node.module]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names if a.name.startswith("stylegan")]
            for target in targets:
                part = part_of(target)
                if part == "__version__":
                    part = "__init__"
                if part != source:
                    found.append((str(path.relative_to(PACKAGE)), source, part))
    return found


def test_every_part_has_a_level():
    parts = {p.stem if p.is_file() else p.name for p in PACKAGE.iterdir()
             if (p.suffix == ".py") or (p / "__init__.py").is_file()}
    assert parts == set(LEVEL), f"place new parts in LAYERS: {sorted(parts ^ set(LEVEL))}"


def test_imports_run_one_way():
    upward = [f"{file}: {source} imports {target}" for file, source, target in imports()
              if LEVEL[target] > LEVEL[source]]
    assert upward == []


def test_the_package_root_stays_small():
    assert len(list(PACKAGE.glob("*.py"))) <= 8


@pytest.mark.parametrize("package", ["stylegan", "stylegan.models", "stylegan.latent", "stylegan.latent.seeds",
                                     "stylegan.media", "stylegan.data", "stylegan.train", "stylegan.export",
                                     "stylegan.metrics", "stylegan.io", "stylegan.io.outputs", "stylegan.hub",
                                     "stylegan.cli"])
def test_interfaces_import_without_torch(package):
    script = (f"import sys, {package}\n"
              "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'numpy', 'scipy', 'PIL'))\n"
              "print(heavy)")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
