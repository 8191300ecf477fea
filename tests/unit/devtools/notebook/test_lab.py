"""devtools notebook: the server's start (profile, no deps, the URL with its token), the headless run's
argv and its one-line failures, bad paths and an occupied port."""

from __future__ import annotations

import json
from pathlib import Path

from devtools.notebook import lab as lab
from testing.cli_harness import FakeDocker, compose_args

SERVER_LIST = json.dumps(
    {"base_url": "/", "port": 8888, "root_dir": "/workspace", "token": "0123abcd", "url": "http://a1b2:8888/"}
)


def _stack_up(docker: FakeDocker) -> None:
    docker.respond_to(["ps", "--status", "running"], stdout="mlflow\nserving\ntraining\n")
    docker.allow(["up"], ["rm"])


def _notebook(root: Path, name: str = "notebooks/explore.ipynb") -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}')
    return path


def test_the_server_starts_in_its_profile_and_prints_the_url_with_the_token(docker: FakeDocker, cli) -> None:
    _stack_up(docker)
    docker.respond_to(["exec", "-T", "notebook", "jupyter", "server", "list"], stdout=SERVER_LIST + "\n")
    docker.respond_to(["port", "notebook", "8888"], stdout="127.0.0.1:8888\n")
    result = cli("notebook")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == "JupyterLab: http://127.0.0.1:8888/lab?token=0123abcd"
    up = next(argv for argv in docker.calls if compose_args(argv)[:1] == ["up"])
    # The profile that holds the service, and nothing else of the stack touched (--no-deps).
    assert up[up.index("--profile") + 1] == "notebook"
    assert compose_args(up) == ["up", "--detach", "--no-deps", "--wait", "notebook"]


def test_without_the_stack_the_notebook_says_so(docker: FakeDocker, cli) -> None:
    docker.allow(["ps"])  # nothing runs
    result = cli("notebook")
    assert result.exit_code == 8
    assert result.stderr.strip() == "devtools: the stack is not up: run `devtools up`, then `devtools notebook`"
    assert not any(compose_args(argv)[:1] == ["up"] for argv in docker.calls)


def test_an_occupied_notebook_port_is_one_line_naming_the_fix(docker: FakeDocker, cli) -> None:
    _stack_up(docker)
    docker.respond_to(
        ["up"],
        returncode=1,
        stderr="Error response from daemon: driver failed programming external connectivity on endpoint "
        "mlstack-notebook-1: Bind for 127.0.0.1:8888 failed: port is already allocated\n",
    )
    result = cli("notebook")
    assert result.exit_code == 5
    assert len(result.stderr.strip().splitlines()) == 1
    assert "8888" in result.stderr and "already in use" in result.stderr and ".env" in result.stderr


def test_a_headless_run_sends_the_runner_into_a_one_off_container(docker: FakeDocker, cli, stack_root) -> None:
    _stack_up(docker)
    notebook = _notebook(stack_root)
    docker.respond_to(["run"], stderr="notebook: running notebooks/explore.ipynb (1 code cells)\n  cell 1/1 ran\n")
    result = cli("notebook", "--run", str(notebook))
    assert result.exit_code == 0, result.output
    run = next(compose_args(argv) for argv in docker.calls if compose_args(argv)[:1] == ["run"])
    assert run[:8] == ["run", "--rm", "-T", "--no-deps", "--entrypoint", "python", "notebook", "-c"]
    assert run[8] == lab.RUNNER.read_text() and run[9] == "/workspace/notebooks/explore.ipynb"
    assert "cell 1/1 ran" in result.stderr


def test_a_failing_cell_is_its_one_line_and_exit_1(docker: FakeDocker, cli, stack_root) -> None:
    _stack_up(docker)
    notebook = _notebook(stack_root)
    why = "cell 2 of notebooks/explore.ipynb raised ValueError: boom (fix it and run again)"
    docker.respond_to(["run"], returncode=1, stderr=f"  cell 1/2 ran\nerror: {why}\n")
    result = cli("notebook", "--run", str(notebook))
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == f"devtools: {why}"


def test_a_dead_kernel_is_exit_7(docker: FakeDocker, cli, stack_root) -> None:
    _stack_up(docker)
    notebook = _notebook(stack_root)
    docker.respond_to(["run"], returncode=3, stderr="error: the kernel died in cell 1 of notebooks/explore.ipynb\n")
    result = cli("notebook", "--run", str(notebook))
    assert result.exit_code == 7 and "the kernel died in cell 1" in result.stderr.splitlines()[-1]


def test_paths_that_are_not_notebooks_in_the_checkout_are_refused(
    docker: FakeDocker, cli, stack_root, tmp_path
) -> None:
    _stack_up(docker)
    (stack_root / "notes.txt").write_text("")
    outside = _notebook(tmp_path, "elsewhere.ipynb")
    for path, said in (
        (stack_root / "notes.txt", "is not a notebook (.ipynb)"),
        (stack_root / "missing.ipynb", "no such notebook"),
        (outside, "is outside the checkout"),
    ):
        result = cli("notebook", "--run", str(path))
        assert result.exit_code == 2 and said in result.stderr, (path, result.output)
    assert not any(compose_args(argv)[:1] == ["run"] for argv in docker.calls)


def test_stop_removes_only_the_notebook(docker: FakeDocker, cli) -> None:
    docker.respond_to(["ps", "--status", "running"], stdout="mlflow\nnotebook\n")
    docker.allow(["rm"])
    assert cli("notebook", "--stop").stdout.strip() == "notebook: stopped"
    assert ["rm", "--stop", "--force", "notebook"] in docker.compose_calls()


def test_the_cell_timeout_reaches_the_runner(docker: FakeDocker, cli, stack_root, monkeypatch) -> None:
    _stack_up(docker)
    monkeypatch.setenv("NOTEBOOK_CELL_TIMEOUT", "5")
    cli("notebook", "--run", str(_notebook(stack_root)))
    run = next(compose_args(argv) for argv in docker.calls if compose_args(argv)[:1] == ["run"])
    assert run[run.index("--env") + 1] == "NOTEBOOK_CELL_TIMEOUT=5"
