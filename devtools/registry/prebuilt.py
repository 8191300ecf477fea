"""Prebuilt images from the team registry: what `devtools up` pulls instead of building.

An image is found by the fingerprint of its build inputs (devtools.stack.build_state): the team
registry holds it as `REGISTRY/<repository>:<variant>-<fingerprint[:32]>`, published by `devtools
release --dev` (CI on main), labelled with the whole fingerprint. A pulled image whose label is not the
fingerprint wanted is never used. The moving tag `REGISTRY/<repository>:dev` is the newest published
image: the Compose files name it as a build cache (`cache_from`), so what is built anyway reuses its
layers up to the first changed one.

Dev images hold a user with the host's UID/GID (a build arg, so part of the fingerprint). They are
published for 1000:1000, the first user on Linux and Codespaces' `vscode` user (root hosts map to it
too); another UID finds no prebuilt image and builds, from the registry's layers, only the dev user's
layer and what follows it. Nothing here may fail `up` for want of a registry: a registry that is
unreachable or refuses the login is one line, and the images are built locally.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from devtools import proc
from devtools.errors import DevtoolsError, ExitCode
from devtools.progress import Board
from devtools.registry import endpoint
from devtools.stack.build_state import fingerprint
from devtools.stack.config import ComposeConfig
from devtools.stack.graph import with_build_bases
from devtools.stack.project import ComposeProject

LABEL = "devtools.fingerprint"
CACHE_TAG = "dev"  # what docker-compose.yml's cache_from names
PUBLISHED_ID = "1000"  # the UID and GID prebuilt dev images are published for
_TAG_HEX = 32  # 128 bits of the fingerprint in the tag; the label holds all of it


def configured() -> str | None:
    """The team registry prebuilt images come from (DEVTOOLS_REGISTRY), or None when none is set."""
    return endpoint.resolve(None) if os.environ.get(endpoint.ENV, "").strip() else None


@dataclass(frozen=True)
class Wanted:
    """A service's image as this checkout would build it."""

    service: str
    image: str  # the local name: mlstack/serving:dev
    fingerprint: str

    @property
    def repository(self) -> str:
        return self.image.rsplit(":", 1)[0]

    def remote(self, target: str, variant: str) -> str:
        return f"{target}/{self.repository}:{variant}-{self.fingerprint[:_TAG_HEX]}"


def wanted(project: ComposeProject, config: ComposeConfig, services: Iterable[str]) -> list[Wanted]:
    """The services among `services` that build an image, with what they would build."""
    found = []
    for name in services:
        service = config.services[name]
        image = service.get("image")
        if "build" in service and isinstance(image, str):
            found.append(Wanted(name, image, fingerprint(project.root, service)))
    return found


@dataclass
class Fetched:
    pulled: dict[str, str] = field(default_factory=dict)  # service -> the registry's reference by digest
    unavailable: str = ""  # why nothing more could come from the registry (one line), or ""


def fetch(target: str, images: Sequence[Wanted], variant: str, board: Board) -> Fetched:
    """Pulls each image the registry holds for its fingerprint and tags it under its local name.
    Several at once: they share the base image's layers, which the engine downloads once."""
    result = Fetched()
    if not images:
        return result
    with ThreadPoolExecutor(max_workers=min(4, len(images))) as pool:
        outcomes = list(pool.map(lambda image: _fetch_one(target, image, variant, board), images))
    for image, (reference, problem) in zip(images, outcomes, strict=True):
        if reference:
            result.pulled[image.service] = reference
        elif problem and not result.unavailable:
            result.unavailable = problem
    return result


def _fetch_one(target: str, image: Wanted, variant: str, board: Board) -> tuple[str, str]:
    """(reference by digest, "") when pulled; ("", the registry's problem) when the registry is not
    usable; ("", "") when it simply has no image for these inputs."""
    remote = image.remote(target, variant)
    board.set(image.service, f"pulling {remote}")
    done = proc.run(["docker", "pull", "-q", remote], capture=True, check=False)
    if done.returncode != 0:
        meaning = endpoint.problem(done.stderr)
        if meaning in (endpoint.NOT_LOGGED_IN, endpoint.REFUSED, endpoint.UNREACHABLE):
            board.set(image.service, f"registry {meaning}: building", done=True)
            return "", f"prebuilt images: {target} {meaning} ({endpoint.fix(meaning, target)}); building locally"
        if "no matching manifest" in done.stderr:  # published for other architectures only
            board.set(image.service, "no prebuilt image for this platform: building", done=True)
        elif meaning == endpoint.NOT_THERE:
            board.set(image.service, "no prebuilt image for these inputs: building", done=True)
        else:
            said = done.stderr.strip().splitlines()[-1:] or ["no output"]
            board.set(image.service, f"pull failed ({said[0][:120]}): building", done=True)
        return "", ""
    labelled = _inspect(remote, f'{{{{index .Config.Labels "{LABEL}"}}}}')
    if labelled != image.fingerprint:
        # Published from other inputs under this tag (or by hand): never used.
        proc.run(["docker", "rmi", remote], capture=True, check=False)
        board.set(image.service, f"prebuilt image not used: its {LABEL} label is not these inputs'", done=True)
        return "", ""
    proc.run(["docker", "tag", remote, image.image], capture=True)
    reference = _digest_reference(remote)
    board.set(image.service, f"pulled {reference}", done=True)
    return reference, ""


def _inspect(image: str, template: str) -> str:
    done = proc.run(["docker", "image", "inspect", "--format", template, image], capture=True, check=False)
    value = done.stdout.strip()
    return "" if done.returncode != 0 or value == "<no value>" else value


def _digest_reference(remote: str) -> str:
    """REGISTRY/repo@sha256:... of a pulled image (its RepoDigests entry for that repository)."""
    name = remote.rsplit(":", 1)[0]
    for entry in _inspect(remote, "{{range .RepoDigests}}{{println .}}{{end}}").splitlines():
        if entry.startswith(name + "@"):
            return entry
    return remote


def publish(target: str, services: Sequence[str], board: Board) -> list[str]:
    """`devtools release --dev`: builds the dev images (for UID/GID 1000) labelled with their
    fingerprints, pushes each as its fingerprint tag and as the moving cache tag; returns the lines
    to print (one per image pushed)."""
    project = ComposeProject.dev().with_env(DEVTOOLS_UID=PUBLISHED_ID, DEVTOOLS_GID=PUBLISHED_ID)
    config = project.config()
    config.require(services)
    images = wanted(project, config, with_build_bases(config, services))
    labels = {image.service: {LABEL: image.fingerprint} for image in images}
    project.build(*(image.service for image in images), labels=labels, board=board)
    lines = []
    for image in images:
        pushed = image.remote(target, "dev")
        for tag in (pushed, f"{target}/{image.repository}:{CACHE_TAG}"):
            proc.run(["docker", "tag", image.image, tag], capture=True)
            board.set(image.service, f"pushing {tag}")
            done = proc.run(["docker", "push", "-q", tag], capture=True, check=False)
            if done.returncode != 0:
                meaning = endpoint.problem(done.stderr)
                why = f"{target} {meaning}; {endpoint.fix(meaning, target)}" if meaning else done.stderr.strip()[-300:]
                raise DevtoolsError(f"push of {tag} failed: {why}", ExitCode.REGISTRY)
        board.set(image.service, f"pushed {_digest_reference(pushed)}", done=True)
        lines.append(f"{image.service}: {pushed} (and :{CACHE_TAG})")
    return lines
