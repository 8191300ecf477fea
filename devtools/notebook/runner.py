"""Runs one notebook headless, inside the notebook container: `devtools notebook --run` sends this file
as `python -c` (devtools never imports it; nbclient and the kernel live in the training dev image).

One line per cell on stderr as it finishes; on failure a last line `error: <why and the fix>` and an
exit code devtools maps to its own (devtools/notebook/lab.py): 1 a cell raised, 3 the kernel died,
4 a cell ran past the timeout. The notebook file is not changed.
"""

import os
import sys
import time

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

CELL_TIMEOUT_S = int(os.environ.get("NOTEBOOK_CELL_TIMEOUT", "600"))


def say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def main(path: str) -> int:
    shown = os.path.relpath(path, "/workspace")
    notebook = nbformat.read(path, as_version=4)
    cells = [index for index, cell in enumerate(notebook.cells) if cell.cell_type == "code"]
    # The notebook's own folder as the working directory, as JupyterLab runs it.
    client = NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT_S,
        kernel_name="python3",
        resources={"metadata": {"path": os.path.dirname(path)}},
    )
    started = time.monotonic()
    say(f"notebook: running {shown} ({len(cells)} code cells) in a fresh kernel")
    number = 0
    try:
        with client.setup_kernel():
            for number, index in enumerate(cells, 1):
                began = time.monotonic()
                client.execute_cell(notebook.cells[index], index)
                say(f"  cell {number}/{len(cells)} ran ({time.monotonic() - began:.1f} s)")
    except CellExecutionError as error:
        say(f"error: cell {number} of {shown} raised {error.ename}: {error.evalue} (fix it and run again)")
        return 1
    except DeadKernelError:
        say(
            f"error: the kernel died in cell {number} of {shown} (out of memory or a crash in native code): "
            "use less memory in that cell, or give Docker more"
        )
        return 3
    except CellTimeoutError:
        say(f"error: cell {number} of {shown} ran past {CELL_TIMEOUT_S} s (NOTEBOOK_CELL_TIMEOUT raises the limit)")
        return 4
    say(f"notebook: {shown} ran {len(cells)} cells in {time.monotonic() - started:.1f} s")
    return 0


sys.exit(main(sys.argv[1]))
