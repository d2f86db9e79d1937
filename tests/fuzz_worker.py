"""Fuzzing cases run in a child process, so that a hang or a runaway allocation is reported, not suffered.

`Worker` keeps one long-lived child (`serve`) and hands it one case at a time. The child limits its address
space (RLIMIT_AS) to what it uses after its imports plus a headroom, never connects anywhere, and runs the
case's action, a function "module:function" that takes the case and returns a `Result`; an exception that
escapes the action is a traceback. The parent waits for each answer up to a time limit: no answer is a hang,
a child that dies is a crash; either way the child is killed (its whole process group) and a fresh one
starts with the next case.
"""
from __future__ import annotations

import contextlib
import errno
import importlib
import os
import signal
import socket
import subprocess
import sys
import traceback
import warnings
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ACCEPTED, REFUSED = "accepted", "refused"
TRACEBACK, HANG, CRASH, PARTIAL = "traceback", "hang", "crash", "partial files"
MEMORY, LINES, BAD_OUTPUT = "memory limit", "several lines", "bad output"
OUTCOMES = (ACCEPTED, REFUSED, TRACEBACK, HANG, CRASH, PARTIAL, MEMORY, LINES, BAD_OUTPUT)
FAILURES = frozenset(OUTCOMES) - {ACCEPTED, REFUSED}
TESTS = Path(__file__).resolve().parent
START_LIMIT = 600  # seconds a fresh child may take to import and warm up (slow on a busy machine)


@dataclass
class Case:
    """One input to try: its kind, the seed that reproduces it, what it started from (`label`) and how it was
    changed (`mutation`), the worker function that tries it with its arguments, and the case's own folder
    (inputs, working folder, outputs)."""
    kind: str
    seed: int
    label: str
    mutation: str
    action: str
    args: list[str] = field(default_factory=list)
    folder: str = ""


@dataclass
class Result:
    """An outcome (one of OUTCOMES) and what was seen: the refusal's line, the exception, the crash."""
    outcome: str
    detail: str = ""


def describe(exc: BaseException) -> str:
    """The exception in one line, with the innermost frame of the package (or the last frame) it came from."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if f"{os.sep}stylegan{os.sep}" in f.filename] or frames
    where = f" at {Path(ours[-1].filename).name}:{ours[-1].lineno} in {ours[-1].name}" if ours else ""
    text = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}{where}"


class Worker:
    """Runs cases in a child process with a memory limit (its size after warming up plus `memory_headroom`)
    and a time limit per case; `warm` names what the child imports ("module") or calls ("module:function")
    before it limits its memory."""

    def __init__(self, scratch: Path, time_limit: float = 60.0, memory_headroom: int = 1 << 30,
                 warm: tuple[str, ...] = ("input_fuzz:warm_up",)):
        self.scratch, self.time_limit, self.memory_headroom = Path(scratch), time_limit, memory_headroom
        self.warm = warm
        self.process: subprocess.Popen | None = None
        self.connection: Connection | None = None
        self.starts = 0

    def __enter__(self) -> "Worker":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @property
    def log(self) -> Path:
        """Where the child's stdout and stderr go."""
        return self.scratch / "worker.log"

    def _start(self) -> None:
        self.scratch.mkdir(parents=True, exist_ok=True)
        ours, theirs = socket.socketpair()
        env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"), STYLEGAN_OFFLINE="1",
                   STYLEGAN_PRECISION="fp32", STYLEGAN_CACHE=str(self.scratch / "cache"),
                   PYTHONPATH=os.pathsep.join([str(TESTS), *filter(None, [os.environ.get("PYTHONPATH")])]))
        for name in ("STYLEGAN_THREADS", "STYLEGAN_DOWNLOAD", "STYLEGAN_TIMEOUT"):
            env.pop(name, None)
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-c", "import sys, fuzz_worker; fuzz_worker.serve(sys.argv[1:])",
                 str(theirs.fileno()), str(self.memory_headroom), *self.warm],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=self.scratch,
                pass_fds=(theirs.fileno(),), start_new_session=True)
        theirs.close()
        self.connection = Connection(ours.detach())
        self.starts += 1
        if not self.connection.poll(START_LIMIT) or self._receive() != "ready":
            tail = self._tail()
            self.close()
            raise RuntimeError(f"the fuzzing worker did not start: {tail}")

    def _receive(self) -> Any:
        try:
            return self.connection.recv()
        except (EOFError, OSError):
            return None

    def _tail(self) -> str:
        with contextlib.suppress(OSError):
            return " / ".join(self.log.read_text(errors="replace").strip().splitlines()[-3:])[-400:]
        return ""

    def run(self, case: Case) -> Result:
        """Try `case` in the child (started first if none runs) and return its result."""
        if self.process is None:
            self._start()
        try:
            self.connection.send(case)
        except OSError:
            return self._died()
        if not self.connection.poll(self.time_limit):
            self.close()
            return Result(HANG, f"no answer within {self.time_limit:g} s")
        result = self._receive()
        return result if isinstance(result, Result) else self._died()

    def _died(self) -> Result:
        try:
            code = self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:  # alive, but its connection broke
            code = None
        tail = self._tail()
        self.close()
        how = "its connection broke" if code is None else \
            f"killed by {signal.Signals(-code).name}" if code < 0 else f"exit status {code}"
        return Result(CRASH, f"the worker died ({how}): {tail}")

    def close(self) -> None:
        """Stop the child (its whole process group: anything it started goes too)."""
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            self.process = None
        if self.connection is not None:
            self.connection.close()
            self.connection = None


# ------------------------------------------------------------------------------------------------ the child

def _no_network() -> None:
    """Every attempt to connect or look a name up fails at once (the inputs name URLs)."""
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise OSError(errno.ENETUNREACH, "no network in the fuzzing worker")
    socket.socket.connect = refuse
    socket.socket.connect_ex = refuse
    socket.getaddrinfo = refuse
    socket.create_connection = refuse


def _limit_memory(headroom: int) -> None:
    import resource
    size = int(Path("/proc/self/statm").read_text().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    resource.setrlimit(resource.RLIMIT_AS, (size + headroom, resource.getrlimit(resource.RLIMIT_AS)[1]))


def _run(case: Case, home: str) -> Result:
    environ = dict(os.environ)
    module, name = case.action.split(":")
    try:
        os.chdir(case.folder or home)
        with warnings.catch_warnings():
            warnings.simplefilter("default")  # (each case shows its warnings, as a fresh process would)
            return getattr(importlib.import_module(module), name)(case)
    except MemoryError as exc:
        return Result(MEMORY, f"uncaught {describe(exc)}")
    except BaseException as exc:  # noqa: B036 - SystemExit from a library is a failure too
        return Result(TRACEBACK, describe(exc))
    finally:
        os.chdir(home)
        os.environ.clear()
        os.environ.update(environ)


def serve(argv: list[str]) -> None:
    """The child's loop: `argv` is the connection's descriptor, the memory headroom and the modules to warm up."""
    connection = Connection(int(argv[0]))
    _no_network()
    warnings.formatwarning = lambda message, *args, **kwargs: f"warning: {message}\n"
    for name in argv[2:]:  # "module" or "module:function" (called)
        module, _, function = name.partition(":")
        imported = importlib.import_module(module)
        if function:
            getattr(imported, function)()
    _limit_memory(int(argv[1]))
    connection.send("ready")
    home = os.getcwd()
    while True:
        try:
            case = connection.recv()
        except EOFError:
            return
        connection.send(_run(case, home))
