"""Starting the stack: build what is missing or stale, start, wait for healthchecks."""

from __future__ import annotations

from collections.abc import Sequence

from devtools.stack.build_state import BuildState
from devtools.stack.config import ComposeConfig
from devtools.stack.graph import with_dependencies
from devtools.stack.project import ComposeProject


def build_stale(project: ComposeProject, config: ComposeConfig, names: Sequence[str]) -> list[str]:
    """Rebuild the services among `names` whose build inputs changed; returns those rebuilt."""
    state = BuildState(project)
    stale = state.stale(config, with_dependencies(config, names))
    if stale:
        project.build(*stale)
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
