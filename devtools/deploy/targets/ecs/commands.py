"""The ECS target's commands: `devtools deploy render ecs`, `deploy apply`, `deploy run-local`.

Registered by devtools.deploy.targets (TARGETS); nothing heavy at the top, as the CLI imports this
module to build its help: the renderer (and botocore, through it) and boto3 are imported when a
command runs.
"""

from pathlib import Path
from typing import Annotated

import typer

from devtools.deploy.targets.ecs.arch import Arch

NAME = "ecs"

# `--from DIR`: apply and run-local read the documents a render wrote, never render again.
DocumentsDir = Annotated[
    Path | None,
    typer.Option(
        "--from",
        metavar="DIR",
        help="Directory `deploy render ecs` wrote the documents to (default: build/ecs in the repo).",
    ),
]


def render(
    out: Annotated[
        Path | None,
        typer.Option("--out", metavar="DIR", help="Directory for the JSON documents (default: build/ecs in the repo)."),
    ] = None,
    tag: Annotated[
        str | None,
        typer.Option(
            "--tag",
            metavar="TAG",
            help="Image tag (default: the one `build --target prod` gives: git rev-parse --short HEAD, "
            "-dirty when tracked files changed).",
        ),
    ] = None,
    registry: Annotated[
        str | None,
        typer.Option(
            "--registry", metavar="HOST[/PATH]", help="Image registry, like ACCOUNT.dkr.ecr.REGION.amazonaws.com."
        ),
    ] = None,
    cluster: Annotated[
        str | None, typer.Option("--cluster", metavar="NAME", help="ECS cluster (default: the project name).")
    ] = None,
    region: Annotated[
        str | None, typer.Option("--region", metavar="REGION", help="AWS region for awslogs (default: AWS_REGION).")
    ] = None,
    arch: Annotated[
        Arch | None, typer.Option("--arch", help="CPU architecture of the images (default x86_64).")
    ] = None,
    execution_role_arn: Annotated[
        str | None,
        typer.Option("--execution-role-arn", metavar="ARN", help="Role ECS pulls images and reads secrets with."),
    ] = None,
    task_role_arn: Annotated[
        list[str] | None,
        typer.Option("--task-role-arn", metavar="[SERVICE=]ARN", help="ARN or SERVICE=ARN: the role the app runs as."),
    ] = None,
    target_group_arn: Annotated[
        list[str] | None,
        typer.Option(
            "--target-group-arn", metavar="SERVICE=ARN", help="SERVICE=ARN of the service's ALB target group."
        ),
    ] = None,
    subnet: Annotated[
        list[str] | None, typer.Option("--subnet", metavar="SUBNET", help="Subnet ID for the tasks (repeatable).")
    ] = None,
    security_group: Annotated[
        list[str] | None,
        typer.Option("--security-group", metavar="SG", help="Security group ID for the tasks (repeatable)."),
    ] = None,
    vpc_id: Annotated[str | None, typer.Option("--vpc-id", metavar="VPC", help="VPC of the target groups.")] = None,
    env_file: Annotated[
        Path | None,
        typer.Option(
            "--env-file",
            metavar="FILE",
            help="KEY=VALUE file: DEVTOOLS_ECS_* settings and Compose interpolation values.",
        ),
    ] = None,
    release: Annotated[
        Path | None,
        typer.Option(
            "--release",
            metavar="MANIFEST",
            help="A `devtools release` manifest: every image named by digest (REGISTRY/repo@sha256:...).",
        ),
    ] = None,
) -> None:
    """ECS task definitions, services, target groups and autoscaling, validated offline (botocore).

    Values not given by an option come from DEVTOOLS_ECS_<OPTION> in the environment or --env-file;
    the rest are written as <placeholders>. See deploy/README.md.
    """
    from devtools.deploy.targets.ecs import render, settings

    options = settings.Options(
        tag=tag,
        registry=registry,
        cluster=cluster,
        region=region,
        arch=arch,
        execution_role_arn=execution_role_arn,
        task_role_arns=task_role_arn or [],
        target_group_arns=target_group_arn or [],
        subnets=subnet or [],
        security_groups=security_group or [],
        vpc_id=vpc_id,
    )
    result = render.run(options, out=out, env_file=env_file, release=release)
    for path in result.written:
        print(render.display_path(path))
    print(result.summary)


def apply(
    from_dir: DocumentsDir = None,
    region: Annotated[
        str | None,
        typer.Option(
            "--region",
            metavar="REGION",
            help="AWS region (default: boto3's chain, AWS_REGION or the profile's; else the documents' own).",
        ),
    ] = None,
    endpoint_url: Annotated[
        str | None,
        typer.Option(
            "--endpoint-url",
            metavar="URL",
            help="Send every AWS call here, like LocalStack or moto (default: AWS_ENDPOINT_URL, else AWS).",
        ),
    ] = None,
    wait: Annotated[
        bool, typer.Option("--wait/--no-wait", help="Wait until the services are stable (the default).")
    ] = True,
    wait_timeout: Annotated[
        int,
        typer.Option("--wait-timeout", metavar="SECONDS", min=1, help="How long to wait for stable services."),
    ] = 600,
) -> None:
    """Apply the rendered ECS documents to AWS, changing only what differs.

    Creates the log groups, registers each task definition that differs from its family's latest
    revision, creates the target groups that are missing, creates or updates the services (rolling,
    circuit breaker with rollback), registers autoscaling, then waits for stable services. One
    line per resource, then a summary; run it again and every line says `unchanged`.

    It applies the files `deploy render ecs` wrote rather than rendering again: what you reviewed
    (or diffed in CI) is exactly what reaches AWS, and apply needs no Docker, git or render options,
    only AWS credentials (the standard chain: AWS_PROFILE, AWS_ACCESS_KEY_ID, ~/.aws, SSO).

    Exit codes: 1 when AWS refuses, rejects or cannot be reached; 2 when the documents cannot be
    applied (missing, placeholders left, another region); 7 when the services are not stable in
    time or a deployment was rolled back. See deploy/README.md.
    """
    from devtools.deploy.targets.ecs import apply as deploy_apply
    from devtools.deploy.targets.ecs import render
    from devtools.stack.project import find_root

    directory = from_dir if from_dir is not None else find_root() / render.DEFAULT_OUT

    def report(change: deploy_apply.Change) -> None:
        # Flushed line by line: with stdout piped, a later error on stderr must not overtake them.
        print(change.line(), flush=True)

    outcome = deploy_apply.run(
        directory,
        region=region,
        endpoint_url=endpoint_url,
        wait_timeout_s=wait_timeout if wait else None,
        report=report,
    )
    print(outcome.summary(), flush=True)


def run_local(
    from_dir: DocumentsDir = None,
    secrets: Annotated[
        Path | None,
        typer.Option(
            "--secrets",
            metavar="FILE",
            help="NAME=VALUE file with the secrets' values (default: deploy/local-secrets.env in the repo).",
        ),
    ] = None,
    task: Annotated[
        list[str] | None,
        typer.Option(
            "--task",
            metavar="NAME[=COMMAND]",
            help="One-off task to run once the services are healthy; =COMMAND replaces its command, as "
            "run-task's override does ('seed=seed --force'). Repeatable; default: mlflow-access then seed, those "
            "the documents have; --task '' runs none.",
        ),
    ] = None,
    region: Annotated[
        str | None,
        typer.Option("--region", metavar="REGION", help="Region the stand-ins answer for (default: the documents')."),
    ] = None,
    wait_timeout: Annotated[
        int,
        typer.Option("--wait-timeout", metavar="SECONDS", min=1, help="How long each step may take to be healthy."),
    ] = 600,
    down: Annotated[
        bool, typer.Option("--down", help="Stop and remove what run-local started (containers, task volumes).")
    ] = False,
) -> None:
    """Run the rendered ECS task definitions on the local engine, as Fargate would, to healthy.

    Same images, user, read-only root, task volumes (root-owned unless the image declares the path
    as a VOLUME, as on Fargate), environment, capabilities, health checks, stop timeouts and task
    size. Stand-ins only where AWS is named: secrets from --secrets, RDS as a PostgreSQL container,
    the AWS APIs (S3 for MLflow's artifacts) as moto's server. The services start, the one-off
    tasks run (seed), and each load-balanced service must pass its target group's check (serving's
    /ready: a model is loaded). It runs as the Compose project `<project>-ecs-local`, beside the dev
    stack; --down removes it.

    Exit codes: 2 when the documents cannot be run here (missing, an image not built, a secret
    without a value); 7 when a container does not get healthy or a task fails, with the container
    and the reason. See deploy/README.md.
    """
    from devtools.deploy.targets.ecs import local_compose as local
    from devtools.deploy.targets.ecs import render
    from devtools.deploy.targets.ecs import run_local as running
    from devtools.stack.project import ComposeProject

    project = ComposeProject.rendered(local.PROJECT_SUFFIX, (local.TASK_PROFILE,))
    if down:
        removed = running.down(project)
        print(f"{project.name}: removed" if removed else f"{project.name}: nothing to remove")
        return

    def report(line: str) -> None:
        print(line, flush=True)

    tasks = [spec for spec in (task if task is not None else list(running.DEFAULT_TASKS)) if spec.strip()]
    started = running.run(
        from_dir if from_dir is not None else project.root / render.DEFAULT_OUT,
        project,
        secrets_file=secrets if secrets is not None else project.root / running.DEFAULT_SECRETS,
        tasks=tasks,
        explicit_tasks=task is not None,
        region=region,
        wait_timeout_s=wait_timeout,
        report=report,
    )
    for service in started:
        print(f"{service.service}: healthy  {service.url or '(no port)'}")
    print(f"{project.name}: every service healthy; remove it with `devtools deploy run-local --down`")
