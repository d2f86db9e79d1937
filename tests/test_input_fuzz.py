"""A short seeded pass of the input fuzzer (tests/input_fuzz.py) over every kind of input: each mutated file,
odd option value and malformed studio request is accepted or refused in one line, in a child process with a
memory and a time limit. Then the fuzzer's own checks: stand-ins that raise a bare exception, sleep, die,
allocate without bound, refuse in two lines or leave files behind are each reported as such."""
from __future__ import annotations

import copy
import os
import random
import shutil
import signal
import time
from pathlib import Path

import click
import pytest
import torch

import input_fuzz
from fuzz_mutations import MAX_GROWTH, mutate
from fuzz_worker import (ACCEPTED, BAD_OUTPUT, CRASH, HANG, LINES, MEMORY, PARTIAL, REFUSED, TRACEBACK, Case,
                         Result, Worker)
from input_fuzz import KINDS, build_corpus, fuzz, leftovers, run_case

pytest.importorskip("resource")
pytest.importorskip("starlette")
if not Path("/proc/self/statm").exists():
    pytest.skip("the worker sizes its memory limit from /proc", allow_module_level=True)

CASES = {"checkpoints": 60, "images": 60, "latents": 40, "options": 60, "studio": 100}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> dict[str, Path]:
    return build_corpus(tmp_path_factory.mktemp("corpus"))


@pytest.fixture(scope="module")
def worker(tmp_path_factory):
    with Worker(tmp_path_factory.mktemp("worker"), time_limit=300) as worker:
        yield worker


@pytest.mark.parametrize("kind", KINDS)
def test_a_short_pass_is_accepted_or_refused_in_one_line(kind, corpus, worker, tmp_path):
    tally = fuzz(kind, CASES[kind], seed=7, corpus=corpus, worker=worker, scratch=tmp_path)
    print(tally.table())
    report = [f"{case.kind}:{case.seed} {case.label}: {case.mutation} -> {result.outcome}: {result.detail}"
              for case, result in tally.failures]
    assert not report, "\n".join(report)
    assert sum(tally.counts.values()) == CASES[kind]
    assert tally.counts[kind, ACCEPTED] and tally.counts[kind, REFUSED]  # both paths taken


def test_a_case_is_made_from_its_kind_and_seed_alone(corpus, tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    for kind in ("checkpoints", "images", "latents", "options"):
        for folder in (first, second):
            folder.mkdir()
        cases = [input_fuzz.make_case(kind, 12345, corpus, folder) for folder in (first, second)]
        assert cases[0].mutation == cases[1].mutation and cases[0].label == cases[1].label
        assert [a.replace(str(first), "") for a in cases[0].args] == [a.replace(str(second), "") for a in cases[1].args]
        files = sorted(p.name for p in first.iterdir() if p.is_file() and not p.is_symlink())
        assert [(first / n).read_bytes() for n in files] == [(second / n).read_bytes() for n in files]
        for folder in (first, second):
            shutil.rmtree(folder)


def test_mutants_stay_near_their_size_and_change_their_file(corpus):
    """Every mutator on every kind of file, with many seeds: a mutant differs from its file and grows by at most
    MAX_GROWTH bytes (a length field taken at its word once padded a PNG chunk to 3.5 GB)."""
    changed = 0
    for name in (*input_fuzz.CHECKPOINTS, *input_fuzz.IMAGES, *input_fuzz.LATENTS):
        data = corpus[name].read_bytes()
        for seed in range(150):
            mutant, what = mutate(data, corpus[name].suffix, random.Random(seed))
            assert len(mutant) <= len(data) + MAX_GROWTH, (name, seed, what)
            changed += mutant != data
    assert changed > 0.95 * 150 * len((*input_fuzz.CHECKPOINTS, *input_fuzz.IMAGES, *input_fuzz.LATENTS))


# ------------------------------------------------------------------------ stand-ins, run in the worker child

def bare_exception(case: Case) -> Result:
    """A loader that lets an exception of its own escape."""
    raise ValueError("a broken loader")


def sleeper(case: Case) -> Result:
    """A loader that never finishes."""
    time.sleep(3600)
    return Result(ACCEPTED)


def dies(case: Case) -> Result:
    """A loader that brings the process down."""
    os.kill(os.getpid(), signal.SIGKILL)
    return Result(ACCEPTED)


def hog(case: Case) -> Result:
    """A loader that allocates 2 GiB for a small file (more than the worker's headroom of 1 GiB)."""
    return Result(ACCEPTED, str(len(bytearray(2 << 30))))


def writes_temporary(case: Case) -> Result:
    """A writer that succeeds but leaves its temporary file."""
    (Path(case.folder) / ".grid.png.0a1b2c3d.tmp.png").write_bytes(b"half")
    return Result(ACCEPTED)


def writes_then_refuses(case: Case) -> Result:
    """A writer that refuses after writing an output."""
    (Path(case.folder) / "seed0000.png").write_bytes(b"png")
    return input_fuzz.refusal("Error: seed 1: something went wrong")


def replaces_fifo(case: Case) -> Result:
    """A writer that puts its output in place of a FIFO it was given (an atomic rename over it)."""
    (Path(case.folder) / "walk.tmp.gif").write_bytes(b"GIF89a")
    os.replace(Path(case.folder) / "walk.tmp.gif", Path(case.folder) / "fifo.gif")
    return Result(ACCEPTED)


def fine(case: Case) -> Result:
    return Result(ACCEPTED, f"pid {os.getpid()}")


def _case(name: str, folder: Path) -> Case:
    return Case("test", 0, name, "none", f"test_input_fuzz:{name}", [], str(folder))


def test_the_worker_reports_tracebacks_hangs_crashes_and_runaway_allocations(tmp_path):
    with Worker(tmp_path / "worker", time_limit=3, warm=("test_input_fuzz",)) as worker:
        first = worker.run(_case("fine", tmp_path))
        assert first.outcome == ACCEPTED
        result = worker.run(_case("bare_exception", tmp_path))
        assert result.outcome == TRACEBACK and "ValueError: a broken loader" in result.detail, result
        result = worker.run(_case("hog", tmp_path))
        assert result.outcome == MEMORY and "MemoryError" in result.detail, result
        assert worker.run(_case("fine", tmp_path)) == first  # the same child went on
        result = worker.run(_case("sleeper", tmp_path))
        assert result.outcome == HANG, result
        second = worker.run(_case("fine", tmp_path))
        assert second.outcome == ACCEPTED and second != first  # a fresh child
        result = worker.run(_case("dies", tmp_path))
        assert result.outcome == CRASH and "SIGKILL" in result.detail, result
        assert worker.run(_case("fine", tmp_path)).outcome == ACCEPTED
        assert worker.starts == 3


def test_files_left_behind_are_found(tmp_path):
    with Worker(tmp_path / "worker", time_limit=60, warm=("test_input_fuzz",)) as worker:
        for name, outcome, left in [("writes_temporary", ACCEPTED, ".grid.png.0a1b2c3d.tmp.png"),
                                    ("writes_then_refuses", REFUSED, "seed0000.png"),
                                    ("replaces_fifo", ACCEPTED, "fifo.gif (replaced)")]:
            folder = tmp_path / name
            folder.mkdir()
            (folder / "input.pkl").write_bytes(b"x")
            os.mkfifo(folder / "fifo.gif")
            before = input_fuzz.snapshot(folder)
            result = worker.run(_case(name, folder))
            assert result.outcome == outcome
            assert leftovers(folder, before, outcome) == [left]
    assert leftovers(folder, input_fuzz.snapshot(folder), REFUSED) == []


# ------------------------------------------------------------------- the actions' verdicts, in this process

def test_refusals_in_several_lines_or_out_of_memory_are_failures():
    assert input_fuzz.refusal("x.pkl: damaged").outcome == REFUSED
    assert input_fuzz.refusal("x.pkl: damaged\n  line 2").outcome == LINES
    assert input_fuzz.refusal("").outcome == LINES
    assert input_fuzz.refusal("x.pkl: not enough memory to read the pickle").outcome == MEMORY


def test_the_command_line_verdicts(tmp_path, monkeypatch):
    from stylegan.cli import cli

    @cli.command("fuzz-broken")
    def broken() -> None:
        raise KeyError("no such layer")

    @cli.command("fuzz-chatty")
    def chatty() -> None:
        click.echo("working...")
        raise click.ClickException("failed")

    try:
        def run(*args: str) -> Result:
            return input_fuzz.run_cli(Case("options", 0, "", "", "", list(args), str(tmp_path)))
        assert run("fuzz-broken").outcome == TRACEBACK
        assert run("fuzz-chatty").outcome == LINES
        refused = run("generate", "--seeds", "x")
        assert refused.outcome == REFUSED and refused.detail.startswith("Error: cannot parse seeds"), refused
        assert run("generate", "--trunc", "x").outcome == REFUSED  # click's usage lines are not counted
        assert run("--help").outcome == ACCEPTED
    finally:
        cli.commands.pop("fuzz-broken")
        cli.commands.pop("fuzz-chatty")


def test_a_network_computing_non_finite_values_is_bad_output_unless_only_its_weights_changed(corpus, monkeypatch):
    import stylegan
    intact = corpus["native.safetensors"]
    real = stylegan.load_networks(intact)["G_ema"]
    case = Case("checkpoints", 0, "", "", "", [str(intact), str(intact)])
    assert input_fuzz.read_networks(case) == Result(ACCEPTED, "")  # (also records the intact file's networks)
    broken = copy.deepcopy(real)
    with torch.no_grad():
        broken.synthesis.b4.conv1.bias.fill_(float("nan"))
    monkeypatch.setattr(stylegan, "load_networks", lambda path: {"G_ema": broken})
    assert input_fuzz.read_networks(case) == Result(ACCEPTED, "non-finite output from changed weights (G_ema)")
    broken.config = {**real.config, "conv_clamp": 7}
    assert input_fuzz.read_networks(case).outcome == BAD_OUTPUT
    monkeypatch.setattr(stylegan, "load_networks", lambda path: {}[path])
    with pytest.raises(KeyError):  # (a traceback, once the worker catches it)
        input_fuzz.read_networks(case)


def test_an_image_read_at_the_wrong_size_is_bad_output(corpus, monkeypatch):
    import numpy as np

    import stylegan.io
    case = Case("images", 0, "", "", "", [str(corpus["image.png"])])
    assert input_fuzz.read_image(case) == Result(ACCEPTED)
    monkeypatch.setattr(stylegan.io, "read_image", lambda path, resolution: np.zeros((32, 31, 3), np.uint8))
    assert input_fuzz.read_image(case).outcome == BAD_OUTPUT


def test_run_case_marks_partial_files(corpus, tmp_path, monkeypatch):
    class Leaves:
        def run(self, case: Case) -> Result:
            (Path(case.folder) / "out").mkdir()
            (Path(case.folder) / "out" / "seed0000.png").write_bytes(b"x")
            return Result(REFUSED, "Error: no")

    case, result = run_case("options", 3, corpus, Leaves(), tmp_path)
    assert result.outcome == PARTIAL and "out/seed0000.png" in result.detail
    assert not (tmp_path / "case-options").exists()
