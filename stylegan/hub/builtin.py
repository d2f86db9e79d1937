"""Built-in names: `builtin:demo`, the StyleGAN2 model shipped inside the package (trained by this package on
`builtin:toonfaces`, see the README's model card), usable wherever a checkpoint path is taken."""
from __future__ import annotations

from pathlib import Path

from ..errors import CheckpointError

PREFIX = "builtin:"
DEMO = "builtin:demo"
DEMO_FILE = "demo-toonfaces-64.safetensors"
DEMO_ENCODER_FILE = "demo-toonfaces-64-encoder.safetensors"


def demo_path() -> Path:
    """Where the demo model's weights live inside the installed package."""
    return Path(__file__).parents[1] / "weights" / DEMO_FILE


def demo_encoder_path() -> Path:
    """Where the demo model's encoder (`stylegan project --method encoder`) lives inside the package."""
    return Path(__file__).parents[1] / "weights" / DEMO_ENCODER_FILE


def has_demo() -> bool:
    """True when the demo model's weights are installed."""
    return demo_path().is_file()


def resolve(path: str | Path) -> str | Path:
    """The file a checkpoint name stands for: `builtin:demo` becomes the shipped file, other paths are
    returned unchanged; an unknown `builtin:` name is an error."""
    if not str(path).startswith(PREFIX):
        return path
    if str(path) != DEMO:
        raise CheckpointError(f"{path}: unknown built-in network; the one built in is {DEMO}")
    if not has_demo():
        raise CheckpointError(f"{DEMO}: the demo model's weights ({DEMO_FILE}) are missing from this installation; "
                              f"reinstall the package, or give a checkpoint with --network")
    return demo_path()
