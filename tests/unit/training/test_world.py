"""training.world: a process's place in the job (from the environment the launcher sets), the line each
node's first worker announces, and the ranks refusing to train on different data."""

from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from contract.nodes import NODES_ENV, NodeAnnounce, parse_announce
from training.__main__ import main
from training.errors import EXIT_DATA, EXIT_USAGE
from training.world import World, announce_node, current_world

from testing.training_helpers import Cli, finish, require, runs_of, start_nodes, unique

if TYPE_CHECKING:
    from mlflow import MlflowClient


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


def _other_data(prepared: Path, target: Path) -> Path:
    """Valid prepared data, different from `prepared`: its last training row dropped."""
    require("numpy")
    import numpy as np
    from training.data import MANIFEST, load_prepared
    from training.digests import sha256_file

    shutil.copytree(prepared, target)
    manifest = json.loads((target / MANIFEST).read_text())
    with np.load(target / "train.npz") as archive:
        x, y = archive["x"][:-1], archive["y"][:-1]
    np.savez(target / "train.npz", x=x, y=y)
    info = manifest["splits"]["train"]
    info.update(rows=len(x), x_shape=list(x.shape), y_shape=list(y.shape), sha256=sha256_file(target / "train.npz"))
    (target / MANIFEST).write_text(json.dumps(manifest))
    assert load_prepared(target).digest != load_prepared(prepared).digest
    return target


def test_nodes_with_different_data_are_refused_before_training(cli: Cli, client: MlflowClient, tmp_path: Path) -> None:
    require("torch", "transformers", "mlflow")
    experiment, model = unique("nodes-data"), unique("nodes-data-model")
    other = _other_data(cli.data_dir, tmp_path / "other")
    done = finish(start_nodes(cli, 2, experiment, model, data_dirs=[cli.data_dir, other]))
    assert {code for code, _, _ in done} == {EXIT_DATA}, done
    said = [line for _, _, err in done for line in err.splitlines() if "other prepared data" in line]
    assert said and "rank 1 on" in said[0] and "than rank 0 on" in said[0]
    assert "every node must read the same data" in said[0]
    assert all(run.info.status != "FINISHED" for run in runs_of(client, experiment))
    assert not client.search_model_versions(f"name='{model}'")
