"""The headless notebook runner, run as the notebook container runs it: a real kernel, each outcome its
exit code and last line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from devtools.notebook import lab as lab


@pytest.mark.parametrize(
    ("cells", "code", "first", "then"),
    [
        (["x = 1", "print(x + 1)"], 0, "notebook: ", "explore.ipynb ran 2 cells"),
        (["x = 1", "raise ValueError('boom')"], 1, "error: cell 2 of ", "explore.ipynb raised ValueError: boom"),
        (["import os; os._exit(9)"], 3, "error: the kernel died in cell 1 of ", "explore.ipynb (out of memory"),
        (["import time; time.sleep(30)"], 4, "error: cell 1 of ", "explore.ipynb ran past 2 s"),
    ],
)
def test_the_runner_executes_cells_and_speaks_the_exit_protocol(
    tmp_path: Path, cells: list[str], code: int, first: str, then: str
) -> None:
    """The runner as the notebook container runs it (`python -c`, nbclient and a real kernel): each
    outcome is the exit code and the last line lab.py maps to devtools' own."""
    nbformat = pytest.importorskip("nbformat", reason="the notebook tools (pyproject's test extra)")
    pytest.importorskip("ipykernel", reason="the notebook tools (pyproject's test extra)")
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in cells])
    path = tmp_path / "explore.ipynb"
    nbformat.write(notebook, str(path))
    done = subprocess.run(
        [sys.executable, "-c", lab.RUNNER.read_text(), str(path)],
        capture_output=True, text=True, env={**os.environ, "NOTEBOOK_CELL_TIMEOUT": "2"}, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == code, done.stderr
    last = done.stderr.strip().splitlines()[-1]  # the path as seen from /workspace, whatever it is here
    assert last.startswith(first) and then in last, last
