"""`python -m training {pipeline,train,seed}`: the training service's command line.

Errors are one line on stderr, DEVTOOLS_DEBUG=1 adds the traceback; the exit codes are
training.errors.EXIT_CODES (shown by --help). torch, transformers and mlflow are imported by the
commands, not here, so `--help` is fast.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import sys
import threading
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import NoReturn

from training.config import (
    DATA_DIR_ENV,
    DEFAULT_ALIAS,
    DEFAULT_CHALLENGER_ALIAS,
    DEFAULT_DATA_DIR,
    DEFAULT_DEVICE,
    DEFAULT_EXPERIMENT,
    DEFAULT_MODEL_NAME,
    DEFAULT_RECIPE,
    DEFAULT_TRACKING_URI,
    DEVICES,
    PROMOTE_CHOICES,
    RECIPE_ENV,
    SEED_EPOCHS,
    TRACKING_URI_ENV,
    SeedConfig,
    TrainConfig,
    default_data_location,
    default_recipe,
    default_tracking_uri,
)
from training.distributed import (
    ALL_GPUS,
    RDZV_PORT,
    WORKER_MARKER,
    Nodes,
    current_world,
    inside_launched_worker,
    launch,
    noted_failure,
    parse_nproc,
    record_worker_error,
    resolve_nproc,
)
from training.errors import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_TRAINING,
    EXIT_USAGE,
    TrainingError,
    UsageError,
    exit_code_table,
    one_line,
)
from training.recipes import known_recipe, recipe_named, recipe_names

PROG = "python -m training"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One line, like every other failure of this command.
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text}")
    return value


def _seed_value(text: str) -> int:
    value = int(text)
    if not 0 <= value < 2**32:  # numpy's seed range
        raise argparse.ArgumentTypeError(f"must be between 0 and 2**32 - 1, got {text}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def _alias(text: str) -> str:
    # MLflow's rules: word characters and dashes; 'latest' and 'v<N>' are reserved.
    if not re.fullmatch(r"[\w\-]{1,255}", text) or text.lower() == "latest" or re.fullmatch(r"[vV]\d+", text):
        raise argparse.ArgumentTypeError(f"invalid alias {text!r} (letters, digits, _ and -; not 'latest' or 'v<N>')")
    return text


def _name(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return text


def _nproc(text: str) -> int | str:
    try:
        return parse_nproc(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"must be a positive number or '{ALL_GPUS}', got {text}") from exc


def _recipe(text: str) -> str:
    # The registry's names only: the recipe's module (and what it imports) loads when a command runs.
    try:
        known_recipe(text)
    except UsageError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc
    return text


_positive_int.__name__ = "positive integer"  # argparse names the type in its error message
_positive_float.__name__ = "positive number"
_seed_value.__name__ = "seed"


def _add_recipe(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--recipe",
        type=_recipe,
        default=default_recipe(),
        metavar="NAME",
        help=f"what to train: {', '.join(recipe_names())} (training/recipes; default: ${RECIPE_ENV} or "
        f"{DEFAULT_RECIPE}; now %(default)s)",
    )


def _add_data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        type=_name,
        default=None,
        metavar="DIR|s3://BUCKET/PREFIX",
        help=f"prepared data directory, or s3:// URI (default: ${DATA_DIR_ENV} or {DEFAULT_DATA_DIR}, and in it a "
        f"folder named after the recipe for recipes other than {DEFAULT_RECIPE}; now "
        f"{default_data_location(default_recipe())})",
    )


def _add_tracking(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--tracking-uri",
        default=default_tracking_uri(),
        help=f"MLflow tracking server (default: ${TRACKING_URI_ENV} or {DEFAULT_TRACKING_URI}; now %(default)s)",
    )
    parser.add_argument(
        "--experiment",
        type=_name,
        default=None,
        help=f"MLflow experiment (default: the recipe's; {DEFAULT_RECIPE}: {DEFAULT_EXPERIMENT})",
    )
    parser.add_argument(
        "--model-name",
        type=_name,
        default=None,
        help=f"registered model name (default: the recipe's; {DEFAULT_RECIPE}: {DEFAULT_MODEL_NAME})",
    )
    parser.add_argument(
        "--alias", type=_alias, default=DEFAULT_ALIAS, help="registered model alias (default: %(default)s)"
    )
    parser.add_argument(
        "--device",
        choices=DEVICES,
        default=DEFAULT_DEVICE,
        help="auto = CUDA when available, else CPU; cuda fails (exit 2) without a GPU (default: %(default)s)",
    )


def build_parser() -> argparse.ArgumentParser:
    defaults = TrainConfig(data_dir=Path(), tracking_uri="")
    exit_codes = exit_code_table()
    formatter = argparse.RawDescriptionHelpFormatter
    parser = _Parser(
        prog=PROG,
        description="Prepare data, train a recipe's model (default: the digits classifier) and record it in MLflow.",
        epilog=exit_codes,
        formatter_class=formatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="{pipeline,train,seed}")

    pipeline = commands.add_parser(
        "pipeline",
        help="prepare train/validation splits (skipped when up to date)",
        description=(
            "Write train.npz, validation.npz and manifest.json from the recipe's source data.\n"
            "Skipped when the input and pipeline version are unchanged and the outputs match their hashes."
        ),
        epilog=exit_codes,
        formatter_class=formatter,
    )
    _add_recipe(pipeline)
    _add_data_dir(pipeline)
    pipeline.add_argument("--force", action="store_true", help="rerun even when up to date")
    pipeline.set_defaults(handler=_pipeline)

    train = commands.add_parser(
        "train",
        help="train, log to MLflow, register a version, move the alias",
        description=(
            "Train on the prepared data (run `pipeline` first), log params, metrics and the model to MLflow,\n"
            "register a new model version and move the alias per --promote."
        ),
        epilog=exit_codes,
        formatter_class=formatter,
    )
    train.add_argument("--epochs", type=_positive_int, default=defaults.epochs, help="(default: %(default)s)")
    train.add_argument("--batch-size", type=_positive_int, default=defaults.batch_size, help="(default: %(default)s)")
    train.add_argument(
        "--lr", type=_positive_float, default=defaults.lr, help="peak learning rate (default: %(default)s)"
    )
    train.add_argument("--seed", type=_seed_value, default=defaults.seed, help="(default: %(default)s)")
    train.add_argument(
        "--promote",
        choices=PROMOTE_CHOICES,
        default=defaults.promote,
        help="auto: move the alias only when the recipe's validation metric (digits: val_accuracy) beats its "
        "holder's, or nobody holds it; always / never: move it / leave it regardless; challenger: leave the "
        "alias and set --challenger-alias to the new version instead, for serving to compare with the "
        "alias's version on live traffic (`devtools promote` then moves the alias) (default: %(default)s)",
    )
    train.add_argument(
        "--challenger-alias",
        type=_alias,
        default=DEFAULT_CHALLENGER_ALIAS,
        help="the alias --promote challenger sets; not --alias (default: %(default)s)",
    )
    train.add_argument("--run-name", default=None, help="MLflow run name (default: generated)")
    train.add_argument(
        "--nproc-per-node",
        type=_nproc,
        default=None,
        metavar="{N,gpu}",
        help="data-parallel (DDP) training in N processes, as torchrun --standalone would start them; "
        f"'{ALL_GPUS}' = one per visible GPU. NCCL on CUDA, Gloo on CPU; --batch-size is per process. "
        "Rank 0 records the run (default: one process)",
    )
    nodes = _batch_nodes()
    train.add_argument(
        "--nnodes",
        type=_positive_int,
        default=nodes.count,
        help="machines in the job: run the same command on each (torchrun --nnodes); the job has NNODES x "
        "nproc-per-node ranks (default: 1, or AWS Batch's AWS_BATCH_JOB_NUM_NODES)",
    )
    train.add_argument(
        "--node-rank",
        type=int,
        default=nodes.rank,
        help="this machine's place: node 0 hosts the rendezvous (default: 0, or AWS_BATCH_JOB_NODE_INDEX)",
    )
    train.add_argument(
        "--rdzv-endpoint",
        default=nodes.endpoint,
        metavar="HOST[:PORT]",
        help=f"where node 0 listens for the others (port {RDZV_PORT} unless given; default: AWS Batch's "
        "main node address)",
    )
    train.add_argument(
        "--rdzv-id", default="mlstack-train", help="the job's name in the rendezvous, the same on every node"
    )
    _add_recipe(train)
    _add_tracking(train)
    _add_data_dir(train)
    train.set_defaults(handler=_train)

    seed = commands.add_parser(
        "seed",
        help="seed a fresh MLflow with a demo run and the alias (idempotent)",
        description=(
            "Prepare the data and run a short training with --promote always, unless the experiment already\n"
            "has a finished run and the model has the alias: then print 'already seeded' and change nothing."
        ),
        epilog=exit_codes,
        formatter_class=formatter,
    )
    seed.add_argument("--force", action="store_true", help="seed again: a new run, version and alias move")
    seed.add_argument("--epochs", type=_positive_int, default=SEED_EPOCHS, help="(default: %(default)s)")
    _add_recipe(seed)
    _add_tracking(seed)
    _add_data_dir(seed)
    seed.set_defaults(handler=_seed)
    return parser


# Each command imports its module when it runs: they import numpy, torch or mlflow, which --help must not.


def _resolve_recipe_defaults(args: argparse.Namespace) -> None:
    """--data-dir, --experiment and --model-name default to the recipe's (when the command has them)."""
    if args.data_dir is None:
        args.data_dir = default_data_location(args.recipe)
    if hasattr(args, "model_name"):  # train and seed
        recipe = recipe_named(args.recipe)
        args.experiment = args.experiment or recipe.experiment
        args.model_name = args.model_name or recipe.model_name


def _pipeline(args: argparse.Namespace) -> int:
    from training.data import prepare

    print(prepare(args.data_dir, force=args.force, recipe=args.recipe))
    return EXIT_OK


@dataclass(frozen=True)
class _BatchNodes:
    count: int = 1
    rank: int = 0
    endpoint: str | None = None


def _batch_nodes() -> _BatchNodes:
    """An AWS Batch multi-node parallel job says where each node stands in its environment; the
    main node gets no address of its own (it is the one the others reach)."""
    try:
        count = int(os.environ.get("AWS_BATCH_JOB_NUM_NODES", "1"))
        rank = int(os.environ.get("AWS_BATCH_JOB_NODE_INDEX", "0"))
        main = int(os.environ.get("AWS_BATCH_JOB_MAIN_NODE_INDEX", "0"))
    except ValueError:
        return _BatchNodes()
    if count <= 1:
        return _BatchNodes()
    # The main node listens; the others reach it by the address Batch gives them. Only "is this the
    # main node" matters here (node 0 hosts the rendezvous): the ranks come from the rendezvous.
    address = os.environ.get("AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS") if rank != main else "0.0.0.0"
    return _BatchNodes(count, 0 if rank == main else (rank or main), address)


def _train(args: argparse.Namespace) -> int:
    from training.data import local_dir
    from training.train import challenger_is_the_alias, one_process, train

    nodes = Nodes.parse(args.nnodes, args.rdzv_endpoint, args.rdzv_id, args.node_rank)
    if args.promote == "challenger" and args.challenger_alias == args.alias:
        raise UsageError(challenger_is_the_alias(args.alias))
    # s3:// data: fetched into the local cache once, by the launcher, before its workers read it.
    data_dir = local_dir(args.data_dir)
    if (args.nproc_per_node is not None or nodes is not None) and not inside_launched_worker():
        processes = resolve_nproc(args.nproc_per_node or 1, args.device)
        if (processes > 1 or nodes is not None) and not recipe_named(args.recipe).distributed:
            raise UsageError(one_process(args.recipe))
        if processes > 1 or nodes is not None:
            # Each worker runs this same command line and, finding its rank set, trains instead.
            launch(processes, args.argv, debug=os.environ.get("DEVTOOLS_DEBUG") == "1", nodes=nodes)
            return EXIT_OK
    result = train(
        TrainConfig(
            data_dir=data_dir,
            tracking_uri=args.tracking_uri,
            recipe=args.recipe,
            epochs=args.epochs,
            batch_size=args.batch_size,
            lr=args.lr,
            seed=args.seed,
            device=args.device,
            experiment=args.experiment,
            model_name=args.model_name,
            alias=args.alias,
            promote=args.promote,
            challenger_alias=args.challenger_alias,
            run_name=args.run_name,
        )
    )
    if result is not None:  # ranks other than 0 have nothing to report
        print(result.summary())
    return EXIT_OK


def _seed(args: argparse.Namespace) -> int:
    from training.data import is_s3, local_dir, prepare
    from training.seed import seed

    if is_s3(args.data_dir):
        # Seeding prepares the data: for an s3:// URI, there, then uses a local copy.
        prepare(args.data_dir, recipe=args.recipe)
    print(
        seed(
            SeedConfig(
                data_dir=local_dir(args.data_dir),
                tracking_uri=args.tracking_uri,
                recipe=args.recipe,
                experiment=args.experiment,
                model_name=args.model_name,
                alias=args.alias,
                epochs=args.epochs,
                device=args.device,
                force=args.force,
            )
        )
    )
    return EXIT_OK


def _quiet_libraries(debug: bool) -> None:
    """Keep library chatter (INFO logs, deprecation notices) out of the output unless debugging."""
    if debug:
        return
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    # SIGTERM (docker stop) unwinds like Ctrl-C, so an active MLflow run is ended FAILED.
    raise KeyboardInterrupt


def _fail(prog: str, exc: BaseException, debug: bool) -> int:
    """Report `exc` in one line and return its exit code. A worker of a distributed launch hands the
    line to the launcher instead, which prints only the root cause (the other ranks' errors are
    mostly its echoes)."""
    if isinstance(exc, TrainingError):
        message, code = one_line(exc), exc.exit_code
    else:
        hint = "" if debug else " (set DEVTOOLS_DEBUG=1 for the traceback)"
        message, code = f"{type(exc).__name__}: {one_line(exc)[:300]}{hint}", EXIT_TRAINING
    if not record_worker_error(message, code) or debug:
        print(f"{prog}: error: {message}", file=sys.stderr)
    return code


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    args.argv = argv
    try:
        world = current_world()
    except UsageError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    prog = f"{PROG} {args.command}" + (f" (rank {world.rank})" if world.distributed else "")
    debug = os.environ.get("DEVTOOLS_DEBUG") == "1"
    _quiet_libraries(debug)
    handler: Callable[[argparse.Namespace], int] = args.handler
    on_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGTERM)
    if on_main_thread:
        signal.signal(signal.SIGTERM, _interrupt)
    try:
        _resolve_recipe_defaults(args)
        return handler(args)
    except KeyboardInterrupt:
        failed = noted_failure() if world.distributed else None
        if failed is not None:
            # The launcher stopped this worker while its own failure was unwinding: report that.
            return _fail(prog, failed, debug)
        # A distributed worker is stopped by its launcher, which says so once for the job.
        if not world.distributed:
            print(f"{prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:
        if debug:
            traceback.print_exc()
        return _fail(prog, exc, debug)
    finally:
        if on_main_thread and previous is not None:
            signal.signal(signal.SIGTERM, previous)


def leave(code: int) -> NoReturn:
    """Exit with `code`; a distributed worker that failed or was stopped exits at once.

    Its peers are gone or going, so Gloo's threads may still be waiting on them when the interpreter
    finalizes, and libstdc++ then aborts the process over the terminal ("terminate called without an
    active exception" and a fatal-error dump; about 1 in 25 stops on a loaded 2-core machine). The
    run is already ended and the error recorded for the launcher: nothing is left to clean up.
    """
    if code != EXIT_OK and os.environ.get(WORKER_MARKER):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    leave(main())
