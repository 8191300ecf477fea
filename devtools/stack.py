"""Starting the stack: build what is missing or stale, start, wait for healthchecks."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from devtools.build_state import BuildState
from devtools.compose import ComposeConfig, ComposeProject


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
    return _closure(config, list(names) or config.services, lambda name: config.services[name].get("depends_on", {}))


def with_build_bases(config: ComposeConfig, names: Iterable[str]) -> list[str]:
    """Services to build for `names`: each one plus the services whose image it builds FROM
    (passed as a build arg); every buildable service when `names` is empty."""
    image_of = {service.get("image"): name for name, service in config.services.items() if "build" in service}

    def bases(name: str) -> list[str]:
        args = config.services[name].get("build", {}).get("args", {}) or {}
        return [image_of[value] for value in args.values() if value in image_of]

    buildable = [name for name in config.services if "build" in config.services[name]]
    return _closure(config, list(names) or buildable, bases)


def build_stale(project: ComposeProject, config: ComposeConfig, names: Sequence[str]) -> list[str]:
    """Rebuild the services among `names` whose build inputs changed; returns those rebuilt."""
    state = BuildState(project)
    stale = state.stale(config, with_dependencies(config, names))
    if stale:
        project.run("build", *stale)
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
