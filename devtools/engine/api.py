"""The Docker SDK, for what the watcher asks many times a second (container logs, processes, signals).

It reaches the engine the way the docker CLI does: DOCKER_HOST (with DOCKER_TLS_VERIFY /
DOCKER_CERT_PATH) when set, else the current `docker context`'s endpoint and TLS material; ssh://
endpoints go through the ssh program, as the CLI's do. Every SDK call is made inside `engine_errors`,
so a failure is the same one-line DevtoolsError, with the same exit codes, as a failed docker command.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from devtools import fixes
from devtools.engine import facts
from devtools.errors import DevtoolsError, ExitCode


def endpoint() -> str:
    """Where the SDK connects: DOCKER_HOST, else the CLI's current context."""
    return os.environ.get("DOCKER_HOST") or facts.current().endpoint


@contextmanager
def engine_errors() -> Iterator[None]:
    """SDK and transport exceptions -> DevtoolsError (NOT_RUNNING, FAILURE or DOCKER_UNAVAILABLE)."""
    import docker.errors
    import requests.exceptions

    try:
        yield
    except docker.errors.NotFound as exc:
        raise DevtoolsError(f"the container is gone: {exc.explanation or exc}", ExitCode.NOT_RUNNING) from exc
    except docker.errors.APIError as exc:
        raise DevtoolsError(f"the Docker engine refused: {exc.explanation or exc}") from exc
    except (docker.errors.DockerException, requests.exceptions.RequestException, OSError) as exc:
        if problem := fixes.ssh_problem(str(exc)):
            raise DevtoolsError(problem, ExitCode.DOCKER_UNAVAILABLE) from exc
        said = facts.last_line(str(exc)) or type(exc).__name__
        where = endpoint() or "its default socket"
        if facts.is_socket(where):
            fix = fixes.daemon_fix(said) or fixes.START_DOCKER
        else:  # another machine: its link, not a local daemon
            fix = f"check that it answers: `docker -H {where} version`"
        raise DevtoolsError(
            f"the Docker engine at {where} is not reachable ({said[:200]}); {fix}", ExitCode.DOCKER_UNAVAILABLE
        ) from exc


class RegistryAnswer(Exception):
    """The engine answered, but for the registry behind it: refused, unreachable, or no such manifest.
    The caller knows what the registry was for and says so (devtools.release.publish)."""


@dataclass(frozen=True)
class Distribution:
    """What a registry holds for a tag: the digest of the image manifest or image index it names, and
    the platforms behind it (one for an image, each member's for an index)."""

    digest: str
    media_type: str
    platforms: list[str]


# The watcher's calls are short (list, copy a file, signal, read a log): a link that does not answer in
# this time is lost, and the watcher says so instead of hanging on a dead SSH connection.
CALL_TIMEOUT_S = 15


def cli_client() -> Any:
    import docker  # the SDK: ~0.3 s to import, only once the watcher needs it

    if host := os.environ.get("DOCKER_HOST"):
        # ssh://: the ssh program, as the docker CLI uses it (~/.ssh/config applies), not paramiko.
        return docker.from_env(use_ssh_client=host.startswith("ssh://"), timeout=CALL_TIMEOUT_S)  # type: ignore[attr-defined]
    host = endpoint()
    context = docker.context.ContextAPI.get_current_context()  # type: ignore[attr-defined]
    tls = context.TLSConfig if context is not None and context.Host == host else False
    return docker.DockerClient(  # type: ignore[attr-defined]
        base_url=host or None, tls=tls, use_ssh_client=host.startswith("ssh://"), timeout=CALL_TIMEOUT_S
    )


def client_at(url: str) -> Any:
    """An SDK client for an engine socket this machine can open itself (a remote engine's, forwarded)."""
    import docker

    return docker.DockerClient(base_url=url, timeout=CALL_TIMEOUT_S)  # type: ignore[attr-defined]


class EngineApi:
    """The few SDK calls devtools makes, each with its errors mapped. `client` replaces the SDK (tests);
    `connect` makes the client (default: as the CLI reaches the engine), again after `reconnect`."""

    def __init__(self, client: Any = None, connect: Callable[[], Any] | None = None) -> None:
        self._client = client
        self._connect = connect or cli_client

    @property
    def client(self) -> Any:
        if self._client is None:
            with engine_errors():
                self._client = self._connect()
        return self._client

    def containers(self, project: str, service: str | None = None, *, include_stopped: bool = False) -> list[Any]:
        """The project's containers (of one service), by Compose's labels."""
        labels = [f"com.docker.compose.project={project}"]
        if service is not None:
            labels.append(f"com.docker.compose.service={service}")
        with engine_errors():
            return list(self.client.containers.list(all=include_stopped, filters={"label": labels}))

    def processes(self, container: Any) -> list[str]:
        """The command line of every process in the container."""
        with engine_errors():
            table = container.top(ps_args="-eo pid,args")
        return [str(row[-1]) for row in table.get("Processes") or []]

    def signal(self, container: Any, signal: str) -> None:
        with engine_errors():
            container.kill(signal=signal)

    def logs_since(self, container: Any, since: float) -> str:
        with engine_errors():
            data: bytes = container.logs(since=since, stdout=True, stderr=True)
        return data.decode(errors="replace")

    def put_archive(self, container: Any, path: str, data: bytes) -> None:
        """Extracts a tar archive into the container at `path` (a running or stopped container; into
        its volumes too): how the watcher copies files to a remote engine."""
        with engine_errors():
            if not container.put_archive(path, data):
                raise DevtoolsError(f"the Docker engine did not extract the files into {path}")

    def exec_(self, container: Any, argv: list[str], user: str = "0:0") -> tuple[int, str]:
        """Runs argv in the running container; (exit code, output)."""
        with engine_errors():
            code, output = container.exec_run(argv, user=user)
        return int(code), output.decode(errors="replace") if isinstance(output, bytes) else str(output)

    def reconnect(self) -> None:
        """Drops the client, so the next call connects afresh (after the engine's link was lost)."""
        self._client = None

    def distribution(self, reference: str) -> Distribution:
        """Asks the registry, through the engine and with the docker CLI's credentials, what `reference`
        names (the engine's /distribution endpoint: no hand-written registry HTTP, the engine's TLS and
        insecure-registry rules). RegistryAnswer when the registry refused or could not be reached."""
        import docker.errors

        with engine_errors():
            try:
                found = self.client.api.inspect_distribution(reference)
            except docker.errors.APIError as exc:
                raise RegistryAnswer(str(exc.explanation or exc)) from exc
        descriptor = found.get("Descriptor") or {}
        platforms = [
            "/".join(part for part in (entry.get("os"), entry.get("architecture"), entry.get("variant")) if part)
            for entry in found.get("Platforms") or []
        ]
        return Distribution(str(descriptor.get("digest", "")), str(descriptor.get("mediaType", "")), platforms)

    @staticmethod
    def state(container: Any) -> tuple[str, str]:
        """(status, health) from the list call's data: no further engine call."""
        health = (container.attrs.get("State", {}).get("Health") or {}).get("Status", "-")
        return str(container.status), str(health)
