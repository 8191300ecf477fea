"""What the Docker engine is, asked once per run: the CLI, the daemon, Compose, the endpoint.

`doctor`, GPU detection and the watcher used to ask the same questions each on their own; now each
fact is one docker call, made the first time something needs it (`current()` is cached, so a run
asks at most: version, info, compose version, context). Nothing here decides what is wrong; callers
do, with fixes.py.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import socket
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from devtools import proc
from devtools.errors import DevtoolsError

LOCAL_SCHEMES = ("unix", "npipe")
DEFAULT_ENDPOINT = "npipe:////./pipe/docker_engine" if os.name == "nt" else "unix:///var/run/docker.sock"
# DEVTOOLS_REMOTE=1 or 0: what the engine's location says, when the rule below gets it wrong (an
# engine on another machine with this machine's host name; a tunnel to this machine's own engine).
REMOTE_OVERRIDE = "DEVTOOLS_REMOTE"


def docker_config_dir() -> Path:
    return Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker")


def current_context() -> str:
    """The docker CLI's current context, as it picks it (DOCKER_CONTEXT, else config.json), read
    without running docker: most commands need only to know it is the default one."""
    if name := os.environ.get("DOCKER_CONTEXT", "").strip():
        return name
    try:
        config = json.loads((docker_config_dir() / "config.json").read_text())
    except (OSError, ValueError):
        return "default"
    return str(config.get("currentContext") or "default") if isinstance(config, dict) else "default"


def is_socket(endpoint: str) -> bool:
    """A socket (or an unknown endpoint, which the CLI's default socket is) is this machine's engine."""
    return "://" not in endpoint or endpoint.split("://", 1)[0] in LOCAL_SCHEMES


def is_remote(endpoint: str, engine_host: str | None, this_host: str) -> bool:
    """Whether the engine runs on another machine, so it cannot see this checkout: a socket is this
    machine's; over ssh:// or tcp:// it is another machine unless the engine's own host name (docker
    info's Name) is this one's. DEVTOOLS_REMOTE overrides."""
    forced = os.environ.get(REMOTE_OVERRIDE, "").strip()
    if forced in ("0", "1"):
        return forced == "1"
    if is_socket(endpoint):
        return False
    return engine_host is None or engine_host != this_host


def parse_json_object(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def last_line(*texts: str) -> str:
    """The line that says what went wrong: the last one naming an error or failure, else the last one,
    never docker's trailing "See 'docker --help'" / "Run 'docker run --help' ..." hints."""
    lines = [line.strip() for text in texts for line in text.splitlines() if line.strip()]
    lines = [line for line in lines if not line.startswith(("See '", "Run '"))]
    errors = [line for line in lines if "error" in line.lower() or "fail" in line.lower()]
    return (errors or lines or [""])[-1]


def ask(argv: list[str]) -> proc.Completed | None:
    """argv's result, whatever its exit code; None when the program is not there (or not executable)."""
    try:
        return proc.run(argv, capture=True, check=False)
    except (DevtoolsError, OSError):
        return None


def docker_info(done: proc.Completed | None) -> dict[str, Any] | None:
    """`docker info --format '{{json .}}'` as a dict, when the engine answered it."""
    if done is None or done.returncode != 0:
        return None
    info = parse_json_object(done.stdout)
    if info is None or info.get("ServerErrors"):
        return None
    return info


@dataclass(frozen=True)
class Daemon:
    version: str
    api_version: str


class Engine:
    """The engine the docker CLI talks to. Each property asks docker once, on first use."""

    @cached_property
    def cli(self) -> str | None:
        """Path of the docker CLI, None when it is not on PATH."""
        return shutil.which("docker")

    @cached_property
    def version(self) -> proc.Completed | None:
        """`docker version --format '{{json .}}'`: the client always, the server when it answers."""
        return ask(["docker", "version", "--format", "{{json .}}"]) if self.cli else None

    @cached_property
    def info(self) -> proc.Completed | None:
        """`docker info --format '{{json .}}'` (runtimes, CDI, storage root, OS): GPU detection and doctor."""
        return ask(["docker", "info", "--format", "{{json .}}"]) if self.cli else None

    @cached_property
    def compose_version(self) -> proc.Completed | None:
        """`docker compose version --short`."""
        return ask(["docker", "compose", "version", "--short"]) if self.cli else None

    @cached_property
    def endpoint(self) -> str:
        """Where the CLI sends its calls: DOCKER_HOST, else the current context's endpoint ('' when unknown)."""
        if host := os.environ.get("DOCKER_HOST", ""):
            return host
        if current_context() == "default":
            return DEFAULT_ENDPOINT  # the CLI's own default: no `docker context inspect` needed
        if not self.cli:
            return ""
        context = ask(["docker", "context", "inspect", "--format", "{{.Endpoints.docker.Host}}"])
        return context.stdout.strip() if context and context.returncode == 0 else ""

    # --- derived ------------------------------------------------------------------------------------

    @property
    def client_version(self) -> str | None:
        answer = parse_json_object(self.version.stdout) if self.version else None
        client = (answer or {}).get("Client") or {}
        return str(client["Version"]) if "Version" in client else None

    @property
    def daemon(self) -> Daemon | None:
        """The daemon's version, when it answered."""
        done = self.version
        answer = parse_json_object(done.stdout) if done is not None and done.returncode == 0 else None
        server = (answer or {}).get("Server") or {}
        if "Version" not in server:
            return None
        return Daemon(str(server["Version"]), str(server.get("ApiVersion", "?")))

    @property
    def daemon_error(self) -> str:
        """What docker said when the daemon did not answer."""
        done = self.version
        if done is None:
            return "docker CLI not found"
        return last_line(done.stderr) or f"docker version exit code {done.returncode}"

    @property
    def info_dict(self) -> dict[str, Any] | None:
        return docker_info(self.info)

    @cached_property
    def remote(self) -> str | None:
        """The endpoint when the engine is on another machine, None when it is this one. A socket is
        decided without asking the engine; ssh:// and tcp:// ask `docker info` for its host name."""
        endpoint = self.endpoint
        forced = os.environ.get(REMOTE_OVERRIDE, "").strip()
        if forced in ("0", "1"):
            return (endpoint or DEFAULT_ENDPOINT) if forced == "1" else None
        if is_socket(endpoint):
            return None
        name = (self.info_dict or {}).get("Name")
        return endpoint if is_remote(endpoint, str(name) if name else None, socket.gethostname()) else None

    @property
    def remote_host(self) -> str:
        """user@host[:port] of a remote endpoint, for messages ('' when local)."""
        remote = self.remote or ""
        return remote.split("://", 1)[-1].rstrip("/") if remote else ""


@functools.cache
def current() -> Engine:
    """The engine of this run (tests call `current.cache_clear()` between machines)."""
    return Engine()
