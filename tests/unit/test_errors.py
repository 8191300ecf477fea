"""Every failure a user can hit ends in one line on stderr and its documented exit code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from devtools import proc
from devtools.errors import DevtoolsError
from testing.cli_harness import FIXTURES, REPO, FakeDocker


@pytest.mark.parametrize(
    ("fixture", "code", "says"),
    [
        ("daemon_down.txt", 3, "the Docker daemon is not reachable at unix:///var/run/docker.sock"),
        ("daemon_permission.txt", 3, "no permission to use the Docker daemon"),
        (
            "ssh_unreachable.txt",  # DOCKER_HOST=ssh://root@127.0.0.1:1 docker compose ps
            3,
            "the Docker engine's host 127.0.0.1:1 is not reachable over SSH (Connection refused); check that it is up "
            "and that `ssh -p 1 127.0.0.1 docker version` works",
        ),
        ("compose_missing.txt", 3, "Compose v2"),
        ("unknown_service.txt", 4, "unknown service 'nosuch'"),
        ("not_running.txt", 8, "service 'serving' is not running"),
        ("port_in_use.txt", 5, "port 5000 on 127.0.0.1 is already in use"),
        ("port_allocated.txt", 5, "port 8080 on 127.0.0.1 is already in use"),
        ("build_bad_target.txt", 6, "build failed: the Dockerfile has no stage 'nosuchstage'"),
        (
            "build_failed.txt",
            6,
            "build failed: '/bin/sh -c pip install this-package-does-not-exist-xyz' ended with exit code: 1",
        ),
        (
            "build_no_qemu.txt",  # an arm64 build with no emulator registered (binfmt_misc handler off)
            6,
            "build failed: the engine cannot run programs of the target platform (/bin/sh: exec format error); "
            "register QEMU",
        ),
        (
            "build_base_unreachable.txt",  # an arm64 build of FROM python:3.11-slim with no registry reachable
            6,
            "build failed: the image docker.io/library/python:3.11-slim could not be fetched (no such host); "
            "pull it where a registry answers, or build from a local image: PYTHON_IMAGE, or "
            "PYTHON_IMAGE_<OS>_<ARCH>",
        ),
        ("unhealthy.txt", 7, "container ctxtest-sick-1 did not become healthy"),
        ("oneshot_failed.txt", 7, "the one-shot service 'seed' failed with exit code 4; see 'devtools logs seed'"),
    ],
)
def test_recorded_stderr_becomes_one_actionable_line(
    docker: FakeDocker, cli, fixture: str, code: int, says: str
) -> None:
    docker.respond_to(["up"], stderr=(FIXTURES / "stderr" / fixture).read_text(), returncode=1)
    result = cli("up", "--no-build")
    assert result.exit_code == code
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("devtools: ") and says in lines[0]
    assert "Traceback" not in result.output


def test_only_compose_v1_is_named(monkeypatch) -> None:
    monkeypatch.setattr("shutil.which", lambda name: "/usr/bin/docker-compose" if name == "docker-compose" else None)
    error = proc.classify(("docker", "compose"), 1, (FIXTURES / "stderr" / "compose_missing.txt").read_text())
    assert error.code == 3 and "only Compose v1" in error.message


def test_unknown_failure_keeps_what_docker_said(docker: FakeDocker, cli) -> None:
    docker.respond_to(["up"], stderr="something odd\nError response from daemon: disk quota exceeded\n", returncode=17)
    result = cli("up", "--no-build")
    assert result.exit_code == 1
    assert result.stderr.strip().endswith("failed with exit code 17: Error response from daemon: disk quota exceeded")


def test_missing_docker_cli_inside_a_container_says_run_it_on_the_host(monkeypatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr("devtools.stderr._inside_container", lambda: True)
    with pytest.raises(DevtoolsError) as caught:
        proc.run(["docker", "ps"], capture=True)
    assert caught.value.code == 3 and "run this devtools command on the host" in caught.value.message


def test_missing_docker_cli(monkeypatch) -> None:
    monkeypatch.setattr("devtools.stderr._inside_container", lambda: False)
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(DevtoolsError) as caught:
        proc.run(["docker", "version"], capture=True)
    assert caught.value.code == 3 and "docker CLI was not found" in caught.value.message


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


def _console_script() -> str:
    return str(Path(sys.executable).with_name("devtools"))


def test_bare_command_still_shows_the_help() -> None:
    done = subprocess.run([_console_script()], capture_output=True, text=True, timeout=60, check=False)
    assert "Usage: devtools [OPTIONS] COMMAND [ARGS]..." in done.stdout + done.stderr
    assert "error:" not in done.stdout + done.stderr
