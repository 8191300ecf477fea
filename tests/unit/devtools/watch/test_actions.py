"""The executor's docker compose calls, with the choke point replaced and a fake docker SDK client."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import pytest

from devtools.engine import api
from devtools.engine.api import EngineApi
from devtools.errors import DevtoolsError, ExitCode
from devtools.stack.project import ComposeProject
from devtools.watch.actions import Executor
from devtools.watch.planner import Planned
from devtools.watch.rules import Action, ServiceWatch, WatchRule
from testing.cli_harness import FakeDocker, compose_args


class FakeContainer:
    def __init__(self, processes: list[str], log: bytes = b"") -> None:
        self.processes = processes
        self.log = log
        self.signals: list[str] = []

    def top(self, ps_args: str) -> dict[str, Any]:
        return {"Processes": [["1", cmd] for cmd in self.processes]}

    def kill(self, signal: str) -> None:
        self.signals.append(signal)

    def logs(self, **kwargs: Any) -> bytes:
        return self.log


class FakeClient:
    def __init__(self, container: FakeContainer) -> None:
        self.containers = self
        self.container = container

    def list(self, **kwargs: Any) -> list[FakeContainer]:
        return [self.container]


def _executor(root: Path, container: FakeContainer, **watch: Any) -> tuple[Executor, dict[str, ServiceWatch]]:
    rules = (
        WatchRule("serving", root / "services/serving", Action.RESTART, from_extension=True),
        WatchRule("serving", root / "services/serving", Action.SYNC, target="/app/serving"),
    )
    watches = {"serving": ServiceWatch(rules, **watch)}
    return Executor(ComposeProject.dev(), watches, engine=EngineApi(FakeClient(container))), watches


def _planned(root: Path, action: Action, watches: dict[str, ServiceWatch]) -> Planned:
    path = root / "services/serving/app.py"
    rules = tuple(r for r in watches["serving"].rules if r.action is action)
    return Planned("serving", action, "app.py changed", rules, (path,))


class SteppingClock:
    """A monotonic clock that advances `step` seconds on every reading."""

    def __init__(self, start: float, step: float) -> None:
        self.now, self.step = start, step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def test_restart_signals_the_app_process_and_reports_edit_to_ready(docker: FakeDocker, stack_root: Path) -> None:
    container = FakeContainer([], log=b"INFO x\nreload: ready in 0.120s (SIGHUP)\n")
    executor, watches = _executor(stack_root, container, restart_signal="HUP")
    executor.clock = SteppingClock(start=100.0, step=0.5)
    # Readings: 100.5 (deadline), 101.0 (loop check), 101.5 (ready line seen): edit at 99.0 -> 2.5 s.
    outcome = executor.run(_planned(stack_root, Action.RESTART, watches), edited_at=99.0)
    assert outcome.ok and container.signals == ["HUP"]
    assert outcome.detail == "reload: ready in 0.120s (SIGHUP)"
    assert outcome.ready_s == pytest.approx(2.5)
    assert docker.calls == []  # a signal, not a container restart


def test_failed_reload_is_reported(docker: FakeDocker, stack_root: Path) -> None:
    container = FakeContainer([], log=b"reload failed (SIGHUP): the new worker exited with 1\n")
    executor, watches = _executor(stack_root, container, restart_signal="HUP")
    outcome = executor.run(_planned(stack_root, Action.RESTART, watches), edited_at=0.0)
    assert not outcome.ok and "reload failed" in outcome.detail


def test_rebuild_builds_and_recreates_only_that_service(docker: FakeDocker, stack_root: Path) -> None:
    executor, watches = _executor(stack_root, FakeContainer([]))
    docker.allow(["build"], ["up"])
    outcome = executor.run(_planned(stack_root, Action.REBUILD, watches), edited_at=0.0)
    assert outcome.ok
    assert docker.compose_calls() == [["build", "serving"], ["up", "--detach", "--no-deps", "--wait", "serving"]]


def test_rebuild_is_deferred_while_a_protected_job_runs(docker: FakeDocker, stack_root: Path) -> None:
    container = FakeContainer(["sleep infinity", "python -m training train --epochs 30"])
    executor, watches = _executor(stack_root, container, never_interrupt=("python -m training",))
    outcome = executor.run(_planned(stack_root, Action.REBUILD, watches), edited_at=0.0)
    assert not outcome.ok and outcome.detail.startswith("deferred: 'python -m training train")
    assert docker.calls == []


def test_sync_copies_into_the_target(docker: FakeDocker, stack_root: Path) -> None:
    executor, watches = _executor(stack_root, FakeContainer([]))
    docker.allow(["cp"])
    executor.run(_planned(stack_root, Action.SYNC, watches), edited_at=0.0)
    source = stack_root / "services/serving/app.py"
    assert [compose_args(argv) for argv in docker.calls] == [["cp", str(source), "serving:/app/serving/app.py"]]


# --- the watcher reaches the engine as the CLI does, and its errors are the CLI's ----------------------


class UnreachableClient:
    """An SDK client whose every call fails as the SDK does when the daemon's socket is gone."""

    def __init__(self, error: Exception) -> None:
        self.containers = self
        self.error = error

    def list(self, **kwargs: Any) -> list[Any]:
        raise self.error


def test_an_unreachable_engine_is_a_one_line_error_with_the_documented_code(
    docker: FakeDocker, stack_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import docker.errors as sdk_errors

    monkeypatch.setenv("DOCKER_HOST", "unix:///run/nowhere.sock")
    gone = sdk_errors.DockerException(
        "Error while fetching server API version: ('Connection aborted.', FileNotFoundError(2, 'No such file'))"
    )
    engine = EngineApi(UnreachableClient(gone))
    with pytest.raises(DevtoolsError) as raised:
        engine.containers("mlstack", "serving")
    assert raised.value.code is ExitCode.DOCKER_UNAVAILABLE
    assert raised.value.message.startswith("the Docker engine at unix:///run/nowhere.sock is not reachable (")
    assert raised.value.message.endswith("start Docker (Docker Desktop, or 'sudo systemctl start docker')")
    assert "\n" not in raised.value.message


def test_an_engine_refusal_is_a_failure_and_the_watcher_reports_it_as_the_outcome(
    docker: FakeDocker, stack_root: Path
) -> None:
    import docker.errors as sdk_errors

    refused = sdk_errors.APIError("409 Client Error", explanation="container abc is not running")
    executor, watches = _executor(stack_root, FakeContainer([]), restart_signal="HUP")
    executor.engine = EngineApi(UnreachableClient(refused))
    outcome = executor.run(_planned(stack_root, Action.RESTART, watches), edited_at=0.0)
    assert not outcome.ok and outcome.detail == "the Docker engine refused: container abc is not running"


def test_permission_denied_names_the_docker_group(docker: FakeDocker, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///var/run/docker.sock")
    engine = EngineApi(UnreachableClient(PermissionError(13, "Permission denied")))
    with pytest.raises(DevtoolsError) as raised:
        engine.containers("mlstack")
    assert (
        raised.value.code is ExitCode.DOCKER_UNAVAILABLE
        and "add yourself to the 'docker' group" in raised.value.message
    )


class RecordingSdk:
    """Stands in for docker.DockerClient / docker.from_env: records how the watcher connects."""

    made: ClassVar[list[dict[str, Any]]] = []

    def __init__(self, **kwargs: Any) -> None:
        RecordingSdk.made.append(kwargs)


def test_without_docker_host_the_sdk_uses_the_clis_current_context(
    docker: FakeDocker, monkeypatch: pytest.MonkeyPatch
) -> None:
    import docker as sdk

    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.setenv("DOCKER_CONTEXT", "gpu-box")  # `docker context use gpu-box` says it in config.json
    docker.respond(lambda argv: argv[:3] == ["docker", "context", "inspect"], stdout="ssh://me@gpu-box\n")
    monkeypatch.setattr("shutil.which", lambda name: f"/usr/bin/{name}" if name == "docker" else None)
    monkeypatch.setattr(sdk.context.ContextAPI, "get_current_context", staticmethod(lambda: None))
    monkeypatch.setattr(sdk, "DockerClient", RecordingSdk)
    RecordingSdk.made = []
    api.cli_client()
    assert RecordingSdk.made == [
        {"base_url": "ssh://me@gpu-box", "tls": False, "use_ssh_client": True, "timeout": api.CALL_TIMEOUT_S}
    ]


def test_the_default_context_needs_no_docker_call(docker: FakeDocker, monkeypatch: pytest.MonkeyPatch) -> None:
    from devtools.engine import facts

    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.delenv("DOCKER_CONTEXT", raising=False)
    monkeypatch.setenv("DOCKER_CONFIG", str(docker.root / "no-docker-config"))
    assert facts.Engine().endpoint == facts.DEFAULT_ENDPOINT and facts.Engine().remote is None
    assert not docker.calls  # every devtools command asks this: it must cost nothing


def test_docker_host_wins_as_for_the_cli(docker: FakeDocker, monkeypatch: pytest.MonkeyPatch) -> None:
    import docker as sdk

    monkeypatch.setenv("DOCKER_HOST", "tcp://gpu-box.example:2376")
    made: list[dict[str, object]] = []
    monkeypatch.setattr(sdk, "from_env", lambda **options: made.append(options) or "client")
    assert api.cli_client() == "client" and made == [{"use_ssh_client": False, "timeout": api.CALL_TIMEOUT_S}]
    monkeypatch.setenv("DOCKER_HOST", "ssh://me@gpu-box")
    assert api.cli_client() == "client" and made[-1]["use_ssh_client"] is True  # ssh(1), as the CLI
    assert not [argv for argv in docker.calls if argv[:2] == ["docker", "context"]]  # the CLI's rule: no context
