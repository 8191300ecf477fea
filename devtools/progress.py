"""Progress a person can read: one status line per item of long work (an image pulled or built).

In a terminal the lines are redrawn in place, with the time each item has taken, and a finished item
keeps its last line; elsewhere (CI logs, pipes, TERM=dumb) each change of status is printed once as a
plain `item: status` line. Either way the output stays a handful of lines, not a build log; `-v` asks
the commands for their full output instead (they decide; the board only shows what it is told).
Thread-safe: pulls report from several threads.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import TextIO

_REDRAW_EVERY_S = 0.25  # also the ticker's period: elapsed times move while a step runs


def is_live(stream: TextIO) -> bool:
    """A terminal that understands cursor movement."""
    return stream.isatty() and os.environ.get("TERM", "") not in ("", "dumb")


@dataclass
class _Item:
    status: str
    started: float
    finished: float | None = None


@dataclass
class Board:
    stream: TextIO = field(default_factory=lambda: sys.stderr)
    live: bool | None = None  # None: decided by the stream (is_live)
    clock: object = time.monotonic  # replaced in tests

    def __post_init__(self) -> None:
        if self.live is None:
            self.live = is_live(self.stream)
        self._items: dict[str, _Item] = {}
        self._lock = threading.Lock()
        self._drawn = 0  # lines of the board on screen (live)
        self._last_draw = 0.0
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    def __enter__(self) -> Board:
        if self.live:
            self._ticker = threading.Thread(target=self._tick, daemon=True)
            self._ticker.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def set(self, key: str, status: str, *, done: bool = False) -> None:
        """`key`'s status is now `status`; `done` freezes its elapsed time."""
        with self._lock:
            now = self._now()
            item = self._items.get(key)
            changed = item is None or item.status != status or (done and item.finished is None)
            if item is None:
                item = self._items[key] = _Item(status, now)
            elif item.finished is not None and not done and item.status != status:
                item.started, item.finished = now, None  # a new phase of the same item (built, then pushing)
            item.status = status
            if done and item.finished is None:
                item.finished = now
            if not changed:
                return
            if self.live:
                self._draw(force=done)
            else:
                self.stream.write(f"{key}: {status}{self._took(item) if done else ''}\n")
                self.stream.flush()

    def note(self, line: str) -> None:
        """A line of its own, above the board (a fallback said once, a warning)."""
        with self._lock:
            if self.live:
                self._clear()
                self.stream.write(line + "\n")
                self._drawn = 0
                self._draw(force=True)
            else:
                self.stream.write(line + "\n")
                self.stream.flush()

    def close(self) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()
            self._ticker = None
        with self._lock:
            if self.live:
                self._draw(force=True)

    def _now(self) -> float:
        return float(self.clock())  # type: ignore[operator]

    def _took(self, item: _Item) -> str:
        end = item.finished if item.finished is not None else self._now()
        return f" ({end - item.started:.1f}s)"

    def _tick(self) -> None:
        while not self._stop.wait(_REDRAW_EVERY_S):
            with self._lock:
                self._draw(force=True)

    def _clear(self) -> None:
        if self._drawn:
            self.stream.write(f"\x1b[{self._drawn}F\x1b[J")  # to the board's first line, erase below

    def _draw(self, *, force: bool) -> None:
        now = self._now()
        if not force and now - self._last_draw < _REDRAW_EVERY_S:
            return
        self._last_draw = now
        width = max((len(key) for key in self._items), default=0)
        columns = _columns(self.stream)
        self._clear()
        for key, item in self._items.items():
            mark = "done" if item.finished is not None else "...."
            line = f"{mark} {key.ljust(width)}  {item.status}{self._took(item)}"
            self.stream.write(line[: columns - 1] + "\n")  # one screen line each, or the redraw drifts
        self._drawn = len(self._items)
        self.stream.flush()


def _columns(stream: TextIO) -> int:
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (OSError, ValueError):
        return 100
