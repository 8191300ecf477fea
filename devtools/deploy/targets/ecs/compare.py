"""Does what AWS describes match what a document asks for?

Only the fields the document sets are compared. AWS fills in what a request left out (a container's
`cpu: 0`, `volumesFrom: []`, a deployment's `alarms`); those defaults are not drift, and comparing
them would make every apply register a new revision.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

# A field the description does not have; a string, so canonical values stay JSON for sorting.
_ABSENT = "\x00absent"

# Lists of plain values whose order AWS does not keep or that mean a set. Every other list of plain
# values (command, entryPoint, a health check's command) is ordered; lists of objects
# (environment, portMappings, volumes, tags, ...) are always sets.
_UNORDERED_VALUES = frozenset({"subnets", "securityGroups", "requiresCompatibilities", "drop", "add"})


def differing_fields(wanted: Mapping[str, Any], described: Mapping[str, Any]) -> list[str]:
    """The top-level keys of `wanted` whose values `described` does not match, in `wanted`'s order."""
    return [
        key
        for key, value in wanted.items()
        if _canonical(key, value, value) != _canonical(key, value, described.get(key, _ABSENT))
    ]


def _canonical(key: str, wanted: Any, actual: Any) -> Any:
    """`actual` in the shape of `wanted`: keys `wanted` does not set dropped, lists of objects sorted,
    whole floats as ints (AWS answers `60.0` for a `60` it was sent)."""
    if actual is _ABSENT:
        # Left out of a description is the same as empty or false: AWS drops `[]` and `false`.
        return _canonical(key, wanted, wanted) if _is_empty(wanted) else _ABSENT
    if isinstance(wanted, Mapping):
        if not isinstance(actual, Mapping):
            return _plain(actual)
        return {name: _canonical(name, value, actual.get(name, _ABSENT)) for name, value in wanted.items()}
    if isinstance(wanted, list):
        if not isinstance(actual, list):
            return _plain(actual)
        if wanted and all(isinstance(item, Mapping) for item in wanted):
            template = _template(wanted)
            return sorted((_canonical(key, template, item) for item in actual), key=_sort_key)
        values = [_plain(item) for item in actual]
        return sorted(values, key=_sort_key) if key in _UNORDERED_VALUES else values
    return _plain(actual)


def _template(items: list[Mapping[str, Any]]) -> dict[str, Any]:
    """Every key any of the wanted objects sets (each with its first value), to shape each described one."""
    template: dict[str, Any] = {}
    for item in items:
        for name, value in item.items():
            template.setdefault(name, value)
    return template


def _is_empty(value: Any) -> bool:
    return value is None or value is False or (isinstance(value, (list, dict)) and not value)


def _plain(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Mapping):
        return {name: _plain(item) for name, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def _sort_key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)
