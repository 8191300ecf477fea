"""`devtools deploy run-local`: the rendered ECS task definitions, run on the local engine as Fargate
would run them (local_compose.py says what is kept and what stands in for AWS), to healthy.

Order, as ECS and an operator would go: the stand-ins (PostgreSQL for RDS, moto for the AWS APIs)
and the S3 buckets the environment names; every long-running service at once, to its container
health check; the one-off tasks (`aws ecs run-task`, with an optional command override), each to
exit 0; then each load-balanced service to its target group's check (serving's /ready: a model is
loaded). Any failure names the container and why (stack/diagnose.py), with exit code 7.
"""

from __future__ import annotations

import shlex
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from devtools.deploy import envfile
from devtools.deploy.targets.ecs import bundle as bundles
from devtools.deploy.targets.ecs import local_compose
from devtools.deploy.targets.ecs.aws import Aws
from devtools.deploy.targets.ecs.bundle import Bundle, Workload
from devtools.deploy.targets.ecs.settings import PLACEHOLDER
from devtools.engine import diagnose, inspect
from devtools.errors import DevtoolsError, ExitCode
from devtools.models import bootstrap, local_secrets, signing
from devtools.models.mlflow_api import MlflowApi
from devtools.stack.project import ComposeProject

DEFAULT_SECRETS = Path("deploy") / "local-secrets.env"
DEFAULT_REGION = "us-east-1"
PUBLIC_KEYS_SECRET = "MODEL_SIGNING_PUBLIC_KEYS"
PROMOTER_SECRET = "MLSTACK_PROMOTER_PASSWORD"
# The one-off jobs run by default, in order: the accounts and grants, then the demo's model serving loads.
DEFAULT_TASKS = ("mlflow-access", "seed")
_READY_POLL_S = 1.0

Report = Callable[[str], None]


@dataclass(frozen=True)
class Started:
    service: str
    url: str | None  # the published port of its first port mapping, on 127.0.0.1


def run(
    directory: Path,
    project: ComposeProject,
    *,
    secrets_file: Path,
    tasks: Sequence[str],
    explicit_tasks: bool,
    region: str | None,
    wait_timeout_s: int,
    report: Report,
) -> list[Started]:
    documents = bundles.read(directory, can_fill=lambda _name, _workload: True)
    region = region or _documents_region(documents) or DEFAULT_REGION
    images = {ref: _local_image(ref, workload) for workload in documents.workloads for ref in _images(workload)}
    plan = local_compose.plan(documents.workloads, images, region=region, root=str(project.root))
    if not explicit_tasks:  # the default task only where the documents have it
        tasks = [spec for spec in tasks if spec.partition("=")[0] in plan.tasks]
    runs = [_task_run(spec, plan.tasks) for spec in tasks]
    signing.ensure_key(project.root)  # the local stand-in for the team's promotion key
    secret_values = _secret_values(plan.secrets, secrets_file, documents, signing.trusted(project.root))
    _write(project.files[0], plan.document)
    project = project.with_env(**secret_values)  # only in Compose's environment, never in the file

    report(
        f"stand-ins: {local_compose.POSTGRES} (for RDS), {local_compose.AWS} (moto, for the AWS APIs); "
        "their first build takes about a minute"
    )
    _up(project, [local_compose.POSTGRES, local_compose.AWS], wait_timeout_s, "--build", "--quiet-build")
    _make_buckets(project, plan.buckets, region, report)

    report(f"services: {', '.join(plan.services)} (as ECS runs them: read-only root, user, task volumes, caps)")
    _up(project, plan.services, wait_timeout_s, "--remove-orphans")
    for name, command in runs:
        _run_task(project, name, command, report)
    said = _sign_seeded(project, documents, secret_values)
    if said:
        report(said)
    deadline = time.monotonic() + wait_timeout_s
    started = []
    for workload in documents.workloads:
        if workload.service is None:
            continue
        name = local_compose.service_name(workload, workload.task_definition["containerDefinitions"][0])
        url = _url(project, workload, name)
        if workload.target_group is not None and url is not None:
            _wait_ready(project, name, url, workload.target_group, deadline, report)
        started.append(Started(name, url))
    return started


def down(project: ComposeProject) -> bool:
    """Removes the containers, task volumes and network; False when nothing was run here."""
    if not project.files[0].is_file():
        return False
    project.run("down", "--volumes", "--remove-orphans")
    return True


def _documents_region(documents: Bundle) -> str | None:
    regions = [region for region in documents.regions if not PLACEHOLDER.fullmatch(region)]
    return regions[0] if regions else None


def _images(workload: Workload) -> list[str]:
    return [str(c["image"]) for c in workload.task_definition.get("containerDefinitions", [])]


def _local_image(reference: str, workload: Workload) -> local_compose.Image:
    """The image as found on this engine, with the paths it declares as VOLUME."""
    candidates = local_compose.local_candidates(reference)
    for candidate in candidates:
        if (found := inspect.image(candidate)) is not None:
            return local_compose.Image(candidate, found.volumes)
    tag = reference.rpartition(":")[2] if ":" in reference.rpartition("/")[2] else "latest"
    looked = " or ".join(candidates) or reference
    raise DevtoolsError(
        f"{workload.name}.task-definition.json: image {looked} is not on this engine; "
        f"build it with `devtools build --target prod --tag {tag}`",
        ExitCode.USAGE,
    )


def _task_run(spec: str, known: Sequence[str]) -> tuple[str, list[str]]:
    """`seed`, or `seed=seed --force`: a one-off task and the command that replaces its own, as
    run-task's containerOverrides.command does."""
    name, has_command, command = spec.partition("=")
    name = name.strip()
    if name not in known:
        offered = ", ".join(known) or "none"
        raise DevtoolsError(
            f"--task {spec!r}: no such one-off task in the documents (they have: {offered})", ExitCode.USAGE
        )
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise DevtoolsError(f"--task {spec!r}: {exc}", ExitCode.USAGE) from None
    if has_command and not argv:
        raise DevtoolsError(f"--task {spec!r}: an empty command after '='", ExitCode.USAGE)
    return name, argv


def _secret_values(
    needed: Mapping[str, list[str]], secrets_file: Path, documents: Bundle, trusted_keys: Sequence[str] = ()
) -> dict[str, str]:
    if not needed:
        return {}
    values = dict(envfile.read(secrets_file, "--secrets").values)
    if trusted_keys:  # serving's trusted keys: the local promotion key's, unless the file names others
        values.setdefault(PUBLIC_KEYS_SECRET, "".join(key.strip() + "\n" for key in trusted_keys))
    missing = {name: containers for name, containers in needed.items() if name not in values}
    if missing:
        name, containers = sorted(missing.items())[0]
        arn = _secret_arn(documents, name)
        raise DevtoolsError(
            f"{', '.join(containers)}: secret {name} ({arn}) has no value in {secrets_file}; add {name}=VALUE "
            "there (ECS would read it from that ARN)",
            ExitCode.USAGE,
        )
    return {name: values[name] for name in needed}


def _secret_arn(documents: Bundle, name: str) -> str:
    for workload in documents.workloads:
        for container in workload.task_definition.get("containerDefinitions", []):
            for secret in container.get("secrets", []):
                if secret["name"] == name:
                    return str(secret["valueFrom"])
    return "?"


def _write(path: Path, document: Mapping[str, object]) -> None:
    import yaml

    path.parent.mkdir(parents=True, exist_ok=True)
    header = "# Written by `devtools deploy run-local` from the rendered ECS documents; do not edit.\n"
    path.write_text(header + yaml.safe_dump(dict(document), sort_keys=False))


def _up(project: ComposeProject, services: Sequence[str], wait_timeout_s: int, *extra: str) -> None:
    try:
        project.run("up", "--detach", "--wait", "--wait-timeout", str(wait_timeout_s), *extra, *services)
    except DevtoolsError as exc:
        if exc.code is not ExitCode.UNHEALTHY:
            raise
        raise _failed(project, services) or exc from None


def _failed(project: ComposeProject, services: Sequence[str]) -> DevtoolsError | None:
    """The first of `services` that is not up, named with its container and why."""
    containers = {str(row.get("Service")): str(row.get("Name")) for row in project.containers(check=False)}
    for service in services:
        container = containers.get(service)
        reason = diagnose.explain(container) if container else "it was not created"
        if reason is not None:
            return DevtoolsError(f"{service} (container {container or '-'}): {reason}", ExitCode.UNHEALTHY)
    return None


def _make_buckets(project: ComposeProject, buckets: Sequence[str], region: str, report: Report) -> None:
    if not buckets:
        return
    endpoint = _published(project, local_compose.AWS, local_compose.AWS_PORT)
    credential = local_compose.LOCAL_CREDENTIAL
    aws = Aws(region=region, endpoint_url=endpoint, credentials=(credential, credential))
    location = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    for bucket in buckets:
        # Creating a bucket you own again is a no-op in us-east-1 and BucketAlreadyOwnedByYou elsewhere.
        aws.find("s3", "CreateBucket", absent="BucketAlreadyOwnedByYou", Bucket=bucket, **location)
        report(f"s3://{bucket}: in the S3 stand-in")


def _published(project: ComposeProject, service: str, port: int) -> str | None:
    done = project.run("port", service, str(port), capture=True, check=False)
    address = done.stdout.strip().splitlines()[0] if done.returncode == 0 and done.stdout.strip() else ""
    return f"http://{address}" if address else None


def _sign_seeded(project: ComposeProject, documents: Bundle, values: Mapping[str, str]) -> str | None:
    """The seed task's version signed as `up --prod` signs it (devtools.models.bootstrap), as the promoter."""
    for workload in documents.workloads:
        if workload.name != "mlflow" or workload.service is None:
            continue
        url = _url(
            project, workload, local_compose.service_name(workload, workload.task_definition["containerDefinitions"][0])
        )
        if url is None or PROMOTER_SECRET not in values:
            return None
        api = MlflowApi(url, account=local_secrets.PROMOTER, password=values[PROMOTER_SECRET])
        return bootstrap.sign_first_version(api, project)
    return None


def _url(project: ComposeProject, workload: Workload, name: str) -> str | None:
    ports = workload.task_definition["containerDefinitions"][0].get("portMappings") or []
    return _published(project, name, int(ports[0]["containerPort"])) if ports else None


def _run_task(project: ComposeProject, name: str, command: Sequence[str], report: Report) -> None:
    shown = f"{name} ({shlex.join(command)})" if command else name
    report(f"task {shown}: running (as `aws ecs run-task`)")
    began = time.monotonic()
    done = project.run("run", "--rm", "--no-deps", "-T", name, *command, capture=True, check=False)
    # A failure's reason is on stderr (a traceback's last line); a success's summary on stdout.
    streams = (done.stderr, done.stdout) if done.returncode != 0 else (done.stdout, done.stderr)
    said = [line.strip() for stream in streams for line in stream.splitlines()[::-1] if line.strip()]
    last = said[0] if said else ""
    if done.returncode != 0:
        raise DevtoolsError(f"task {shown} (container of {name}): exited {done.returncode}: {last}", ExitCode.UNHEALTHY)
    report(f"task {shown}: exit 0 in {time.monotonic() - began:.0f} s: {last}")


def _wait_ready(
    project: ComposeProject,
    name: str,
    url: str,
    target_group: Mapping[str, object],
    deadline: float,
    report: Report,
) -> None:
    """Polls the target group's health check (path and matcher) as the ALB would, until it passes."""
    path = str(target_group.get("HealthCheckPath") or "/")
    matcher = target_group.get("Matcher") or {}
    codes = _codes(str(matcher.get("HttpCode", "200")) if isinstance(matcher, Mapping) else "200")
    last = "no answer"
    while True:
        try:
            with urllib.request.urlopen(url + path, timeout=5) as answer:
                status = answer.status
        except urllib.error.HTTPError as exc:
            status, last = exc.code, f"{exc.code} {exc.read(200).decode(errors='replace').strip()}"
        except (urllib.error.URLError, OSError) as exc:
            status, last = 0, str(getattr(exc, "reason", exc))
        if status in codes:
            report(f"{name}: ready: GET {path} answered {status} (its target group's check)")
            return
        failed = _failed(project, [name])
        if failed is not None:
            raise failed
        if time.monotonic() > deadline:
            raise DevtoolsError(
                f"{name}: its target group's check GET {path} did not pass in time (last: {last})", ExitCode.UNHEALTHY
            )
        time.sleep(_READY_POLL_S)


def _codes(spec: str) -> set[int]:
    """ELBv2 matcher codes: `200`, `200,202`, `200-299`."""
    codes: set[int] = set()
    for part in spec.split(","):
        low, _, high = part.strip().partition("-")
        codes.update(range(int(low), int(high or low) + 1))
    return codes
