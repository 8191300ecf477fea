"""`docker inspect`, read once into typed values (as python-on-whales models each inspected object).

Every question devtools asks of an image or a container goes through here: one `docker image inspect`
or `docker container inspect` call for any number of names, its JSON read into `ImageFacts` or
`ContainerFacts`. No Go templates spread over the code, each with its own parsing and its own idea of
what a missing object means: here a name the engine does not know is simply absent from the answer.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from devtools import proc


@dataclass(frozen=True)
class ImageFacts:
    name: str  # as asked
    id: str
    os: str
    architecture: str
    variant: str
    labels: Mapping[str, str] = field(default_factory=dict)
    repo_digests: tuple[str, ...] = ()  # REGISTRY/repo@sha256:..., one per registry it was pushed to or pulled from
    volumes: frozenset[str] = frozenset()  # the paths the image declares as VOLUME

    @property
    def platform(self) -> str:
        """os/arch[/variant], as `--platform` names it."""
        return "/".join(part for part in (self.os, self.architecture, self.variant) if part)

    def digest_in(self, repository: str) -> str | None:
        """The manifest digest this image has in `repository` (REGISTRY/repo), or None."""
        for entry in self.repo_digests:
            name, _, digest = entry.partition("@")
            if name == repository:
                return digest
        return None


@dataclass(frozen=True)
class ContainerFacts:
    name: str  # without the leading slash
    status: str  # created, running, exited, ...
    exit_code: int
    finished_at: str  # RFC 3339; sorts in time order
    image_id: str = ""  # sha256:... of the image it runs
    oom_killed: bool = False
    error: str = ""
    health: str | None = None  # healthy, unhealthy, starting; None without a health check
    health_output: str | None = None  # what the last finished check printed
    healthcheck: tuple[str, ...] = ()  # Config.Healthcheck.Test
    memory_limit: int = 0  # bytes; 0: none
    gpu_requested: bool = False  # HostConfig.DeviceRequests reserve NVIDIA GPUs

    @property
    def running(self) -> bool:
        return self.status == "running"


def images(*names: str) -> dict[str, ImageFacts]:
    """The images among `names` the engine has, by the name asked."""
    return {facts.name: facts for facts in (_image(name, raw) for name, raw in _inspect("image", names))}


def image(name: str) -> ImageFacts | None:
    return images(name).get(name)


def containers(*names: str) -> dict[str, ContainerFacts]:
    """The containers among `names` (names or ids) the engine has, by the name asked."""
    return {name: _container(raw) for name, raw in _inspect("container", names)}


def container(name: str) -> ContainerFacts | None:
    return containers(name).get(name)


def _inspect(kind: str, names: Sequence[str]) -> list[tuple[str, Mapping[str, Any]]]:
    """(name asked, its raw object) for each name the engine knows. `docker inspect` answers those it
    knows and exits 1 for the rest, so each unknown one is asked alone to keep the others' answers."""
    if not names:
        return []
    done = proc.run(["docker", kind, "inspect", *names], capture=True, check=False)
    found = _objects(done.stdout)
    if len(found) == len(names):
        return list(zip(names, found, strict=True))
    if len(names) == 1:
        return []
    return [pair for name in names for pair in _inspect(kind, [name])]


def _objects(stdout: str) -> list[Mapping[str, Any]]:
    try:
        parsed = json.loads(stdout or "[]")
    except ValueError:
        return []
    return [item for item in parsed if isinstance(item, Mapping)] if isinstance(parsed, list) else []


def _image(name: str, raw: Mapping[str, Any]) -> ImageFacts:
    config = raw.get("Config") or {}
    return ImageFacts(
        name=name,
        id=str(raw.get("Id", "")),
        os=str(raw.get("Os", "")),
        architecture=str(raw.get("Architecture", "")),
        variant=str(raw.get("Variant") or ""),
        labels={str(k): str(v) for k, v in (config.get("Labels") or {}).items()},
        repo_digests=tuple(str(entry) for entry in raw.get("RepoDigests") or []),
        volumes=frozenset(str(path) for path in config.get("Volumes") or {}),
    )


def _container(raw: Mapping[str, Any]) -> ContainerFacts:
    state = raw.get("State") or {}
    health = state.get("Health") or {}
    log = health.get("Log") or []
    host = raw.get("HostConfig") or {}
    test = ((raw.get("Config") or {}).get("Healthcheck") or {}).get("Test") or []
    return ContainerFacts(
        name=str(raw.get("Name", "")).lstrip("/"),
        status=str(state.get("Status", "")),
        image_id=str(raw.get("Image", "")),
        exit_code=int(state.get("ExitCode") or 0),
        finished_at=str(state.get("FinishedAt", "")),
        oom_killed=bool(state.get("OOMKilled")),
        error=str(state.get("Error") or ""),
        health=str(health["Status"]) if health.get("Status") else None,
        health_output=str(log[-1].get("Output", "")) if log else None,
        healthcheck=tuple(str(part) for part in test),
        memory_limit=int(host.get("Memory") or 0),
        gpu_requested=_requests_gpus(host.get("DeviceRequests")),
    )


def _requests_gpus(requests: Any) -> bool:
    """Whether HostConfig.DeviceRequests reserve GPUs (`--gpus`, Compose's device reservations)."""
    return any(
        isinstance(request, Mapping)
        and (
            request.get("Driver") == "nvidia"
            or any("gpu" in (capabilities or []) for capabilities in request.get("Capabilities") or [])
        )
        for request in requests or []
    )
