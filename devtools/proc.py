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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, NoReturn, TextIO

from devtools.stderr import classify, missing_program

_verbose = False
_STDERR_TAIL_LINES = 200


def set_verbose(enabled: bool) -> None:
    global _verbose
    _verbose = enabled


def verbose() -> bool:
    """-v: commands show their tools' full output instead of a summary."""
    return _verbose


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
    stdin: bytes | None = None,
) -> Completed:
    """Run argv to completion.

    capture=False streams stdout and stderr to the terminal (stderr is also kept, so a failure can be
    explained); capture=True returns both as text. explain_from_stdout: the command prints the cause of
    a failure on stdout (Compose's plain build progress: `#6 ... exec format error`), so stdout is relayed
    through a pipe and its tail kept with stderr's. stdin: bytes to feed the command (capture only).
    """
    _echo(argv)
    try:
        if stdin is not None:
            fed = subprocess.run(list(argv), input=stdin, capture_output=True, env=_merged_env(env), check=False)
            result = Completed(
                tuple(argv), fed.returncode, fed.stdout.decode(errors="replace"), fed.stderr.decode(errors="replace")
            )
        elif capture:
            done = subprocess.run(list(argv), capture_output=True, text=True, env=_merged_env(env), check=False)
            result = Completed(tuple(argv), done.returncode, done.stdout, done.stderr)
        else:
            result = _run_streaming(argv, env, explain_from_stdout)
    except FileNotFoundError as exc:
        raise missing_program(argv[0]) from exc
    if check and result.returncode != 0:
        raise classify(result.argv, result.returncode, result.stderr)
    return result


def spawn(argv: Sequence[str], *, log: Path) -> subprocess.Popen[bytes]:
    """Start argv in the background, in its own session (a Ctrl-C to devtools, or to a later command,
    does not reach it), its output to `log`; the caller keeps the handle (e.g. an SSH tunnel)."""
    _echo(argv)
    try:
        with log.open("wb") as sink:
            return subprocess.Popen(
                list(argv), stdin=subprocess.DEVNULL, stdout=sink, stderr=sink, start_new_session=True
            )
    except FileNotFoundError as exc:
        raise missing_program(argv[0]) from exc


def observe(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    on_stdout: Callable[[str], None],
    on_stderr: Callable[[str], None],
) -> Completed:
    """Run argv with each line of its output handed to a callback instead of the terminal (a command
    that turns a tool's machine-readable progress into its own). Explaining a failure is the caller's:
    the result's stdout and stderr are empty."""
    _echo(argv)
    try:
        returncode = _pump_both(argv, env, on_stdout, on_stderr)
    except FileNotFoundError as exc:
        raise missing_program(argv[0]) from exc
    return Completed(tuple(argv), returncode, "", "")


def _pump(stream: IO[str], handle: Callable[[str], None]) -> None:
    for line in stream:
        handle(line)


def _pump_both(
    argv: Sequence[str],
    env: Mapping[str, str] | None,
    on_stdout: Callable[[str], None],
    on_stderr: Callable[[str], None],
) -> int:
    with subprocess.Popen(
        list(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_merged_env(env), bufsize=1
    ) as child:
        assert child.stdout is not None and child.stderr is not None
        reader = threading.Thread(target=_pump, args=(child.stdout, on_stdout), daemon=True)
        reader.start()
        _pump(child.stderr, on_stderr)
        reader.join()
        return child.wait()


def _relay_to(sink: TextIO, tail: deque[str]) -> Callable[[str], None]:
    def relay(line: str) -> None:
        sink.write(line)
        sink.flush()
        tail.append(line)

    return relay


def _run_streaming(argv: Sequence[str], env: Mapping[str, str] | None, relay_stdout: bool) -> Completed:
    tail: deque[str] = deque(maxlen=_STDERR_TAIL_LINES)
    if relay_stdout:
        returncode = _pump_both(argv, env, _relay_to(sys.stdout, tail), _relay_to(sys.stderr, tail))
        return Completed(tuple(argv), returncode, "", "".join(tail))
    with subprocess.Popen(list(argv), stderr=subprocess.PIPE, text=True, env=_merged_env(env), bufsize=1) as child:
        assert child.stderr is not None
        _pump(child.stderr, _relay_to(sys.stderr, tail))
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
