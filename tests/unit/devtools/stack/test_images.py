"""`devtools build --target prod`: tags, label build args, platforms; `devtools up --prod`."""

from __future__ import annotations

from pathlib import Path

import pytest

from devtools.models import bootstrap
from testing.cli_harness import FakeDocker, compose_args, compose_prefix, recorded_config

PROD = ("docker-compose.yml",)


def is_git(argv: list[str]) -> bool:
    return argv[:1] == ["git"] and "rev-parse" in argv


@pytest.fixture
def checkout(docker: FakeDocker, stack_root: Path) -> FakeDocker:
    """The stack copy as a git checkout at abc1234, answering `config` with the prod file's configuration
    (its images named by the tag the build asked for, as Compose would interpolate DEVTOOLS_TAG)."""
    (stack_root / ".git").mkdir()
    docker.respond(is_git, stdout="abc1234\n")
    docker.respond(lambda argv: argv[:1] == ["git"] and "status" in argv)  # a clean tree (a test may dirty it)
    docker.allow(["build"], ["up"])
    docker.allow_docker(["tag"])
    docker.respond_to(["config"], stdout=recorded_config(stack_root, "prod").replace(":latest", ":abc1234"))
    return docker


def builds(docker: FakeDocker) -> list[tuple[list[str], dict[str, str]]]:
    """(compose args, env) of every `docker compose build`."""
    return [
        (compose_args(argv), env)
        for argv, env in zip(docker.calls, docker.envs, strict=True)
        if argv[:2] == ["docker", "compose"] and compose_args(argv)[:1] == ["build"]
    ]


def test_tag_defaults_to_the_git_revision_and_labels_carry_it(checkout: FakeDocker, stack_root: Path, cli) -> None:
    result = cli("build", "--target", "prod", "serving")
    assert result.exit_code == 0, result.output
    assert checkout.calls[0] == ["git", "-C", str(stack_root), "rev-parse", "--short", "HEAD"]
    [(args, env)] = builds(checkout)
    assert env["DEVTOOLS_TAG"] == "abc1234"
    assert "DOCKER_DEFAULT_PLATFORM" not in env
    assert args == ["build", "--build-arg", "VERSION=abc1234", "--build-arg", "VCS_REF=abc1234", "base", "serving"]
    # The prod file alone, for the config and the build.
    prefix = compose_prefix(stack_root, *PROD)
    assert all(argv[: len(prefix)] == prefix for argv in checkout.calls if argv[:2] == ["docker", "compose"])
    # A build of the checkout also moves `latest`, which `up --prod` runs.
    assert ["docker", "tag", "mlstack/serving:abc1234", "mlstack/serving:latest"] in checkout.calls
    assert ["docker", "tag", "mlstack/base:abc1234", "mlstack/base:latest"] in checkout.calls
    assert "built mlstack/serving:abc1234" in result.stdout


def test_a_dirty_checkout_tags_commit_dirty_and_labels_the_commit(checkout: FakeDocker, stack_root: Path, cli) -> None:
    checkout.respond(lambda argv: argv[:1] == ["git"] and "status" in argv, stdout=" M services/serving/app.py\n")
    checkout.respond_to(["config"], stdout=recorded_config(stack_root, "prod").replace(":latest", ":abc1234-dirty"))
    result = cli("build", "--target", "prod", "serving")
    assert result.exit_code == 0, result.output
    assert ["git", "-C", str(stack_root), "status", "--porcelain", "--untracked-files=no"] in checkout.calls
    [(args, env)] = builds(checkout)
    assert env["DEVTOOLS_TAG"] == "abc1234-dirty"
    assert args == [
        "build",
        "--build-arg",
        "VERSION=abc1234-dirty",
        "--build-arg",
        "VCS_REF=abc1234",
        "base",
        "serving",
    ]
    assert "built mlstack/serving:abc1234-dirty" in result.stdout


def test_explicit_tag_wins_and_leaves_latest_alone(checkout: FakeDocker, cli) -> None:
    result = cli("build", "--target", "prod", "--tag", "v1.4.0", "serving")
    assert result.exit_code == 0, result.output
    [(args, env)] = builds(checkout)
    assert env["DEVTOOLS_TAG"] == "v1.4.0"
    assert args[:5] == ["build", "--build-arg", "VERSION=v1.4.0", "--build-arg", "VCS_REF=abc1234"]
    assert not [argv for argv in checkout.calls if argv[:2] == ["docker", "tag"]]


def test_outside_git_the_tag_is_latest_and_git_is_not_run(docker: FakeDocker, stack_root: Path, cli) -> None:
    docker.allow(["build"], ["up"])
    docker.respond_to(["config"], stdout=recorded_config(stack_root, "prod"))
    assert cli("build", "--target", "prod", "serving").exit_code == 0
    assert not [argv for argv in docker.calls if argv[0] == "git"]
    [(args, env)] = builds(docker)
    # Values equal to the Dockerfiles' defaults (VERSION=latest, VCS_REF=unknown) are not passed.
    assert args == ["build", "base", "serving"]
    assert env["DEVTOOLS_TAG"] == "latest"


def test_a_repository_without_commits_falls_back_to_latest(docker: FakeDocker, stack_root: Path, cli) -> None:
    docker.allow(["build"], ["up"])
    (stack_root / ".git").mkdir()
    docker.respond(is_git, stderr="fatal: ambiguous argument 'HEAD'\n", returncode=128)
    docker.respond_to(["config"], stdout=recorded_config(stack_root, "prod"))
    assert cli("build", "--target", "prod", "serving").exit_code == 0
    [(args, env)] = builds(docker)
    assert env["DEVTOOLS_TAG"] == "latest" and args == ["build", "base", "serving"]


def test_one_platform_reaches_compose_and_keeps_the_tag(checkout: FakeDocker, cli) -> None:
    result = cli("build", "--target", "prod", "--tag", "v2", "--platform", "linux/arm64", "serving")
    assert result.exit_code == 0, result.output
    [(args, env)] = builds(checkout)
    assert args[-2:] == ["base", "serving"]
    assert env["DOCKER_DEFAULT_PLATFORM"] == "linux/arm64"
    assert env["DEVTOOLS_TAG"] == "v2"
    assert "(linux/arm64)" in result.stdout


def test_several_platforms_build_in_turn_tagged_per_arch(checkout: FakeDocker, cli) -> None:
    result = cli("build", "--target", "prod", "--platform", "linux/amd64,linux/arm64", "--platform", "linux/arm/v7")
    assert result.exit_code == 0, result.output
    done = builds(checkout)
    assert [(env["DOCKER_DEFAULT_PLATFORM"], env["DEVTOOLS_TAG"]) for _, env in done] == [
        ("linux/amd64", "abc1234-amd64"),
        ("linux/arm64", "abc1234-arm64"),
        ("linux/arm/v7", "abc1234-arm-v7"),
    ]
    # The version label is the tag without the arch; `latest` is never a foreign architecture.
    assert all("VERSION=abc1234" in args for args, _ in done)
    assert not [argv for argv in checkout.calls if argv[:2] == ["docker", "tag"]]


def test_a_platform_builds_from_its_own_base_image_where_one_is_named(
    checkout: FakeDocker, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Where no registry answers: scripts/provision's arm64 stand-in, for arm64 builds only.
    monkeypatch.setenv("PYTHON_IMAGE_LINUX_ARM64", "arm64v8/python:3.11-slim")
    monkeypatch.delenv("PYTHON_IMAGE", raising=False)
    assert cli("build", "--target", "prod", "--platform", "linux/amd64,linux/arm64").exit_code == 0
    amd64, arm64 = (env for _, env in builds(checkout))
    assert "PYTHON_IMAGE" not in amd64 and arm64["PYTHON_IMAGE"] == "arm64v8/python:3.11-slim"


@pytest.mark.parametrize(
    "args",
    [
        ["--target", "prod", "--platform", "arm64"],
        ["--target", "prod", "--tag", "-bad"],
        ["--target", "prod", "--tag", "a/b"],
        ["--tag", "v1"],
        ["--platform", "linux/arm64"],
    ],
)
def test_bad_tag_or_platform_or_dev_target_is_a_usage_error(docker: FakeDocker, cli, args: list[str]) -> None:
    result = cli("build", *args)
    assert result.exit_code == 2
    assert docker.calls == []


def test_source_url_is_passed_but_never_with_credentials(checkout: FakeDocker, cli, monkeypatch) -> None:
    monkeypatch.setenv("SOURCE_URL", "https://git.example.com/ml/mlstack")
    assert cli("build", "--target", "prod", "serving").exit_code == 0
    assert "SOURCE_URL=https://git.example.com/ml/mlstack" in builds(checkout)[0][0]
    checkout.calls.clear()
    checkout.envs.clear()
    monkeypatch.setenv("SOURCE_URL", "https://ci:ghp_secret@git.example.com/ml/mlstack")
    result = cli("build", "--target", "prod", "serving")
    assert result.exit_code == 2
    assert "credentials" in result.stderr and "ghp_secret" not in result.stderr
    assert builds(checkout) == []


def test_dev_build_is_unchanged_by_a_checkout(docker: FakeDocker, stack_root: Path, cli) -> None:
    docker.allow(["build"], ["up"])
    (stack_root / ".git").mkdir()
    assert cli("build", "serving").exit_code == 0
    prefix = compose_prefix(stack_root, "docker-compose.yml", "docker-compose.dev.yml")
    assert docker.calls == [[*prefix, "config"], [*prefix, "--progress", "json", "build", "base", "serving"]]


def test_up_prod_runs_the_production_file_alone(
    docker: FakeDocker, stack_root: Path, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    docker.allow(["build"], ["up"])
    docker.respond_to(["config"], stdout=recorded_config(stack_root, "prod"))
    signed: list[str] = []
    monkeypatch.setattr(bootstrap, "sign_seeded", lambda project, **_: signed.append(project.name) or "signed")
    result = cli("up", "--prod")
    assert result.exit_code == 0, result.output
    prefix = compose_prefix(stack_root, *PROD)
    # The seed job and what it needs first; the seeded version signed; then serving (it loads signed
    # versions only) and the rest.
    assert docker.changing_calls() == [
        [*prefix, "config"],
        [*prefix, "--progress", "json", "build", "base", "mlflow", "training"],
        [*prefix, "up", "--detach", "--wait", "--wait-timeout", "300", "seed"],
        [*prefix, "config"],
        [*prefix, "--progress", "json", "build", "serving"],
        [*prefix, "up", "--detach", "--wait", "--wait-timeout", "300"],
    ]
    assert len(signed) == 1
    secrets = stack_root / ".devtools" / "secrets"
    assert (secrets.stat().st_mode & 0o777) == 0o700 and (secrets / "mlflow-admin-password").read_text()
    assert "BEGIN PUBLIC KEY" in (secrets / "model-signing-public-keys.pem").read_text()


def test_up_prod_after_build_prod_builds_nothing(
    checkout: FakeDocker, stack_root: Path, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bootstrap, "sign_seeded", lambda project, **_: None)
    assert cli("build", "--target", "prod", "--tag", "latest").exit_code == 0
    checkout.calls.clear()
    assert cli("up", "--prod").exit_code == 0
    assert [args[0] for args in checkout.compose_calls()] == ["config", "up", "config", "up"]


@pytest.mark.parametrize("flag", [["--gpu"], ["--gpu", "auto"], ["--watch"]])
def test_up_prod_rejects_the_dev_loop_layers(docker: FakeDocker, cli, flag: list[str]) -> None:
    result = cli("up", "--prod", *flag)
    assert result.exit_code == 2
    assert f"cannot be combined with {flag[0]}" in result.stderr
    assert docker.calls == []
