"""How every command fails: one line on stderr (DEVTOOLS_DEBUG=1 adds the traceback) and the documented
exit code (training.errors.EXIT_CODES); SIGTERM and Ctrl-C end a started run FAILED and exit 130. A
worker of a distributed launch hands its line to the launcher instead, which prints only the root cause.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import traceback
import warnings
from collections.abc import Callable
from types import FrameType
from typing import Any, NoReturn

from training.cli.commands import resolve_recipe_defaults
from training.cli.parser import PROG
from training.errors import EXIT_INTERRUPTED, EXIT_OK, EXIT_TRAINING, TrainingError, UsageError, one_line
from training.launch import WORKER_MARKER, noted_failure, record_worker_error
from training.world import current_world


def run_command(args: argparse.Namespace) -> int:
    """Run the parsed command (`args.handler`) and return its exit code, whatever happens in it."""
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
    previous_hook = sys.unraisablehook
    if on_main_thread:
        signal.signal(signal.SIGTERM, _interrupt)
        sys.unraisablehook = _redeliver_interrupt
    try:
        resolve_recipe_defaults(args)
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
        sys.unraisablehook = previous_hook


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


def _redeliver_interrupt(unraisable: Any) -> None:
    """A SIGTERM that arrived while a finalizer (`__del__`) ran raised its KeyboardInterrupt there, where
    Python can only print it ("Exception ignored in ...") and carry on: the job would run on, and the
    output would carry a traceback. The signal is sent again instead, a moment later from another thread
    (sent from here, it would be handled here), to be raised where it unwinds; again if it lands in a
    finalizer again."""
    if issubclass(unraisable.exc_type, KeyboardInterrupt):
        threading.Timer(0.01, os.kill, (os.getpid(), signal.SIGTERM)).start()
        return
    sys.__unraisablehook__(unraisable)


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
