"""The parser of `python -m training {pipeline,train,seed,compile}`: every flag, its default and its help, and the
exit-code table (training.errors.EXIT_CODES) under each command's --help."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import NoReturn

from contract.gpus import ALL_GPUS, TORCHRUN_ALL
from contract.nodes import RDZV_PORT

from training.cli import arguments, commands
from training.cli.batch import batch_nodes
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
    TrainConfig,
    default_data_location,
    default_recipe,
    default_tracking_uri,
)
from training.errors import EXIT_USAGE, exit_code_table
from training.recipes import recipe_names

PROG = "python -m training"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One line, like every other failure of this command.
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def _add_recipe(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--recipe",
        type=arguments.recipe,
        default=default_recipe(),
        metavar="NAME",
        help=f"what to train: {', '.join(recipe_names())} (training/recipes; default: ${RECIPE_ENV} or "
        f"{DEFAULT_RECIPE}; now %(default)s)",
    )


def _add_data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        type=arguments.name,
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
        type=arguments.name,
        default=None,
        help=f"MLflow experiment (default: the recipe's; {DEFAULT_RECIPE}: {DEFAULT_EXPERIMENT})",
    )
    parser.add_argument(
        "--model-name",
        type=arguments.name,
        default=None,
        help=f"registered model name (default: the recipe's; {DEFAULT_RECIPE}: {DEFAULT_MODEL_NAME})",
    )
    parser.add_argument(
        "--alias", type=arguments.alias, default=DEFAULT_ALIAS, help="registered model alias (default: %(default)s)"
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
    subcommands = parser.add_subparsers(dest="command", required=True, metavar="{pipeline,train,seed,compile}")

    pipeline = subcommands.add_parser(
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
    pipeline.set_defaults(handler=commands.pipeline)

    train = subcommands.add_parser(
        "train",
        help="train, log to MLflow, register a version, move the alias",
        description=(
            "Train on the prepared data (run `pipeline` first), log params, metrics and the model to MLflow,\n"
            "register a new model version and move the alias per --promote."
        ),
        epilog=exit_codes,
        formatter_class=formatter,
    )
    train.add_argument("--epochs", type=arguments.positive_int, default=defaults.epochs, help="(default: %(default)s)")
    train.add_argument(
        "--batch-size", type=arguments.positive_int, default=defaults.batch_size, help="(default: %(default)s)"
    )
    train.add_argument(
        "--lr", type=arguments.positive_float, default=defaults.lr, help="peak learning rate (default: %(default)s)"
    )
    train.add_argument("--seed", type=arguments.seed_value, default=defaults.seed, help="(default: %(default)s)")
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
        type=arguments.alias,
        default=DEFAULT_CHALLENGER_ALIAS,
        help="the alias --promote challenger sets; not --alias (default: %(default)s)",
    )
    train.add_argument("--run-name", default=None, help="MLflow run name (default: generated)")
    train.add_argument(
        "--nproc-per-node",
        type=arguments.nproc,
        default=None,
        metavar="{N,all}",
        help="data-parallel (DDP) training in N processes, as torchrun --standalone would start them; "
        f"'{ALL_GPUS}' (or torchrun's '{TORCHRUN_ALL}') = one per visible GPU. NCCL on CUDA, Gloo on CPU; "
        "--batch-size is per process. Rank 0 records the run (default: one process)",
    )
    nodes = batch_nodes()
    train.add_argument(
        "--nnodes",
        type=arguments.positive_int,
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
    train.set_defaults(handler=commands.train)

    seed = subcommands.add_parser(
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
    seed.add_argument("--epochs", type=arguments.positive_int, default=SEED_EPOCHS, help="(default: %(default)s)")
    _add_recipe(seed)
    _add_tracking(seed)
    _add_data_dir(seed)
    seed.set_defaults(handler=commands.seed)

    compile_ = subcommands.add_parser(
        "compile",
        help="export a registered version to ONNX behind the equivalence gate (training does it for new ones)",
        description=(
            "Export version VERSION of the model to ONNX, compare ONNX Runtime's answers with its pyfunc's on\n"
            "the recipe's validation split, and record the graph and the verdict in the version. Refused for a\n"
            "signed version (its signature would no longer verify) and, without --force, for one that has its verdict."
        ),
        epilog=exit_codes,
        formatter_class=formatter,
    )
    compile_.add_argument("version", type=arguments.positive_int, help="the model version's number")
    compile_.add_argument("--force", action="store_true", help="redo a version that already has its verdict")
    _add_recipe(compile_)
    _add_tracking(compile_)
    _add_data_dir(compile_)
    compile_.set_defaults(handler=commands.compile_version)
    return parser
