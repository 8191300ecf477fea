"""Starting the stack: build what is missing or stale, start, wait for healthchecks."""

from __future__ import annotations

from collections.abc import Sequence

from devtools.progress import Board
from devtools.stack import prebuilt
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


def start(project: ComposeProject, services: Sequence[str], *, build: bool, wait_timeout: int) -> list[tuple[str, str]]:
    """Bring `services` (all when empty) up and healthy; returns (title, url) of what they publish."""
    config = project.config()
    config.require(services)
    if build:
        build_stale(project, config, services)
    up_args = ["up", "--detach", "--wait", "--wait-timeout", str(wait_timeout)]
    if not build:
        up_args.append("--no-build")
    project.run(*up_args, *services)
    started = set(with_dependencies(config, services))
    return [(title, url) for name, title, url in config.published_urls() if name in started]
