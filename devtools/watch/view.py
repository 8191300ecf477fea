"""What the watcher shows: a live table on a terminal, one plain line per event otherwise."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from devtools.watch.actions import Outcome
from devtools.watch.planner import Planned


@dataclass
class ServiceStatus:
    state: str = "?"
    health: str = "-"
    action: str = "-"
    why: str = "-"
    ready_s: float | None = None
    error: str = ""


class StatusView:
    def __init__(self, services: list[str], live: bool | None = None) -> None:
        self.status = {name: ServiceStatus() for name in services}
        self.live_mode = sys.stdout.isatty() if live is None else live
        self.events: list[str] = []
        self._live: Any = None

    def __enter__(self) -> StatusView:
        if self.live_mode:
            from rich.live import Live

            self._live = Live(self._render(), refresh_per_second=8, transient=False)
            self._live.__enter__()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        if self._live is not None:
            self._live.update(self._render())
            self._live.__exit__(kind, error, tb)

    def event(self, line: str) -> None:
        stamped = f"{time.strftime('%H:%M:%S')} {line}"
        self.events = [*self.events[-7:], stamped]
        if self._live is None:
            print(line, flush=True)
        else:
            self._live.update(self._render())

    def record(self, planned: Planned, outcome: Outcome) -> None:
        status = self.status.setdefault(planned.service, ServiceStatus())
        status.action, status.why = planned.action.value, planned.reason
        status.error = "" if outcome.ok else outcome.detail
        if outcome.ready_s is not None:
            status.ready_s = outcome.ready_s
        timing = f" in {outcome.ready_s:.2f}s (edit to ready)" if outcome.ready_s is not None else ""
        self.event(f"{planned.service}: {'ok' if outcome.ok else 'FAILED'}{timing}: {outcome.detail}")

    def containers(self, states: dict[str, tuple[str, str]]) -> None:
        for name, status in self.status.items():
            status.state, status.health = states.get(name, ("not running", "-"))
        if self._live is not None:
            self._live.update(self._render())

    def _render(self) -> Any:
        from rich.console import Group
        from rich.table import Table

        table = Table(title="devtools watch (Ctrl-C stops watching; the stack keeps running)", expand=True)
        for column in ("service", "state", "health", "last action", "why", "edit->ready", "last error"):
            table.add_column(column, overflow="fold")
        for name, s in sorted(self.status.items()):
            ready = f"{s.ready_s:.2f}s" if s.ready_s is not None else "-"
            table.add_row(name, s.state, s.health, s.action, s.why, ready, s.error or "-")
        return Group(table, *self.events)
