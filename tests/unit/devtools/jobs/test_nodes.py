"""`devtools train --nodes`, without an engine: what it starts, how it names a failed node and its
ranks, and that it stops the others and removes every node (the process choke point replaced by a
fake engine whose node 1 dies). The real job: tests/docker/test_nodes.py."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from devtools import proc
from devtools.errors import DevtoolsError
from devtools.jobs import nodes as nodes_module
from devtools.jobs.nodes import Node, run_nodes
from devtools.stack.project import ComposeProject
from testing.cli_harness import FakeDocker, compose_args, recorded_config


def test_a_node_is_named_with_the_ranks_it_announced_and_its_own_last_words() -> None:
    node = Node(1, "mlstack-train-ab12-node-1", ["node 3f2a: ranks 2-3 of 4", "epoch 1/5 train_loss=1.2"])
    assert node.ranks == "2-3" and node.reason(137).startswith("killed (exit 137")
    node.lines.append("python -m training train (rank 2): error: rank 2: data file corrupt: /data/train.npz")
    assert node.reason(3) == "rank 2: data file corrupt: /data/train.npz"
    assert Node(0, "n0").ranks == "?"


class FakeEngine:
    """Compose runs start nodes; node 1 ends with 137 at once, node 0 runs until stopped."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.stopped = False

    def run(self, argv: Sequence[str], **_: object) -> proc.Completed:
        argv = list(argv)
        self.calls.append(argv)
        if argv[:2] == ["docker", "stop"]:
            self.stopped = True
        if argv[:3] == ["docker", "container", "inspect"]:
            found = []
            for name in argv[3:]:
                if name.endswith("-node-1"):
                    state = {"Status": "exited", "ExitCode": 137, "FinishedAt": "2026-12-05T10:00:01Z"}
                elif self.stopped:
                    state = {"Status": "exited", "ExitCode": 130, "FinishedAt": "2026-12-05T10:00:05Z"}
                else:
                    state = {"Status": "running", "ExitCode": 0, "FinishedAt": "0001-01-01T00:00:00Z"}
                found.append({"Name": f"/{name}", "State": state})
            return proc.Completed(tuple(argv), 0, json.dumps(found), "")
        return proc.Completed(tuple(argv), 0, "", "")

    def observe(self, argv: Sequence[str], *, on_stdout: Callable[[str], None], **_: object) -> proc.Completed:
        name = argv[-1]
        on_stdout(f"node {name[-6:]}: ranks {'2-3' if name.endswith('-1') else '0-1'} of 4\n")
        return proc.Completed(tuple(argv), 0, "", "")


def test_a_dead_node_fails_the_job_in_one_line_stops_the_others_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = FakeEngine()
    monkeypatch.setattr(proc, "run", engine.run)
    monkeypatch.setattr(proc, "observe", engine.observe)
    monkeypatch.setattr(nodes_module, "_POLL_S", 0.0)
    for name in [name for name in os.environ if name.startswith("TRAINING_")]:  # e.g. inside the devcontainer
        monkeypatch.delenv(name)
    monkeypatch.setenv("TRAINING_RDZV_TIMEOUT_S", "30")
    project = ComposeProject(tmp_path, "mlstack")
    shown: list[str] = []
    with pytest.raises(DevtoolsError) as error:
        run_nodes(project, 2, ["python", "-m", "training", "train", "--epochs", "9"], mlflow=None, report=shown.append)
    message = error.value.message
    assert error.value.code == 137
    assert message.startswith("node 1 (mlstack-train-") and "-node-1, ranks 2-3) failed: killed (exit 137" in message
    runs = [argv for argv in engine.calls if argv[:2] == ["docker", "compose"]]
    assert len(runs) == 2
    first = runs[0][runs[0].index("run") :]
    job_id = first[first.index("--label") + 1].split("=", 1)[1]
    assert first[:4] == ["run", "-d", "--name", f"{job_id}-node-0"]
    assert ["-e", "TRAINING_RDZV_TIMEOUT_S"] == first[6:8]  # the shell's TRAINING_* reach every node
    assert first[first.index("--entrypoint") :][:3] == ["--entrypoint", "python", "training"]
    assert first[first.index("training") + 1 :] == [
        "-m", "training", "train", "--epochs", "9", "--nnodes", "2", "--node-rank", "0",
        "--rdzv-endpoint", f"{job_id}-node-0:29400", "--rdzv-id", job_id,
    ]  # fmt: skip
    assert ["docker", "stop", "--time", "20", f"{job_id}-node-0"] in engine.calls  # the survivor stopped
    assert ["docker", "rm", "-f", f"{job_id}-node-0", f"{job_id}-node-1"] in engine.calls  # nothing left
    assert any(line.startswith("node 1 | node ") for line in shown)


def test_train_nodes_on_a_remote_engine_gives_the_job_mlflow_as_this_machine_reaches_it(
    docker: FakeDocker, stack_root: Path, cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The remote override publishes MLflow on the remote's loopback at a port the remote picks, so
    its own config names no URL here; the job must still end a dead node's run through the tunnel's
    local port (MLFLOW_PORT), or the run is left RUNNING."""
    monkeypatch.setenv("DOCKER_HOST", "ssh://me@gpu-box")
    monkeypatch.setenv("DEVTOOLS_REMOTE", "1")
    remote_file = str(stack_root / "docker-compose.remote.yml")
    docker.respond(
        lambda argv: compose_args(argv)[:1] == ["config"] and remote_file in argv,
        stdout=recorded_config(stack_root, "remote"),
    )
    given: dict[str, Any] = {}

    def fake_run_nodes(project: ComposeProject, count: int, job: Sequence[str], **kwargs: Any) -> int:
        given.update(kwargs, remote=project.remote)
        return 0

    monkeypatch.setattr(nodes_module, "run_nodes", fake_run_nodes)
    docker.allow(["ps"])  # training is not running: a one-off job
    result = cli("train", "--nodes", "2")
    assert result.exit_code == 0, result.output
    assert given["remote"] is True and given["mlflow"].url == "http://127.0.0.1:5000"
