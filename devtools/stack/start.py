"""Starting the stack: build what is missing or stale, start, wait for healthchecks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from devtools.engine import facts
from devtools.progress import Board
from devtools.registry import prebuilt
from devtools.remote import mirror, tunnel
from devtools.stack.build_state import BuildState
from devtools.stack.config import ComposeConfig
from devtools.stack.graph import with_dependencies
from devtools.stack.project import ComposeProject, Variant


def build_stale(project: ComposeProject, config: ComposeConfig, names: Sequence[str]) -> list[str]:
    """Bring the images among `names` whose build inputs changed up to date: pulled from the team
    registry where it holds them for these inputs (dev stack, DEVTOOLS_REGISTRY set), else built.
    Returns the services built here."""
    state = BuildState(project)
    stale = state.stale(config, with_dependencies(config, names))
    if not stale:
        return []
    with Board() as board:
        target = prebuilt.configured() if project.variant is Variant.DEV else None
        if target is not None:
            fetched = prebuilt.fetch(target, prebuilt.wanted(project, config, stale), project.variant.value, board)
            if fetched.unavailable:
                board.note(fetched.unavailable)
            state.record(config, list(fetched.pulled), fetched.pulled)
            stale = [name for name in stale if name not in fetched.pulled]
        if stale:
            project.build(*stale, board=board)
            state.record(config, stale)
    return stale


def start(
    project: ComposeProject, services: Sequence[str], *, build: bool, wait_timeout: int
) -> list[tuple[str, str, str]]:
    """Bring `services` (all when empty) up and healthy; returns (service, title, url) of what they publish."""
    config = project.config()
    config.require(services)
    if build:
        build_stale(project, config, services)
    up_args = ["up", "--detach", "--wait", "--wait-timeout", str(wait_timeout)]
    if not build:
        up_args.append("--no-build")
    started = set(with_dependencies(config, services))
    if project.remote:
        return _start_remote(project, config, services, started, up_args)
    project.run(*up_args, *services)
    return [(name, title, url) for name, title, url in config.published_urls() if name in started]


def _start_remote(
    project: ComposeProject, config: ComposeConfig, services: Sequence[str], started: set[str], up_args: list[str]
) -> list[tuple[str, str, str]]:
    """On an engine that cannot see the checkout: containers and volumes created, the source mirrored
    into its volumes before anything runs, then started, then this machine's ports forwarded to them.
    The URLs are this machine's (the local files' ports)."""
    project.run("up", "--no-start", "--no-build", *services)
    used = {str(volume.get("source")) for name in started for volume in config.services[name].get("volumes") or []}
    with Board() as board:
        mirror.mirror(
            config, [root for root in mirror.sync_roots(project, config) if root.key in used], project.root, board
        )
    project.run(*up_args, *services)
    local = replace(project, remote=False).config()
    forwards = tunnel.planned(project, local, started)
    if forwards:
        tunnel.open_forwards(project, facts.current().remote or "", forwards)
    return [(name, title, url) for name, title, url in local.published_urls() if name in started]
