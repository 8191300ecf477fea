"""JupyterLab next to the stack: the `notebook` service of docker-compose.dev.yml (its own profile, so
`up` never starts it), from the training service's dev image: the same Python, torch and mlflow as
`devtools train`, MLFLOW_TRACKING_URI preset, the checkout at /workspace with services/ importable.

Two uses: a server for a person (`start`: the URL with its token), and one notebook run headless
(`execute`: nbclient in a one-off container, each cell's progress a line, a failing cell or a dead
kernel one line and an exit code), which is how CI and the Docker tier run the shipped notebooks.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from devtools import proc
from devtools.errors import DevtoolsError, ExitCode
from devtools.models.provenance import flags, job_environment
from devtools.remote.site import site_of
from devtools.stack.project import ComposeProject

SERVICE = "notebook"
PROFILE = "notebook"
CONTAINER_PORT = 8888
CELL_TIMEOUT_ENV = "NOTEBOOK_CELL_TIMEOUT"  # seconds a cell may run headless (the runner's default: 600)
WORKSPACE = "/workspace"  # where the checkout is mounted in the notebook container
RUNNER = Path(__file__).with_name("runner.py")

# What the runner's exit codes mean (runner.py sets them; its last stderr line says why).
_RUNNER_FAILED = {
    1: ExitCode.FAILURE,  # a cell raised
    3: ExitCode.UNHEALTHY,  # the kernel died (out of memory, a native crash, os._exit)
    4: ExitCode.UNHEALTHY,  # a cell ran past the timeout
}
_REASON = "error: "  # the prefix of the runner's one line saying why it failed


@dataclass(frozen=True)
class Lab:
    url: str  # with the token: what a browser opens
    root_dir: str


def with_notebook(project: ComposeProject) -> ComposeProject:
    return replace(project, profiles=(*project.profiles, PROFILE))


def _require_stack(project: ComposeProject) -> None:
    # The checkout is bind-mounted into the notebook container, which a remote engine cannot do; the
    # synced source volumes hold services/ only.
    site_of(project).require_checkout(
        "devtools notebook",
        "on a remote engine open the workspace with VS Code's Remote-SSH or the devcontainer, whose kernel is "
        "the training image's",
    )
    if "mlflow" not in project.running_services():
        raise DevtoolsError("the stack is not up: run `devtools up`, then `devtools notebook`", ExitCode.NOT_RUNNING)


def start(project: ComposeProject) -> Lab:
    """The JupyterLab server up (started, or the one already running), and where to open it."""
    _require_stack(project)
    project = with_notebook(project)
    # --no-deps: MLflow is up (checked), and the GPU or remote variants of the other services stay as
    # `up` made them. --wait: the healthcheck answers once the server accepts requests.
    project.run("up", "--detach", "--no-deps", "--wait", SERVICE, capture=True)
    listed = project.run("exec", "-T", SERVICE, "jupyter", "server", "list", "--json", capture=True)
    servers = [json.loads(line) for line in listed.stdout.splitlines() if line.strip().startswith("{")]
    if not servers:
        raise DevtoolsError("JupyterLab started but lists no server; see `devtools logs notebook`", ExitCode.UNHEALTHY)
    published = project.run("port", SERVICE, str(CONTAINER_PORT), capture=True).stdout.strip().splitlines()[0]
    token = str(servers[0].get("token") or "")
    return Lab(
        url=f"http://{published}/lab" + (f"?token={token}" if token else ""),
        root_dir=str(servers[0].get("root_dir") or WORKSPACE),
    )


def stop(project: ComposeProject) -> bool:
    """Stops and removes the server's container (one that failed to start too); False when none ran."""
    project = with_notebook(project)
    was_running = SERVICE in project.running_services()
    project.run("rm", "--stop", "--force", SERVICE, capture=True)
    return was_running


def notebook_in_checkout(root: Path, path: Path) -> str:
    """`path` as the notebook container sees it (under /workspace), refused when it is not a notebook
    in the checkout."""
    resolved = (path if path.is_absolute() else Path.cwd() / path).resolve()
    if resolved.suffix != ".ipynb":
        raise DevtoolsError(f"{path} is not a notebook (.ipynb)", ExitCode.USAGE)
    if not resolved.is_file():
        raise DevtoolsError(f"{path}: no such notebook", ExitCode.USAGE)
    try:
        inside = resolved.relative_to(root.resolve())
    except ValueError:
        raise DevtoolsError(
            f"{path} is outside the checkout ({root}); the notebook container sees the checkout only: copy it in",
            ExitCode.USAGE,
        ) from None
    return f"{WORKSPACE}/{inside.as_posix()}"


def execute(project: ComposeProject, path: Path, report: Callable[[str], None]) -> None:
    """Runs every code cell of `path` in a fresh kernel, in a one-off notebook container; `report` gets
    each progress line. A failing cell or a dead kernel: DevtoolsError with the runner's reason."""
    inside = notebook_in_checkout(project.root, path)
    _require_stack(project)
    reason: list[str] = []

    def relay(line: str) -> None:
        line = line.rstrip("\n")
        if line.startswith(_REASON):
            reason.append(line.removeprefix(_REASON))
        elif line:
            report(line)

    timeout = os.environ.get(CELL_TIMEOUT_ENV)
    passed = ["--env", f"{CELL_TIMEOUT_ENV}={timeout}"] if timeout else []
    # What made a run the notebook records through training's code (training.provenance reads it).
    made = job_environment(with_notebook(project), SERVICE, running=False)
    project = project.with_env(**made)
    argv = with_notebook(project).argv(
        "run", "--rm", "-T", "--no-deps", *passed, *flags(made), "--entrypoint", "python", SERVICE, "-c",
        RUNNER.read_text(), inside,
    )  # fmt: skip
    done = proc.observe(argv, env=project.env, on_stdout=relay, on_stderr=relay)
    if done.returncode == 0:
        return
    code = _RUNNER_FAILED.get(done.returncode)
    if code is None or not reason:  # Compose's own failure (the image is missing, ...), not the notebook's
        raise DevtoolsError(
            f"running {path} failed (exit {done.returncode}): {reason[-1] if reason else 'see the lines above'}",
            ExitCode.FAILURE,
        )
    raise DevtoolsError(reason[-1], code)
