"""Where the engine runs, as one object: on this machine (`LocalSite`) or on another one over SSH
(`RemoteSite`).

Everything that differs between the two is a method here, so the start path, the watcher, doctor,
`ps`, `down` and the commands that ask serving or MLflow never test which one they hold. On this
machine there is nothing to mirror, forward or sync: `LocalSite` does each step as a no-op. On an
engine that cannot see the checkout (docker-compose.remote.yml), the source is mirrored into volumes
before the containers start (mirror.py), the stack's ports are forwarded here over one SSH tunnel that
also carries the engine's socket (tunnel.py), and the watcher copies each change in (mirror.Syncer).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

from devtools.engine import facts
from devtools.engine.api import EngineApi, cli_client, client_at
from devtools.errors import DevtoolsError, ExitCode
from devtools.progress import Board
from devtools.remote import mirror, tunnel
from devtools.stack.config import ComposeConfig
from devtools.stack.graph import with_dependencies
from devtools.stack.project import ComposeProject


class Syncer(Protocol):
    """The watcher's half of a site: changed files into the containers (nothing to do locally)."""

    lost: bool  # the engine's link is down and changes wait for it

    def folders(self) -> list[Path]: ...

    def push(self, paths: Iterable[Path]) -> tuple[list[str], list[Path]]: ...


class Site(Protocol):
    def up(
        self, project: ComposeProject, config: ComposeConfig, services: Sequence[str], up_args: Sequence[str]
    ) -> None:
        """Start `services` (all when empty) with `docker compose UP_ARGS` (up --wait ...)."""

    def seen_here(self, project: ComposeProject, config: ComposeConfig | None = None) -> ComposeConfig:
        """The stack as this machine sees it: the ports and URLs that answer here. `config`: the project's
        own, when the caller has it already."""

    def engine(self, project: ComposeProject) -> EngineApi:
        """The SDK client for the watcher's many small calls."""

    def syncer(self, project: ComposeProject, config: ComposeConfig, engine: EngineApi) -> Syncer: ...

    def containers_moved(self, project: ComposeProject, engine: EngineApi) -> None:
        """A container was started again (a restart, a rebuild): whatever pointed at it follows."""

    def held_ports(self, project: ComposeProject) -> set[int]:
        """This machine's ports the stack holds (doctor: busy, but ours)."""

    def forwards(self, project: ComposeProject) -> list[str] | None:
        """One line per port forwarded here (`ps`); None when nothing is ever forwarded."""

    def close(self, project: ComposeProject) -> None:
        """What `down` ends besides the containers."""

    def require_checkout(self, feature: str, instead: str) -> None:
        """Refuse `feature` (one line, USAGE, naming what to do `instead`) when the engine cannot
        bind-mount this checkout."""


class _NoSync:
    lost = False

    def folders(self) -> list[Path]:
        return []

    def push(self, paths: Iterable[Path]) -> tuple[list[str], list[Path]]:
        return [], []


class LocalSite:
    """The engine on this machine: it bind-mounts the checkout and publishes on this machine's ports."""

    def up(
        self, project: ComposeProject, config: ComposeConfig, services: Sequence[str], up_args: Sequence[str]
    ) -> None:
        project.run(*up_args, *services)

    def seen_here(self, project: ComposeProject, config: ComposeConfig | None = None) -> ComposeConfig:
        return config if config is not None else project.config()

    def engine(self, project: ComposeProject) -> EngineApi:
        return EngineApi()

    def syncer(self, project: ComposeProject, config: ComposeConfig, engine: EngineApi) -> Syncer:
        return _NoSync()

    def containers_moved(self, project: ComposeProject, engine: EngineApi) -> None:
        return None

    def held_ports(self, project: ComposeProject) -> set[int]:
        return {
            int(publisher["PublishedPort"])
            for row in project.containers(check=False)
            for publisher in row.get("Publishers") or []
            if publisher.get("PublishedPort")
        }

    def forwards(self, project: ComposeProject) -> list[str] | None:
        return None

    def close(self, project: ComposeProject) -> None:
        return None

    def require_checkout(self, feature: str, instead: str) -> None:
        return None


@dataclass(frozen=True)
class RemoteSite:
    """An engine on another machine (`endpoint`: its ssh:// address), which cannot see this checkout."""

    endpoint: str

    def up(
        self, project: ComposeProject, config: ComposeConfig, services: Sequence[str], up_args: Sequence[str]
    ) -> None:
        """Containers and volumes created, the source mirrored into its volumes before anything runs,
        then started, then this machine's ports forwarded to them."""
        project.run("up", "--no-start", "--no-build", *services)
        started = set(with_dependencies(config, services))
        used = {str(volume.get("source")) for name in started for volume in config.services[name].get("volumes") or []}
        with Board() as board:
            roots = [root for root in mirror.sync_roots(project, config) if root.key in used]
            mirror.mirror(config, roots, project.root, board)
        project.run(*up_args, *services)
        forwards = tunnel.planned(project, self.seen_here(project), started)
        if forwards:
            tunnel.open_forwards(project, self.endpoint, forwards)

    def seen_here(self, project: ComposeProject, config: ComposeConfig | None = None) -> ComposeConfig:
        # The Compose files without the remote override publish on this machine's ports (MLFLOW_PORT,
        # SERVING_PORT), which the tunnel forwards to where the remote engine published them.
        return replace(project, remote=False).config()

    def engine(self, project: ComposeProject) -> EngineApi:
        """Through the project's SSH tunnel, whose forwarded socket carries every call over one
        connection (docker-py's own ssh:// transport logs in anew for each), opened again when the link
        came back."""

        def connect() -> object:
            url = tunnel.ensure(
                project, self.endpoint, lambda: self.seen_here(project)
            )  # cannot open: DOCKER_UNAVAILABLE, kept trying
            return client_at(url) if url else cli_client()  # a remote engine without a unix socket: ssh:// itself

        return EngineApi(connect=connect)

    def syncer(self, project: ComposeProject, config: ComposeConfig, engine: EngineApi) -> Syncer:
        return mirror.Syncer(project, mirror.sync_roots(project, config), engine)

    def containers_moved(self, project: ComposeProject, engine: EngineApi) -> None:
        # A container started again publishes at new ports on the remote: the tunnel follows.
        tunnel.ensure(project, self.endpoint, lambda: self.seen_here(project), refresh=True)
        engine.reconnect()

    def held_ports(self, project: ComposeProject) -> set[int]:
        return tunnel.open_ports(project)

    def forwards(self, project: ComposeProject) -> list[str] | None:
        return tunnel.status(project)

    def close(self, project: ComposeProject) -> None:
        tunnel.close(project)

    def require_checkout(self, feature: str, instead: str) -> None:
        raise DevtoolsError(
            f"{feature} needs the engine on this machine (it mounts the checkout); {instead}", ExitCode.USAGE
        )


def site_of(project: ComposeProject) -> Site:
    """The project's site: remote when its Compose files are the remote ones (ComposeProject.load)."""
    if project.remote:
        return RemoteSite(facts.current().remote or "")
    return LocalSite()
