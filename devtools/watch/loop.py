"""The watch loop: watchdog events -> debounce -> plan -> act, until Ctrl-C."""

from __future__ import annotations

import queue
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from devtools.errors import DevtoolsError, ExitCode
from devtools.remote.site import site_of
from devtools.stack.config import ComposeConfig
from devtools.stack.project import ComposeProject
from devtools.watch.actions import Executor
from devtools.watch.planner import Debouncer, Planned, Planner
from devtools.watch.rules import ServiceWatch, load_watch
from devtools.watch.view import StatusView

STATE_REFRESH_S = 2.0
RECONNECT_S = 2.0  # how often a lost remote engine is tried again


def _act(planned: list[Planned], executor: Executor, view: StatusView, edited_at: float) -> None:
    for step in planned:
        view.event(step.line())
        view.record(step, executor.run(step, edited_at))


def watched_roots(root: Path, watches: dict[str, ServiceWatch], synced: Sequence[Path] = ()) -> list[tuple[Path, bool]]:
    """(directory, recursive) pairs covering every rule and every synced folder (a remote engine),
    without watching the whole tree (.venv alone would exhaust inotify watches), plus .git itself to
    notice branch switches."""
    folders = {r.path for w in watches.values() for r in w.rules if r.path.is_dir()} | set(synced)
    recursive = sorted(folders)
    recursive = [d for d in recursive if not any(p in recursive for p in d.parents)]
    flat = {r.path.parent for w in watches.values() for r in w.rules if not r.path.is_dir()}
    flat = {d for d in flat if not any(d == p or p in d.parents for p in recursive)}
    roots = [(d, True) for d in recursive] + [(d, False) for d in sorted(flat)]
    if (root / ".git").is_dir():
        roots.append((root / ".git", False))
    return roots


def _states(executor: Executor, services: list[str]) -> dict[str, tuple[str, str]]:
    states = {}
    try:
        containers = executor.engine.containers(executor.project.name, include_stopped=True)
    except DevtoolsError:  # the engine's link is down (a remote engine): the table keeps its last states
        executor.engine.reconnect()
        return {}
    for container in containers:
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
    # On a remote engine each change is copied in first and every call goes through the project's SSH
    # tunnel; on this machine's engine the site's syncer has nothing to do (devtools.remote.site).
    site = site_of(project)
    executor = Executor(project, watches, site)
    syncer = site.syncer(project, config, executor.engine)
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
    for directory, recursive in watched_roots(project.root, watches, syncer.folders()):
        observer.schedule(Enqueue(), str(directory), recursive=recursive)
    observer.start()
    debouncer = Debouncer()
    services = sorted(watches)
    next_refresh = next_retry = 0.0
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
                    changed, notes = planner.changes(debouncer.take())
                    for note in notes:
                        view.event(note)
                    lines, _ = syncer.push(changed)
                    for line in lines:
                        view.event(line)
                    # With the remote engine out of reach, the actions wait for the files (replan below).
                    if not syncer.lost:
                        _act(planner.plan_changes(changed), executor, view, edited_at)
                if syncer.lost and now >= next_retry:
                    lines, synced = syncer.push(())
                    for line in lines:
                        view.event(line)
                    _act(planner.replan(synced), executor, view, now)
                    next_retry = now + RECONNECT_S
                if now >= next_refresh:
                    view.containers(_states(executor, services))
                    next_refresh = now + STATE_REFRESH_S
        except KeyboardInterrupt:
            view.event("stopped watching; the stack keeps running")
        finally:
            observer.stop()
            observer.join(timeout=5)
