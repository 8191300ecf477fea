"""--env-file: read with python-dotenv's semantics, every key with its line, and precedence kept."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from devtools.deploy import envfile
from devtools.deploy.targets.ecs.settings import Options, resolve
from devtools.errors import DevtoolsError, ExitCode

ROLE = "arn:aws:iam::123456789012:role"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "prod.env"
    path.write_text(text)
    return path


def usage_error(path: Path) -> str:
    with pytest.raises(DevtoolsError) as caught:
        envfile.read(path)
    assert caught.value.code is ExitCode.USAGE
    assert "\n" not in caught.value.message
    return caught.value.message


def test_inline_comments_after_whitespace_are_comments(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        f"DEVTOOLS_ECS_TASK_ROLE_ARN={ROLE}/mlstack-app            # no policies\n"
        "TABBED=value\t# a tab counts as whitespace\n"
        "EMPTY= # nothing but a comment\n"
        "HASH=abc#def\n",  # no whitespace before '#': part of the value, as in the shell
    )
    assert dict(envfile.read(path).values) == {
        "DEVTOOLS_ECS_TASK_ROLE_ARN": f"{ROLE}/mlstack-app",
        "TABBED": "value",
        "EMPTY": "",
        "HASH": "abc#def",
    }


def test_quoted_values_keep_what_looks_like_a_comment(tmp_path: Path) -> None:
    path = write(
        tmp_path, 'SINGLE=\'a # b\'   # a comment\nDOUBLE="c # d"\nSPACES=\' padded \'\nESCAPED="say \\"hi\\""\n'
    )
    assert dict(envfile.read(path).values) == {
        "SINGLE": "a # b",
        "DOUBLE": "c # d",
        "SPACES": " padded ",
        "ESCAPED": 'say "hi"',
    }


def test_export_prefix_blank_lines_and_full_line_comments(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "# deploy settings\n\n   # indented comment\n"
        "export DEVTOOLS_ECS_REGION=eu-west-1\n\n"
        "DEVTOOLS_ECS_CLUSTER = 'ml'\n",
    )
    read = envfile.read(path)
    assert dict(read.values) == {"DEVTOOLS_ECS_REGION": "eu-west-1", "DEVTOOLS_ECS_CLUSTER": "ml"}
    assert read.location("DEVTOOLS_ECS_REGION") == f"{path}:4"
    assert read.location("DEVTOOLS_ECS_CLUSTER") == f"{path}:6"


def test_a_key_set_twice_keeps_the_last_value_and_its_line(tmp_path: Path) -> None:
    read = envfile.read(write(tmp_path, "A=1\nB=2\nA=3\n"))
    assert (read.values["A"], read.location("A")) == ("3", f"{tmp_path / 'prod.env'}:3")


def test_references_expand_as_python_dotenv_expands_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FROM_SHELL", "shell")
    path = write(tmp_path, "ACCOUNT=123456789012\nROLE=arn:aws:iam::${ACCOUNT}:role/app\nX=${FROM_SHELL}-${UNSET:-d}\n")
    values = envfile.read(path).values
    assert (values["ROLE"], values["X"]) == (f"{ROLE}/app", "shell-d")


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("A=1\n\n\nnot a pair\n", 4),
        ('A=1\nB="never closed\nC=3\n', 2),
        ("# header\nA='x' trailing words\n", 2),
    ],
)
def test_a_line_python_dotenv_cannot_parse_is_a_usage_error_with_its_line(tmp_path: Path, text: str, line: int) -> None:
    message = usage_error(write(tmp_path, text))
    assert message.startswith(f"{tmp_path / 'prod.env'}:{line}: cannot parse this line; expected KEY=VALUE")


def test_a_bare_key_is_not_dropped_silently(tmp_path: Path) -> None:
    message = usage_error(write(tmp_path, "A=1\nDEVTOOLS_ECS_VPC_ID\n"))
    assert message == f"{tmp_path / 'prod.env'}:2: DEVTOOLS_ECS_VPC_ID has no value; expected KEY=VALUE"


def test_an_unreadable_file_is_a_usage_error(tmp_path: Path) -> None:
    assert usage_error(tmp_path / "missing.env").startswith(f"cannot read --env-file {tmp_path / 'missing.env'}")
    (tmp_path / "latin1.env").write_bytes(b"A=caf\xe9\n")
    assert "not UTF-8" in usage_error(tmp_path / "latin1.env")


def test_read_env_file_gives_the_values(tmp_path: Path) -> None:
    assert dict(envfile.read(write(tmp_path, "export A='b c'  # comment\n")).values) == {"A": "b c"}


def test_precedence_options_then_environment_then_env_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "DEVTOOLS_ECS_CLUSTER=from-file\n"
        "DEVTOOLS_ECS_REGION=eu-west-1\n"
        "DEVTOOLS_ECS_VPC_ID=vpc-file\n"
        f"DEVTOOLS_ECS_EXECUTION_ROLE_ARN={ROLE}/file-exec\n",
    )
    environ = {"DEVTOOLS_ECS_REGION": "us-east-2", "DEVTOOLS_ECS_VPC_ID": "vpc-shell"}
    settings = resolve(Options(vpc_id="vpc-option"), environ, project="mlstack", tag="t", env_file=envfile.read(path))
    assert settings.cluster == "from-file"  # only the file gives it
    assert settings.region == "us-east-2"  # the environment wins over the file
    assert settings.vpc_id == "vpc-option"  # an option wins over both
    assert settings.execution_role_arn == f"{ROLE}/file-exec"


def test_a_malformed_arn_names_the_env_file_line(tmp_path: Path) -> None:
    path = write(tmp_path, f"DEVTOOLS_ECS_REGION=eu-west-1\n\nDEVTOOLS_ECS_TASK_ROLE_ARN_SERVING={ROLE}/a#b\n")
    with pytest.raises(DevtoolsError) as caught:
        resolve(Options(), {}, project="mlstack", tag="t", env_file=envfile.read(path))
    assert caught.value.code is ExitCode.USAGE
    assert caught.value.message.startswith(
        f"{path}:3: DEVTOOLS_ECS_TASK_ROLE_ARN_SERVING '{ROLE}/a#b' is not an IAM role ARN"
    )


def test_a_malformed_arn_the_environment_overrides_is_named_as_the_environments(tmp_path: Path) -> None:
    path = write(tmp_path, f"DEVTOOLS_ECS_TASK_ROLE_ARN={ROLE}/from-file\n")
    environ = {"DEVTOOLS_ECS_TASK_ROLE_ARN": "arn:aws:iam::1:role/shell"}
    with pytest.raises(DevtoolsError) as caught:
        resolve(Options(), environ, project="mlstack", tag="t", env_file=envfile.read(path))
    assert caught.value.message.startswith(
        "environment variable DEVTOOLS_ECS_TASK_ROLE_ARN 'arn:aws:iam::1:role/shell'"
    )


def test_the_cli_exits_2_naming_the_file_and_line(
    docker: Any, tmp_path: Path, cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DEVTOOLS_ECS_EXECUTION_ROLE_ARN", raising=False)
    path = write(tmp_path, "# prod\nDEVTOOLS_ECS_EXECUTION_ROLE_ARN=arn:aws:iam::12345678901:role/exec  # ECS\n")
    result = cli("deploy", "render", "ecs", "--tag", "t", "--out", str(tmp_path / "out"), "--env-file", str(path))
    assert result.exit_code == 2
    assert result.stderr == (
        f"devtools: {path}:2: DEVTOOLS_ECS_EXECUTION_ROLE_ARN 'arn:aws:iam::12345678901:role/exec' is not an IAM "
        "role ARN, arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME (PARTITION aws, aws-cn or aws-us-gov; "
        "ACCOUNT 12 digits)\n"
    )
    assert not (tmp_path / "out").exists()
