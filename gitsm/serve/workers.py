"""Worker threads that run store work and hand each answer straight back to the event loop.

A job is a function and a callback: a worker runs the function, then schedules the callback with
its result on the loop with ``call_soon_threadsafe``. That is all ``run_in_executor`` did for the
server, minus a concurrent future, its condition and callbacks, and the asyncio future wrapping
it (whose callback costs one more turn of the loop): about 0.05 ms of a served write, with the
event loop waiting on a thread that holds the GIL less often. Threads start on first use.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable
from typing import Any

Task = tuple[Callable[[], Any], Callable[[Any], None], asyncio.AbstractEventLoop]


class Workers:
    """``count`` threads named ``name-N`` taking jobs in the order they were given."""

    def __init__(self, count: int, name: str) -> None:
        self.count = count
        self.name = name
        self._queue: queue.SimpleQueue[Task | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._closed = False
        self._lock = threading.Lock()

    def submit(
        self, work: Callable[[], Any], then: Callable[[Any], None],
        loop: asyncio.AbstractEventLoop,
    ) -> None:  # fmt: skip
        """Run ``work`` on a worker thread, then ``then(result)`` on ``loop``. ``work`` must not
        raise (the server's jobs answer their own failures)."""
        with self._lock:
            if self._closed:
                raise RuntimeError(f"{self.name}: shut down")
            if len(self._threads) < self.count:
                thread = threading.Thread(target=self._run, daemon=True,
                                          name=f"{self.name}-{len(self._threads)}")  # fmt: skip
                thread.start()
                self._threads.append(thread)
        self._queue.put((work, then, loop))

    def _run(self) -> None:
        while True:
            task = self._queue.get()
            if task is None:
                return
            work, then, loop = task
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody is left to answer
                loop.call_soon_threadsafe(then, work())
            del task, work, then, loop  # holds nothing of a job while it waits for the next

    def shutdown(self, wait: bool = True) -> None:
        """Take no more jobs; the threads stop after the jobs already given (``wait``: until
        they have)."""
        with self._lock:
            self._closed = True
            threads = list(self._threads)
        for _ in threads:
            self._queue.put(None)
        if wait:
            for thread in threads:
                thread.join()
