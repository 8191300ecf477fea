"""Launching a data-parallel (DDP) job over N processes per machine, on one machine or several, the way
torchrun does, and bringing its failure back as one line.

`python -m training train --nproc-per-node N` starts N workers through torch's elastic launcher
(the API behind `torchrun --standalone`), so the job keeps this command's exit codes and one-line
errors instead of torchrun's failure report. With `--nnodes M --rdzv-endpoint HOST:PORT` the same
command on M machines makes one job of M x N ranks: they meet in a c10d rendezvous whose store node 0
hosts (no `--standalone`), and global ranks follow the order the nodes joined in. Each worker is
`python -m training train ...` again and finds its rank in the environment the launcher sets (RANK,
LOCAL_RANK, WORLD_SIZE: training.world); a plain `torchrun --nproc-per-node N -m training train` sets
the same and works too.

Workers do not print their errors: each records its one line for the launcher (record_worker_error),
which raises the root cause once (the earliest failure; the other ranks' errors are mostly its echoes).

torch is imported inside the functions: the CLI imports this module, and `--help` must not import torch.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from contract.nodes import NODES_ENV, RDZV_PORT

from training.errors import EXIT_INTERRUPTED, EXIT_TRAINING, PeersError, UsageError, WorkerFailed, one_line

if TYPE_CHECKING:
    from torch.distributed.elastic.multiprocessing.errors import ProcessFailure

# Set by torch's elastic agent in every worker: present means "I am a worker, do not launch again".
WORKER_MARKER = "TORCHELASTIC_RUN_ID"
# Set by `launch` for its workers: they record errors for it rather than print them.
LAUNCHER_MARKER = "TRAINING_LAUNCHER"
ERROR_KEY = "training_error"
FAILED_AT_KEY = "training_failed_at"
EXIT_CODE_KEY = "training_exit_code"
# This worker's first failure in training, with its time, noted as it left the process group.
_NOTED: list[tuple[float, BaseException]] = []


def note_failure(exc: BaseException) -> None:
    """Remember a failure in training as it happens (training.world.process_group), before an interrupt
    from the launcher can replace it: see noted_failure."""
    _NOTED.append((time.time(), exc))


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
        os.environ[NODES_ENV] = str(nodes.count)
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
        os.environ.pop(NODES_ENV, None)


def _is_rendezvous_failure(exc: BaseException) -> bool:
    from torch.distributed.elastic.rendezvous.api import RendezvousError

    return isinstance(exc, (RendezvousError, TimeoutError)) or "rendezvous" in type(exc).__name__.lower()


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
