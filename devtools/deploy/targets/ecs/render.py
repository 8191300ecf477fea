"""`devtools deploy render ecs`: the prod Compose config -> validated ECS documents on disk."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

from devtools.deploy import envfile, pinning
from devtools.deploy.targets.ecs import aws_documents, validate
from devtools.deploy.targets.ecs.arch import Arch
from devtools.deploy.targets.ecs.documents import Document, strings, write
from devtools.deploy.targets.ecs.settings import PLACEHOLDER, Options, Settings, resolve
from devtools.deploy.targets.ecs.workload import EcsWorkload, read_ecs_workload
from devtools.deploy.workload import Kind, read_workload
from devtools.errors import DevtoolsError, ExitCode
from devtools.release import manifest
from devtools.revision import Revision
from devtools.stack.config import ComposeConfig
from devtools.stack.graph import build_base_images
from devtools.stack.project import ComposeProject

DEFAULT_OUT = Path("build") / "ecs"


@dataclass(frozen=True)
class Rendered:
    workloads: list[EcsWorkload]
    documents: list[Document]

    def placeholders(self) -> list[str]:
        found: set[str] = set()
        for document in self.documents:
            for text in strings(document.params):
                found.update(PLACEHOLDER.findall(text))
        return sorted(found)


@dataclass(frozen=True)
class Result:
    rendered: Rendered
    written: list[Path]
    summary: str


def render(config: ComposeConfig, settings: Settings) -> Rendered:
    """Every deployable service's documents, validated; raises DevtoolsError on the first problem."""
    services = config.services
    base_images = build_base_images(services)
    workloads = [
        workload
        for name, service in services.items()
        if (workload := read_ecs_workload(name, service, base_images=base_images)) is not None
    ]
    if not workloads:
        raise DevtoolsError("the Compose file has no service to deploy", ExitCode.FAILURE)
    documents = [document for workload in workloads for document in aws_documents.documents(workload, settings)]
    validate.check(documents)
    return Rendered(workloads, documents)


def git_revision(root: Path) -> str:
    """The tag `devtools build --target prod` gives the images by default (the same Revision)."""
    revision = Revision.of(root)
    if revision.tag is None:
        raise DevtoolsError(f"cannot tag images by git revision ({revision.why}); pass --tag", ExitCode.FAILURE)
    return revision.tag


def run(options: Options, *, out: Path | None, env_file: Path | None, release: Path | None = None) -> Result:
    file_env = envfile.read(env_file) if env_file else None
    released = manifest.read(release) if release is not None else None
    if released is not None:
        if options.registry:
            raise DevtoolsError("--registry with --release: the release already names its registry", ExitCode.USAGE)
        if options.tag and options.tag != released.tag:
            raise DevtoolsError(f"--tag {options.tag} with --release of {released.tag}: give one", ExitCode.USAGE)
        options = replace(options, tag=released.tag)
    # Every profile: a one-off job that a profile keeps out of `up` (mlflow-migrate) is deployed all the same.
    project = replace(ComposeProject.prod(), profiles=("*",))
    # As in Compose, the shell environment wins over the env file; its values also reach `${...}`
    # interpolation in the Compose file (x-ecs included).
    extra = {key: value for key, value in (file_env.values if file_env else {}).items() if key not in os.environ}
    project = project.with_env(**extra)
    tag = options.tag or git_revision(project.root)
    settings = resolve(options, os.environ, project=project.name, tag=tag, env_file=file_env)
    config = project.config()
    if released is not None:
        settings = replace(settings, images=released_images(config, released, release, settings.arch))
    rendered = render(config, settings)
    target = out if out is not None else project.root / DEFAULT_OUT
    written = write(rendered.documents, target)
    return Result(rendered, written, summarize(rendered, settings, target))


def released_images(
    config: ComposeConfig, released: manifest.Release, path: Path | None, arch: Arch = Arch.X86_64
) -> dict[str, str]:
    """Repository -> reference by digest, for every deployed image, as the tasks of `arch` pull it
    (Fargate would fail to pull another: CannotPullContainerError, no matching manifest)."""
    base_images = build_base_images(config.services)
    workloads = [
        workload
        for name, service in config.services.items()
        if (workload := read_workload(name, service, base_images=base_images)) is not None
    ]
    return pinning.released_images(workloads, released, path, arch.platform, f"the {arch.value} tasks")


def summarize(rendered: Rendered, settings: Settings, out: Path) -> str:
    tasks = [w.name for w in rendered.workloads if w.kind is Kind.TASK]
    services = [w.name for w in rendered.workloads if w.kind is Kind.SERVICE]
    scaled = [w.name for w in rendered.workloads if w.autoscaling is not None]
    parts = [
        f"{len(rendered.documents)} documents in {display_path(out)} for tag {settings.tag}",
        f"services: {', '.join(services) or 'none'}",
        f"run-task definitions: {', '.join(tasks) or 'none'}",
        f"autoscaling: {', '.join(scaled) or 'none'}",
        *[
            f"{w.name} on EC2 GPU capacity ({w.gpus} GPUs per task"
            + (f"; AWS Batch multi-node job over {w.nodes} nodes)" if w.nodes > 1 else ")")
            for w in rendered.workloads
            if w.on_ec2
        ],
        f"valid for botocore {validate.botocore_version()}",
    ]
    placeholders = rendered.placeholders()
    if placeholders:
        parts.append(f"{len(placeholders)} placeholders to fill: {' '.join(placeholders)}")
    return "; ".join(parts)


def display_path(path: Path) -> str:
    """Relative to the working directory when below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
