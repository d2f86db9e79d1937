"""Exceptions with messages meant for the user: what went wrong and how to fix it, in one line."""


class StyleGANError(Exception):
    """Base class of every error this package reports to the user."""


class CheckpointError(StyleGANError):
    """A checkpoint file is missing, damaged, unsafe, or of a kind this package cannot read."""


class UnsafePickleError(CheckpointError):
    """A pickle asked for a Python global outside the allowlist (it could run code)."""


class InputError(StyleGANError, ValueError):
    """An argument given by the user (seeds, psi, shapes, file) is invalid."""


def one_line(text: str) -> str:
    """`text` with line breaks and other control characters written as escapes, so that a message naming
    something read from a file (a tensor's name, a key) stays on one line."""
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)
