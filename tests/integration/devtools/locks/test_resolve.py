"""`devtools lock` for real: uv resolves every lock of a checkout's copy from PyPI (torch's CPU build from
the wheelhouse), each matches its inputs afterwards, and resolving again without --upgrade changes
nothing: an existing lock keeps its versions."""

from __future__ import annotations

import shutil
from pathlib import Path

from devtools.locks import resolve
from devtools.locks.sets import LOCK_SETS, joint_inputs
from testing.cli_harness import REPO


def test_every_lock_resolves_and_a_second_resolution_changes_nothing(tmp_path: Path) -> None:
    for name in {*joint_inputs(), *(i for s in LOCK_SETS for i in s.inputs)}:
        source = REPO / name.split("[", 1)[0]
        (tmp_path / source.relative_to(REPO)).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, tmp_path / source.relative_to(REPO))
    shutil.copytree(REPO / "wheelhouse", tmp_path / "wheelhouse")
    shutil.copytree(REPO / "locks", tmp_path / "locks")  # the current versions, kept by the resolution
    shown: list[str] = []

    written = resolve.resolve(tmp_path, ["linux/amd64"], upgrade=False, report=shown.append)

    assert {path.name for path in written} == {path.name for path in (REPO / "locks").glob("*.linux-amd64.txt")}
    assert resolve.stale(tmp_path, ["linux/amd64"]) == []
    for path in written:  # the same versions and hashes as the committed locks: nothing moved
        assert path.read_text() == (REPO / "locks" / path.name).read_text(), path.name
    assert shown[0].startswith("lock: locks/stack.linux-amd64.txt (")
