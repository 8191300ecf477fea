"""`docker compose --progress json build` -> one status line per image on the board, and, when the build
fails, the failing step's own output (for the one-line error: devtools.stderr).

Compose writes BuildKit's solve status as JSON on stdout: `vertexes` (a step: `[serving deps 3/5] RUN
...`, with started/completed/cached/error), `logs` (a step's output, base64) and `statuses` (transfer
progress, not shown); and its own events on stderr (`{"id": "serving", "status": "Built"}`, `{"error":
true, "message": "failed to solve: ..."}`). The failing step is rendered back in plain-progress form
(`#3 [base internal] load metadata for IMAGE` / `#3 ERROR: ...`), which the error rules read.
"""

from __future__ import annotations

import base64
import json
import re
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from devtools.progress import Board

# "[serving deps 3/5] RUN pip install ..." or "[serving internal] load build context" or "[base] exporting"
_VERTEX = re.compile(r"^\[(?P<service>[^\s\]]+)(?: (?P<where>[^\]]*))?\] (?P<step>.*)$")
_LOG_LINES = 30  # per step, kept for a failure's explanation
_STEP_WIDTH = 70


@dataclass
class _Step:
    number: int  # in order of appearance, as plain progress numbers them (#N)
    name: str
    logs: deque[str] = field(default_factory=lambda: deque(maxlen=_LOG_LINES))
    started: bool = False
    done: bool = False
    cached: bool = False
    error: str = ""


@dataclass
class _Image:
    steps: int = 0  # Dockerfile steps seen (`[service stage n/m] ...`)
    cached: int = 0


class BuildProgress:
    def __init__(self, board: Board) -> None:
        self.board = board
        self.steps: dict[str, _Step] = {}
        self.images: dict[str, _Image] = {}
        self.messages: list[str] = []  # Compose's own error messages (stderr)
        self.other: list[str] = []  # anything that was not JSON (kept for the explanation)

    def stdout(self, line: str) -> None:
        event = _json(line)
        if event is None:
            if line.strip():
                self.other.append(line.rstrip())
            return
        for vertex in event.get("vertexes") or []:
            self._vertex(vertex)
        for log in event.get("logs") or []:
            step = self.steps.get(str(log.get("vertex", "")))
            if step is not None:
                text = base64.b64decode(str(log.get("data", ""))).decode(errors="replace")
                step.logs.extend(line for line in text.splitlines() if line.strip())

    def stderr(self, line: str) -> None:
        event = _json(line)
        if event is None:
            if line.strip():
                self.other.append(line.rstrip())
            return
        if event.get("error"):
            self.messages.append(str(event.get("message", "")))
        elif event.get("id") and event.get("status") == "Built":
            service = str(event["id"])
            image = self.images.get(service, _Image())
            cached = f", {image.cached} cached" if image.cached else ""
            self.board.set(service, f"built ({image.steps} steps{cached})", done=True)

    def explanation(self) -> str:
        """What failed, in the plain progress format the error rules read."""
        lines: list[str] = list(self.other[-_LOG_LINES:])
        for step in self.steps.values():
            if step.error:
                lines.append(f"#{step.number} {step.name}")
                lines += [f"#{step.number} {text}" for text in step.logs]
                lines.append(f"#{step.number} ERROR: {step.error}")
        return "\n".join([*lines, *self.messages]) + "\n"

    def _vertex(self, vertex: dict[str, Any]) -> None:
        digest, name = str(vertex.get("digest", "")), str(vertex.get("name", ""))
        match = _VERTEX.match(name)
        service = match.group("service") if match else ""
        # A Dockerfile step (`[serving deps 3/5] RUN ...`); BuildKit's own (`[serving internal] load ...`,
        # `[serving] exporting to image`) are not shown.
        counted = bool(match and match.group("where") and "/" in match.group("where"))
        image = self.images.setdefault(service, _Image()) if service else None
        step = self.steps.get(digest)
        if step is None:
            step = self.steps[digest] = _Step(len(self.steps) + 1, name)
            if image is not None and counted:
                image.steps += 1
        if vertex.get("error"):
            step.error = str(vertex["error"])
            if service:
                self.board.set(service, f"failed: {_short(match.group('step') if match else name)}", done=True)
            return
        if vertex.get("cached") and not step.cached:
            step.cached = True
            if image is not None and counted:
                image.cached += 1
        if vertex.get("completed"):
            step.done = True  # a step that completes in the event that starts it (cached) is not shown
            return
        if vertex.get("started") and not step.started:
            step.started = True
            if counted and match:
                self.board.set(service, f"building: [{match.group('where')}] {_short(match.group('step'))}")


def _json(line: str) -> dict[str, Any] | None:
    text = line.strip()
    if not text.startswith("{"):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _short(step: str) -> str:
    step = " ".join(step.split())
    return step if len(step) <= _STEP_WIDTH else step[: _STEP_WIDTH - 3] + "..."
