"""Account-specific values (registry, roles, network): from options, then the environment, then
`--env-file`, else a clearly marked `<placeholder>` that AWS rejects if it is ever applied."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from devtools.deploy.arch import Arch
from devtools.errors import DevtoolsError, ExitCode

ENV_PREFIX = "DEVTOOLS_ECS_"
PLACEHOLDER = re.compile(r"<[a-z][a-z0-9._:-]*>")
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_ENV_LINE = re.compile(r"(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)")


def placeholder(name: str) -> str:
    return f"<{name}>"


def env_key(setting: str, service: str | None = None) -> str:
    """DEVTOOLS_ECS_TASK_ROLE_ARN, or DEVTOOLS_ECS_TASK_ROLE_ARN_SERVING for one service."""
    key = ENV_PREFIX + setting.upper().replace("-", "_")
    return key if service is None else f"{key}_{service.upper().replace('-', '_')}"


@dataclass(frozen=True)
class Options:
    """What the command line gave; None / empty means not given."""

    tag: str | None = None
    registry: str | None = None
    cluster: str | None = None
    region: str | None = None
    arch: Arch | None = None
    execution_role_arn: str | None = None
    task_role_arns: Sequence[str] = ()
    target_group_arns: Sequence[str] = ()
    subnets: Sequence[str] = ()
    security_groups: Sequence[str] = ()
    vpc_id: str | None = None


@dataclass(frozen=True)
class Settings:
    project: str
    tag: str
    cluster: str
    region: str
    arch: Arch
    registry: str | None
    execution_role_arn: str
    subnets: tuple[str, ...]
    security_groups: tuple[str, ...]
    vpc_id: str
    # Per service, from `--task-role-arn SERVICE=ARN` or DEVTOOLS_ECS_TASK_ROLE_ARN_<SERVICE>; the
    # "" key is the default for every service.
    task_role_arns: Mapping[str, str] = field(default_factory=dict)
    target_group_arns: Mapping[str, str] = field(default_factory=dict)
    # Where DEVTOOLS_ECS_*_<SERVICE> keys are looked up; out of repr, as it may hold secrets.
    env: Mapping[str, str] = field(default_factory=dict, repr=False)

    def task_role_arn(self, service: str, declared: str | None) -> str:
        """Option for this service, then x-ecs `task-role-arn`, then the per-service and the general default."""
        if service in self.task_role_arns:
            return self.task_role_arns[service]
        if declared:
            return declared
        return (
            self.env.get(env_key("task-role-arn", service))
            or self.task_role_arns.get("")
            or self.env.get(env_key("task-role-arn"))
            or placeholder(f"task-role-arn:{service}")
        )

    def target_group_arn(self, service: str) -> str:
        return (
            self.target_group_arns.get(service)
            or self.env.get(env_key("target-group-arn", service))
            or placeholder(f"target-group-arn:{service}")
        )


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines (optionally `export`ed and quoted); blank lines and # comments are skipped."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise DevtoolsError(f"cannot read --env-file {path}: {exc.strerror}", ExitCode.USAGE) from exc
    values: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        match = _ENV_LINE.fullmatch(stripped)
        if not match:
            raise DevtoolsError(f"{path}:{number}: expected KEY=VALUE, got '{stripped}'", ExitCode.USAGE)
        value = match.group(2).strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        values[match.group(1)] = value
    return values


def _per_service(values: Sequence[str], option: str, *, service_required: bool = False) -> dict[str, str]:
    """`ARN` (every service) or `SERVICE=ARN`; ARNs never contain '='."""
    expected = "SERVICE=ARN" if service_required else "ARN or SERVICE=ARN"
    result: dict[str, str] = {}
    for value in values:
        service, sep, arn = value.partition("=")
        if not sep:
            service, arn = "", value
        if not arn or (sep and not service) or (service_required and not service):
            raise DevtoolsError(f"{option} '{value}': expected {expected}", ExitCode.USAGE)
        result[service] = arn
    return result


def _split(values: Sequence[str]) -> tuple[str, ...]:
    """Repeated options and comma-separated lists are the same thing."""
    return tuple(item.strip() for value in values for item in value.split(",") if item.strip())


def check_tag(tag: str) -> str:
    if not _TAG.fullmatch(tag):
        raise DevtoolsError(f"'{tag}' is not a valid image tag (letters, digits, _ . -; at most 128)", ExitCode.USAGE)
    return tag


def _registry(value: str | None) -> str | None:
    if not value:
        return None
    if "://" in value:
        raise DevtoolsError(
            f"--registry '{value}': give the registry host and path without a scheme "
            "(like 123456789012.dkr.ecr.eu-west-1.amazonaws.com)",
            ExitCode.USAGE,
        )
    return value.rstrip("/")


def resolve(options: Options, env: Mapping[str, str], *, project: str, tag: str) -> Settings:
    """`env` is the process environment over the --env-file values (the process wins, as in Compose)."""

    def pick(given: str | None, setting: str, *fallbacks: str) -> str | None:
        if given:
            return given
        for key in (env_key(setting), *fallbacks):
            if env.get(key):
                return env[key]
        return None

    arch_name = pick(options.arch.value if options.arch else None, "arch")
    try:
        arch = Arch(arch_name.lower()) if arch_name else Arch.x86_64
    except ValueError:
        raise DevtoolsError(f"{env_key('arch')}={arch_name}: expected x86_64 or arm64", ExitCode.USAGE) from None
    subnets = _split(options.subnets) or _split([env.get(env_key("subnets"), "")])
    groups = _split(options.security_groups) or _split([env.get(env_key("security-groups"), "")])
    return Settings(
        project=project,
        tag=check_tag(tag),
        cluster=pick(options.cluster, "cluster") or project,
        region=pick(options.region, "region", "AWS_REGION", "AWS_DEFAULT_REGION") or placeholder("region"),
        arch=arch,
        registry=_registry(pick(options.registry, "registry")),
        execution_role_arn=pick(options.execution_role_arn, "execution-role-arn") or placeholder("execution-role-arn"),
        subnets=subnets or (placeholder("subnet-id"),),
        security_groups=groups or (placeholder("security-group-id"),),
        vpc_id=pick(options.vpc_id, "vpc-id") or placeholder("vpc-id"),
        task_role_arns=_per_service(options.task_role_arns, "--task-role-arn"),
        # One target group per service: a default for all of them would make no sense.
        target_group_arns=_per_service(options.target_group_arns, "--target-group-arn", service_required=True),
        env=dict(env),
    )
