"""`devtools release`: build the prod targets of the current commit, push them to the team registry as
`<registry>/<repository>:<revision>`, read each digest back from the registry, write the manifest.

The docker CLI does the pushing (its credential store, its resumable layer uploads: a rerun after an
interrupted push sends only the layers the registry lacks); the manifest is written last, so a failed
or interrupted release leaves none behind.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from devtools import proc
from devtools.deploy.spec import build_base_images
from devtools.errors import DevtoolsError, ExitCode
from devtools.release import manifest, registry, sbom, scan
from devtools.release.manifest import Release, ReleasedImage
from devtools.revision import Revision
from devtools.stack import images
from devtools.stack.config import ComposeConfig
from devtools.stack.project import ComposeProject

Report = Callable[[str], None]

# What a failed `docker push` said -> what it means, first match wins (stderr is matched lowercased).
_PUSH_FAILURES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("no basic auth credentials",), "not logged in"),
    (("unauthorized", "authentication required", "denied"), "the registry refused the credentials"),
    (("connection refused", "no such host", "i/o timeout", "dial tcp", "server gave http response"), "unreachable"),
)


def deployable(config: ComposeConfig, services: Sequence[str]) -> dict[str, str]:
    """Repository -> the service that builds it, for every image ECS runs (build-only bases left out)."""
    config.require(services)
    bases = build_base_images(config.services)
    found: dict[str, str] = {}
    for name, service in config.services.items():
        image = service.get("image")
        if services and name not in services:
            continue
        if not isinstance(image, str) or "build" not in service or image in bases:
            continue
        found.setdefault(image.rsplit(":", 1)[0], name)
    if not found:
        raise DevtoolsError(f"nothing to release among {', '.join(services)}: no deployable image", ExitCode.USAGE)
    return found


def release(
    services: Sequence[str],
    *,
    registry_option: str | None,
    allow_dirty: bool,
    allow_vulnerable: bool = False,
    report: Report,
) -> tuple[Release, Path]:
    target = registry.resolve(registry_option)
    project = ComposeProject.prod()
    revision = Revision.of(project.root)
    if revision.commit is None or revision.tag is None:
        raise DevtoolsError(f"cannot release without a git revision: {revision.why}", ExitCode.USAGE)
    if revision.dirty and not allow_dirty:
        raise DevtoolsError(
            "tracked files have uncommitted changes: commit them, or pass --allow-dirty "
            f"(the images are then tagged {revision.tag})",
            ExitCode.USAGE,
        )
    tag = revision.tag
    config = project.with_env(DEVTOOLS_TAG=tag).config()
    repositories = deployable(config, services)
    report(f"release {tag}: building the prod images of {', '.join(repositories.values())}")
    for line in images.build_prod(list(repositories.values()), tag, []):
        report(line)
    scans = _gate({repository: f"{repository}:{tag}" for repository in repositories}, allow_vulnerable, report)
    sboms = {}
    for repository, service in repositories.items():
        path = manifest.sbom_path(project.root, tag, service)
        count = sbom.write(f"{repository}:{tag}", sbom.inventory(f"{repository}:{tag}"), path)
        report(f"sbom: {service}: {count} components (OS packages, Python environment) in {path.name}")
        sboms[repository] = str(path.relative_to(manifest.path_for(project.root, tag).parent))
    released = [
        replace(
            _push(repository, service, tag, target, report),
            scan=scans[repository].as_dict(),
            sbom=sboms[repository],
        )
        for repository, service in repositories.items()
    ]
    result = Release(project.name, target, tag, revision.commit, revision.dirty, released)
    return result, manifest.write(result, manifest.path_for(project.root, tag))


def _gate(local_images: dict[str, str], allow_vulnerable: bool, report: Report) -> dict[str, scan.ImageScan]:
    """Scans every image before anything is pushed; fixable findings stop the release (exit 10)."""
    python_note = scan.python_advisories_note()
    results = {repository: scan.scan(image, python_note) for repository, image in local_images.items()}
    for result in results.values():
        report(f"scan: {result.summary()}")
    vulnerable = [result for result in results.values() if result.fixable]
    if vulnerable and not allow_vulnerable:
        worst = max(vulnerable, key=lambda result: result.fixable)
        raise DevtoolsError(
            f"{worst.image}: {worst.fixable} OS packages have a pending Debian security update "
            f"({', '.join(update.line() for update in worst.os_updates[:3])}); nothing was pushed. Rebuild on a "
            "fresh base (`docker pull python:3.11-slim`; the stand-in: scripts/provision) and release again, "
            "or pass --allow-vulnerable",
            ExitCode.VULNERABLE,
        )
    return results


def _push(repository: str, service: str, tag: str, target: str, report: Report) -> ReleasedImage:
    local, remote = f"{repository}:{tag}", f"{target}/{repository}:{tag}"
    proc.run(["docker", "tag", local, remote], capture=True)
    report(f"{service}: pushing {remote}")
    done = proc.run(["docker", "push", remote], check=False)
    if done.returncode != 0:
        raise _push_failure(remote, target, done.stderr)
    pushed = _engine_digest(remote)
    held = _registry_digest(remote, target)
    if pushed != held:
        raise DevtoolsError(
            f"{remote}: the registry holds {held}, not the {pushed} just pushed (another push moved the tag?); "
            "release again",
            ExitCode.REGISTRY,
        )
    platform = proc.run(
        ["docker", "image", "inspect", "--format", "{{.Os}}/{{.Architecture}}", local], capture=True
    ).stdout.strip()
    report(f"{service}: {remote.rsplit(':', 1)[0]}@{pushed}")
    return ReleasedImage(service, repository, remote, pushed, [platform])


def _engine_digest(remote: str) -> str:
    """The manifest digest the engine got back from the registry for this push (RepoDigests)."""
    done = proc.run(["docker", "image", "inspect", "--format", "{{json .RepoDigests}}", remote], capture=True)
    name = remote.rsplit(":", 1)[0]
    for entry in json.loads(done.stdout or "[]") or []:
        if str(entry).startswith(name + "@"):
            return str(entry).split("@", 1)[1]
    raise DevtoolsError(f"{remote}: pushed, but the engine recorded no digest for it; release again", ExitCode.REGISTRY)


def _registry_digest(remote: str, target: str) -> str:
    """What the registry itself answers for the tag (`docker manifest inspect`: the CLI's credentials)."""
    argv = ["docker", "manifest", "inspect", "--verbose"]
    if registry.is_loopback(target):
        argv.append("--insecure")  # plain HTTP, as the engine uses for 127.0.0.0/8
    done = proc.run([*argv, remote], capture=True, check=False)
    if done.returncode != 0:
        raise _push_failure(remote, target, done.stderr)
    found = json.loads(done.stdout)
    descriptor = (found[0] if isinstance(found, list) else found).get("Descriptor", {})
    return str(descriptor.get("digest", ""))


def _push_failure(remote: str, target: str, stderr: str) -> DevtoolsError:
    said = stderr.lower()
    login = registry.host(target)
    fix = (
        f"log in with `docker login {login}` (ECR: `aws ecr get-login-password | docker login --username AWS "
        f"--password-stdin {login}`)"
    )
    for needles, meaning in _PUSH_FAILURES:
        if any(needle in said for needle in needles):
            if meaning == "unreachable":
                fix = "check the address and that the registry is running (provision runs one on 127.0.0.1:5001)"
            return DevtoolsError(
                f"push of {remote} failed: {target} {meaning}; {fix}; nothing was released (a rerun resumes)",
                ExitCode.REGISTRY,
            )
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    return DevtoolsError(
        f"push of {remote} failed: {lines[-1] if lines else 'no output'}; nothing was released (a rerun resumes)",
        ExitCode.REGISTRY,
    )
