"""The executor's docker compose calls, with the choke point replaced and a fake docker SDK client."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cli_harness import FakeDocker, compose_args

from devtools.compose import ComposeProject
from devtools.watch.actions import Executor
from devtools.watch.planner import Planned
from devtools.watch.rules import Action, ServiceWatch, WatchRule


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
    return Executor(ComposeProject.dev(), watches, client=FakeClient(container)), watches


def _planned(root: Path, action: Action, watches: dict[str, ServiceWatch]) -> Planned:
    path = root / "services/serving/app.py"
    rules = tuple(r for r in watches["serving"].rules if r.action is action)
    return Planned("serving", action, "app.py changed", rules, (path,))


def test_restart_signals_the_app_process_and_reports_edit_to_ready(docker: FakeDocker, stack_root: Path) -> None:
    container = FakeContainer([], log=b"INFO x\nreload: ready in 0.120s (SIGHUP)\n")
    executor, watches = _executor(stack_root, container, restart_signal="HUP")
    outcome = executor.run(_planned(stack_root, Action.RESTART, watches), edited_at=executor.clock() - 0.2)
    assert outcome.ok and container.signals == ["HUP"]
    assert outcome.ready_s is not None and outcome.ready_s >= 0.2
    assert docker.calls == []  # a signal, not a container restart


def test_failed_reload_is_reported(docker: FakeDocker, stack_root: Path) -> None:
    container = FakeContainer([], log=b"reload failed (SIGHUP): the new worker exited with 1\n")
    executor, watches = _executor(stack_root, container, restart_signal="HUP")
    outcome = executor.run(_planned(stack_root, Action.RESTART, watches), edited_at=0.0)
    assert not outcome.ok and "reload failed" in outcome.detail


def test_rebuild_builds_and_recreates_only_that_service(docker: FakeDocker, stack_root: Path) -> None:
    executor, watches = _executor(stack_root, FakeContainer([]))
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
    executor.run(_planned(stack_root, Action.SYNC, watches), edited_at=0.0)
    source = stack_root / "services/serving/app.py"
    assert [compose_args(argv) for argv in docker.calls] == [["cp", str(source), "serving:/app/serving/app.py"]]
