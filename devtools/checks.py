"""The checks behind `devtools doctor`: each says pass/fail, what it saw, and the fix."""

from __future__ import annotations

import shutil
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from devtools import proc
from devtools.commands.ps import parse_ps
from devtools.compose import ComposeProject
from devtools.errors import DevtoolsError

# Compose features the files rely on: `--wait-timeout` and healthcheck merging in overrides.
MIN_COMPOSE = (2, 20)
MIN_FREE_DISK_GIB = 10.0


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""


def _docker_output(*args: str) -> tuple[bool, str]:
    try:
        done = proc.run(["docker", *args], capture=True, check=False)
    except DevtoolsError as exc:
        return False, exc.message
    text = (done.stdout if done.returncode == 0 else done.stderr).strip()
    return done.returncode == 0, text.splitlines()[-1] if text else ""


def check_cli() -> Check:
    if not shutil.which("docker"):
        return Check(
            "docker CLI", False, "not found on PATH", "install Docker Engine: https://docs.docker.com/engine/install/"
        )
    ok, out = _docker_output("version", "--format", "{{.Client.Version}}")
    return Check("docker CLI", True, out if ok else "present")


def check_daemon() -> Check:
    ok, out = _docker_output("version", "--format", "{{.Server.Version}} (API {{.Server.APIVersion}})")
    if ok:
        return Check("Docker daemon", True, out)
    return Check(
        "Docker daemon",
        False,
        out or "not reachable",
        "start Docker (Docker Desktop, or 'sudo systemctl start docker')",
    )


def parse_compose_version(text: str) -> tuple[int, ...] | None:
    core = text.strip().lstrip("v").split("-")[0].split("+")[0]
    try:
        return tuple(int(part) for part in core.split("."))
    except ValueError:
        return None


def check_compose() -> Check:
    ok, out = _docker_output("compose", "version", "--short")
    version = parse_compose_version(out) if ok else None
    if version is None:
        fix = "install the Compose v2 plugin: https://docs.docker.com/compose/install/linux/"
        if shutil.which("docker-compose"):
            return Check("Compose v2", False, "only Compose v1 ('docker-compose') found", fix)
        return Check("Compose v2", False, "'docker compose' not available", fix)
    if version < MIN_COMPOSE:
        need = ".".join(map(str, MIN_COMPOSE))
        return Check("Compose v2", False, f"{out} is older than {need}", f"upgrade Docker Compose to {need} or newer")
    return Check("Compose v2", True, out)


def check_disk() -> Check:
    ok, root = _docker_output("info", "--format", "{{.DockerRootDir}}")
    path = Path(root) if ok and Path(root).exists() else Path("/")
    free_gib = shutil.disk_usage(path).free / 2**30
    if free_gib < MIN_FREE_DISK_GIB:
        return Check(
            "free disk",
            False,
            f"{free_gib:.1f} GiB free on {path}",
            "free space, e.g. 'docker system prune' (keeps volumes)",
        )
    return Check("free disk", True, f"{free_gib:.1f} GiB free on {path}")


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def ports_held_by_stack(project: ComposeProject) -> set[int]:
    done = project.run("ps", "--format", "json", capture=True, check=False)
    if done.returncode != 0:
        return set()
    return {
        int(publisher["PublishedPort"])
        for row in parse_ps(done.stdout)
        for publisher in row.get("Publishers") or []
        if publisher.get("PublishedPort")
    }


def published_ports(project: ComposeProject) -> list[int]:
    """The host ports the stack publishes, as Compose resolves them (.env and environment included)."""
    config = project.config()
    return sorted(
        {
            int(port["published"])
            for service in config.services.values()
            for port in service.get("ports", [])
            if port.get("published")
        }
    )


def check_ports(project: ComposeProject, ports: Iterable[int]) -> list[Check]:
    held: set[int] | None = None
    results = []
    for port in ports:
        if _port_free(port):
            results.append(Check(f"port {port}", True, "free"))
            continue
        if held is None:
            held = ports_held_by_stack(project)
        if port in held:
            results.append(Check(f"port {port}", True, f"held by this stack ({project.name})"))
        else:
            results.append(
                Check(
                    f"port {port}",
                    False,
                    "in use by another process",
                    f"stop it (ss -ltnp 'sport = :{port}') or set another port in .env (MLFLOW_PORT / SERVING_PORT)",
                )
            )
    return results


def run_all(project_factory: Callable[[], ComposeProject]) -> list[Check]:
    results = [check_cli(), check_daemon(), check_compose(), check_disk()]
    if all(check.ok for check in results[:3]):
        from devtools import gpu

        project = project_factory()
        results += check_ports(project, published_ports(project))
        results += gpu.gpu_checks(gpu.detect(smoke=True))
    return results
