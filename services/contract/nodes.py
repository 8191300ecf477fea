"""The multi-node protocol between a training job and whoever runs it (`devtools train --nodes`): the
lines training prints on stderr and devtools reads back, written and parsed here only.

- Each node's first worker announces which global ranks run on it, so a node that dies can be named
  with its ranks: `node HOST: ranks FIRST-LAST of WORLD`.
- Rank 0 says which MLflow run it records as soon as the run starts, so the run can be ended FAILED
  even when the node holding rank 0 is the one that died: `mlflow: run_id=<32 hex> started`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Set by training's launcher for the workers of a multi-node job: how many nodes the job has. Only such
# jobs print the lines above (a one-node job has nobody to tell).
NODES_ENV = "TRAINING_NODES"
# Where node 0 hosts the c10d rendezvous unless --rdzv-endpoint names a port (torchrun's default).
RDZV_PORT = 29400

_ANNOUNCE = re.compile(r"node (\S+): ranks (\d+)-(\d+) of (\d+)")
_RUN_STARTED = re.compile(r"mlflow: run_id=([0-9a-f]{32}) started")


@dataclass(frozen=True)
class NodeAnnounce:
    """One node of a job and the global ranks running on it."""

    node: str  # its host name (a container's name in dev)
    first_rank: int
    last_rank: int
    world_size: int

    def line(self) -> str:
        return f"node {self.node}: ranks {self.first_rank}-{self.last_rank} of {self.world_size}"


def parse_announce(line: str) -> NodeAnnounce | None:
    """The announcement a line of a node's output makes, or None when it makes none."""
    match = _ANNOUNCE.fullmatch(line.strip())
    if match is None:
        return None
    node, first, last, world = match.groups()
    return NodeAnnounce(node, int(first), int(last), int(world))


def run_started_line(run_id: str) -> str:
    """What rank 0 prints when it has started the job's MLflow run."""
    if not re.fullmatch(r"[0-9a-f]{32}", run_id):
        raise ValueError(f"not an MLflow run id: {run_id!r}")
    return f"mlflow: run_id={run_id} started"


def parse_run_started(line: str) -> str | None:
    """The run id a line of a node's output says was started, or None when it says none."""
    match = _RUN_STARTED.fullmatch(line.strip())
    return match.group(1) if match else None
