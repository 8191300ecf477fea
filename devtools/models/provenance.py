"""What a training job is told of where it comes from (contract.provenance): the image it runs in, by
id and, when it came from a registry, by digest; the git commit of the checkout, whether it is dirty,
and then the diff. Passed in the job's environment (`docker compose exec/run -e NAME`), so the run the
job records says what made it.

The diff is what `git diff HEAD` shows plus the new files under services/ that git does not ignore (a
module a job imports may be new); it is passed when it fits one environment string (DIFF_ENV_MAX), and
the run says "too large" otherwise, never a partial one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from contract import provenance as keys

from devtools import proc
from devtools.engine import inspect
from devtools.stack.project import ComposeProject

SOURCES = "services"  # where a job's own code lives: new files there are part of its source


@dataclass(frozen=True)
class Source:
    commit: str | None  # the full SHA; None outside git
    diff: str  # "" when clean


def source(root: Path) -> Source:
    """The checkout's commit and its uncommitted changes (tracked, and new files under services/)."""
    if not any((directory / ".git").exists() for directory in (root, *root.parents)):
        return Source(None, "")  # not a git checkout: nothing to ask
    done = proc.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture=True, check=False)
    commit = done.stdout.strip() if done.returncode == 0 else ""
    if len(commit) != 40:
        return Source(None, "")
    tracked = proc.run(["git", "-C", str(root), "diff", "HEAD", "--binary"], capture=True, check=False).stdout
    listed = proc.run(
        ["git", "-C", str(root), "ls-files", "--others", "--exclude-standard", "-z", "--", SOURCES],
        capture=True,
        check=False,
    ).stdout
    added = [
        proc.run(
            ["git", "-C", str(root), "diff", "--no-index", "--binary", "--", "/dev/null", name],
            capture=True,
            check=False,
        ).stdout
        for name in listed.split("\0")
        if name
    ]
    return Source(commit, tracked + "".join(added))


def job_environment(project: ComposeProject, service: str, *, running: bool) -> dict[str, str]:
    """The provenance variables for a job in `service`: its running container's image, or the image a
    one-off container of it would start from."""
    env: dict[str, str] = {}
    image_id, reference = _image(project, service, running=running)
    if image_id:
        env[keys.IMAGE_ID_ENV], env[keys.IMAGE_ENV] = image_id, reference
    found = source(project.root)
    if found.commit is not None:
        env[keys.GIT_COMMIT_ENV] = found.commit
        env[keys.GIT_DIRTY_ENV] = "true" if found.diff else "false"
        packed = keys.pack_diff(found.diff) if found.diff else ""
        if packed and len(packed) <= keys.DIFF_ENV_MAX:
            env[keys.SOURCE_DIFF_ENV] = packed
    return env


def flags(env: dict[str, str]) -> list[str]:
    """`-e NAME` for each variable: compose takes the values from its own environment (a diff may be too
    long for one argument)."""
    return [flag for name in sorted(env) for flag in ("-e", name)]


def _image(project: ComposeProject, service: str, *, running: bool) -> tuple[str, str]:
    """(image id, reference by digest or the local name) of the service's image; ("", "") when unknown."""
    name = ""
    if running:
        ids = project.run("ps", "-q", service, capture=True, check=False).stdout.split()
        container = inspect.container(ids[0]) if ids else None
        image_id = container.image_id if container is not None else ""
    else:
        name = str(project.config().services.get(service, {}).get("image") or "")
        facts = inspect.image(name) if name else None
        image_id = facts.id if facts is not None else ""
    if not image_id:
        return "", ""
    facts = inspect.image(image_id)
    digests = facts.repo_digests if facts is not None else ()
    return image_id, digests[0] if digests else (name or image_id)
