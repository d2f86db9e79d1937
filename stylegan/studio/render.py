"""Latest-wins scheduling: one render at a time, clients taken in turn, and a client's request waiting to run
is replaced by its newer one, so that dragging a slider never builds a queue on a slow machine."""
from __future__ import annotations

import threading
from collections import OrderedDict
from concurrent.futures import Future, InvalidStateError
from typing import Any, Callable

from ..errors import InputError

MAX_WAITING = 64  # clients with a render waiting; more are told to retry


class Superseded(Exception):
    """A request was replaced by a newer one from the same client before it ran."""


class Busy(InputError):
    """The studio cannot take this request now (answered with 409 or 503 and a message)."""


def _supersede(future: Future) -> None:
    try:
        future.set_exception(Superseded())
    except InvalidStateError:  # cancelled meanwhile: its client is gone
        pass


class LatestWins:
    """Runs submitted jobs one at a time on a worker thread, oldest waiting client first. Each client (`key`)
    has at most one job waiting: submitting another resolves the waiting one with `Superseded` and takes its
    place in the line. A cancelled job never runs; the running job always finishes."""

    def __init__(self, max_waiting: int = MAX_WAITING) -> None:
        self._cond = threading.Condition()
        self._pending: OrderedDict[str, tuple[Callable[[], Any], Future]] = OrderedDict()
        self._max_waiting = max_waiting
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name="studio-render", daemon=True)
        self._thread.start()

    def submit(self, job: Callable[[], Any], key: str = "") -> Future:
        """Queue `job` for client `key` in place of any job of that client still waiting; returns a Future."""
        future: Future = Future()
        with self._cond:
            if self._closed:
                raise RuntimeError("the render scheduler is closed")
            if key not in self._pending and len(self._pending) >= self._max_waiting:
                raise Busy(f"the studio is busy ({self._max_waiting} clients waiting); try again")
            replaced = self._pending.get(key)
            self._pending[key] = (job, future)  # a replaced key keeps its place in the line
            self._cond.notify()
        if replaced is not None:
            _supersede(replaced[1])
        return future

    def waiting(self) -> int:
        """How many jobs wait to run (cancelled ones left out)."""
        with self._cond:
            return sum(not future.cancelled() for _, future in self._pending.values())

    def close(self) -> None:
        """Stop the worker after the running job; waiting jobs are superseded."""
        with self._cond:
            self._closed = True
            replaced, self._pending = list(self._pending.values()), OrderedDict()
            self._cond.notify()
        for _, future in replaced:
            _supersede(future)
        self._thread.join()

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._closed:
                    self._cond.wait()
                if not self._pending:
                    return
                _, (job, future) = self._pending.popitem(last=False)
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(job())
                except BaseException as exc:  # the caller sees every failure through the Future
                    future.set_exception(exc)
