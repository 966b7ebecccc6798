"""A one-line text progress bar for long commands (``rotate-keys``, ``reconcile``)."""

from __future__ import annotations

import sys
from typing import TextIO

__all__ = ["ProgressBar"]


class ProgressBar:
    """A one-line text progress bar on stderr (a plain counter when the total is unknown)."""

    def __init__(self, total: int | None, *, label: str, stream: TextIO | None = None) -> None:
        self.total = total
        self.done = 0
        self.label = label
        self.stream = stream or sys.stderr
        self._tty = self.stream.isatty()
        self._last_shown = -1

    def set_total(self, total: int) -> None:
        """The total, once known (before the first ``advance``)."""
        self.total = total

    def advance(self, n: int = 1) -> None:
        self.done += n
        self._show()

    def _show(self, *, final: bool = False) -> None:
        if self.total:
            fraction = min(1.0, self.done / self.total)
            percent = int(fraction * 100)
            if not (self._tty or final) and percent // 10 == self._last_shown // 10:
                return  # not a terminal: a line per 10 %
            self._last_shown = percent
            filled = int(fraction * 30)
            text = (
                f"{self.label} [{'#' * filled}{'.' * (30 - filled)}] "
                f"{percent:3d}% {self.done}/{self.total}"
            )
        else:
            text = f"{self.label}: {self.done}"
        end = "\r" if self._tty and not final else "\n"
        self.stream.write(text + end)
        self.stream.flush()

    def finish(self) -> None:
        self._show(final=True)
