"""devtools deploy: deployment documents for the prod images (`deploy render ecs`) and applying them
(`deploy apply`).

Registered by the root app as `app.add_typer(deploy.app, name="deploy")`. Nothing heavy at the top:
the renderer (and botocore, through it) and boto3 are imported when a command runs.
"""

from pathlib import Path
from typing import Annotated

import typer

from devtools.deploy.arch import Arch

app = typer.Typer(
    help="Deployment documents for the prod images: render them, apply them to AWS.",
    no_args_is_help=True,
    # Plain help, as the root app: rich formatting would import rich on every `--help`.
    rich_markup_mode=None,
)
render_app = typer.Typer(
    help="Render deployment documents from the prod Compose file.", no_args_is_help=True, rich_markup_mode=None
)
app.add_typer(render_app, name="render")


@render_app.command("ecs")
def ecs(
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
) -> None:
    """ECS task definitions, services, target groups and autoscaling, validated offline (botocore).

    Values not given by an option come from DEVTOOLS_ECS_<OPTION> in the environment or --env-file;
    the rest are written as <placeholders>. See deploy/README.md.
    """
    from devtools.deploy import render, settings

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
    result = render.run(options, out=out, env_file=env_file)
    for path in result.written:
        print(render.display_path(path))
    print(result.summary)


@app.command("apply")
def apply(
    from_dir: Annotated[
        Path | None,
        typer.Option(
            "--from",
            metavar="DIR",
            help="Directory `deploy render ecs` wrote the documents to (default: build/ecs in the repo).",
        ),
    ] = None,
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
    from devtools.deploy import apply as deploy_apply
    from devtools.deploy import render
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
