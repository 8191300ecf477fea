"""Known docker / compose stderr (and Docker SDK errors), turned into one actionable line and an exit code.

One table, matched against the tail of stderr, first match wins. Anything unknown keeps the last
meaningful stderr line, so the user still sees what docker said.
"""

from __future__ import annotations

import functools
import re
import shlex
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from devtools import fixes
from devtools.errors import DevtoolsError, ExitCode


@dataclass(frozen=True)
class _Rule:
    # Compiled on first use (`compiled`), not at import: every devtools start would pay for it.
    regex: str
    code: ExitCode
    message: Callable[[re.Match[str]], str]

    @property
    def pattern(self) -> re.Pattern[str]:
        return _compiled(self.regex)


@functools.cache
def _compiled(regex: str) -> re.Pattern[str]:
    return re.compile(regex)


def _compose_v2_missing(_: re.Match[str]) -> str:
    if shutil.which("docker-compose"):
        return (
            "only Compose v1 ('docker-compose') is installed; devtools needs Compose v2 "
            f"('docker compose'): {fixes.COMPOSE_INSTALL_URL}"
        )
    return f"the Docker Compose v2 plugin is not installed ('docker compose' is unknown): {fixes.COMPOSE_INSTALL_URL}"


_RULES: tuple[_Rule, ...] = (
    _Rule(
        # First: a full disk fails a pull, a build step or a container start alike, and each of those
        # would otherwise be reported as its own failure with the cause cut off.
        r"no space left on device",
        ExitCode.FAILURE,
        lambda m: f"the Docker engine's disk is full (no space left on device); {fixes.FREE_DISK}, then retry",
    ),
    _Rule(
        # A remote engine (ssh://) whose host SSH cannot reach or log in to.
        r"ssh: connect to host|ssh: Could not resolve hostname|Permission denied \((?:publickey|password)"
        r"|Host key verification failed",
        ExitCode.DOCKER_UNAVAILABLE,
        lambda m: fixes.ssh_problem(m.string) or "the Docker engine's host is not reachable over SSH",
    ),
    _Rule(
        r"permission denied while trying to connect to the Docker daemon",
        ExitCode.DOCKER_UNAVAILABLE,
        lambda m: f"no permission to use the Docker daemon; {fixes.JOIN_DOCKER_GROUP}",
    ),
    _Rule(
        r"Cannot connect to the Docker daemon at (\S+?)\.? Is the docker daemon running",
        ExitCode.DOCKER_UNAVAILABLE,
        lambda m: f"the Docker daemon is not reachable at {m.group(1)}; {fixes.START_DOCKER} and retry",
    ),
    _Rule(
        r"unknown command: docker compose|'compose' is not a docker command|unknown shorthand flag: 'f' in -f",
        ExitCode.DOCKER_UNAVAILABLE,
        _compose_v2_missing,
    ),
    _Rule(
        r"no such service: (\S+)",
        ExitCode.UNKNOWN_SERVICE,
        lambda m: f"unknown service '{m.group(1)}'; 'devtools ps' or 'devtools config --services' lists them",
    ),
    _Rule(
        r'service "([^"]+)" is not running',
        ExitCode.NOT_RUNNING,
        lambda m: f"service '{m.group(1)}' is not running; start it with 'devtools up {m.group(1)}'",
    ),
    _Rule(
        r"(?:listen tcp\d?|Bind for) (?:([\d.]+|\[[0-9a-f:]*\]):)?(\d+)(?::| failed:).*"
        r"(?:address already in use|port is already allocated)",
        ExitCode.PORT_IN_USE,
        lambda m: (
            f"port {m.group(2)} on {m.group(1) or 'the host'} is already in use; stop what holds it "
            f"(ss -ltnp 'sport = :{m.group(2)}') or choose another port in .env"
        ),
    ),
    _Rule(
        r"target stage (\S+) could not be found",
        ExitCode.BUILD_FAILED,
        lambda m: f"build failed: the Dockerfile has no stage '{m.group(1)}'",
    ),
    _Rule(
        # A RUN step of another architecture with no emulator registered for it (binfmt_misc).
        r"exec (\S+): exec format error",
        ExitCode.BUILD_FAILED,
        lambda m: (
            f"build failed: the engine cannot run programs of the target platform ({m.group(1)}: exec format "
            f"error); {fixes.QEMU}"
        ),
    ),
    _Rule(
        # BuildKit resolving a FROM image: `#3 [base internal] load metadata for IMAGE` then `#3 ERROR: ...`.
        r"load metadata for (\S+)\s*\n#\d+ ERROR: (?:.*: )?(.+)",
        ExitCode.BUILD_FAILED,
        lambda m: (
            f"build failed: the image {m.group(1)} could not be fetched ({m.group(2).strip()}); "
            f"{fixes.BASE_IMAGE_OFFLINE}"
        ),
    ),
    _Rule(
        r"failed to solve: (?:.*?executor failed running \[(.*)\]: (exit code: \d+)|(.*))",
        ExitCode.BUILD_FAILED,
        lambda m: (
            f"build failed: '{m.group(1)}' ended with {m.group(2)} (the build output above says why)"
            if m.group(1)
            else f"build failed: {m.group(3)}"
        ),
    ),
    _Rule(
        r"container (\S+) is unhealthy|dependency failed to start: container (\S+) (?:is unhealthy|exited \(\d+\))",
        ExitCode.UNHEALTHY,
        lambda m: f"container {m.group(1) or m.group(2)} did not become healthy; see 'devtools logs'",
    ),
    _Rule(
        r'service "([^"]+)" didn\'t complete successfully: exit (\d+)',
        ExitCode.UNHEALTHY,
        lambda m: (
            f"the one-shot service '{m.group(1)}' failed with exit code {m.group(2)}; see 'devtools logs {m.group(1)}'"
        ),
    ),
    _Rule(
        r"container (\S+) exited \((\d+)\)",
        ExitCode.UNHEALTHY,
        lambda m: f"container {m.group(1)} exited with code {m.group(2)}; see 'devtools logs'",
    ),
    _Rule(
        r"application not healthy after (\S+)|timeout waiting for",
        ExitCode.UNHEALTHY,
        lambda m: (
            f"services did not become healthy within the wait timeout{' (' + m.group(1) + ')' if m.group(1) else ''}; "
            "see 'devtools ps' and 'devtools logs', or raise --wait-timeout"
        ),
    ),
)


def _last_meaningful_line(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def classify(argv: Sequence[str], returncode: int, stderr: str) -> DevtoolsError:
    """Explain a failed command in one line; known stderr maps to its own exit code."""
    for rule in _RULES:
        match = rule.pattern.search(stderr)
        if match:
            return DevtoolsError(rule.message(match), rule.code)
    said = _last_meaningful_line(stderr)
    return DevtoolsError(
        f"'{shlex.join(argv[:3])} ...' failed with exit code {returncode}" + (f": {said}" if said else "")
    )


def _inside_container() -> bool:
    from pathlib import Path

    return Path("/.dockerenv").exists() or Path("/run/.containerenv").exists()


def missing_program(program: str) -> DevtoolsError:
    if program == "docker":
        if _inside_container():
            return DevtoolsError(
                "the docker CLI is not available inside this container; run this devtools command on the host, "
                "or open the docker-socket devcontainer (.devcontainer/README.md)",
                ExitCode.DOCKER_UNAVAILABLE,
            )
        return DevtoolsError(
            f"the docker CLI was not found on PATH; {fixes.INSTALL_DOCKER}",
            ExitCode.DOCKER_UNAVAILABLE,
        )
    return DevtoolsError(f"'{program}' was not found on PATH")
