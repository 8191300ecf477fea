"""`devtools lock` for real: uv resolves every lock of a checkout's copy from PyPI (torch's CPU build from
the wheelhouse), each matches its inputs afterwards, and resolving again without --upgrade changes
nothing: an existing lock keeps its versions."""

from __future__ import annotations

import shutil
from pathlib import Path

from devtools.locks import resolve
from testing.cli_harness import REPO
from testing.locks import copy_lock_inputs


def test_every_lock_resolves_and_a_second_resolution_changes_nothing(tmp_path: Path) -> None:
    copy_lock_inputs(tmp_path)  # the locks too: the current versions, kept by the resolution
    shutil.copytree(REPO / "wheelhouse", tmp_path / "wheelhouse")
    shown: list[str] = []

    written = resolve.resolve(tmp_path, ["linux/amd64"], upgrade=False, report=shown.append)

    assert {path.name for path in written} == {path.name for path in (REPO / "locks").glob("*.linux-amd64.txt")}
    assert resolve.stale(tmp_path, ["linux/amd64"]) == []
    for path in written:  # the same versions and hashes as the committed locks: nothing moved
        assert path.read_text() == (REPO / "locks" / path.name).read_text(), path.name
    assert shown[0].startswith("lock: locks/stack.linux-amd64.txt (")
