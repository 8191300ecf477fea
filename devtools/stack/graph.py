"""Closures over the services of a config: what a service needs started, and what its image builds FROM."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from devtools.stack.config import ComposeConfig


def _closure(config: ComposeConfig, start: Iterable[str], neighbours: Callable[[str], Iterable[str]]) -> list[str]:
    """`start` and everything reachable through `neighbours`, in the config's (stable) service order."""
    pending = list(start)
    seen: set[str] = set()
    while pending:
        name = pending.pop()
        if name not in seen:
            seen.add(name)
            pending.extend(neighbours(name))
    return [name for name in config.services if name in seen]


def with_dependencies(config: ComposeConfig, names: Iterable[str]) -> list[str]:
    """`names` plus everything they depend on; every service when `names` is empty."""

    def needs(name: str) -> list[str]:
        # A dependency outside the config is one Compose skips: `required: false`, its profile not enabled
        # (the dev stack's mlflow-access).
        return [dep for dep in config.services[name].get("depends_on", {}) if dep in config.services]

    return _closure(config, list(names) or config.services, needs)


def with_build_bases(config: ComposeConfig, names: Iterable[str]) -> list[str]:
    """Services to build for `names`: each one plus the services whose image it builds FROM
    (passed as a build arg); every buildable service when `names` is empty."""
    image_of = {service.get("image"): name for name, service in config.services.items() if "build" in service}

    def bases(name: str) -> list[str]:
        args = config.services[name].get("build", {}).get("args", {}) or {}
        return [image_of[value] for value in args.values() if value in image_of]

    buildable = [name for name in config.services if "build" in config.services[name]]
    return _closure(config, list(names) or buildable, bases)


def build_base_images(services: Mapping[str, Mapping[str, Any]]) -> set[str]:
    """Images other services build FROM (passed as a build arg): build-only, never deployed or released
    unless named."""
    images = {service.get("image") for service in services.values() if "build" in service}
    used: set[str] = set()
    for service in services.values():
        args = (service.get("build") or {}).get("args") or {}
        used.update(str(value) for value in args.values() if value in images)
    return used
