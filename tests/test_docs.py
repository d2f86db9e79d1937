"""The documentation site: its runnable code blocks run, its generated references cover the code, and
`mkdocs build --strict` passes (when mkdocs is installed: the `docs` and `test` extras install it)."""
from __future__ import annotations

import ast
import importlib
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
DATA = Path(__file__).resolve().parent / "data"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from docs import figures  # noqa: E402
from docs.tools import api_pages, cli_page, runnable, zoo_table  # noqa: E402

# The networks a page's runnable blocks find in their folder, under the names the pages use.
NETWORKS = {"stylegan2.pkl": "sg2_skip_32.pkl", "stylegan3.pkl": "sg3t_32.pkl", "stylegan1.pkl": "tf_sg1_128.pkl"}
PAGES = sorted(DOCS.rglob("*.md"))
RUNNABLE = [p for p in PAGES if runnable.blocks(p)]
# Pages whose blocks take more than about 10 s on 2 cores (the projections of the projection guide).
SLOW_PAGES = {"guides/projection.md"}
# The command line's interface is documented by its own reference page.
NOT_API_PAGES = {"stylegan.cli"}


def _run_block(block: runnable.Block, namespace: dict) -> None:
    if block.language == "python":
        exec(compile(block.code, block.where, "exec"), namespace)
        return
    from stylegan.cli import cli
    for args in runnable.commands(block):
        result = CliRunner().invoke(cli, args[1:], catch_exceptions=False)
        assert result.exit_code == 0, f"{block.where}: `{' '.join(args)}` exited {result.exit_code}:\n" \
                                      f"{result.output}"


@pytest.mark.parametrize("page", [
    pytest.param(p, id=p.relative_to(DOCS).as_posix(),
                 marks=[pytest.mark.slow] if p.relative_to(DOCS).as_posix() in SLOW_PAGES else [])
    for p in RUNNABLE])
def test_runnable_blocks_run(page: Path, tmp_path: Path, monkeypatch) -> None:
    for name, fixture in NETWORKS.items():
        shutil.copyfile(DATA / fixture, tmp_path / name)
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__docs__"}
    for block in runnable.blocks(page):
        _run_block(block, namespace)


def test_every_guide_has_runnable_code() -> None:
    guides = [p for p in PAGES if p.parent.name == "guides"]
    assert guides
    without = [p.name for p in guides if p not in RUNNABLE]
    assert not without, f"guides without a runnable block: {without}"


def test_runnable_markers_are_checked(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("<!-- run -->\n```text\nstylegan generate\n```\n")
    with pytest.raises(ValueError, match="must be followed by"):
        runnable.blocks(page)
    page.write_text("<!-- run -->\n```bash\npip install stylegan\n```\n")
    with pytest.raises(ValueError, match="`stylegan` commands only"):
        runnable.commands(runnable.blocks(page)[0])
    page.write_text("<!-- run -->\n```bash\nstylegan generate \\\n  --seeds 1  # one\n```\n")
    assert runnable.commands(runnable.blocks(page)[0]) == [["stylegan", "generate", "--seeds", "1"]]


def _command_lines(markdown: str) -> list[str]:
    """The `stylegan` command lines of every bash block (runnable or not), without the program name, with their
    indented continuation lines joined and comments dropped."""
    found: list[str] = []
    for block in re.findall(r"```bash\n(.*?)```", markdown, flags=re.S):
        current = None
        for line in block.splitlines():
            code = line.split(" #")[0]
            start = re.match(r"\s*(?:torchrun .*?-m stylegan\.cli|stylegan)\s+(.*)", code)
            if start:
                found.append(start.group(1))
                current = len(found) - 1
            elif current is not None and line.startswith(" "):
                found[current] += " " + code
            else:
                current = None
    return found


def test_every_command_line_on_the_site_names_real_options() -> None:
    """Every verb and option in the pages' shell examples, runnable or not (placeholders such as
    `--network PATH` included), exists, so a renamed option breaks the tests rather than the reader."""
    verbs = {verb.path: verb for verb in cli_page.verbs()}
    checked = 0
    for page in PAGES:
        for line in _command_lines(page.read_text(encoding="utf-8")):
            words = line.split()
            path = f"stylegan {words[0]}"
            if path in verbs and len(words) > 1 and f"{path} {words[1]}" in verbs:
                path = f"{path} {words[1]}"
            assert path in verbs, f"{page.name}: `{path}` is not a verb"
            verb = verbs[path]
            names = {name for param in verb.command.get_params(verb.context)
                     for name in getattr(param, "opts", []) + getattr(param, "secondary_opts", [])}
            for option in re.findall(r"(?<![\w-])--[a-z][\w-]*", line):
                assert option in names, f"{page.name}: `{path}` has no option {option}"
                checked += 1
    assert checked > 300


def _is_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:  # (a name inside a module, not a submodule)
        return False


def test_every_python_name_on_the_site_exists() -> None:
    """Every dotted `stylegan.x.y` the pages name is importable, so a moved or renamed function is noticed."""
    names = {m for page in PAGES for m in re.findall(r"\bstylegan(?:\.[A-Za-z_]\w*)+", page.read_text("utf-8"))}
    assert len(names) > 30
    for name in sorted(names):
        parts = name.split(".")
        split = 1
        while split < len(parts) and _is_module(".".join(parts[:split + 1])):
            split += 1
        obj = importlib.import_module(".".join(parts[:split]))
        for attribute in parts[split:]:
            assert hasattr(obj, attribute), f"the docs name {name}, which does not exist"
            obj = getattr(obj, attribute)


def _help_options(args: list[str]) -> list[str]:
    """The option names `stylegan ARGS --help` lists."""
    from stylegan.cli import cli
    result = CliRunner().invoke(cli, args + ["--help"])
    assert result.exit_code == 0, result.output
    section = result.output.split("Options:", 1)[1].split("Commands:", 1)[0]
    return re.findall(r"^  (-[^\s,]+)", section, flags=re.M)


def test_cli_reference_covers_every_verb_and_option() -> None:
    page = cli_page.page()
    sections = dict(re.findall(r"^#+ `([^`]+)` \{ #[\w-]+ \}\n(.*?)(?=^#+ `|\Z)", page, flags=re.M | re.S))
    verbs = cli_page.verbs()
    assert {v.path for v in verbs} == set(sections)
    assert {"stylegan generate", "stylegan directions sefa", "stylegan encoder train"} <= set(sections)
    for verb in verbs:
        text = sections[verb.path]
        for option in _help_options(verb.path.split()[1:]):
            assert f"`{option}" in text, f"{verb.path}: {option} is in --help but not on the page"
        for names, help_text in cli_page.option_records(verb):
            assert f"`{names}`\n:   {cli_page.escape(help_text)}" in text


def test_cli_reference_escapes_markdown_outside_code() -> None:
    assert cli_page.escape("a *_full* [x] `a_b*` <c>") == r"a \*\_full\* \[x\] `a_b*` \<c\>"


def _interfaces() -> list[str]:
    """Every stylegan package or module whose interface is an `__all__`."""
    found = []
    for path in sorted((ROOT / "stylegan").glob("*")):
        init = path / "__init__.py" if path.is_dir() else path
        if init.is_file() and init.suffix == ".py" and "__all__" in init.read_text(encoding="utf-8"):
            found.append("stylegan" if path.name == "__init__.py" else f"stylegan.{path.stem}")
    return found


def test_api_reference_covers_every_interface() -> None:
    documented = {package for package, _ in api_pages.PACKAGES}
    missing = set(_interfaces()) - documented - NOT_API_PAGES
    assert not missing, f"interfaces without an API page: {sorted(missing)}"


def _exported(module, name: str):
    """What `module.name` stands for by its interface: the lazy exports table's value when it has the name (an
    imported submodule of the same name, `stylegan.latent.align_files`, can hide it as an attribute), else the
    attribute."""
    lazy = vars(module).get("__getattr__")
    if lazy is not None:
        try:
            return lazy(name)
        except AttributeError:
            pass
    return getattr(module, name)


@pytest.mark.parametrize("package", [p for p, _ in api_pages.PACKAGES])
def test_api_entries_are_the_exported_objects(package: str) -> None:
    module = importlib.import_module(package)
    names = [e.name for e in api_pages.entries(package)]
    public = getattr(module, "__all__", None)
    if public is not None:
        assert names == list(public)
    for entry in api_pages.entries(package):
        home, _, attribute = entry.target.rpartition(".")
        if entry.name == "__version__":
            continue
        target = getattr(importlib.import_module(home), attribute)
        assert target is _exported(module, entry.name), f"{package}.{entry.name} is not {entry.target}"


def test_api_pages_render_each_object_once() -> None:
    pages = api_pages.pages()
    rendered = re.findall(r"^::: (\S+)$", "\n".join(pages.values()), flags=re.M)
    assert len(rendered) == len(set(rendered))
    assert "::: stylegan.latent.space.mix" in pages[api_pages.page_path("stylegan.latent")]
    assert "[`stylegan.seed_to_z`][stylegan.latent.space.seed_to_z]" in pages[api_pages.page_path("stylegan.latent")]


def test_api_pages_are_in_the_nav() -> None:
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    for path in api_pages.pages():
        assert re.search(rf"^ +- (.+: )?{re.escape(path)}$", nav, flags=re.M), f"{path} is not in mkdocs.yml's nav"


def test_zoo_table_lists_every_published_checkpoint() -> None:
    from stylegan.hub import zoo
    table = zoo_table.table()
    rows = [line for line in table.splitlines()[2:]]
    assert len(rows) == len(zoo.ZOO)
    for entry, row in zip(zoo.ZOO, rows):
        assert row.startswith(f"| `{entry.name}` |") and entry.url in row
    page = (DOCS / "checkpoints.md").read_text(encoding="utf-8")
    assert zoo_table.MARKER in page
    assert table in zoo_table.fill(page)


def test_images_are_the_figure_scripts() -> None:
    assert {f.file for f in figures.FIGURES} == {p.name for p in (DOCS / "images").iterdir()}


@pytest.mark.slow
def test_figure_script_makes_every_figure(tmp_path: Path) -> None:
    made = figures.make(tmp_path, log=lambda line: None)
    assert sorted(p.name for p in made) == sorted(f.file for f in figures.FIGURES)
    assert all(p.stat().st_size > 1000 for p in made)


# Where each section of the README is on the site (one page or several).
README_SECTIONS = {
    "Install and generate": ("index.md",),
    "What works": ("index.md",),
    "Run the tests": ("getting-started.md",),
    "The documentation": ("getting-started.md", "design.md"),
    "Where to go": ("index.md",),
    "License": ("index.md",),
}
README = ROOT / "README.md"
_NUMBER = re.compile(r"(?<![\w.])\d+(?:,\d{3})*(?:\.\d+)?(?:e[-+]?\d+)?(?!\d)")


def _sections(text: str) -> dict[str, str]:
    """The README's `##` and `###` sections: heading -> text."""
    parts = re.split(r"^#{2,3} (.+)$", text, flags=re.M)
    return {parts[i].strip(): parts[i + 1] for i in range(1, len(parts), 2)}


def test_every_readme_section_is_on_the_site() -> None:
    """Each section of the README has a page, and every number it states (measurements, sizes, defaults)
    stands on that page too."""
    for heading, body in _sections(README.read_text(encoding="utf-8")).items():
        assert heading in README_SECTIONS, f"the README section {heading!r} is on no page of the site: move its " \
                                           f"facts into a page and name it in README_SECTIONS"
        text = "\n".join((DOCS / page).read_text(encoding="utf-8") for page in README_SECTIONS[heading])
        text = zoo_table.fill(text)
        lost = sorted({n for n in _NUMBER.findall(body) if not re.search(rf"(?<![\w.]){re.escape(n)}(?!\d)", text)})
        assert not lost, f"README section {heading!r}: {lost} stated there but not on {README_SECTIONS[heading]}"


def test_readme_is_short() -> None:
    """The README is short, its links lead to files of the repository, and it holds the test command `.ci/run`
    runs."""
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 300
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text) + re.findall(r'(?:src|href)="([^"#]+)', text)
    for target in targets:
        if not re.match(r"\w+://", target):
            assert (ROOT / target).exists(), f"README.md links to {target}, which does not exist"
    assert "pip install -q -c constraints.txt -e \".[test]\" && python -m pytest -q -rs" in text


def test_readme_has_the_home_pages_feature_table() -> None:
    """The feature table of the README is the site's, with links made relative to the repository."""
    home = [row.replace("](", "](docs/") for row in (DOCS / "index.md").read_text("utf-8").splitlines()
            if row.startswith("| ")]
    assert home and home == [row for row in README.read_text("utf-8").splitlines() if row.startswith("| ")]


def test_ci_runs_the_readme_test_command() -> None:
    """`.ci/run` runs the README's test command, whose `test` extra includes what the site build needs."""
    command = re.search(r"^python3 -m venv .*pytest.*$", README.read_text(encoding="utf-8"), re.M)
    assert command is not None and command.group(0) in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    extras = ast.literal_eval(re.search(r"^test = (\[.*?\])$", (ROOT / "pyproject.toml").read_text(encoding="utf-8"),
                                        re.M | re.S).group(1).replace("\n", ""))
    docs = ast.literal_eval(re.search(r"^docs = (\[.*?\])$", (ROOT / "pyproject.toml").read_text(encoding="utf-8"),
                                      re.M).group(1))
    assert set(docs) <= set(extras)


def test_site_builds_strictly(tmp_path: Path) -> None:
    if importlib.util.find_spec("mkdocs") is None or importlib.util.find_spec("mkdocstrings") is None:
        pytest.skip("mkdocs is not installed: pip install -e \".[docs]\" (the test extra includes it)")
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    cli_html = (tmp_path / "site" / "reference" / "cli" / "index.html").read_text(encoding="utf-8")
    assert "stylegan-directions-sefa" in cli_html and "--projected-w" in cli_html
    api_html = (tmp_path / "site" / "reference" / "api" / "stylegan-latent" / "index.html").read_text(encoding="utf-8")
    assert 'id="stylegan.latent.space.mix"' in api_html
    zoo_html = (tmp_path / "site" / "checkpoints" / "index.html").read_text(encoding="utf-8")
    assert "ffhq-1024-sg3t" in zoo_html and zoo_table.MARKER not in zoo_html
