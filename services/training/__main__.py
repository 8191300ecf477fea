"""`python -m training {pipeline,train,seed,compile}`: parse the command line, run the command, exit with its code.

Errors are one line on stderr, DEVTOOLS_DEBUG=1 adds the traceback; the exit codes are
training.errors.EXIT_CODES (shown by --help). torch, transformers and mlflow are imported by the
commands, not here, so `--help` is fast. The parts: training/cli.
"""

from __future__ import annotations

import sys

from training.cli.failures import leave, run_command
from training.cli.parser import build_parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)  # bad usage: one line, exit 2
    args.argv = argv  # a launcher's workers run this same command line
    return run_command(args)


if __name__ == "__main__":
    leave(main())
