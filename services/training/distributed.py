"""Data-parallel training (DDP) over N processes per machine, on one machine or several, launched the
way torchrun does.

`python -m training train --nproc-per-node N` starts N workers through torch's elastic launcher
(the API behind `torchrun --standalone`), so the job keeps this command's exit codes and one-line
errors instead of torchrun's failure report. With `--nnodes M --rdzv-endpoint HOST:PORT` the same
command on M machines makes one job of M x N ranks: they meet in a c10d rendezvous whose store node 0
hosts (no `--standalone`), and global ranks follow the order the nodes joined in. Each worker is
`python -m training train ...` again and finds its rank in the environment the launcher sets (RANK,
LOCAL_RANK, WORLD_SIZE); a plain `torchrun --nproc-per-node N -m training train` sets the same and
works too.

Rank 0 alone talks to MLflow (run, params, metrics, model, alias); the other ranks only train.
Collectives use NCCL on CUDA and Gloo on CPU, so the whole path is testable without a GPU.

The CLI parser imports this module for --nproc-per-node, so torch is imported inside the functions
that need it: `python -m training --help` must not import it.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import time
import uuid
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from training.config import Device
from training.errors import (
    EXIT_INTERRUPTED,
    EXIT_TRAINING,
    DataError,
    PeersError,
    UsageError,
    WorkerFailed,
    one_line,
)

if TYPE_CHECKING:
    import torch
    from torch.distributed.elastic.multiprocessing.errors import ProcessFailure

ALL_GPUS = "gpu"  # torchrun's spelling of "one process per visible GPU"
# Set by torch's elastic agent in every worker: present means "I am a worker, do not launch again".
WORKER_MARKER = "TORCHELASTIC_RUN_ID"
# Set by `launch` for its workers: they record errors for it rather than print them.
LAUNCHER_MARKER = "TRAINING_LAUNCHER"
# Set by `launch` for the workers of a multi-node job: how many nodes it has.
NODES_MARKER = "TRAINING_NODES"
ERROR_KEY = "training_error"
FAILED_AT_KEY = "training_failed_at"
EXIT_CODE_KEY = "training_exit_code"
# This worker's first failure in training, with its time, noted as it left the process group.
_NOTED: list[tuple[float, BaseException]] = []


@dataclass(frozen=True)
class World:
    """This process's place in the job; a plain (non-distributed) run is rank 0 of 1."""

    rank: int = 0
    local_rank: int = 0
    size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1


def current_world() -> World:
    """The rank and world size torchrun (or our launcher) put in the environment."""
    try:
        return World(
            rank=int(os.environ.get("RANK", "0")),
            local_rank=int(os.environ.get("LOCAL_RANK", "0")),
            size=int(os.environ.get("WORLD_SIZE", "1")),
        )
    except ValueError as exc:
        raise UsageError(f"RANK, LOCAL_RANK and WORLD_SIZE must be integers: {exc}") from exc


def inside_launched_worker() -> bool:
    return WORKER_MARKER in os.environ or current_world().distributed


def parse_nproc(text: str) -> int | str:
    """`--nproc-per-node`: a positive number of processes, or `gpu` for one per visible GPU."""
    if text == ALL_GPUS:
        return ALL_GPUS
    value = int(text)
    if value < 1:
        raise ValueError(f"must be at least 1 or '{ALL_GPUS}', got {text}")
    return value


def resolve_device(requested: Device) -> torch.device:
    """The device --device asks for; fails (exit 2) when it is cuda and CUDA is not available."""
    import torch

    if requested == "cpu":
        return torch.device("cpu")
    # cuBLAS is deterministic only with a fixed workspace, read when CUDA starts.
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    with warnings.catch_warnings():
        # A broken driver makes is_available() warn and return False; the answer is what matters.
        warnings.simplefilter("ignore")
        available = torch.cuda.is_available()
    if available:
        return torch.device("cuda")
    if requested == "cuda":
        why = (
            f"this torch build ({torch.__version__}) has no CUDA support"
            if torch.version.cuda is None
            else f"no GPU is visible to torch {torch.__version__} (CUDA {torch.version.cuda})"
        )
        raise UsageError(f"--device cuda: CUDA is not available, {why}; use --device cpu or auto")
    return torch.device("cpu")


def resolve_nproc(requested: int | str, device: Device) -> int:
    """How many workers to start; fails (exit 2) when they cannot each have a GPU they need."""
    if requested != ALL_GPUS and (device == "cpu" or int(requested) == 1):
        return int(requested)
    gpus = visible_gpus()
    if device == "cuda" and gpus == 0:
        resolve_device("cuda")  # raises, explaining why CUDA is unavailable
    if requested == ALL_GPUS:
        if gpus == 0:
            raise UsageError(f"--nproc-per-node {ALL_GPUS}: no GPU is visible to torch ({_torch_build()})")
        return gpus
    wanted = int(requested)
    if device == "cuda" and gpus < wanted:
        raise UsageError(
            f"--nproc-per-node {wanted} --device cuda: {gpus} GPU(s) visible to torch ({_torch_build()}); "
            f"use at most {gpus} process(es), or --device cpu"
        )
    if device == "auto" and 0 < gpus < wanted:
        # Some ranks on CUDA and some on CPU cannot share one process group.
        raise UsageError(
            f"--nproc-per-node {wanted}: only {gpus} GPU(s) visible; use --nproc-per-node {gpus} "
            "(or gpu), or --device cpu"
        )
    return wanted


def visible_gpus() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def _torch_build() -> str:
    import torch

    return f"torch {torch.__version__}" + ("" if torch.version.cuda else ", a CPU-only build")


RDZV_PORT = 29400  # torchrun's default rendezvous port
# How long node 0 waits for the others (and they for it) before the job is refused (PeersError).
RDZV_TIMEOUT_S = int(os.environ.get("TRAINING_RDZV_TIMEOUT_S", "120"))


@dataclass(frozen=True)
class Nodes:
    """The machines of a multi-node job, as this one sees them."""

    count: int
    endpoint: str  # host:port of the rendezvous store, on node 0
    job_id: str  # the same on every node: which rendezvous to join
    is_host: bool  # this node runs the store (node 0)

    @classmethod
    def parse(cls, count: int, endpoint: str | None, job_id: str, node_rank: int) -> Nodes | None:
        """None for one node; a UsageError when several are asked for without a place to meet."""
        if count <= 1:
            return None
        if not endpoint:
            raise UsageError(f"--nnodes {count}: give --rdzv-endpoint HOST[:PORT], where node 0 listens")
        if not 0 <= node_rank < count:
            raise UsageError(f"--node-rank {node_rank}: must be 0..{count - 1} for --nnodes {count}")
        host, _, port = endpoint.rpartition(":") if ":" in endpoint else (endpoint, "", str(RDZV_PORT))
        if not port.isdigit():
            raise UsageError(f"--rdzv-endpoint {endpoint}: expected HOST[:PORT]")
        return cls(count, f"{host}:{port}", job_id, node_rank == 0)


def launch(nproc: int, argv: Sequence[str], debug: bool = False, nodes: Nodes | None = None) -> None:
    """Run `python -m training <argv>` as `nproc` workers (torchrun --standalone) and wait for them;
    with `nodes`, as this node's share of a multi-node job (torchrun --nnodes, c10d rendezvous).

    Workers do not print their errors; they record them (record_worker_error) and the launcher raises
    the root cause, the earliest failure, as one WorkerFailed with that worker's exit code. The
    other ranks' errors are usually its echoes ("Connection closed by peer"). KeyboardInterrupt when
    the launcher or a worker was interrupted.
    """
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    if not debug:
        # The agent logs every start and stop, and a multi-line report on failure; ours is one line.
        # torch's elastic modules give each of their loggers its own level ($LOGLEVEL), so a level on
        # the parent logger would not reach them.
        for name in list(logging.root.manager.loggerDict):
            if name.startswith("torch.distributed"):
                logging.getLogger(name).setLevel(logging.CRITICAL)
    if nodes is None:
        config = LaunchConfig(
            min_nodes=1,
            max_nodes=1,
            nproc_per_node=nproc,
            run_id=str(uuid.uuid4()),
            # What torchrun --standalone uses: an in-process store on a free local port.
            rdzv_backend="c10d",
            rdzv_endpoint="localhost:0",
            # A failed worker means a bug or bad input, not a lost node: restarting would repeat it.
            max_restarts=0,
        )
    else:
        config = LaunchConfig(
            min_nodes=nodes.count,
            max_nodes=nodes.count,
            nproc_per_node=nproc,
            run_id=nodes.job_id,
            rdzv_backend="c10d",
            rdzv_endpoint=nodes.endpoint,
            # Node 0 runs the store; the others connect to it (torch decides by host name otherwise,
            # which container names do not always match).
            rdzv_configs={"is_host": nodes.is_host, "join_timeout": RDZV_TIMEOUT_S},
            max_restarts=0,  # a lost node fails the job, on every node: nothing retries half a job
        )
    os.environ[LAUNCHER_MARKER] = "1"  # inherited by the workers: "record errors, do not print them"
    if nodes is not None:
        os.environ[NODES_MARKER] = str(nodes.count)
    try:
        elastic_launch(config, sys.executable)("-m", "training", *argv)
    except ChildFailedError as exc:
        rank, failure = min(exc.failures.items(), key=lambda item: _root_cause_order(item[1]))
        recorded = failure.error_file_data
        if ERROR_KEY in recorded:
            # Its own words and code, even when the agent's SIGTERM ended it on the way out.
            code = recorded.get(EXIT_CODE_KEY)
            code = code if isinstance(code, int) else EXIT_TRAINING
            raise WorkerFailed(f"rank {rank}: {recorded[ERROR_KEY]}", code) from exc
        if failure.exitcode == EXIT_INTERRUPTED:
            raise KeyboardInterrupt from exc  # a worker saw Ctrl-C first; say it once, here
        if failure.exitcode < 0:
            # Killed by a signal (the OOM killer's -9), so it recorded nothing; exit the way a shell
            # reports a signal death, 128 + N.
            signum = -failure.exitcode
            message = f"rank {rank} was killed by signal {signum} ({_signal_name(signum)})"
            raise WorkerFailed(message, 128 + signum) from exc
        raise WorkerFailed(f"rank {rank} exited with code {failure.exitcode}", failure.exitcode) from exc
    except SignalException as exc:
        raise KeyboardInterrupt from exc  # SIGTERM/SIGINT to the launcher: the agent stopped the workers
    except Exception as exc:
        if nodes is None or not _is_rendezvous_failure(exc):
            raise
        raise PeersError(
            f"the job's {nodes.count} nodes did not all meet at {nodes.endpoint} within {RDZV_TIMEOUT_S} s "
            f"({one_line(exc)[:160] or type(exc).__name__}): start the same command on every node, node 0 first"
        ) from exc
    finally:
        os.environ.pop(LAUNCHER_MARKER, None)
        os.environ.pop(NODES_MARKER, None)


def _is_rendezvous_failure(exc: BaseException) -> bool:
    from torch.distributed.elastic.rendezvous.api import RendezvousError

    return isinstance(exc, (RendezvousError, TimeoutError)) or "rendezvous" in type(exc).__name__.lower()


def announce_node(world: World) -> None:
    """On each node of a multi-node job, its first worker says once which ranks run there, so a node
    that dies can be named with its ranks (devtools train --nodes reads this line)."""
    if world.local_rank != 0 or int(os.environ.get(NODES_MARKER, "1")) <= 1:
        return
    local = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    first = world.rank - world.local_rank
    import socket

    print(
        f"node {socket.gethostname()}: ranks {first}-{first + local - 1} of {world.size}", file=sys.stderr, flush=True
    )


def record_worker_error(message: str, exit_code: int) -> bool:
    """In a worker of `launch`, hand the one-line error to the launcher instead of printing it.

    False when this process is not such a worker (a plain run, or plain torchrun): print it then.
    """
    path = os.environ.get("TORCHELASTIC_ERROR_FILE")
    if not path or LAUNCHER_MARKER not in os.environ:
        return False
    # The agent's ProcessFailure reads "message" and an integer "timestamp"; the float time orders
    # failures within the same second.
    failed_at = _NOTED[0][0] if _NOTED else time.time()
    record = {
        "message": message,
        "timestamp": int(failed_at),
        ERROR_KEY: message,
        EXIT_CODE_KEY: exit_code,
        FAILED_AT_KEY: failed_at,
    }
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(record))
    except OSError:
        return False
    return True


def noted_failure() -> BaseException | None:
    """The error this worker failed with in training, if any, even after an interrupt replaced it."""
    return next((exc for _, exc in _NOTED if not isinstance(exc, KeyboardInterrupt)), None)


def _root_cause_order(failure: ProcessFailure) -> tuple[bool, float]:
    """Sort key for the root cause: workers the agent stopped last, then the earliest failure first.

    The agent stops the other workers with SIGTERM once one fails: they exit 130 (our handler) or,
    caught while the interpreter shuts down, die of the signal itself (-15). A worker that recorded
    an error failed on its own, whatever ended it. The time is the worker's own record, else when
    the agent noticed (a signal death records nothing).
    """
    recorded = failure.error_file_data.get(FAILED_AT_KEY)
    if isinstance(recorded, (int, float)):
        return False, float(recorded)
    stopped = failure.exitcode in (EXIT_INTERRUPTED, -signal.SIGTERM, -signal.SIGINT)
    # The agent's timestamp is whole seconds, taken after the death: a second earlier keeps the
    # other ranks' echoes (milliseconds after it) from sorting first.
    return stopped, float(failure.timestamp) - 1.0


def _signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return "unknown signal"


@contextmanager
def process_group(world: World, device: torch.device) -> Iterator[None]:
    """The job's process group for the duration of training; nothing when running alone."""
    if not world.distributed:
        yield
        return
    import torch.distributed as dist

    if device.type == "cuda":
        dist.init_process_group("nccl", device_id=device)
    else:
        dist.init_process_group("gloo")
    try:
        yield
        # Leave together: a rank that tears down its group while another still reads from it
        # aborts the job (Gloo: "terminate called without an active exception").
        dist.barrier()
    except BaseException as exc:
        # Note it before the group goes: tearing the group down makes the other ranks fail at once
        # ("Connection closed by peer"), and the launcher may stop this worker (SIGTERM) while the
        # failure still unwinds (ending the MLflow run): see noted_failure.
        _NOTED.append((time.time(), exc))
        raise
    finally:
        dist.destroy_process_group()


def worker_device(world: World, device: torch.device) -> torch.device:
    """Rank r of a CUDA job uses GPU LOCAL_RANK; every CPU rank uses the CPU."""
    if device.type != "cuda" or not world.distributed:
        return device
    import torch

    if world.local_rank >= torch.cuda.device_count():
        raise UsageError(
            f"rank {world.rank} needs GPU {world.local_rank} but {torch.cuda.device_count()} are visible; "
            "start at most one process per GPU"
        )
    torch.cuda.set_device(world.local_rank)
    return torch.device("cuda", world.local_rank)


def same_on_every_rank(digest: str, world: World) -> None:
    """Every rank trains on the same prepared data (by its manifest's digest), or the job stops
    before training with one line naming a rank, its node and both digests (exit 3)."""
    if not world.distributed:
        return
    import socket

    import torch.distributed as dist

    seen: list[tuple[str, str] | None] = [None] * world.size
    dist.all_gather_object(seen, (socket.gethostname(), digest))
    first_host, expected = seen[0] or ("?", "")
    for rank, (host, found) in enumerate(entry or ("?", "") for entry in seen):
        if found != expected:
            raise DataError(
                f"rank {rank} on {host} has other prepared data (manifest {found[:12]}) than rank 0 on {first_host} "
                f"({expected[:12]}): every node must read the same data (one shared --data-dir, or one s3:// URI)"
            )


def sum_across_ranks(values: torch.Tensor, world: World) -> torch.Tensor:
    """Element-wise sum over every rank (the tensor itself when running alone)."""
    if world.distributed:
        import torch.distributed as dist

        dist.all_reduce(values)
    return values
