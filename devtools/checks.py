"""The checks behind `devtools doctor`: each says pass/fail, what it saw, and the fix.

The engine's facts come from devtools.engine.facts (each docker question asked once, shared with the
GPU layers), the fix strings from devtools.fixes.
"""

from __future__ import annotations

import shutil
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from devtools import fixes, gpu
from devtools.engine import facts
from devtools.gpu import GpuReport, Status
from devtools.registry import endpoint
from devtools.remote.site import Site, site_of
from devtools.stack.config import ComposeConfig
from devtools.stack.project import ComposeProject

MIN_FREE_DISK_GIB = 10.0


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""


def check_cli(engine: facts.Engine) -> Check:
    if not engine.cli:
        return Check("docker CLI", False, "not found on PATH", fixes.INSTALL_DOCKER)
    return Check("docker CLI", True, engine.client_version or "present")


def check_daemon(engine: facts.Engine) -> Check:
    daemon = engine.daemon
    if daemon is not None:
        where = ""
        if engine.remote:
            name = (engine.info_dict or {}).get("Name", "?")
            where = f", remote: {engine.remote_host} (host {name}; source synced, ports forwarded over SSH)"
        return Check("Docker daemon", True, f"{daemon.version} (API {daemon.api_version}){where}")
    said = engine.daemon_error
    return Check("Docker daemon", False, said or "not reachable", fixes.daemon_fix(said) or fixes.START_DOCKER)


def check_compose(engine: facts.Engine) -> Check:
    done = engine.compose_version
    if done is None or done.returncode != 0:
        if shutil.which("docker-compose"):
            return Check("Compose v2", False, "only Compose v1 ('docker-compose') found", fixes.INSTALL_COMPOSE)
        return Check("Compose v2", False, "'docker compose' not available", fixes.INSTALL_COMPOSE)
    if problem := fixes.compose_problem(done.stdout):
        return Check("Compose v2", False, *problem)
    return Check("Compose v2", True, done.stdout.strip())


def check_disk(engine: facts.Engine) -> Check:
    root = str((engine.info_dict or {}).get("DockerRootDir") or "")
    path = Path(root) if root and Path(root).exists() else Path("/")
    free_gib = shutil.disk_usage(path).free / 2**30
    detail = f"{free_gib:.1f} GiB free on {path}"
    if free_gib < MIN_FREE_DISK_GIB:
        return Check("free disk", False, detail, fixes.FREE_DISK)
    return Check("free disk", True, detail)


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def check_ports(project: ComposeProject, site: Site, ports: Iterable[int]) -> list[Check]:
    """Each port free, or held by this stack (published by its containers, or forwarded to them by a
    remote engine's SSH tunnel)."""
    held: set[int] | None = None
    results = []
    for port in ports:
        if _port_free(port):
            results.append(Check(f"port {port}", True, "free"))
            continue
        if held is None:
            held = site.held_ports(project)
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


def check_prebuilt(project: ComposeProject, config: ComposeConfig) -> Check:
    """Whether the team registry holds prebuilt images for this checkout's build inputs (what `up` would
    pull), asked of the registry through the engine."""
    from devtools.engine.api import EngineApi, RegistryAnswer
    from devtools.errors import DevtoolsError
    from devtools.registry import prebuilt
    from devtools.stack.build_state import wanted
    from devtools.stack.graph import with_build_bases

    name = "prebuilt images"
    try:
        target = prebuilt.configured()
    except DevtoolsError as error:
        return Check(name, False, error.message, f"set {endpoint.ENV} to HOST[:PORT][/PATH]")
    if target is None:
        return Check(name, True, f"no team registry ({endpoint.ENV} unset): `devtools up` builds every image here")
    api, missing = EngineApi(), []
    images = wanted(project, config, with_build_bases(config, []))
    for image in images:
        try:
            api.distribution(prebuilt.tag_in(target, image, project.variant.value))
        except RegistryAnswer as answer:
            meaning = endpoint.problem(str(answer))
            if meaning != endpoint.NOT_THERE:
                return Check(
                    name, False, f"{target} {meaning or str(answer)[:120]}", endpoint.fix(meaning or "", target)
                )
            missing.append(image.service)
    found = f"{len(images) - len(missing)} of {len(images)} in {target} for these inputs"
    if missing:
        return Check(name, True, f"{found}; built here, from its layers: {', '.join(missing)}")
    return Check(name, True, f"{found}: `devtools up` pulls them")


def gpu_checks(report: GpuReport) -> list[Check]:
    """A GPU is optional: without any sign of NVIDIA here, one passing row says so; otherwise a passing
    summary when usable, or one failing row per failing layer, plus warnings."""
    if not report.nvidia_present:
        return [Check("GPU (optional)", True, f"none ({report.layer('driver').evidence}); training runs on CPU")]
    rows = []
    if report.usable:
        rows.append(Check("GPU", True, report.summary().removeprefix("GPU usable: ")))
    for layer in report.layers:
        if layer.status is Status.MISSING:
            rows.append(Check(f"GPU {layer.title}", False, layer.evidence, layer.fix))
        elif layer.status is Status.WARNING:
            rows.append(Check(f"GPU {layer.title}", True, f"warning: {layer.evidence} (fix: {layer.fix})"))
    return rows


def run_all(project_factory: Callable[[], ComposeProject]) -> list[Check]:
    """Engine checks first; the stack's ports (which need the checkout and Compose) and the GPU only
    against a working engine."""
    engine = facts.current()
    results = [check_cli(engine), check_daemon(engine), check_compose(engine), check_disk(engine)]
    if all(check.ok for check in results[:3]):
        project = project_factory()
        config = project.config()
        site = site_of(project)
        results += check_ports(project, site, site.seen_here(project, config).published_ports())
        results.append(check_prebuilt(project, config))
        results += gpu_checks(gpu.detect(smoke=True))
    return results
