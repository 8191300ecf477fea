"""Account-specific values (registry, roles, network): from options, then the environment, then
`--env-file`, else a clearly marked `<placeholder>` that AWS rejects if it is ever applied.

ARN-valued settings are checked for the shape of ARN they take (ARN_SETTINGS), wherever they came from.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from devtools.deploy.envfile import EnvFile
from devtools.deploy.targets.ecs import arns
from devtools.deploy.targets.ecs.arch import Arch
from devtools.errors import DevtoolsError, ExitCode

ENV_PREFIX = "DEVTOOLS_ECS_"
PLACEHOLDER = re.compile(r"<[a-z][a-z0-9._:-]*>")
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")

# Every ARN-valued setting and the ARN it takes. Checked in every place the setting can come from:
# its option, DEVTOOLS_ECS_<SETTING>, every DEVTOOLS_ECS_<SETTING>_<SERVICE>, and (task roles)
# x-ecs.task-role-arn. Secret ARNs are no setting: they are x-deploy.secrets values, which workload.py checks.
ARN_SETTINGS: Mapping[str, arns.ArnShape] = {
    "execution-role-arn": arns.IAM_ROLE,
    "task-role-arn": arns.IAM_ROLE,
    "target-group-arn": arns.TARGET_GROUP,
}


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
    # Repository -> REGISTRY/repository@sha256:..., from a release manifest (`--release`): every
    # image is then named by digest, not by tag.
    images: Mapping[str, str] = field(default_factory=dict)

    def task_role_arn(self, service: str, declared: str | None) -> str:
        """Option for this service, then x-ecs `task-role-arn`, then the per-service and the general default."""
        if service in self.task_role_arns:
            return self.task_role_arns[service]
        if declared:
            # A Compose-file value: a FAILURE, as every other problem workload.py finds in the file.
            check_arn("task-role-arn", declared, f"{service}: x-ecs.task-role-arn", ExitCode.FAILURE)
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


def check_arn(setting: str, value: str, where: str, code: ExitCode = ExitCode.USAGE) -> None:
    """`where` names the setting and its source: `--task-role-arn`, `deploy/prod.env:5: KEY`, ...

    A whole-value `<placeholder>` passes: it is how an unset value renders, and AWS rejects it."""
    shape = ARN_SETTINGS[setting]
    if PLACEHOLDER.fullmatch(value) or shape.matches(value):
        return
    raise DevtoolsError(f"{where} '{value}' is not {shape.expected()}", code)


def _check_arn_settings(
    given: Mapping[str, Iterable[str]], env: Mapping[str, str], file_locations: Mapping[str, str]
) -> None:
    """The options first, then each DEVTOOLS_ECS_* key of the setting (env-file keys in file order);
    `file_locations` says which keys the env file gave (`deploy/prod.env:5`), the rest are the process's."""
    for setting in ARN_SETTINGS:
        for value in given.get(setting, ()):
            check_arn(setting, value, f"--{setting}")
        key = env_key(setting)
        for name, value in env.items():
            if value and (name == key or name.startswith(f"{key}_")):
                where = f"{file_locations[name]}: {name}" if name in file_locations else f"environment variable {name}"
                check_arn(setting, value, where)


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


def resolve(
    options: Options, env: Mapping[str, str], *, project: str, tag: str, env_file: EnvFile | None = None
) -> Settings:
    """`env` is the process environment; `env_file` fills in the keys it lacks (the process wins, as
    in Compose). Options win over both."""
    merged = {**env_file.values, **env} if env_file else dict(env)

    def pick(given: str | None, setting: str, *fallbacks: str) -> str | None:
        if given:
            return given
        for key in (env_key(setting), *fallbacks):
            if merged.get(key):
                return merged[key]
        return None

    arch_name = pick(options.arch.value if options.arch else None, "arch")
    try:
        arch = Arch(arch_name.lower()) if arch_name else Arch.X86_64
    except ValueError:
        raise DevtoolsError(f"{env_key('arch')}={arch_name}: expected x86_64 or arm64", ExitCode.USAGE) from None
    subnets = _split(options.subnets) or _split([merged.get(env_key("subnets"), "")])
    groups = _split(options.security_groups) or _split([merged.get(env_key("security-groups"), "")])
    task_role_arns = _per_service(options.task_role_arns, "--task-role-arn")
    # One target group per service: a default for all of them would make no sense.
    target_group_arns = _per_service(options.target_group_arns, "--target-group-arn", service_required=True)
    given_arns = {
        "execution-role-arn": [options.execution_role_arn] if options.execution_role_arn else [],
        "task-role-arn": list(task_role_arns.values()),
        "target-group-arn": list(target_group_arns.values()),
    }
    file_locations = {key: env_file.location(key) for key in env_file.values if key not in env} if env_file else {}
    _check_arn_settings(given_arns, merged, file_locations)
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
        task_role_arns=task_role_arns,
        target_group_arns=target_group_arns,
        env=merged,
    )
