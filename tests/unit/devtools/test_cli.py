"""The CLI's error boundary and parser: one line and a documented exit code for every failure, a traceback only
with DEVTOOLS_DEBUG=1, a cheap --help."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from testing.cli_harness import REPO, FakeDocker


def _console_script() -> str:
    return str(Path(sys.executable).with_name("devtools"))


def test_internal_error_is_one_line_unless_debug(docker: FakeDocker, cli, monkeypatch) -> None:
    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr("devtools.stack.start.start", boom)
    result = cli("up")
    assert result.exit_code == 70
    assert (
        result.stderr.strip() == "devtools: internal error: RuntimeError: boom (set DEVTOOLS_DEBUG=1 for the traceback)"
    )
    monkeypatch.setenv("DEVTOOLS_DEBUG", "1")
    result = cli("up")
    assert isinstance(result.exception, RuntimeError)


def test_debug_shows_traceback_for_user_errors(docker: FakeDocker, cli, monkeypatch) -> None:
    monkeypatch.setenv("DEVTOOLS_DEBUG", "1")
    result = cli("up", "nosuch")
    assert result.exit_code == 4
    assert "Traceback" in result.stderr


def test_console_script_exit_code_outside_a_repo(tmp_path) -> None:
    """The real entry point in a subprocess: exit code and one line, no traceback."""
    done = subprocess.run(
        [sys.executable, "-m", "devtools", "ps"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "DEVTOOLS_ROOT": str(tmp_path)},
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.strip() == f"devtools: DEVTOOLS_ROOT={tmp_path} has no docker-compose.yml"


def test_help_does_not_import_docker_sdk_mlflow_torch_or_yaml() -> None:
    code = (
        "import sys\n"
        "from devtools.cli import main\n"
        "sys.argv = ['devtools', '--help']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = sorted(m for m in ('docker', 'mlflow', 'torch', 'yaml') if m in sys.modules)\n"
        "print('HEAVY', heavy)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert "HEAVY []" in done.stdout


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (
            ["up", "--wait-timeout", "0"],
            "devtools up: error: Invalid value for '--wait-timeout': Input should be greater than or equal to 1 "
            "(see devtools up -h)",
        ),
        (["logs", "--bogus"], "devtools logs: error: No such option: --bogus (see devtools logs -h)"),
        (["nosuch"], "devtools: error: No such command 'nosuch'. (see devtools -h)"),
        (["--bogus"], "devtools: error: No such option: --bogus (Possible options: --verbose) (see devtools -h)"),
        (["shell"], "devtools shell: error: Missing argument 'service'. (see devtools shell -h)"),
        (
            ["deploy", "render", "ecs", "--arch", "sparc"],
            "devtools deploy render ecs: error: Invalid value for '--arch': Value error, 'sparc' is not one of "
            "'x86_64', 'arm64'. (see devtools deploy render ecs -h)",
        ),
    ],
)
def test_usage_errors_are_one_line_naming_the_help(args: list[str], line: str) -> None:
    # The installed console script in a real process: what a user sees, without CliRunner's handling.
    # Parsing fails before any docker command could run.
    done = subprocess.run([_console_script(), *args], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [line]


def test_bare_command_still_shows_the_help() -> None:
    done = subprocess.run([_console_script()], capture_output=True, text=True, timeout=60, check=False)
    assert "Usage: devtools [OPTIONS] COMMAND [ARGS]..." in done.stdout + done.stderr
    assert "error:" not in done.stdout + done.stderr


def test_the_readme_documents_every_exit_code() -> None:
    import re

    from devtools.errors import ExitCode

    table = (REPO / "README.md").read_text().split("### Exit codes", 1)[1].split("\n## ", 1)[0]
    documented = {int(code) for code in re.findall(r"^\| (\d+) \|", table, flags=re.M)}
    assert {int(code) for code in ExitCode} <= documented
