"""training.world, with real nodes: two launchers on this machine that hold different prepared data are
refused before either trains (each rank checks the data's digest)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from training.errors import EXIT_DATA

from testing.training_helpers import Cli, finish, require, runs_of, start_nodes, unique

if TYPE_CHECKING:
    from mlflow import MlflowClient


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
