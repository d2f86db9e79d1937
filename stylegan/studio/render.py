"""Latest-wins scheduling: one render at a time, and a request waiting to run is replaced by a newer one,
so that dragging a slider never builds a queue on a slow machine."""
from __future__ import annotations

import threading
from concurrent.futures import Future
from typing import Any, Callable


class Superseded(Exception):
    """A request was replaced by a newer one before it ran."""


class LatestWins:
    """Runs submitted jobs one at a time on a worker thread. At most one job waits: submitting another
    resolves the waiting one with `Superseded` and takes its place. The running job always finishes."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._pending: tuple[Callable[[], Any], Future] | None = None
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name="studio-render", daemon=True)
        self._thread.start()

    def submit(self, job: Callable[[], Any]) -> Future:
        """Queue `job` in place of any job still waiting; returns a Future of its result."""
        future: Future = Future()
        with self._cond:
            if self._closed:
                raise RuntimeError("the render scheduler is closed")
            replaced, self._pending = self._pending, (job, future)
            self._cond.notify()
        if replaced is not None:
            replaced[1].set_exception(Superseded())
        return future

    def close(self) -> None:
        """Stop the worker after the running job; a waiting job is superseded."""
        with self._cond:
            self._closed = True
            replaced, self._pending = self._pending, None
            self._cond.notify()
        if replaced is not None:
            replaced[1].set_exception(Superseded())
        self._thread.join()

    def _loop(self) -> None:
        while True:
            with self._cond:
                while self._pending is None and not self._closed:
                    self._cond.wait()
                if self._pending is None:
                    return
                (job, future), self._pending = self._pending, None
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(job())
                except BaseException as exc:  # the caller sees every failure through the Future
                    future.set_exception(exc)
