"""URLs that answer on this machine when the engine is remote: one SSH tunnel per project.

On a remote engine the stack publishes its ports on the remote's loopback at ports the remote picks
(docker-compose.remote.yml), so people sharing a box never collide. devtools asks Compose which ones
(`docker compose port`) and forwards this machine's ports, the ones the Compose files publish here
(MLFLOW_PORT, SERVING_PORT), to them: one `ssh -N -L ... -L ...` to the engine's host, the same ssh
(and ~/.ssh/config) the docker CLI uses for ssh:// endpoints. The same tunnel forwards the remote
engine's socket to a local one, which the watcher's SDK calls use: one SSH connection for all of them
instead of a new SSH login per call (docker-py's ssh:// transport), so an edit is live in a fraction
of a second. It runs in the background; its pid, socket and forwards are kept in
.devtools/forward-<project>.json, so `ps` reports it, `down` closes it, and `ensure` opens it again
when it died (a dropped link) or its remote ports moved (a recreated container).
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from devtools import proc
from devtools.engine.ssh import SshTarget
from devtools.errors import DevtoolsError, ExitCode
from devtools.stack.config import ComposeConfig
from devtools.stack.project import ComposeProject

_OPEN_TIMEOUT_S = 15.0


@dataclass(frozen=True)
class Forward:
    service: str
    local: str  # 127.0.0.1:5000, what the URLs name
    remote: str  # 127.0.0.1:49153 on the engine's host

    def flag(self) -> list[str]:
        return ["-L", f"{self.local}:{self.remote}"]


def state_path(project: ComposeProject) -> Path:
    return project.root / ".devtools" / f"forward-{project.name}.json"


def planned(project: ComposeProject, local: ComposeConfig, services: set[str]) -> list[Forward]:
    """What to forward: each port the local files publish, to where the remote engine published it
    (services not running there are left out)."""
    forwards = []
    for name, service in local.services.items():
        if name not in services:
            continue
        for port in service.get("ports") or []:
            if not port.get("published"):
                continue
            done = project.run("port", name, str(port["target"]), capture=True, check=False)
            remote = done.stdout.strip().splitlines()[0] if done.returncode == 0 and done.stdout.strip() else ""
            if remote and not remote.endswith(":0"):
                forwards.append(Forward(name, f"{port.get('host_ip') or '127.0.0.1'}:{port['published']}", remote))
    return forwards


def _taken(address: str) -> bool:
    host, port = address.rsplit(":", 1)
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, int(port)))
        except OSError:
            return True
    return False


def _answers(address: str) -> bool:
    host, port = address.rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=0.5):
            return True
    except OSError:
        return False


def _target(endpoint: str) -> SshTarget:
    target = SshTarget.parse(endpoint)
    if target is None:
        raise DevtoolsError(
            f"the engine is remote at {endpoint}: devtools forwards its ports over SSH only (a docker context or "
            "DOCKER_HOST=ssh://user@host); reach them on that host",
            ExitCode.USAGE,
        )
    return target


def engine_socket(project: ComposeProject) -> Path:
    """Where the tunnel puts the remote engine's socket here: short (a socket path has ~100 bytes) and
    this project's own."""
    key = hashlib.sha256(f"{project.root}:{project.name}".encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"devtools-engine-{key}.sock"


def _remote_socket(target: SshTarget) -> str | None:
    """The remote engine's socket as `docker system dial-stdio` finds it there (DOCKER_HOST of an SSH
    session, else the default); None when it is not a unix socket."""
    question = 'printf %s "${DOCKER_HOST:-unix:///var/run/docker.sock}"'
    done = proc.run(target.argv(command=[question]), capture=True, check=False)
    if done.returncode == 255:  # ssh's own failure: the host is not reachable (now)
        raise _tunnel_failed(target, done.stderr)
    said = done.stdout.strip()
    return said.removeprefix("unix://") if done.returncode == 0 and said.startswith("unix://") else None


def open_forwards(project: ComposeProject, endpoint: str, forwards: list[Forward]) -> int:
    """Starts the tunnel (closing this project's previous one first); returns its pid once every local
    port answers. A local port already taken, or SSH refusing, is one line and nothing left running."""
    close(project)
    target = _target(endpoint)
    for forward in forwards:
        if _taken(forward.local):
            raise DevtoolsError(
                f"port {forward.local} on this machine is already in use, so {forward.service} on {target.host} cannot "
                "be forwarded to it; stop what holds it or choose another port in .env (MLFLOW_PORT / SERVING_PORT)",
                ExitCode.PORT_IN_USE,
            )
    path = state_path(project)
    path.parent.mkdir(parents=True, exist_ok=True)
    log = path.with_suffix(".log")
    flags = [flag for forward in forwards for flag in forward.flag()]
    local_socket, remote_socket = engine_socket(project), _remote_socket(target)
    if remote_socket:
        local_socket.unlink(missing_ok=True)
        flags += ["-o", "StreamLocalBindUnlink=yes", "-L", f"{local_socket}:{remote_socket}"]
    tunnel = proc.spawn(target.argv("-N", *flags), log=log)
    deadline = time.monotonic() + _OPEN_TIMEOUT_S
    while not (all(_answers(f.local) for f in forwards) and (not remote_socket or local_socket.exists())):
        if tunnel.poll() is not None or time.monotonic() > deadline:
            if tunnel.poll() is None:
                tunnel.terminate()
            raise _tunnel_failed(target, log.read_text(errors="replace"))
        time.sleep(0.1)
    record = {
        "pid": tunnel.pid,
        "host": target.name,
        "engine": f"unix://{local_socket}" if remote_socket else "",
        "forwards": [asdict(f) for f in forwards],
    }
    path.write_text(json.dumps(record))
    return tunnel.pid


def ensure(
    project: ComposeProject, endpoint: str, seen_here: Callable[[], ComposeConfig], *, refresh: bool = False
) -> str:
    """The project's tunnel open, opened again when it died or (refresh) when the remote ports may have
    moved (a container recreated); returns the local URL of the remote engine's socket ('' without).
    Only a tunnel `up` opened and `down` has not closed is kept open (NOT_RUNNING otherwise)."""
    state = _record(project)
    if not state:  # never opened, or closed by `down`: a watcher must not open it again behind its back
        raise DevtoolsError(
            f"the SSH tunnel to the engine is closed (the stack {project.name} was taken down?): "
            "`devtools up` opens it again",
            ExitCode.NOT_RUNNING,
        )
    if not refresh and _alive(int(state.get("pid", 0))):
        return str(state.get("engine") or "")
    try:
        local = seen_here()
        open_forwards(project, endpoint, planned(project, local, set(local.services)))
    except DevtoolsError:
        # The link is still down: the record stays (its tunnel dead), so the next try opens it again.
        if not state_path(project).exists():
            state_path(project).write_text(json.dumps({**state, "pid": 0}))
        raise
    return str(_record(project).get("engine") or "")


def _tunnel_failed(target: SshTarget, said: str) -> DevtoolsError:
    lines = [line.strip() for line in said.splitlines() if line.strip()]
    last = lines[-1] if lines else "it exited without a word"
    if "Address already in use" in said:
        return DevtoolsError(
            f"forwarding to {target.host} failed: {last}; choose another port in .env (MLFLOW_PORT / SERVING_PORT)",
            ExitCode.PORT_IN_USE,
        )
    return DevtoolsError(
        f"the SSH tunnel to {target.name} did not open: {last}; check `ssh {target.name}` works (key, host)",
        ExitCode.DOCKER_UNAVAILABLE,
    )


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    try:  # the pid of a tunnel that ended may have been reused by anything: only ours is ours
        return b"ssh" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True  # no /proc (macOS): the signal test is all there is


def _record(project: ComposeProject) -> dict[str, Any]:
    try:
        state = json.loads(state_path(project).read_text())
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


def open_ports(project: ComposeProject) -> set[int]:
    """This machine's ports the project's tunnel holds (none when it is not running)."""
    state = _record(project)
    if not _alive(int(state.get("pid", 0))):
        return set()
    return {int(str(item["local"]).rsplit(":", 1)[1]) for item in state.get("forwards") or []}


def status(project: ComposeProject) -> list[str]:
    """One line per forward of this project's tunnel, for `ps` ([] when none)."""
    state = _record(project)
    alive = _alive(int(state.get("pid", 0)))
    how = f"ssh pid {state.get('pid')}" if alive else "tunnel closed: `devtools up` opens it again"
    return [
        f"{forward['local']} -> {state.get('host')} {forward['remote']} ({forward['service']}, {how})"
        for forward in state.get("forwards") or []
    ]


def close(project: ComposeProject) -> bool:
    """Closes this project's tunnel, if one runs; True when it did."""
    path = state_path(project)
    if not path.exists():
        return False
    pid = int(_record(project).get("pid", 0))
    path.unlink(missing_ok=True)
    engine_socket(project).unlink(missing_ok=True)
    if not _alive(pid):
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 5  # until its ports are free: a new tunnel may bind them next
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return True
