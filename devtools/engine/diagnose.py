"""Why a container is not up: its exit, its health check's last answer, its last log line, in one line."""

from __future__ import annotations

from devtools import proc
from devtools.engine import inspect

_REASON_MAX = 300


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
    facts = inspect.container(container)
    if facts is None:
        return "the container does not exist"
    if facts.running and facts.health in (None, "healthy"):
        return None
    if not facts.running:
        why = f"exited {facts.exit_code}"
        if facts.oom_killed:
            limit = facts.memory_limit
            why += f", killed for memory (limit {limit // 2**20} MiB)" if limit else ", killed for memory"
        if facts.error:
            why += f" ({_short(facts.error)})"
        said = last_log_line(container)
        return f"{why}: {said}" if said else why
    test = facts.healthcheck
    command = " ".join(test[1:]) if test[:1] in (("CMD",), ("CMD-SHELL",)) else ""
    answer = _short(facts.health_output) if facts.health_output is not None else "no check has finished yet"
    return f"{facts.health or 'unhealthy'}: health check `{command}` said: {answer or 'nothing'}"


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _REASON_MAX else text[: _REASON_MAX - 3] + "..."
