"""What to do about an engine problem: the one table of fix strings, and the Compose the stack needs.

Error mapping (stderr.py), `devtools doctor` (checks.py) and GPU detection (gpu/layers.py) all say
these words; a fix changes here once.
"""

from __future__ import annotations

import re

DOCKER_INSTALL_URL = "https://docs.docker.com/engine/install/"
COMPOSE_INSTALL_URL = "https://docs.docker.com/compose/install/linux/"

INSTALL_DOCKER = f"install Docker Engine: {DOCKER_INSTALL_URL}"
START_DOCKER = "start Docker (Docker Desktop, or 'sudo systemctl start docker')"
JOIN_DOCKER_GROUP = "add yourself to the 'docker' group (sudo usermod -aG docker $USER, then log in again)"
INSTALL_COMPOSE = f"install the Compose v2 plugin: {COMPOSE_INSTALL_URL}"
FREE_DISK = "free space, e.g. 'docker system prune' (keeps volumes)"
# Another architecture's programs run under QEMU user emulation, registered with the host kernel.
QEMU = (
    "register QEMU for it on the engine's host: `scripts/provision ensure_qemu` (Debian, root), or "
    "`docker run --privileged --rm tonistiigi/binfmt --install all`; Docker Desktop has it built in"
)
# A FROM image no registry answers for (an air-gapped machine like this project's CI).
BASE_IMAGE_OFFLINE = (
    "pull it where a registry answers, or build from a local image: PYTHON_IMAGE, or PYTHON_IMAGE_<OS>_<ARCH> "
    "for one --platform (`scripts/provision arm64` makes arm64v8/python:3.11-slim for PYTHON_IMAGE_LINUX_ARM64)"
)

# Compose features the stack's files rely on: `up --wait-timeout` and healthcheck merging in overrides.
MIN_COMPOSE = (2, 20)

# The daemon's own words for the two problems a user fixes on their side (the rest: see what it said).
_PERMISSION_DENIED = "permission denied"
_NOT_RUNNING = ("Cannot connect to the Docker daemon", "Is the docker daemon running")


def parse_version(text: str) -> tuple[int, ...] | None:
    """Leading dotted numbers: 580.159.04 -> (580, 159, 4), v2.40.3-desktop.1 -> (2, 40, 3); else None."""
    match = re.match(r"\s*v?(\d+(?:\.\d+)*)", text)
    return tuple(int(part) for part in match.group(1).split(".")) if match else None


def dotted(version: tuple[int, ...]) -> str:
    return ".".join(map(str, version))


_SSH_UNREACHABLE = re.compile(
    r"ssh: (?:connect to host (\S+) port (\d+): ([^\n\"]+)|Could not resolve hostname (\S+?):)"
)
_SSH_REFUSED = re.compile(r"Permission denied \(([^)]*)\)|Host key verification failed")


def ssh_problem(said: str) -> str | None:
    """The one line for an engine reached over SSH (ssh://) that SSH could not reach or log in to, from
    what the docker CLI (or the SDK's ssh) said; None when SSH is not the problem."""
    if match := _SSH_UNREACHABLE.search(said):
        host, port, why = match.group(1) or match.group(4), match.group(2), match.group(3) or "unknown host"
        where, ssh = (f"{host}:{port}", f"ssh -p {port} {host}") if port else (host, f"ssh {host}")
        return (
            f"the Docker engine's host {where} is not reachable over SSH ({why.strip()}); check that it is up and "
            f"that `{ssh} docker version` works (DOCKER_HOST or `docker context use`)"
        )
    if match := _SSH_REFUSED.search(said):
        return (
            f"SSH to the Docker engine's host refused the login ({match.group(0)}); add your key there "
            "(`ssh-copy-id`) or name it in ~/.ssh/config (IdentityFile), and accept the host key once with plain `ssh`"
        )
    return None


def daemon_fix(said: str) -> str | None:
    """The fix for a daemon that did not answer, from what docker said; None when it is not one of ours."""
    if _PERMISSION_DENIED in said.lower():
        return JOIN_DOCKER_GROUP
    if any(words in said for words in _NOT_RUNNING):
        return START_DOCKER
    return None


def compose_problem(version_text: str) -> tuple[str, str] | None:
    """(what is wrong, the fix) when this `docker compose version --short` cannot run the stack; None when
    it can."""
    text = version_text.strip()
    version = parse_version(text)
    if version is None or version < (2,):
        return f"Compose {text or '?'} is not Compose v2", INSTALL_COMPOSE
    if version < MIN_COMPOSE:
        return (
            f"{text} is older than {dotted(MIN_COMPOSE)}",
            f"upgrade Docker Compose to {dotted(MIN_COMPOSE)} or newer",
        )
    return None
