"""Images by digest: a release manifest (`devtools release`) turned into the references a target's
documents name, so a deployment is immutable (tags move; kubeflow/pipelines#1715).

Every deployed workload's image must be in the release, for the platform its tasks pull; a missing
one is an error, never a silent fallback to a mutable tag.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from devtools.deploy.workload import Workload
from devtools.errors import DevtoolsError, ExitCode
from devtools.release import manifest


def released_images(
    workloads: Iterable[Workload], released: manifest.Release, path: Path | None, platform: str, runs_it: str
) -> dict[str, str]:
    """Repository -> reference by digest, for every deployed image. `platform`: what the tasks pull
    from an image index (linux/amd64); `runs_it`: who, for the message ("the x86_64 tasks")."""
    by_repository = {image.repository: image.reference for image in released.images}
    for image in released.images:
        if platform not in image.platforms:
            raise DevtoolsError(
                f"--release {path}: {image.repository} has {', '.join(image.platforms)}, not {platform} that "
                f"{runs_it} run; release it with `devtools release --platform {platform}` "
                "(or several, comma-separated)",
                ExitCode.USAGE,
            )
    for workload in workloads:
        if workload.repository not in by_repository:
            raise DevtoolsError(
                f"--release {path}: {workload.name}'s image {workload.repository} is not in it "
                f"(it has {', '.join(sorted(by_repository)) or 'none'}); release it with `devtools release`",
                ExitCode.USAGE,
            )
    return by_repository
