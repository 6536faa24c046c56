"""A one-line progress bar on stderr, for large batches on a terminal only.

Quiet when the stream is not a terminal (CI logs, pipes, files) or the batch is small; redrawn at
most every :data:`INTERVAL` seconds, and erased when done. It shows counts, never names or values.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

MIN_TOTAL = 200
INTERVAL = 0.05
WIDTH = 30


class Progress:
    """Counts work done out of ``total`` and draws it when that is useful."""

    def __init__(self, total: int, label: str, *, stream: TextIO | None = None,
                 min_total: int = MIN_TOTAL) -> None:  # fmt: skip
        self.stream = stream if stream is not None else sys.stderr
        self.total = total
        self.label = label
        self.done = 0
        self._last = 0.0
        self._drawn = False
        isatty = getattr(self.stream, "isatty", None)
        self.enabled = total >= min_total and bool(isatty and isatty())

    def tick(self, count: int = 1) -> None:
        """Record ``count`` more units done."""
        self.done += count
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._last >= INTERVAL or self.done >= self.total:
            self._last = now
            self._draw()

    def _draw(self) -> None:
        filled = WIDTH * min(self.done, self.total) // max(self.total, 1)
        bar = "#" * filled + "-" * (WIDTH - filled)
        self.stream.write(f"\r{self.label} [{bar}] {self.done}/{self.total}")
        self.stream.flush()
        self._drawn = True

    def close(self) -> None:
        """Erase the bar."""
        if self._drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._drawn = False
