"""devtools.jobs.repro: what a run must record to be rebuilt, the command it replays, the worktree (real
git), and --check's comparison."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
from contract import provenance as keys

from devtools.errors import DevtoolsError, ExitCode
from devtools.jobs.repro import Recorded, compare, worktree
from devtools.models.mlflow_api import RunRecord

COMMAND = ["train", "--recipe", "digits", "--epochs", "2", "--seed", "7", "--promote", "always", "--alias", "a"]
TAGS = {
    keys.IMAGE: "mlstack/training:dev",
    keys.IMAGE_ID: "sha256:" + "1" * 64,
    keys.GIT_COMMIT: "2" * 40,
    keys.GIT_DIRTY: "false",
    keys.GIT_DIFF: keys.DIFF_NONE,
    keys.COMMAND: json.dumps(COMMAND),
    keys.DATA_DIGEST: "3" * 64,
    keys.WORLD_SIZE: "1",
}


def run(tags: dict[str, str], metrics: dict[str, float] | None = None) -> RunRecord:
    return RunRecord("r1", "e1", "FINISHED", 0, metrics or {}, {}, tags)


@dataclass
class Artifacts:
    """MlflowApi's artifact download, for Recorded.of."""

    files: dict[str, bytes] = field(default_factory=dict)
    url: str = "http://mlflow"

    def artifact(self, run_id: str, path: str) -> bytes | None:
        return self.files.get(path)


def test_a_recorded_run_replays_its_command_never_moving_an_alias() -> None:
    recorded = Recorded.of(run(TAGS), Artifacts())  # type: ignore[arg-type]
    assert recorded.replayed() == [*[a for a in COMMAND if a not in ("--promote", "always")], "--promote", "never"]
    assert recorded.diff is None and recorded.commit == "2" * 40


@pytest.mark.parametrize(
    ("tags", "said"),
    [
        ({}, "does not record"),
        ({**TAGS, keys.IMAGE_ID: "unknown"}, f"does not record {keys.IMAGE_ID}"),
        ({**TAGS, keys.WORLD_SIZE: "2"}, "trained on 2 ranks"),
        ({**TAGS, keys.GIT_DIRTY: "true", keys.GIT_DIFF: keys.DIFF_TOO_LARGE}, "did not record"),
        ({**TAGS, keys.GIT_DIRTY: "true", keys.GIT_DIFF: keys.DIFF_RECORDED}, "has no provenance/source.diff"),
    ],
)
def test_what_cannot_be_rebuilt_is_refused_in_one_line(tags: dict[str, str], said: str) -> None:
    with pytest.raises(DevtoolsError, match=said) as refused:
        Recorded.of(run(tags), Artifacts())  # type: ignore[arg-type]
    assert refused.value.code == ExitCode.REPRO and "\n" not in refused.value.message


def git(root: Path, *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(["git", "-C", str(root), *args], input=stdin, capture_output=True, text=True, check=True)
    return done.stdout


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "services/training").mkdir(parents=True)
    (root / "services/training/train.py").write_text("x = 1\n")
    git(root.parent, "init", "-q", str(root))
    git(root, "add", ".")
    git(root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "first")
    return root


def recorded_at(root: Path, diff: str | None) -> Recorded:
    tags = {**TAGS, keys.GIT_COMMIT: git(root, "rev-parse", "HEAD").strip()}
    if diff is not None:
        tags |= {keys.GIT_DIRTY: "true", keys.GIT_DIFF: keys.DIFF_RECORDED}
    return Recorded.of(run(tags), Artifacts({keys.DIFF_ARTIFACT: (diff or "").encode()}))  # type: ignore[arg-type]


def test_the_worktree_is_the_commit_with_the_diff_and_goes_away(checkout: Path) -> None:
    (checkout / "services/training/train.py").write_text("x = 2\n")
    diff = git(checkout, "diff", "HEAD", "--binary")
    git(checkout, "checkout", "--", ".")
    with worktree(checkout, recorded_at(checkout, diff)) as tree:
        assert (tree / "services/training/train.py").read_text() == "x = 2\n"
        assert (checkout / "services/training/train.py").read_text() == "x = 1\n"  # the checkout is untouched
    assert not tree.exists() and str(tree) not in git(checkout, "worktree", "list")


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ("commit", "is not in this checkout"),
        ("diff", "does not apply"),
    ],
)
def test_a_missing_commit_or_a_stale_diff_leaves_no_worktree(checkout: Path, change: str, said: str) -> None:
    stale = "--- a/services/training/train.py\n+++ b/services/training/train.py\n@@ -1 +1 @@\n-x = 9\n+x = 3\n"
    recorded = recorded_at(checkout, stale if change == "diff" else None)
    if change == "commit":
        recorded = replace(recorded, commit="f" * 40)
    with pytest.raises(DevtoolsError, match=said) as refused:
        with worktree(checkout, recorded):
            pytest.fail("the body runs only in a rebuilt tree")
    assert refused.value.code == ExitCode.REPRO
    assert git(checkout, "worktree", "list").count("\n") == 1
    assert not any((checkout / ".devtools/repro").glob("*"))


def test_check_names_the_metrics_and_the_conditions_that_differ() -> None:
    same = compare(
        run(TAGS, {"val_accuracy": 0.9, "val_loss": 0.3}), run(TAGS, {"val_accuracy": 0.9 + 1e-7, "val_loss": 0.3})
    )
    assert same.matches and same.differing_conditions == {}
    moved = {**TAGS, keys.HARDWARE_CPU: "other cpu"}
    differs = compare(run(TAGS, {"val_accuracy": 0.9, "val_loss": 0.3}), run(moved, {"val_accuracy": 0.91}))
    assert not differs.matches
    assert differs.differing_metrics == {"val_accuracy": (0.9, 0.91), "val_loss": (0.3, None)}
    assert differs.differing_conditions == {keys.HARDWARE_CPU: ("unknown", "other cpu")}
