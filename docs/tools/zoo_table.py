"""The table of published checkpoints, generated from `stylegan.hub.zoo`: the names `--network` accepts."""
from __future__ import annotations

MARKER = "<!-- generated: zoo-table -->"


def table() -> str:
    """A Markdown table of every zoo entry: name, generation, dataset, resolution and official URL."""
    from stylegan.hub import zoo
    rows = ["| name | generation | dataset | resolution | official URL | SHA-256 |",
            "| --- | --- | --- | --- | --- | --- |"]
    for entry in zoo.ZOO:
        digest = f"`{entry.sha256[:12]}…`" if entry.sha256 else "first download"
        rows.append(f"| `{entry.name}` | {entry.generation} | {entry.dataset} | {entry.resolution} | "
                    f"<{entry.url}> | {digest} |")
    return "\n".join(rows)


def fill(markdown: str) -> str:
    """`markdown` with the zoo marker replaced by the table."""
    return markdown.replace(MARKER, table())
