"""MkDocs hooks (`hooks:` in mkdocs.yml): add the generated reference pages and fill the generated tables.

Generated when the site is built, from the package itself: the Python API pages (`api_pages`), the
command-line reference (`cli_page`) and the published-checkpoint table (`zoo_table`).
"""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # (the hooks run inside `mkdocs`, whose path holds neither the package nor docs/)
    sys.path.insert(0, str(ROOT))

from docs.tools import api_pages, cli_page, zoo_table  # noqa: E402
from mkdocs.config.defaults import MkDocsConfig  # noqa: E402
from mkdocs.structure.files import File, Files  # noqa: E402
from mkdocs.structure.pages import Page  # noqa: E402


def on_files(files: Files, config: MkDocsConfig) -> Files:
    """Add the generated pages: the command-line reference and one API page per package."""
    generated = {cli_page.PAGE: cli_page.page(), **api_pages.pages()}
    for path, content in generated.items():
        files.append(File.generated(config, path, content=content))
    return files


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    """Fill the generated tables into the pages that mark their place."""
    return zoo_table.fill(markdown)
