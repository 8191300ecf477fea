"""The watch loop: watchdog events -> debounce -> plan -> act, until Ctrl-C."""

from __future__ import annotations

import queue
import time
from pathlib import Path
from typing import Any

from devtools.errors import DevtoolsError, ExitCode
from devtools.stack.config import ComposeConfig
from devtools.stack.project import ComposeProject
from devtools.watch.actions import Executor
from devtools.watch.planner import Debouncer, Planner
from devtools.watch.rules import ServiceWatch, load_watch
from devtools.watch.view import StatusView

STATE_REFRESH_S = 2.0


def watched_roots(root: Path, watches: dict[str, ServiceWatch]) -> list[tuple[Path, bool]]:
    """(directory, recursive) pairs covering every rule, without watching the whole tree (.venv alone
    would exhaust inotify watches), plus .git itself to notice branch switches."""
    recursive = sorted({r.path for w in watches.values() for r in w.rules if r.path.is_dir()})
    recursive = [d for d in recursive if not any(p in recursive for p in d.parents)]
    flat = {r.path.parent for w in watches.values() for r in w.rules if not r.path.is_dir()}
    flat = {d for d in flat if not any(d == p or p in d.parents for p in recursive)}
    roots = [(d, True) for d in recursive] + [(d, False) for d in sorted(flat)]
    if (root / ".git").is_dir():
        roots.append((root / ".git", False))
    return roots


def _states(executor: Executor, services: list[str]) -> dict[str, tuple[str, str]]:
    states = {}
    for container in executor.engine.containers(executor.project.name, include_stopped=True):
        service = container.labels.get("com.docker.compose.service")
        if service in services:
            states[service] = executor.engine.state(container)
    return states


def run(project: ComposeProject, config: ComposeConfig, *, live: bool | None = None) -> None:
    from watchdog.events import FileSystemEvent, FileSystemEventHandler
    from watchdog.observers import Observer

    watches = load_watch(config.services, project.root)
    if not watches:
        raise DevtoolsError("no service declares watch rules (develop.watch or x-devtools.watch)", ExitCode.USAGE)
    planner = Planner(project.root, watches)
    planner.prime()
    executor = Executor(project, watches)
    events: queue.Queue[tuple[Path, float]] = queue.Queue()

    class Enqueue(FileSystemEventHandler):
        def on_any_event(self, event: FileSystemEvent) -> None:
            if event.event_type in ("opened", "closed_no_write") or event.is_directory:
                return
            now = time.monotonic()
            for path in (event.src_path, getattr(event, "dest_path", "")):
                if path:
                    events.put((Path(str(path)), now))

    observer: Any = Observer()
    for directory, recursive in watched_roots(project.root, watches):
        observer.schedule(Enqueue(), str(directory), recursive=recursive)
    observer.start()
    debouncer = Debouncer()
    services = sorted(watches)
    next_refresh = 0.0
    with StatusView(services, live) as view:
        view.event(f"watching {len(services)} services: {', '.join(services)}")
        try:
            while True:
                try:
                    path, at = events.get(timeout=0.02)
                    debouncer.add(path, at)
                    while not events.empty():
                        debouncer.add(*events.get_nowait())
                except queue.Empty:
                    pass
                now = time.monotonic()
                if debouncer.due(now):
                    edited_at = debouncer.first_change_at() or now
                    planned, notes = planner.plan(debouncer.take())
                    for note in notes:
                        view.event(note)
                    for step in planned:
                        view.event(step.line())
                        view.record(step, executor.run(step, edited_at))
                if now >= next_refresh:
                    view.containers(_states(executor, services))
                    next_refresh = now + STATE_REFRESH_S
        except KeyboardInterrupt:
            view.event("stopped watching; the stack keeps running")
        finally:
            observer.stop()
            observer.join(timeout=5)
