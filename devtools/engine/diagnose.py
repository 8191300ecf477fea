"""Why a container is not up: its exit, its health check's last answer, its last log line, in one line."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from devtools import proc

_REASON_MAX = 300


def inspect(container: str) -> Mapping[str, Any]:
    done = proc.run(["docker", "inspect", "--type", "container", container], capture=True, check=False)
    if done.returncode != 0:
        return {}
    found = json.loads(done.stdout or "[]")
    return found[0] if found else {}


def last_log_line(container: str, lines: int = 40) -> str:
    """The last non-blank line the container wrote (a Python traceback's last line is its exception)."""
    done = proc.run(["docker", "logs", "--tail", str(lines), container], capture=True, check=False)
    if done.returncode != 0:
        return ""
    # docker logs keeps the streams apart and their order is lost; errors and tracebacks go to stderr.
    for stream in (done.stderr, done.stdout):
        written = [line.strip() for line in stream.splitlines() if line.strip()]
        if written:
            return _short(written[-1])
    return ""


def explain(container: str) -> str | None:
    """None when the container is running and healthy (or has no health check); else the reason."""
    attrs = inspect(container)
    if not attrs:
        return "the container does not exist"
    state = attrs.get("State", {})
    status = str(state.get("Status", "?"))
    health = state.get("Health") or {}
    if status == "running" and health.get("Status", "healthy") == "healthy":
        return None
    if status != "running":
        code = state.get("ExitCode")
        why = f"exited {code}"
        if state.get("OOMKilled"):
            limit = attrs.get("HostConfig", {}).get("Memory") or 0
            why += f", killed for memory (limit {limit // 2**20} MiB)" if limit else ", killed for memory"
        if state.get("Error"):
            why += f" ({_short(str(state['Error']))})"
        said = last_log_line(container)
        return f"{why}: {said}" if said else why
    checks = health.get("Log") or []
    test = attrs.get("Config", {}).get("Healthcheck", {}).get("Test") or []
    command = " ".join(str(part) for part in test[1:]) if test[:1] in (["CMD"], ["CMD-SHELL"]) else ""
    answer = _short(str(checks[-1].get("Output", ""))) if checks else "no check has finished yet"
    return f"{health.get('Status', 'unhealthy')}: health check `{command}` said: {answer or 'nothing'}"


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _REASON_MAX else text[: _REASON_MAX - 3] + "..."
