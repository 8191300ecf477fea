"""The code's layers point one way: the import-linter contracts in pyproject.toml hold (layers, the
deploy-target seam, the images and devtools independent, no cycle between the modules of a package).
Imports inside functions count: they only postpone a cycle to run time."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _lint_imports() -> subprocess.CompletedProcess[str]:
    lint = Path(sys.executable).with_name("lint-imports")
    env = {"PYTHONPATH": f"{REPO}{':'}{REPO / 'services'}", "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [str(lint), "--config", str(REPO / "pyproject.toml"), "--no-cache"],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


def test_every_import_contract_is_kept() -> None:
    done = _lint_imports()
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "broken" not in done.stdout.lower().replace("0 broken", "")


def test_the_graph_counts_imports_inside_functions() -> None:
    """devtools.commands.up imports the start path inside its function (cheap --help): still an edge."""
    import grimp

    graph = grimp.build_graph("devtools")
    assert graph.direct_import_exists(importer="devtools.commands.up", imported="devtools.stack.start")
