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
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from devtools import proc
from devtools.engine import inspect
from devtools.progress import Board
from devtools.registry import endpoint
from devtools.registry.push import Pusher
from devtools.stack.build_state import Wanted, wanted
from devtools.stack.graph import with_build_bases
from devtools.stack.project import ComposeProject, Variant
from devtools.stack.start import Fetched

LABEL = "devtools.fingerprint"
CACHE_TAG = "dev"  # what docker-compose.yml's cache_from names
PUBLISHED_ID = "1000"  # the UID and GID prebuilt dev images are published for
_TAG_HEX = 32  # 128 bits of the fingerprint in the tag; the label holds all of it


def configured() -> str | None:
    """The team registry prebuilt images come from (DEVTOOLS_REGISTRY), or None when none is set."""
    return endpoint.resolve(None) if os.environ.get(endpoint.ENV, "").strip() else None


def tag_in(target: str, image: Wanted, variant: str) -> str:
    """Where the registry holds the image built from these inputs."""
    return f"{target}/{image.repository}:{variant}-{image.fingerprint[:_TAG_HEX]}"


@dataclass(frozen=True)
class RegistrySource:
    """The team registry as the place stale images come from (devtools.stack.start.ImageSource)."""

    target: str
    variant: str

    def fetch(self, images: Sequence[Wanted], board: Board) -> Fetched:
        """Pulls each image the registry holds for its fingerprint and tags it under its local name.
        Several at once: they share the base image's layers, which the engine downloads once."""
        result = Fetched()
        if not images:
            return result
        with ThreadPoolExecutor(max_workers=min(4, len(images))) as pool:
            outcomes = list(pool.map(lambda image: self._fetch_one(image, board), images))
        for image, (reference, problem) in zip(images, outcomes, strict=True):
            if reference:
                result.pulled[image.service] = reference
            elif problem and not result.unavailable:
                result.unavailable = problem
        return result

    def _fetch_one(self, image: Wanted, board: Board) -> tuple[str, str]:
        """(reference by digest, "") when pulled; ("", the registry's problem) when the registry is not
        usable; ("", "") when it simply has no image for these inputs."""
        target, remote = self.target, tag_in(self.target, image, self.variant)
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
                said = (done.stderr.strip().splitlines() or ["no output"])[-1]
                # The cause ends the line ("...: no space left on device"): keep the end.
                board.set(image.service, f"pull failed ({_tail(said, 120)}): building", done=True)
            return "", ""
        facts = inspect.image(remote)
        if facts is None or facts.labels.get(LABEL) != image.fingerprint:
            # Published from other inputs under this tag (or by hand): never used.
            proc.run(["docker", "rmi", remote], capture=True, check=False)
            board.set(image.service, f"prebuilt image not used: its {LABEL} label is not these inputs'", done=True)
            return "", ""
        proc.run(["docker", "tag", remote, image.image], capture=True)
        repository = remote.rsplit(":", 1)[0]
        digest = facts.digest_in(repository)
        reference = f"{repository}@{digest}" if digest else remote
        board.set(image.service, f"pulled {reference}", done=True)
        return reference, ""


def _tail(text: str, limit: int) -> str:
    return text if len(text) <= limit else "..." + text[-limit:]


def source_for(project: ComposeProject) -> RegistrySource | None:
    """Where `up` may pull the project's stale images from: the team registry, for the dev stack, when
    DEVTOOLS_REGISTRY names one; None otherwise (everything is built here)."""
    target = configured() if project.variant is Variant.DEV else None
    return RegistrySource(target, project.variant.value) if target is not None else None


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
    pusher, lines = Pusher(target, quiet=True), []
    for image in images:
        pushed = tag_in(target, image, Variant.DEV.value)
        digests = []
        for tag in (pushed, f"{target}/{image.repository}:{CACHE_TAG}"):
            board.set(image.service, f"pushing {tag}")
            digests.append(pusher.push(image.image, tag))
        digest = digests[0]
        board.set(image.service, f"pushed {pushed.rsplit(':', 1)[0]}@{digest}", done=True)
        lines.append(f"{image.service}: {pushed} (and :{CACHE_TAG})")
    return lines
