"""The three commands, each from parsed arguments to one call into the package and its output line.

Each imports its modules when it runs: they import numpy, torch or mlflow, which --help must not.
"""

from __future__ import annotations

import argparse
import os

from training.config import SeedConfig, TrainConfig, default_data_location
from training.errors import EXIT_OK, UsageError
from training.launch import Nodes, launch
from training.recipes import recipe_named
from training.world import inside_launched_worker


def resolve_recipe_defaults(args: argparse.Namespace) -> None:
    """--data-dir, --experiment and --model-name default to the recipe's (when the command has them)."""
    if args.data_dir is None:
        args.data_dir = default_data_location(args.recipe)
    if hasattr(args, "model_name"):  # train and seed
        recipe = recipe_named(args.recipe)
        args.experiment = args.experiment or recipe.experiment
        args.model_name = args.model_name or recipe.model_name


def pipeline(args: argparse.Namespace) -> int:
    from training.data_location import prepare

    print(prepare(args.data_dir, force=args.force, recipe=args.recipe))
    return EXIT_OK


def train(args: argparse.Namespace) -> int:
    from training.data_location import local_dir
    from training.devices import resolve_nproc
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


def seed(args: argparse.Namespace) -> int:
    from training.data_location import is_s3, local_dir, prepare
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


def compile_version(args: argparse.Namespace) -> int:
    from training.accelerate.existing import CompileRequest, compile_existing
    from training.data_location import local_dir

    request = CompileRequest(
        model_name=args.model_name,
        version=str(args.version),
        recipe=args.recipe,
        data_dir=local_dir(args.data_dir),
        tracking_uri=args.tracking_uri,
        force=args.force,
    )
    print(compile_existing(request))
    return EXIT_OK
