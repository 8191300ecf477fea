"""Carrying out planned actions through docker compose (and devtools.engine.api for logs, processes, signals)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devtools.engine.api import EngineApi
from devtools.errors import DevtoolsError
from devtools.remote.site import LocalSite, Site
from devtools.stack.project import ComposeProject
from devtools.watch.planner import Planned
from devtools.watch.rules import Action, ServiceWatch

RELOAD_READY = "reload: ready in"
RELOAD_FAILED = "reload failed"


@dataclass(frozen=True)
class Outcome:
    ok: bool
    detail: str
    ready_s: float | None = None  # edit-to-ready time, when the service reports its reloads


class Executor:
    def __init__(
        self,
        project: ComposeProject,
        watches: dict[str, ServiceWatch],
        site: Site | None = None,
        clock: Callable[[], float] = time.monotonic,
        engine: EngineApi | None = None,
    ) -> None:
        self.project = project
        self.watches = watches
        self.site = site or LocalSite()
        self.engine = engine or self.site.engine(project)
        self.clock = clock

    def container(self, service: str) -> Any | None:
        found = self.engine.containers(self.project.name, service)
        return found[0] if found else None

    def busy_with(self, service: str) -> str | None:
        """A protected process (e.g. a training job) running in the service, which a rebuild would kill."""
        markers = self.watches[service].never_interrupt
        container = self.container(service) if markers else None
        if container is None:
            return None
        for command in self.engine.processes(container):
            for marker in markers:
                if marker in command:
                    return command
        return None

    def run(self, planned: Planned, edited_at: float) -> Outcome:
        try:
            return self._run(planned, edited_at)
        except DevtoolsError as error:
            return Outcome(False, error.message)

    def _run(self, planned: Planned, edited_at: float) -> Outcome:
        service, watch = planned.service, self.watches[planned.service]
        if planned.action is Action.REBUILD:
            if busy := self.busy_with(service):
                return Outcome(False, f"deferred: '{busy[:60]}' is running (a rebuild would kill it)")
            self.project.run("build", service, capture=True)
            self.project.run("up", "--detach", "--no-deps", "--wait", service, capture=True)
            self.site.containers_moved(self.project, self.engine)
            return Outcome(True, "rebuilt and recreated", self.clock() - edited_at)
        if planned.action is Action.SYNC:
            for rule in planned.rules:
                for path in planned.paths:
                    if rule.target and rule.matches(path):
                        inside = Path(rule.target) / path.relative_to(rule.path) if path != rule.path else rule.target
                        self.project.run("cp", str(path), f"{service}:{inside}", capture=True)
            return Outcome(True, f"synced {len(planned.paths)} file(s)")
        if planned.action is Action.EXEC:
            for rule in planned.rules:
                self.project.run("exec", "-T", service, *rule.command, capture=True)
            return Outcome(True, "ran " + "; ".join(" ".join(r.command) for r in planned.rules))
        # RESTART: the app process when the service reloads on a signal, the container otherwise.
        if watch.restart_signal is None:
            if busy := self.busy_with(service):
                return Outcome(False, f"deferred: '{busy[:60]}' is running (a restart would kill it)")
            self.project.run("restart", service, capture=True)
            self.site.containers_moved(self.project, self.engine)
            return Outcome(True, "container restarted", self.clock() - edited_at)
        return self._signal_reload(service, watch.restart_signal, edited_at)

    def _signal_reload(self, service: str, signal: str, edited_at: float, timeout_s: float = 20.0) -> Outcome:
        container = self.container(service)
        if container is None:
            return Outcome(False, "not running")
        since = time.time()
        self.engine.signal(container, signal)
        deadline = self.clock() + timeout_s
        # The reloader logs one line per reload: poll the log written since the signal.
        while self.clock() < deadline:
            for line in self.engine.logs_since(container, since).splitlines():
                if RELOAD_READY in line:
                    return Outcome(True, line.strip(), self.clock() - edited_at)
                if RELOAD_FAILED in line:
                    return Outcome(False, line.strip())
            time.sleep(0.02)
        return Outcome(False, f"no reload reported within {timeout_s:.0f}s")
