"""Watch rules per service, from Compose's `develop.watch` and devtools' `x-devtools.watch`.

Compose's syntax is used where it fits, so `docker compose watch` still understands the file; the
`x-devtools.watch` extension adds what Compose lacks: restarting the app process inside a running
container (a signal to PID 1) and running a command in it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from devtools.errors import DevtoolsError, ExitCode


class Action(str, Enum):
    RESTART = "restart"  # signal the app process in the running container (not the container)
    REBUILD = "rebuild"  # rebuild the image, recreate only this service
    EXEC = "exec"  # run a command in the running container
    SYNC = "sync"  # copy files into the container (services without a bind mount)


# Which of several actions for one service wins when a burst triggers more than one.
PRECEDENCE = {Action.REBUILD: 3, Action.SYNC: 2, Action.EXEC: 1, Action.RESTART: 0}

# Compose's actions, in our terms (a Compose restart recreates the container; ours signals the process
# when the service declares a restart signal, and restarts the container otherwise).
_COMPOSE_ACTIONS = {
    "rebuild": (Action.REBUILD,),
    "sync": (Action.SYNC,),
    "sync+restart": (Action.SYNC, Action.RESTART),
    "restart": (Action.RESTART,),
    "sync+exec": (Action.SYNC, Action.EXEC),
}


@dataclass(frozen=True)
class WatchRule:
    service: str
    path: Path  # absolute, a file or a directory
    action: Action
    target: str | None = None  # sync: the path inside the container
    command: tuple[str, ...] = ()  # exec: argv
    ignore: tuple[str, ...] = ()
    from_extension: bool = False  # x-devtools rules win over Compose rules on the same path

    def matches(self, path: Path) -> bool:
        return path == self.path or self.path in path.parents


@dataclass(frozen=True)
class ServiceWatch:
    rules: tuple[WatchRule, ...]
    restart_signal: str | None = None  # e.g. HUP: the app reloads itself; None: restart the container
    never_interrupt: tuple[str, ...] = field(default_factory=tuple)  # process markers: defer while running


def _command(raw: Any) -> tuple[str, ...]:
    if isinstance(raw, str):
        return ("sh", "-c", raw)
    return tuple(str(part) for part in raw or ())


def _rule(name: str, entry: dict[str, Any], root: Path, action: Action, command: Any, extension: bool) -> WatchRule:
    return WatchRule(
        name,
        (root / entry["path"]).resolve(),
        action,
        target=entry.get("target"),
        command=_command(command),
        ignore=tuple(entry.get("ignore") or ()),
        from_extension=extension,
    )


def _rules_for(name: str, service: dict[str, Any], root: Path) -> list[WatchRule]:
    rules: list[WatchRule] = []
    for entry in (service.get("develop") or {}).get("watch") or []:
        actions = _COMPOSE_ACTIONS.get(entry.get("action", ""))
        if actions is None:
            raise DevtoolsError(
                f"service '{name}': unknown develop.watch action '{entry.get('action')}'", ExitCode.USAGE
            )
        command = (entry.get("exec") or {}).get("command")
        rules += [_rule(name, entry, root, action, command, extension=False) for action in actions]
    for entry in (service.get("x-devtools") or {}).get("watch") or []:
        try:
            action = Action(entry.get("action"))
        except ValueError:
            raise DevtoolsError(
                f"service '{name}': unknown x-devtools.watch action '{entry.get('action')}' "
                f"(one of {', '.join(a.value for a in Action)})",
                ExitCode.USAGE,
            ) from None
        rules.append(_rule(name, entry, root, action, entry.get("command"), extension=True))
    return rules


def load_watch(config: dict[str, dict[str, Any]], root: Path) -> dict[str, ServiceWatch]:
    """Rules for every service that declares any, keyed by service name."""
    watches = {}
    for name, service in config.items():
        rules = _rules_for(name, service, root)
        if rules:
            meta = service.get("x-devtools") or {}
            watches[name] = ServiceWatch(
                tuple(rules),
                restart_signal=meta.get("restart-signal"),
                never_interrupt=tuple(meta.get("never-interrupt") or ()),
            )
    return watches
