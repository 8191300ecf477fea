"""training.cli.batch: an AWS Batch multi-node parallel job's environment as the node defaults of
--nnodes, --node-rank and --rdzv-endpoint."""

from __future__ import annotations

import pytest
from training.cli.batch import BatchNodes, batch_nodes
from training.cli.parser import build_parser

BATCH = ("AWS_BATCH_JOB_NUM_NODES", "AWS_BATCH_JOB_NODE_INDEX", "AWS_BATCH_JOB_MAIN_NODE_INDEX",
         "AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS")  # fmt: skip


@pytest.fixture(autouse=True)
def _no_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in BATCH:
        monkeypatch.delenv(variable, raising=False)


def _batch(monkeypatch: pytest.MonkeyPatch, nodes: int, index: int, main: int = 0) -> None:
    monkeypatch.setenv("AWS_BATCH_JOB_NUM_NODES", str(nodes))
    monkeypatch.setenv("AWS_BATCH_JOB_NODE_INDEX", str(index))
    monkeypatch.setenv("AWS_BATCH_JOB_MAIN_NODE_INDEX", str(main))
    monkeypatch.setenv("AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS", "10.0.1.7")


def test_outside_batch_one_node() -> None:
    assert batch_nodes() == BatchNodes(1, 0, None)
    args = build_parser().parse_args(["train"])
    assert (args.nnodes, args.node_rank, args.rdzv_endpoint) == (1, 0, None)


def test_the_main_node_hosts_the_rendezvous_on_every_address(monkeypatch: pytest.MonkeyPatch) -> None:
    _batch(monkeypatch, 3, 0)
    assert batch_nodes() == BatchNodes(3, 0, "0.0.0.0")
    args = build_parser().parse_args(["train"])
    assert (args.nnodes, args.node_rank, args.rdzv_endpoint) == (3, 0, "0.0.0.0")


def test_the_other_nodes_reach_the_main_nodes_address(monkeypatch: pytest.MonkeyPatch) -> None:
    _batch(monkeypatch, 3, 2)
    assert batch_nodes() == BatchNodes(3, 2, "10.0.1.7")


def test_a_main_node_other_than_index_0_still_hosts(monkeypatch: pytest.MonkeyPatch) -> None:
    _batch(monkeypatch, 2, 1, main=1)
    assert batch_nodes() == BatchNodes(2, 0, "0.0.0.0")
    _batch(monkeypatch, 2, 0, main=1)  # node 0 is not the main one: it takes the main node's place number
    assert batch_nodes() == BatchNodes(2, 1, "10.0.1.7")


def test_a_malformed_or_single_node_environment_is_one_node(monkeypatch: pytest.MonkeyPatch) -> None:
    _batch(monkeypatch, 1, 0)
    assert batch_nodes() == BatchNodes()
    monkeypatch.setenv("AWS_BATCH_JOB_NUM_NODES", "two")
    assert batch_nodes() == BatchNodes()
