"""`--env-file`: KEY=VALUE files read as python-dotenv (and Compose's `.env`) reads them.

That is: `export KEY=...`, single and double quotes, `#` comments on their own line or after a
value and whitespace, blank lines, `${VAR}` expansion. python-dotenv itself does the reading, so
the file means here what it means to every other tool; its parser, not `dotenv_values` alone, is
used so that each key keeps its line number for error messages, and so that a line it cannot parse
is an error rather than the warning-and-skip `dotenv_values` gives.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from devtools.errors import DevtoolsError, ExitCode

_LINE_BREAK = re.compile(r"\r\n|\n|\r")  # as python-dotenv counts lines


@dataclass(frozen=True)
class EnvFile:
    path: Path
    values: Mapping[str, str] = field(default_factory=dict)
    # The line of each key's assignment (the last one, which wins, when a key is set twice).
    lines: Mapping[str, int] = field(default_factory=dict)

    def location(self, key: str) -> str:
        """`deploy/prod.env:5`: where `key` got its value."""
        return f"{self.path}:{self.lines[key]}"


def read(path: Path, option: str = "--env-file") -> EnvFile:
    """The file's values; a missing file or a line python-dotenv cannot parse is a usage error
    (`option` names the file in the message)."""
    # Imported here: every `devtools --help` imports the command modules, and it is benchmarked.
    from dotenv import dotenv_values
    from dotenv.parser import parse_stream

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DevtoolsError(f"cannot read {option} {path}: {exc.strerror}", ExitCode.USAGE) from exc
    except UnicodeDecodeError as exc:
        raise DevtoolsError(f"cannot read {option} {path}: not UTF-8 text ({exc.reason})", ExitCode.USAGE) from exc
    lines: dict[str, int] = {}
    for binding in parse_stream(io.StringIO(text)):
        line = _first_line(binding.original.string, binding.original.line)
        if binding.error:
            # The line is not echoed: an env file may hold a value that is better not printed.
            raise DevtoolsError(
                f"{path}:{line}: cannot parse this line; expected KEY=VALUE "
                "(python-dotenv syntax: optional `export`, a quoted or plain value, an optional # comment)",
                ExitCode.USAGE,
            )
        if binding.key is None:  # a blank line or a comment
            continue
        if binding.value is None:
            # python-dotenv reads a bare `KEY` as "no value" and load_dotenv skips it; here it is
            # far more likely a KEY=VALUE line that lost its `=`, so it is not dropped silently.
            raise DevtoolsError(f"{path}:{line}: {binding.key} has no value; expected KEY=VALUE", ExitCode.USAGE)
        lines[binding.key] = line
    # The values (with `${VAR}` expanded) from python-dotenv's own reading of the same text.
    parsed = dotenv_values(stream=io.StringIO(text))
    values = {key: value for key, value in parsed.items() if value is not None}
    return EnvFile(path, values, lines)


def _first_line(original: str, mark_line: int) -> int:
    """The line a binding's text starts on: python-dotenv counts the blank lines before a binding
    as part of it, so its own line number is that of the first of them."""
    leading = original[: len(original) - len(original.lstrip())]
    return mark_line + len(_LINE_BREAK.findall(leading))
