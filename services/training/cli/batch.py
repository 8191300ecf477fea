"""Where this node stands in an AWS Batch multi-node parallel job, from the environment Batch gives each
node: the defaults of --nnodes, --node-rank and --rdzv-endpoint (deploy/README.md)."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class BatchNodes:
    count: int = 1
    rank: int = 0
    endpoint: str | None = None


def batch_nodes() -> BatchNodes:
    """An AWS Batch multi-node parallel job says where each node stands in its environment; the
    main node gets no address of its own (it is the one the others reach)."""
    try:
        count = int(os.environ.get("AWS_BATCH_JOB_NUM_NODES", "1"))
        rank = int(os.environ.get("AWS_BATCH_JOB_NODE_INDEX", "0"))
        main = int(os.environ.get("AWS_BATCH_JOB_MAIN_NODE_INDEX", "0"))
    except ValueError:
        return BatchNodes()
    if count <= 1:
        return BatchNodes()
    # The main node listens; the others reach it by the address Batch gives them. Only "is this the
    # main node" matters here (node 0 hosts the rendezvous): the ranks come from the rendezvous.
    address = os.environ.get("AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS") if rank != main else "0.0.0.0"
    return BatchNodes(count, 0 if rank == main else (rank or main), address)
