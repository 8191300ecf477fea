"""Progress a person can read: the board (live in a terminal, plain lines elsewhere) and Compose's JSON
build progress turned into it, from recorded `docker compose --progress json build` output."""

from __future__ import annotations

import io

from devtools import proc
from devtools.progress import Board
from devtools.stack.build_progress import BuildProgress
from testing.cli_harness import FIXTURES as UNIT_FIXTURES

RECORDED = UNIT_FIXTURES / "progress"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def feed(name: str, board: Board) -> BuildProgress:
    progress = BuildProgress(board)
    for line in (RECORDED / f"{name}.stdout.jsonl").read_text().splitlines(keepends=True):
        progress.stdout(line)
    for line in (RECORDED / f"{name}.stderr.jsonl").read_text().splitlines(keepends=True):
        progress.stderr(line)
    return progress


def test_a_build_is_a_few_plain_lines_of_its_steps_that_ran() -> None:
    out = io.StringIO()
    feed("build_base", Board(out, live=False, clock=Clock()))
    assert out.getvalue().splitlines() == [
        "base: building: [3/4] COPY --chmod=0755 docker/base/http-ok docker/base/install-torch doc...",
        "base: building: [4/4] WORKDIR /app",
        "base: built (4 steps, 1 cached) (0.0s)",
    ]


def test_a_failed_step_is_explained_from_its_own_output() -> None:
    out = io.StringIO()
    progress = feed("build_no_qemu", Board(out, live=False, clock=Clock()))
    assert out.getvalue().splitlines()[-1] == "base: failed: RUN python -m venv /opt/venv (0.0s)"
    error = proc.classify(("docker", "compose", "build"), 1, progress.explanation())
    assert error.code == 6
    assert error.message.startswith("build failed: the engine cannot run programs of the target platform")


def test_the_live_board_redraws_in_place_and_keeps_finished_lines() -> None:
    out, clock = io.StringIO(), Clock()
    board = Board(out, live=True, clock=clock)
    board.set("mlflow", "pulling 127.0.0.1:5001/mlstack/mlflow:dev-abc")
    board.set("serving", "building: [deps 2/4] RUN install-torch")
    clock.now += 12.5
    board.set("mlflow", "pulled 127.0.0.1:5001/mlstack/mlflow@sha256:0", done=True)
    board.note("prebuilt images: a note above the board")
    board.close()
    screen = out.getvalue()
    assert "\x1b[2F\x1b[J" in screen  # back to the board's first line, erased, drawn again
    last = screen.rsplit("\x1b[J", 1)[1].splitlines()
    assert last == [
        "prebuilt images: a note above the board",
        "done mlflow   pulled 127.0.0.1:5001/mlstack/mlflow@sha256:0 (12.5s)",
        ".... serving  building: [deps 2/4] RUN install-torch (12.5s)",
    ] or last[-2:] == [
        "done mlflow   pulled 127.0.0.1:5001/mlstack/mlflow@sha256:0 (12.5s)",
        ".... serving  building: [deps 2/4] RUN install-torch (12.5s)",
    ]


def test_a_new_phase_after_a_finished_one_times_itself() -> None:
    out, clock = io.StringIO(), Clock()
    board = Board(out, live=False, clock=clock)
    board.set("serving", "building", done=False)
    clock.now += 40
    board.set("serving", "built", done=True)
    clock.now += 5
    board.set("serving", "pushing")
    clock.now += 3
    board.set("serving", "pushed", done=True)
    assert out.getvalue().splitlines() == [
        "serving: building",
        "serving: built (40.0s)",
        "serving: pushing",
        "serving: pushed (3.0s)",
    ]
