"""A background thread that does one thing every so often until stopped: the alias watchers' polls and
the comparison's MLflow logging."""

from __future__ import annotations

import threading
from collections.abc import Callable


class Periodic:
    def __init__(self, name: str, interval_s: float, tick: Callable[[], object], *, first_now: bool) -> None:
        self.name = name
        self.interval_s = interval_s
        self.tick = tick
        self.first_now = first_now  # tick at start (a watcher's first poll), or only after the first interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        if self.first_now:
            self.tick()
        while not self._stop.wait(self.interval_s):
            self.tick()
