"""`devtools train --nodes 2` on the session's stack: two training containers on the Compose network act
as the nodes of one job (c10d rendezvous on node 0, Gloo on CPU, two processes each), against the
stack's MLflow and its shared data volume.

One job: one run, one version, every epoch's rows split among the four ranks. A node killed mid-epoch:
the job fails once, in one line naming the node and its ranks, the run ends FAILED, and no container of
the job is left on either node. Nodes whose data differs are refused before training.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import uuid
from typing import Any

from testing.stack_harness import PROJECT, REPO, Stack, get_json, wait_for

JOB_LABEL = "devtools.train-job"


def job_containers() -> list[str]:
    done = subprocess.run(
        [
            "docker",
            "ps",
            "-aq",
            "--filter",
            f"label={JOB_LABEL}",
            "--filter",
            f"label=com.docker.compose.project={PROJECT}",
        ],
        capture_output=True,
        text=True,
    )
    return done.stdout.split()


def running_node(index: int) -> str | None:
    done = subprocess.run(
        ["docker", "ps", "--format", "{{.Names}}", "--filter", f"label={JOB_LABEL}"], capture_output=True, text=True
    )
    return next((name for name in done.stdout.split() if name.endswith(f"-node-{index}")), None)


def runs(stack: Stack, experiment: str) -> list[dict[str, Any]]:
    found = get_json(stack.url("mlflow", f"/api/2.0/mlflow/experiments/get-by-name?experiment_name={experiment}"))
    body = json.dumps({"experiment_ids": [found["experiment"]["experiment_id"]]}).encode()
    import urllib.request

    request = urllib.request.Request(
        stack.url("mlflow", "/api/2.0/mlflow/runs/search"), data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return list(json.loads(answer.read()).get("runs") or [])


def versions(stack: Stack, model: str) -> list[str]:
    found = get_json(stack.url("mlflow", f"/api/2.0/mlflow/model-versions/search?filter=name%3D%27{model}%27"))
    return [str(v["version"]) for v in found.get("model_versions") or []]


def job_args(experiment: str, model: str, epochs: int) -> list[str]:
    return [
        *("--", "--nproc-per-node", "2", "--device", "cpu", "--epochs", str(epochs)),
        *("--experiment", experiment, "--model-name", model, "--promote", "never"),
    ]


def test_two_nodes_of_two_processes_make_one_run_and_one_version(stack: Stack) -> None:
    experiment, model = f"nodes-{uuid.uuid4().hex[:6]}", f"nodes-model-{uuid.uuid4().hex[:6]}"
    trace = f"/data/shard-trace-{experiment}"
    stack.compose("run", "--rm", "--no-deps", "--entrypoint", "mkdir", "training", "-p", trace)
    env = {**stack.env, "TRAINING_SHARD_TRACE": trace}
    done = subprocess.run(
        [sys.executable, "-m", "devtools", "train", "--nodes", "2", *job_args(experiment, model, 2)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=1200,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    announced = sorted(re.findall(r"^node (\d) \| node \S+: ranks (\d-\d) of 4$", done.stdout, re.M))
    assert [ranks for _, ranks in announced] in (["0-1", "2-3"], ["2-3", "0-1"]) and len({n for n, _ in announced}) == 2
    [run] = runs(stack, experiment)
    assert run["info"]["status"] == "FINISHED" and versions(stack, model) == ["1"]
    # Every epoch the four ranks' shards cover the training rows (padding repeats at most 3 of them).
    read = stack.compose(
        "run", "--rm", "--no-deps", "--entrypoint", "sh", "training", "-c", f"cat {trace}/rank-*.jsonl && rm -r {trace}"
    )
    traces = [json.loads(line) for line in read.stdout.splitlines() if line.startswith("{")]
    for epoch in (1, 2):
        shards = [set(t["rows"]) for t in traces if t["epoch"] == epoch]
        assert len(shards) == 4
        covered = set().union(*shards)
        assert len(covered) == max(max(shard) for shard in shards) + 1  # no row left out
        assert sum(len(shard) for shard in shards) - len(covered) <= 3
    assert job_containers() == []


def test_a_node_killed_mid_epoch_fails_the_job_once_and_leaves_nothing(stack: Stack) -> None:
    experiment, model = f"nodes-kill-{uuid.uuid4().hex[:6]}", f"nodes-kill-model-{uuid.uuid4().hex[:6]}"
    job = subprocess.Popen(
        [sys.executable, "-m", "devtools", "train", "--nodes", "2", *job_args(experiment, model, 500)],
        cwd=REPO, env=stack.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    try:
        # Running, not just created: `docker ps` lists a container only once it has started.
        node1 = wait_for(lambda: running_node(1), timeout=120)
        # An epoch logged: every node has joined and announced its ranks; the workers are mid-epoch.
        wait_for(lambda: epoch_logged(stack, experiment), timeout=300, interval=1)
        subprocess.run(["docker", "kill", node1], capture_output=True, check=True)
        _, err = job.communicate(timeout=300)
    finally:
        if job.poll() is None:
            job.kill()
    lines = [line for line in err.strip().splitlines() if line]
    assert job.returncode != 0 and len(lines) == 1, err
    assert re.fullmatch(
        r"devtools: node 1 \(\S+-node-1, ranks \d-\d\) failed: killed .*; the job stopped on every node", lines[0]
    )
    [run] = runs(stack, experiment)
    assert run["info"]["status"] == "FAILED"
    assert versions(stack, model) == []
    assert job_containers() == []  # no node, and so no worker, left anywhere


def epoch_logged(stack: Stack, experiment: str) -> bool:
    try:
        return any(run["data"].get("metrics") for run in runs(stack, experiment))
    except (OSError, KeyError):
        return False


def test_nodes_with_different_data_are_refused_before_training(stack: Stack) -> None:
    other = "/data/other-nodes-data"
    # Node 1's copy of the prepared data, one training row short: valid, but not the same data.
    script = (
        "import json, shutil, numpy as np\n"
        "from pathlib import Path\n"
        "from training.data import sha256_file\n"
        f"target = Path('{other}'); shutil.rmtree(target, ignore_errors=True); shutil.copytree('/data', target,"
        " ignore=shutil.ignore_patterns('shard-trace-*', 'other-*'))\n"
        "manifest = json.loads((target / 'manifest.json').read_text())\n"
        "with np.load(target / 'train.npz') as a: x, y = a['x'][:-1], a['y'][:-1]\n"
        "np.savez(target / 'train.npz', x=x, y=y)\n"
        "manifest['splits']['train'].update(rows=len(x), x_shape=list(x.shape), y_shape=list(y.shape),"
        " sha256=sha256_file(target / 'train.npz'))\n"
        "(target / 'manifest.json').write_text(json.dumps(manifest))\n"
    )
    stack.compose("run", "--rm", "--no-deps", "--entrypoint", "python", "training", "-c", script)
    job_id = f"mismatch-{uuid.uuid4().hex[:6]}"
    names = [f"{PROJECT}-{job_id}-{node}" for node in (0, 1)]
    common = ["--nnodes", "2", "--rdzv-endpoint", f"{names[0]}:29400", "--rdzv-id", job_id, "--device", "cpu"]
    for node, data in ((0, "/data"), (1, other)):
        stack.compose(
            "run", "-d", "--name", names[node], "--entrypoint", "python", "training", "-m", "training", "train",
            *common, "--node-rank", str(node), "--data-dir", data, "--experiment", job_id,
        )  # fmt: skip
    try:
        codes = []
        for name in names:
            subprocess.run(["docker", "wait", name], capture_output=True, timeout=300)
            codes.append(subprocess.run(["docker", "inspect", "-f", "{{.State.ExitCode}}", name],
                                        capture_output=True, text=True).stdout.strip())  # fmt: skip
        said = subprocess.run(["docker", "logs", names[0]], capture_output=True, text=True).stderr
        assert codes == ["3", "3"], said
        assert re.search(r"rank \d on \S+ has other prepared data \(manifest \w+\) than rank 0 on", said), said
        assert "epoch 1/" not in said  # refused before the first step
    finally:
        subprocess.run(["docker", "rm", "-f", "-v", *names], capture_output=True)  # -v: their anonymous volumes too
        stack.compose("run", "--rm", "--no-deps", "--entrypoint", "rm", "training", "-rf", other)
