"""Generators of the site's reference parts (API pages, CLI reference, checkpoint table) and the reader of the
guides' runnable code blocks; `hooks.py` wires them into MkDocs."""
