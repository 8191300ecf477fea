"""devtools.models.provenance.source: the checkout's commit and its diff, with real git."""

from __future__ import annotations

import subprocess
from pathlib import Path

from devtools.models.provenance import source


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, check=True).stdout


def checkout(root: Path) -> Path:
    (root / "services/training").mkdir(parents=True)
    (root / "services/training/train.py").write_text("x = 1\n")
    git(root, "init", "-q")
    git(root, "add", ".")
    git(root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "first")
    return root


def test_a_clean_checkout_gives_its_commit_and_no_diff(tmp_path: Path) -> None:
    root = checkout(tmp_path)
    assert source(root).commit == git(root, "rev-parse", "HEAD").strip() and source(root).diff == ""


def test_edits_and_new_files_under_services_make_the_diff_others_do_not(tmp_path: Path) -> None:
    root = checkout(tmp_path)
    (root / "services/training/train.py").write_text("x = 2\n")
    (root / "services/training/new.py").write_text("y = 1\n")
    (root / "notes.txt").write_text("not a job's source\n")
    diff = source(root).diff
    assert "+x = 2" in diff and "+y = 1" in diff and "notes.txt" not in diff
    # the diff applies to the commit, and gives back the tree the job ran
    clean = tmp_path.parent / "clean"
    subprocess.run(["git", "clone", "-q", str(root), str(clean)], check=True)
    subprocess.run(["git", "-C", str(clean), "apply", "-"], input=diff, text=True, check=True)
    assert (clean / "services/training/train.py").read_text() == "x = 2\n"
    assert (clean / "services/training/new.py").read_text() == "y = 1\n"


def test_outside_git_nothing_is_claimed(tmp_path: Path) -> None:
    assert source(tmp_path).commit is None
