"""Multi-node training at the training CLI: two launchers on this machine stand for two nodes (each
`python -m training train --nnodes 2 --rdzv-endpoint 127.0.0.1:PORT`, its own workers, Gloo, a c10d
rendezvous hosted by node 0), against a real MLflow server; prepared data read from s3:// through the
real boto3 and moto's S3 server. The Docker tier runs the nodes as containers (tests/docker/test_nodes.py).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from testing.training_helpers import SERVICES, Cli, require, runs_of, unique

require("torch", "transformers", "mlflow", "numpy", "sklearn")

import numpy as np  # noqa: E402
from mlflow import MlflowClient  # noqa: E402
from training.data import MANIFEST, load_prepared, manifest_digest, sha256_file  # noqa: E402
from training.errors import EXIT_DATA, EXIT_PEERS  # noqa: E402

EPOCHS = 2


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_nodes(
    cli: Cli,
    count: int,
    experiment: str,
    model: str,
    *,
    data_dirs: list[Path] | None = None,
    started: int | None = None,
    **env: str,
) -> list[subprocess.Popen[str]]:
    """`count` nodes' launchers (only the first `started` of them, when given)."""
    endpoint = f"127.0.0.1:{free_port()}"
    nodes = []
    for rank in range(count if started is None else started):
        argv = [
            *("train", "--nnodes", str(count), "--node-rank", str(rank), "--rdzv-endpoint", endpoint),
            *("--rdzv-id", experiment, "--nproc-per-node", "1", "--device", "cpu", "--epochs", str(EPOCHS)),
            *("--experiment", experiment, "--model-name", model, "--promote", "always"),
        ]
        if data_dirs:
            argv += ["--data-dir", str(data_dirs[rank])]
        nodes.append(
            subprocess.Popen(
                [sys.executable, "-m", "training", *argv],
                cwd=SERVICES,
                env=cli.env(**env),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    return nodes


def finish(nodes: list[subprocess.Popen[str]]) -> list[tuple[int, str, str]]:
    """(exit code, stdout, stderr) of each node, once it is done."""
    outputs = [node.communicate(timeout=300) for node in nodes]
    return [(node.returncode, out, err) for node, (out, err) in zip(nodes, outputs, strict=True)]


@pytest.fixture(scope="module")
def client(mlflow_server: str) -> MlflowClient:
    return MlflowClient(mlflow_server)


def test_two_nodes_make_one_job_one_run_and_one_version(cli: Cli, client: MlflowClient, tmp_path: Path) -> None:
    experiment, model = unique("nodes"), unique("nodes-model")
    nodes = start_nodes(cli, 2, experiment, model, TRAINING_SHARD_TRACE=str(tmp_path))
    done = finish(nodes)
    assert [code for code, _, _ in done] == [0, 0], done
    # Each node says which ranks it runs; rank 0 alone records: one run, one version.
    announced = sorted(line for _, _, err in done for line in err.splitlines() if line.startswith("node "))
    assert [line.split(": ", 1)[1] for line in announced] == ["ranks 0-0 of 2", "ranks 1-1 of 2"]
    summaries = [out for _, out, _ in done if out.strip()]
    assert len(summaries) == 1 and summaries[0].startswith("trained: run_id=")
    [run] = runs_of(client, experiment)
    assert run.info.status == "FINISHED"
    assert [v.version for v in client.search_model_versions(f"name='{model}'")] == ["1"]
    # Every epoch, the two ranks split the training rows between them (DistributedSampler pads the
    # shorter shard with rows of the other, so the shards overlap by at most one row).
    rows = len(load_prepared(cli.data_dir).train.x)
    traces = [
        json.loads(line) for path in sorted(tmp_path.glob("rank-*.jsonl")) for line in path.read_text().splitlines()
    ]
    for epoch in range(1, EPOCHS + 1):
        shards = [set(trace["rows"]) for trace in traces if trace["epoch"] == epoch]
        assert len(shards) == 2 and shards[0] | shards[1] == set(range(rows))
        assert len(shards[0] & shards[1]) <= rows % 2


def other_data(prepared: Path, target: Path) -> Path:
    """Valid prepared data, different from `prepared`: its last training row dropped."""
    shutil.copytree(prepared, target)
    manifest = json.loads((target / MANIFEST).read_text())
    with np.load(target / "train.npz") as archive:
        x, y = archive["x"][:-1], archive["y"][:-1]
    np.savez(target / "train.npz", x=x, y=y)
    info = manifest["splits"]["train"]
    info.update(rows=len(x), x_shape=list(x.shape), y_shape=list(y.shape), sha256=sha256_file(target / "train.npz"))
    (target / MANIFEST).write_text(json.dumps(manifest))
    assert manifest_digest(manifest) != manifest_digest(json.loads((prepared / MANIFEST).read_text()))
    return target


def test_nodes_with_different_data_are_refused_before_training(cli: Cli, client: MlflowClient, tmp_path: Path) -> None:
    experiment, model = unique("nodes-data"), unique("nodes-data-model")
    nodes = start_nodes(
        cli, 2, experiment, model, data_dirs=[cli.data_dir, other_data(cli.data_dir, tmp_path / "other")]
    )
    done = finish(nodes)
    assert {code for code, _, _ in done} == {EXIT_DATA}, done
    said = [line for _, _, err in done for line in err.splitlines() if "other prepared data" in line]
    assert (
        said
        and "rank 1 on" in said[0]
        and "than rank 0 on" in said[0]
        and "every node must read the same data" in said[0]
    )
    assert all(run.info.status != "FINISHED" for run in runs_of(client, experiment))
    assert not client.search_model_versions(f"name='{model}'")


def test_a_node_whose_peers_never_come_is_one_line_and_exit_5(cli: Cli) -> None:
    [alone] = start_nodes(cli, 2, unique("alone"), unique("alone-model"), started=1, TRAINING_RDZV_TIMEOUT_S="5")
    code, _, err = finish([alone])[0]
    assert code == EXIT_PEERS
    lines = [line for line in err.strip().splitlines() if line]
    assert len(lines) == 1 and "nodes did not all meet at 127.0.0.1:" in lines[0] and "node 0 first" in lines[0]


def test_prepared_data_round_trips_through_s3(cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    require("moto", "boto3")
    import boto3
    from training.data import local_dir

    from testing import moto_server

    with moto_server.running({}) as server:
        env = {
            "AWS_ENDPOINT_URL": server.url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "TRAINING_DATA_CACHE": str(tmp_path / "cache"),
        }
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="team-data")
        uri = "s3://team-data/digits/v1"
        missing = cli.run("train", "--data-dir", uri, "--epochs", "1", **env)
        assert (
            missing.returncode == EXIT_DATA and "prepared data not found at s3://team-data/digits/v1" in missing.stderr
        )
        published = cli.run("pipeline", "--data-dir", uri, **env)
        assert published.returncode == 0 and published.stdout.strip().endswith(f"uploaded to {uri}"), published.stderr
        keys = sorted(item["Key"] for item in s3.list_objects_v2(Bucket="team-data")["Contents"])
        assert keys == ["digits/v1/manifest.json", "digits/v1/train.npz", "digits/v1/validation.npz"]
        shutil.rmtree(tmp_path / "cache")  # what another node has before its first job: nothing
        copy = local_dir(uri)
        assert manifest_digest(load_prepared(copy).manifest) == manifest_digest(load_prepared(cli.data_dir).manifest)
