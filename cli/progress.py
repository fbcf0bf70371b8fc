"""A progress bar for long `--people` files, drawn on stderr only when a person is watching.

Redrawn only when the shown percentage changes (or every few thousand people when the
total is unknown), so it costs nothing measurable per person and never fills a log file:
the command line creates one only when stderr is a terminal.
"""

from __future__ import annotations

from typing import IO

from .format import text_bar

__all__ = [
    "Progress",
]

_WIDTH = 24
_UNKNOWN_TOTAL_STEP = 5000


class Progress:
    """Bytes of the file consumed out of `total` (its size), or a running count without one."""

    def __init__(self, stream: IO[str], total: int | None, *, ascii_only: bool = False) -> None:
        self._stream = stream
        self._total = total if total else None
        self._ascii_only = ascii_only
        self._shown = -1
        self._drawn = False

    def update(self, done: int, people: int) -> None:
        if self._total is None:
            if people % _UNKNOWN_TOTAL_STEP == 0:
                self._draw(f"{people:,} people")
            return
        percent = min(100, done * 100 // self._total)
        if percent != self._shown:
            self._shown = percent
            bar = text_bar(percent / 100, _WIDTH, ascii_only=self._ascii_only).ljust(_WIDTH)
            self._draw(f"[{bar}] {percent:3d}%  {people:,} people")

    def finish(self) -> None:
        """Erase the bar so the table that follows starts on a clean line."""
        if self._drawn:
            self._stream.write("\r\x1b[K")
            self._stream.flush()

    def _draw(self, text: str) -> None:
        self._stream.write("\r" + text)
        self._stream.flush()
        self._drawn = True
