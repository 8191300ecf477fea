"""Starting the stack: bring stale images up to date (pulled or built), start, wait for healthchecks.

Where the engine runs and where images may come from are the caller's to say (`Site`, `ImageSource`):
devtools.remote and devtools.registry implement them, so this module knows only the Compose project.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from devtools.progress import Board
from devtools.stack.build_state import BuildState, Wanted, wanted
from devtools.stack.config import ComposeConfig
from devtools.stack.graph import with_dependencies
from devtools.stack.project import ComposeProject


@dataclass
class Fetched:
    pulled: dict[str, str] = field(default_factory=dict)  # service -> the reference it came from, by digest
    unavailable: str = ""  # why nothing more could come from the source (one line), or ""


class ImageSource(Protocol):
    """Where a stale image may come from instead of a build (the team registry: devtools.registry)."""

    def fetch(self, images: Sequence[Wanted], board: Board) -> Fetched: ...


class Site(Protocol):
    """Where the engine runs (devtools.remote.site): how services start, and the stack as seen here."""

    def up(
        self, project: ComposeProject, config: ComposeConfig, services: Sequence[str], up_args: Sequence[str]
    ) -> None: ...

    def seen_here(self, project: ComposeProject, config: ComposeConfig | None = None) -> ComposeConfig: ...


def build_stale(
    project: ComposeProject, config: ComposeConfig, names: Sequence[str], source: ImageSource | None = None
) -> list[str]:
    """Bring the images among `names` whose build inputs changed up to date: from `source` where it has
    them for these inputs, else built. Returns the services built here."""
    state = BuildState(project)
    stale = state.stale(config, with_dependencies(config, names))
    if not stale:
        return []
    with Board() as board:
        if source is not None:
            fetched = source.fetch(wanted(project, config, stale), board)
            if fetched.unavailable:
                board.note(fetched.unavailable)
            pulled: Mapping[str, str] = fetched.pulled
            state.record(config, list(pulled), pulled)
            stale = [name for name in stale if name not in pulled]
        if stale:
            project.build(*stale, board=board)
            state.record(config, stale)
    return stale


def start(
    project: ComposeProject,
    services: Sequence[str],
    *,
    site: Site,
    source: ImageSource | None = None,
    build: bool,
    wait_timeout: int,
) -> list[tuple[str, str, str]]:
    """Bring `services` (all when empty) up and healthy; returns (service, title, url) of what they
    publish, as this machine reaches them."""
    config = project.config()
    config.require(services)
    if build:
        build_stale(project, config, services, source)
    up_args = ["up", "--detach", "--wait", "--wait-timeout", str(wait_timeout)]
    if not build:
        up_args.append("--no-build")
    site.up(project, config, services, up_args)
    started = set(with_dependencies(config, services))
    return [
        (name, title, url) for name, title, url in site.seen_here(project, config).published_urls() if name in started
    ]
