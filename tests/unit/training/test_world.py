"""training.world: a process's place in the job (from the environment the launcher sets), the line each
node's first worker announces, and the ranks refusing to train on different data."""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING

import pytest
from contract.nodes import NODES_ENV, NodeAnnounce, parse_announce
from training.__main__ import main
from training.errors import EXIT_USAGE
from training.world import World, announce_node, current_world

if TYPE_CHECKING:
    pass


def test_the_world_comes_from_the_launchers_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("RANK", "LOCAL_RANK", "WORLD_SIZE"):
        monkeypatch.delenv(variable, raising=False)
    assert current_world() == World(0, 0, 1) and current_world().is_main and not current_world().distributed
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "4")
    assert current_world() == World(3, 1, 4) and not current_world().is_main and current_world().distributed


def test_a_malformed_rank_in_the_environment_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RANK", "first")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert main(["train", "--epochs", "1"]) == EXIT_USAGE
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("python -m training: error: RANK, LOCAL_RANK and WORLD_SIZE must be integers")


@pytest.mark.parametrize(
    ("nodes", "world", "announced"),
    [
        ("2", World(rank=2, local_rank=0, size=4), NodeAnnounce(socket.gethostname(), 2, 3, 4)),
        ("2", World(rank=3, local_rank=1, size=4), None),  # the node's other worker says nothing
        ("1", World(rank=0, local_rank=0, size=2), None),  # one node: nobody to tell
    ],
)
def test_each_nodes_first_worker_announces_its_ranks_in_the_contracts_line(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    nodes: str,
    world: World,
    announced: NodeAnnounce | None,
) -> None:
    monkeypatch.setenv(NODES_ENV, nodes)
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    announce_node(world)
    err = capsys.readouterr().err
    assert (parse_announce(err) if err else None) == announced
