"""devtools notebook against the real stack: JupyterLab from the training dev image behind its token, the
shipped notebook run headless through a real kernel (MLflow, the champion, serving), and a failing cell,
a dead kernel and an occupied port each one line with its exit code."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from testing.stack_harness import REPO, Stack, free_port, http_status


@pytest.fixture(scope="module")
def lab(stack: Stack) -> Iterator[tuple[Stack, str]]:
    env = {**stack.env, "NOTEBOOK_PORT": str(free_port())}
    running = Stack(env)
    started = running.devtools("notebook", timeout=600)
    url = started.stdout.splitlines()[0].removeprefix("JupyterLab: ")
    yield running, url
    running.devtools("notebook", "--stop", check=False)


def test_jupyterlab_answers_behind_its_token_on_the_chosen_port(lab: tuple[Stack, str]) -> None:
    running, url = lab
    base, _, token = url.partition("/lab?token=")
    assert base == f"http://127.0.0.1:{running.env['NOTEBOOK_PORT']}" and token
    assert http_status(f"{base}/api/status?token={token}") == 200
    assert http_status(f"{base}/api/status") in (401, 403)  # the token is what lets a browser in
    # The kernel the server offers is the image's ipykernel, and a second call finds the same server.
    with urllib.request.urlopen(f"{base}/api/kernelspecs?token={token}", timeout=10) as response:
        assert "python3" in json.loads(response.read())["kernelspecs"]
    assert running.devtools("notebook").stdout.splitlines()[0] == f"JupyterLab: {url}"


def test_the_shipped_notebook_runs_headless_against_the_stack(stack: Stack) -> None:
    done = stack.devtools("notebook", "--run", "notebooks/explore.ipynb", timeout=900)
    code_cells = sum(
        cell["cell_type"] == "code" for cell in json.loads((REPO / "notebooks/explore.ipynb").read_text())["cells"]
    )
    assert f"ran {code_cells} cells" in done.stderr.splitlines()[-1], done.stderr


@pytest.fixture
def scratch_notebook() -> Iterator[Path]:
    path = REPO / "notebooks" / ".scratch-test.ipynb"
    yield path
    path.unlink(missing_ok=True)


def _write(path: Path, *sources: str) -> None:
    cells = [
        {"cell_type": "code", "id": f"c{i}", "metadata": {}, "execution_count": None, "outputs": [], "source": source}
        for i, source in enumerate(sources)
    ]
    kernel = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    path.write_text(json.dumps({"cells": cells, "metadata": kernel, "nbformat": 4, "nbformat_minor": 5}))


def test_a_failing_cell_is_one_line_and_exit_1(stack: Stack, scratch_notebook: Path) -> None:
    _write(scratch_notebook, "x = 1", "raise ValueError('boom')", "never = 'reached'")
    done = stack.devtools("notebook", "--run", str(scratch_notebook), check=False, timeout=600)
    assert done.returncode == 1, done.stderr
    assert done.stderr.splitlines()[-1] == (
        "devtools: cell 2 of notebooks/.scratch-test.ipynb raised ValueError: boom (fix it and run again)"
    )
    assert "Traceback" not in done.stderr


def test_a_dead_kernel_is_one_line_and_exit_7(stack: Stack, scratch_notebook: Path) -> None:
    _write(scratch_notebook, "import os, signal", "os.kill(os.getpid(), signal.SIGKILL)")
    done = stack.devtools("notebook", "--run", str(scratch_notebook), check=False, timeout=600)
    assert done.returncode == 7, done.stderr
    assert done.stderr.splitlines()[-1].startswith(
        "devtools: the kernel died in cell 2 of notebooks/.scratch-test.ipynb"
    )


def test_an_occupied_notebook_port_is_one_line_and_exit_5(lab: tuple[Stack, str]) -> None:
    running, _ = lab
    running.devtools("notebook", "--stop")
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        done = Stack({**running.env, "NOTEBOOK_PORT": str(taken)}).devtools("notebook", check=False)
    assert done.returncode == 5, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and str(taken) in done.stderr
