"""Which registry a release goes to: `--registry`, else DEVTOOLS_REGISTRY; never a hard-coded host.

In production it is ECR (`ACCOUNT.dkr.ecr.REGION.amazonaws.com`); here and in CI, the Distribution
registry `scripts/provision --tests` starts on 127.0.0.1:5001 with login required.
"""

from __future__ import annotations

import os
import re

from devtools.errors import DevtoolsError, ExitCode

ENV = "DEVTOOLS_REGISTRY"
# host[:port][/path]: what `docker tag` accepts in front of a repository.
_REGISTRY = re.compile(r"[A-Za-z0-9.-]+(:\d+)?(/[a-z0-9._-]+)*")
_LOOPBACK = re.compile(r"(localhost|127\.\d+\.\d+\.\d+|\[::1\])(:\d+)?")


def resolve(option: str | None) -> str:
    value = (option or os.environ.get(ENV, "")).strip().rstrip("/")
    source = "--registry" if option else ENV
    if not value:
        raise DevtoolsError(
            f"no registry: pass --registry HOST[:PORT] or set {ENV} (ECR: ACCOUNT.dkr.ecr.REGION.amazonaws.com; "
            "here `scripts/provision --tests` runs one on 127.0.0.1:5001)",
            ExitCode.USAGE,
        )
    if "://" in value or not _REGISTRY.fullmatch(value):
        raise DevtoolsError(
            f"{source} '{value}': expected HOST[:PORT][/PATH] without a scheme, like 127.0.0.1:5001", ExitCode.USAGE
        )
    return value


def host(registry: str) -> str:
    """The part `docker login` takes: the registry without its path."""
    return registry.split("/", 1)[0]


def is_loopback(registry: str) -> bool:
    """The engine talks plain HTTP to registries on 127.0.0.0/8 (its default insecure range)."""
    return bool(_LOOPBACK.fullmatch(host(registry)))


NOT_LOGGED_IN = "not logged in"
REFUSED = "refused the credentials"
UNREACHABLE = "unreachable"
NOT_THERE = "has no such image"
# What docker said when a registry push, pull or manifest request failed -> what it means, first match
# wins (matched lowercased).
_PROBLEMS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("no basic auth credentials",), NOT_LOGGED_IN),
    (("unauthorized", "authentication required", "denied"), REFUSED),
    (("connection refused", "no such host", "i/o timeout", "dial tcp", "server gave http response"), UNREACHABLE),
    (("manifest unknown", "not found", "no such manifest"), NOT_THERE),
)


def problem(said: str) -> str | None:
    """What a failed registry request's output says about the registry (NOT_LOGGED_IN, REFUSED,
    UNREACHABLE, NOT_THERE), or None when it is something else (keep docker's own words)."""
    lowered = said.lower()
    return next((meaning for needles, meaning in _PROBLEMS if any(n in lowered for n in needles)), None)


def fix(meaning: str, registry: str) -> str:
    """What to do about a registry problem, in words a user can follow."""
    if meaning == UNREACHABLE:
        return (
            "check the address and that the registry is running (`scripts/provision --tests` runs one on "
            "127.0.0.1:5001)"
        )
    login = host(registry)
    return (
        f"log in with `docker login {login}` (ECR: `aws ecr get-login-password | docker login --username AWS "
        f"--password-stdin {login}`)"
    )
