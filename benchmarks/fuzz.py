"""Fuzz every kind of input for longer than the tests do: mutated checkpoints, images and latent, settings and
recipe files, odd option values for the command line, and malformed studio requests (tests/input_fuzz.py),
each in a child process with a memory and a time limit. Prints a table of outcomes per kind, then every case
that was not accepted or refused in one line (kind, seed, what it started from, how it was changed), and exits
1 when there was one.

    python -m benchmarks.fuzz [--kinds checkpoints,images,latents,options,studio] [--cases N] [--seconds S]
                              [--seed K] [--time-limit S] [--memory-headroom MIB]
    python -m benchmarks.fuzz --replay KIND:SEED   # one case again; its folder is kept for a look

--cases is per kind (default: DEFAULT_CASES); --seconds bounds each kind's run (default 600).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
os.environ.setdefault("OMP_NUM_THREADS", "1")  # (before torch is imported; the worker gets the same)

from fuzz_worker import Worker  # noqa: E402
from input_fuzz import KINDS, Tally, build_corpus, fuzz, run_case  # noqa: E402

DEFAULT_CASES = {"checkpoints": 3000, "images": 1500, "latents": 1500, "options": 1500, "studio": 4000}


def _kinds(text: str) -> list[str]:
    kinds = [k.strip() for k in text.split(",") if k.strip()]
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown kinds {unknown}; choose from {', '.join(KINDS)}")
    return kinds


def _replay(spec: str, worker: Worker, corpus: dict, scratch: Path) -> int:
    kind, _, seed = spec.partition(":")
    case, result = run_case(kind, int(seed), corpus, worker, scratch, keep=True)
    print(f"{case.kind} {case.seed}: {case.label}: {case.mutation}\n  action {case.action} {case.args}\n"
          f"  -> {result.outcome}: {result.detail}\n  the case's folder: {case.folder}")
    return 0 if result.outcome in ("accepted", "refused") else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kinds", type=_kinds, default=list(KINDS))
    parser.add_argument("--cases", type=int, default=None, help="cases per kind (default: DEFAULT_CASES)")
    parser.add_argument("--seconds", type=float, default=600, help="time bound per kind")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--time-limit", type=float, default=60, help="seconds a case may take before it is a hang")
    parser.add_argument("--memory-headroom", type=int, default=1024, help="MiB the worker may allocate beyond its "
                        "size after warming up")
    parser.add_argument("--replay", default=None, metavar="KIND:SEED", help="run one case and keep its folder")
    args = parser.parse_args()
    if args.replay:
        scratch = Path(tempfile.mkdtemp(prefix="stylegan-fuzz-"))
        with Worker(scratch / "worker", args.time_limit, args.memory_headroom << 20) as worker:
            sys.exit(_replay(args.replay, worker, build_corpus(scratch / "corpus"), scratch / "cases"))
    with tempfile.TemporaryDirectory(prefix="stylegan-fuzz-") as tmp:
        tally, seconds, restarts = _run(args, Path(tmp))
    print(f"\n{sum(tally.counts.values())} inputs in {seconds:.0f} s "
          f"({restarts} worker restart{'s' * (restarts != 1)})\n")
    print(tally.table())
    for (kind, note), count in sorted(tally.notes.items()):
        print(f"\n{kind}: {count} accepted with {note}")
    print(f"\n{len(tally.failures)} cases neither accepted nor refused in one line")
    for case, result in tally.failures:
        print(f"- {case.kind}:{case.seed} {case.label}: {case.mutation[:160]}\n    -> {result.outcome}: "
              f"{result.detail[:300]}")
    if tally.failures:
        print("\nreproduce one with: python -m benchmarks.fuzz --replay KIND:SEED")
    sys.exit(1 if tally.failures else 0)


def _run(args: argparse.Namespace, scratch: Path) -> tuple[Tally, float, int]:
    """Every kind asked for, in one worker: the tally, the seconds it took and the worker's restarts."""
    from benchmarks.machine import describe
    corpus = build_corpus(scratch / "corpus")
    with Worker(scratch / "worker", args.time_limit, args.memory_headroom << 20) as worker:
        print(describe())
        print(f"# python -m benchmarks.fuzz --kinds {','.join(args.kinds)} --seed {args.seed} "
              f"{f'--cases {args.cases} ' if args.cases else ''}--seconds {args.seconds:g}; "
              f"time limit {args.time_limit:g} s, memory headroom {args.memory_headroom} MiB")
        tally = Tally()
        start = time.monotonic()
        for kind in args.kinds:
            fuzz(kind, args.cases or DEFAULT_CASES[kind], args.seed, corpus, worker, scratch / "cases",
                 seconds=args.seconds, tally=tally)
        return tally, time.monotonic() - start, worker.starts - 1


if __name__ == "__main__":
    main()
