"""`devtools train --nodes M`: one training job over M nodes, in dev M containers on the Compose network.

Each node is a one-off container of the training service (`docker compose run -d`) running the same
`python -m training train --nnodes M --rdzv-endpoint NODE0:29400 ...`: node 0 hosts the c10d rendezvous
(no `--standalone`), the training data volume is the same for all of them, MLflow is the stack's.
TRAINING_* variables set where devtools runs reach every node. devtools streams every node's output
(prefixed with the node), waits for all of them and exits with the job's code. The first node to fail
is the root cause: one line names it, its ranks (each node says which it runs) and why; the other
nodes are stopped (their launchers stop their workers), the MLflow run is ended FAILED even when the
node holding rank 0 was the one that died, and every node's container is removed: nothing is left
running anywhere.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from contract.nodes import RDZV_PORT, parse_announce, parse_run_started

from devtools import proc
from devtools.engine import inspect
from devtools.errors import DevtoolsError
from devtools.models.mlflow_api import MlflowApi
from devtools.stack.project import ComposeProject

_POLL_S = 0.5

Report = Callable[[str], None]


@dataclass
class Node:
    index: int
    container: str
    lines: list[str] = field(default_factory=list)

    @property
    def ranks(self) -> str:
        """`2-3` as the node announced them (contract.nodes), `?` before it did."""
        for line in self.lines:
            if (said := parse_announce(line)) is not None:
                first, last = said.first_rank, said.last_rank
                return f"{first}-{last}" if first != last else str(first)
        return "?"

    def reason(self, code: int) -> str:
        """Why it failed, in its own last words (the training job's one-line error), else its exit."""
        said = [line.strip() for line in self.lines if line.strip() and not line.startswith("epoch ")]
        errors = [line for line in said if "error:" in line]
        if errors:
            return errors[-1].split("error: ", 1)[1]
        if code >= 128 or code == 137:
            return f"killed (exit {code}: the container was stopped or died)"
        return f"exit {code}" + (f": {said[-1]}" if said else "")


def run_nodes(
    project: ComposeProject,
    count: int,
    job: Sequence[str],
    *,
    mlflow: MlflowApi | None,
    report: Report,
    passed: Sequence[str] = (),
) -> int:
    """Runs `job` (python -m training train ...) on `count` nodes; the job's exit code. `passed`: more
    variables of the project's environment every node gets (the job's provenance)."""
    job_id = f"{project.name}-train-{uuid.uuid4().hex[:8]}"
    nodes = [Node(index, f"{job_id}-node-{index}") for index in range(count)]
    endpoint = f"{nodes[0].container}:{RDZV_PORT}"
    try:
        for node in nodes:
            argv = [*job, "--nnodes", str(count), "--node-rank", str(node.index)]
            argv += ["--rdzv-endpoint", endpoint, "--rdzv-id", job_id]
            project.run(
                "run", "-d", "--name", node.container, "--label", f"devtools.train-job={job_id}", *_passed_env(passed),
                "--entrypoint", argv[0], "training", *argv[1:], capture=True,
            )  # fmt: skip
        report(f"train: {count} nodes ({', '.join(n.container for n in nodes)}), rendezvous at {endpoint}")
        followers = [threading.Thread(target=_follow, args=(node, report), daemon=True) for node in nodes]
        for follower in followers:
            follower.start()
        codes = _wait(nodes)
        failed = _first_failure(nodes, codes)
        if failed is not None:
            _stop([node for node in nodes if codes.get(node.index) is None])
            codes = _wait(nodes)
        for follower in followers:
            follower.join(timeout=10)
    except KeyboardInterrupt:
        _stop(nodes)
        _end_run_failed(nodes, mlflow)
        raise
    finally:
        proc.run(["docker", "rm", "-f", *(node.container for node in nodes)], capture=True, check=False)
    if failed is None:
        return 0
    _end_run_failed(nodes, mlflow)
    code = codes[failed.index] or 1
    raise DevtoolsError(
        f"node {failed.index} ({failed.container}, ranks {failed.ranks}) failed: {failed.reason(code)}; the job "
        "stopped on every node",
        128 + 9 if code == 137 else code,  # the job's own code; a killed node as a shell reports SIGKILL
    )


def _passed_env(passed: Sequence[str]) -> list[str]:
    """TRAINING_* settings of this shell reach every node (TRAINING_RDZV_TIMEOUT_S, ...), and `passed`."""
    names = sorted({*(name for name in os.environ if name.startswith("TRAINING_")), *passed})
    return [flag for name in names for flag in ("-e", name)]


def _follow(node: Node, report: Report) -> None:
    """Streams the node's output, each line prefixed with it, and keeps it."""
    done = proc.observe(
        ["docker", "logs", "-f", node.container],
        on_stdout=lambda line: _keep(node, line, report),
        on_stderr=lambda line: _keep(node, line, report),
    )
    del done


def _keep(node: Node, line: str, report: Report) -> None:
    node.lines.append(line.rstrip("\n"))
    report(f"node {node.index} | {line.rstrip()}")


def _states(nodes: Sequence[Node]) -> dict[int, tuple[str, int, str]]:
    """Per node: (status, exit code, finished at), from the engine; a node it does not know is absent."""
    found = inspect.containers(*(node.container for node in nodes))
    return {
        node.index: (facts.status, facts.exit_code, facts.finished_at)
        for node in nodes
        if (facts := found.get(node.container)) is not None
    }


def _wait(nodes: Sequence[Node]) -> dict[int, int | None]:
    """Until every node has exited, or one failed: exit codes (None for a node still running)."""
    while True:
        states = _states(nodes)
        codes = {
            n.index: (states[n.index][1] if states.get(n.index, ("exited",))[0] != "running" else None) for n in nodes
        }
        if all(code is not None for code in codes.values()) or any(code for code in codes.values()):
            return codes
        time.sleep(_POLL_S)


def _first_failure(nodes: Sequence[Node], codes: dict[int, int | None]) -> Node | None:
    """The node that failed first (by when it ended), the job's root cause; None when none failed."""
    failed = [n for n in nodes if codes.get(n.index)]
    if not failed:
        return None
    states = _states(failed)
    return min(failed, key=lambda n: states.get(n.index, ("", 0, "9"))[2])


def _stop(nodes: Sequence[Node]) -> None:
    """SIGTERM: each node's launcher stops its workers (rank 0, where it runs, ends the run FAILED)."""
    if nodes:
        proc.run(["docker", "stop", "--time", "20", *(n.container for n in nodes)], capture=True, check=False)


def _end_run_failed(nodes: Sequence[Node], api: MlflowApi | None) -> None:
    """The run of a job whose rank 0 died with its node stays RUNNING: end it FAILED."""
    run_ids = {run_id for node in nodes for line in node.lines if (run_id := parse_run_started(line))}
    if api is None:
        return
    for run_id in run_ids:
        try:
            api.end_if_open(run_id)
        except DevtoolsError:
            continue  # MLflow unreachable: the job's own error line already says what failed
