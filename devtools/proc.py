"""The one place devtools starts external processes.

Every command is an argv list (never a shell string). `--verbose` echoes it. Failures are turned
into a `DevtoolsError` by `docker_errors.classify`, from the tail of stderr.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import IO, NoReturn, TextIO

from devtools.engine.stderr import classify, missing_program

_verbose = False
_STDERR_TAIL_LINES = 200


def set_verbose(enabled: bool) -> None:
    global _verbose
    _verbose = enabled


@dataclass(frozen=True)
class Completed:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


def _echo(argv: Sequence[str]) -> None:
    if _verbose:
        print(f"+ {shlex.join(argv)}", file=sys.stderr, flush=True)


def _merged_env(env: Mapping[str, str] | None) -> dict[str, str] | None:
    return None if env is None else {**os.environ, **env}


def run(
    argv: Sequence[str],
    *,
    capture: bool = False,
    check: bool = True,
    env: Mapping[str, str] | None = None,
    explain_from_stdout: bool = False,
) -> Completed:
    """Run argv to completion.

    capture=False streams stdout and stderr to the terminal (stderr is also kept, so a failure can be
    explained); capture=True returns both as text. explain_from_stdout: the command prints the cause of
    a failure on stdout (Compose's plain build progress: `#6 ... exec format error`), so stdout is relayed
    through a pipe and its tail kept with stderr's.
    """
    _echo(argv)
    try:
        if capture:
            done = subprocess.run(list(argv), capture_output=True, text=True, env=_merged_env(env), check=False)
            result = Completed(tuple(argv), done.returncode, done.stdout, done.stderr)
        else:
            result = _run_streaming(argv, env, explain_from_stdout)
    except FileNotFoundError as exc:
        raise missing_program(argv[0]) from exc
    if check and result.returncode != 0:
        raise classify(result.argv, result.returncode, result.stderr)
    return result


def _relay(stream: IO[str], sink: TextIO, tail: deque[str]) -> None:
    for line in stream:
        sink.write(line)
        sink.flush()
        tail.append(line)


def _run_streaming(argv: Sequence[str], env: Mapping[str, str] | None, relay_stdout: bool) -> Completed:
    tail: deque[str] = deque(maxlen=_STDERR_TAIL_LINES)
    stdout = subprocess.PIPE if relay_stdout else None
    with subprocess.Popen(
        list(argv), stdout=stdout, stderr=subprocess.PIPE, text=True, env=_merged_env(env), bufsize=1
    ) as child:
        assert child.stderr is not None
        relay = None
        if child.stdout is not None:
            relay = threading.Thread(target=_relay, args=(child.stdout, sys.stdout, tail), daemon=True)
            relay.start()
        _relay(child.stderr, sys.stderr, tail)
        if relay is not None:
            relay.join()
        returncode = child.wait()
    return Completed(tuple(argv), returncode, "", "".join(tail))


def exec_(argv: Sequence[str], *, env: Mapping[str, str] | None = None) -> NoReturn:
    """Replace this process with argv, so the terminal, signals and exit code are the child's."""
    _echo(argv)
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execvpe(argv[0], list(argv), _merged_env(env) or dict(os.environ))
    except FileNotFoundError as exc:
        raise missing_program(argv[0]) from exc
