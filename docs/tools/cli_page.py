"""The command-line reference, generated from the click objects of `stylegan.cli.cli`: every verb and subcommand
with its usage line, help text and every option as `--help` prints it (names, type, default, help).

The verbs are looked up through the group as the command line does (`Group.get_command`), which adds the
options every verb shares (`--offline`, `--download-weights`, `--threads`); each option's line is click's own
help record, so the page and `--help` cannot disagree.
"""
from __future__ import annotations

import inspect
import re
from dataclasses import dataclass

import click

PAGE = "reference/cli.md"
_SPECIAL = re.compile(r"([\\*_\[\]<>|])")


@dataclass(frozen=True)
class Verb:
    """One command of the tree: its full name (`stylegan directions sefa`), click object and context."""
    path: str
    command: click.Command
    context: click.Context


def verbs(root: click.Group | None = None) -> list[Verb]:
    """Every command under `root` (default: `stylegan.cli.cli`), depth first, the root itself first."""
    if root is None:
        from stylegan.cli import cli as root
    found: list[Verb] = []

    def visit(command: click.Command, context: click.Context) -> None:
        found.append(Verb(context.command_path, command, context))
        if isinstance(command, click.Group):
            for name in command.list_commands(context):
                sub = command.get_command(context, name)
                if sub is not None and not sub.hidden:
                    visit(sub, click.Context(sub, info_name=name, parent=context))

    visit(root, click.Context(root, info_name="stylegan"))
    return found


def option_records(verb: Verb) -> list[tuple[str, str]]:
    """(names and metavar, help with default) of each option, as `--help` lists them (arguments are in the
    usage line)."""
    params = [p for p in verb.command.get_params(verb.context) if not isinstance(p, click.Argument)]
    records = [param.get_help_record(verb.context) for param in params]
    return [record for record in records if record is not None]


def escape(text: str) -> str:
    """Markdown-escape `text` outside its `code spans`."""
    parts = text.split("`")
    return "`".join(part if i % 2 else _SPECIAL.sub(r"\\\1", part) for i, part in enumerate(parts))


def _help_paragraphs(text: str | None) -> list[str]:
    """Markdown paragraphs of a click help text: rewrapped, except `\\b` blocks, which stay as written."""
    text = inspect.cleandoc(text or "").split("\f")[0]
    out = []
    for block in re.split(r"\n\s*\n", text):
        if block.startswith("\b"):
            out.append("```text\n" + block.lstrip("\b").strip("\n") + "\n```")
        elif block.strip():
            out.append(escape(" ".join(line.strip() for line in block.splitlines())))
    return out


def anchor(verb: Verb) -> str:
    """The heading id of a verb's section: `stylegan directions sefa` -> `stylegan-directions-sefa`."""
    return verb.path.replace(" ", "-")


def _section(verb: Verb) -> list[str]:
    level = max(verb.path.count(" "), 1) + 1  # the root and the verbs at level 2, subcommands at 3
    lines = [f"{'#' * level} `{verb.path}` {{ #{anchor(verb)} }}", "",
             "```text", verb.command.get_usage(verb.context), "```", ""]
    for paragraph in _help_paragraphs(verb.command.help):
        lines += [paragraph, ""]
    if isinstance(verb.command, click.Group):
        names = verb.command.list_commands(verb.context)
        lines += ["Subcommands: " + ", ".join(f"[`{name}`](#{anchor(verb)}-{name})" for name in names) + ".", ""]
    for names, help_text in option_records(verb):
        lines += [f"`{names}`", f":   {escape(help_text)}", ""]
    for paragraph in _help_paragraphs(verb.command.epilog):
        lines += [paragraph, ""]
    return lines


def page() -> str:
    """The Markdown of the command-line reference."""
    lines = ["# Command line", "",
             "Every verb of the `stylegan` command, with every option as `stylegan VERB --help` prints it: names, "
             "type, default and help. This page is generated from the same click objects when the site is "
             "built, so it cannot drift from `--help`.", ""]
    for verb in verbs():
        lines += _section(verb)
    return "\n".join(lines)
