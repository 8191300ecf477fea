"""Watch decisions with a fake clock and fake events: rules, ignores, debounce, content hashes, coalescing."""

from __future__ import annotations

from pathlib import Path

import pytest

from devtools.errors import DevtoolsError
from devtools.sources import is_ignored
from devtools.watch.planner import Debouncer, Planner
from devtools.watch.rules import Action, load_watch


def _config(root: Path) -> dict:  # type: ignore[type-arg]
    """Shaped like `docker compose config` output: develop.watch paths come back absolute."""
    return {
        "serving": {
            "develop": {
                "watch": [
                    {"path": str(root / "services/serving/requirements.txt"), "action": "rebuild"},
                    {"path": str(root / "docker/serving"), "action": "rebuild"},
                    {"path": str(root / "services/serving"), "action": "sync+restart", "target": "/app/serving",
                     "ignore": ["requirements.txt"]},
                ]
            },
            "x-devtools": {
                "restart-signal": "HUP",
                "watch": [{"path": "services/serving", "action": "restart", "ignore": ["requirements.txt"]}],
            },
        },
        "training": {
            "develop": {"watch": [{"path": str(root / "services/training/requirements.txt"), "action": "rebuild"}]},
            "x-devtools": {
                "never-interrupt": ["python -m training"],
                "watch": [{"path": "services/training/hooks", "action": "exec", "command": "echo hook"}],
            },
        },
        "mlflow": {"image": "mlflow"},
    }  # fmt: skip


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    for rel, text in {
        "services/serving/app.py": "print('v1')\n",
        "services/serving/util.py": "X = 1\n",
        "services/serving/requirements.txt": "fastapi==0.1\nuvicorn==0.2\n",
        "docker/serving/Dockerfile": "FROM base\n",
        "services/training/requirements.txt": "torch\n",
        "services/training/train.py": "def main(): ...\n",
        "services/training/hooks/post.sh": "echo\n",
    }.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


@pytest.fixture
def planner(tree: Path) -> Planner:
    planner = Planner(tree, load_watch(_config(tree), tree))
    planner.prime()
    return planner


def test_rules_come_from_develop_watch_and_the_extension(tree: Path) -> None:
    watches = load_watch(_config(tree), tree)
    assert set(watches) == {"serving", "training"}
    serving = watches["serving"]
    assert serving.restart_signal == "HUP"
    actions = [(r.action, r.path.relative_to(tree).as_posix(), r.from_extension) for r in serving.rules]
    assert (Action.SYNC, "services/serving", False) in actions and (Action.RESTART, "services/serving", True) in actions
    assert watches["training"].never_interrupt == ("python -m training",)


def test_unknown_action_is_a_clear_error(tree: Path) -> None:
    config = {"serving": {"x-devtools": {"watch": [{"path": "services", "action": "explode"}]}}}
    with pytest.raises(DevtoolsError, match=r"unknown x-devtools\.watch action 'explode'"):
        load_watch(config, tree)


def test_source_edit_restarts_the_process_not_a_rebuild(tree: Path, planner: Planner) -> None:
    (tree / "services/serving/app.py").write_text("print('v2')\n")
    planned, _ = planner.plan({tree / "services/serving/app.py"})
    assert [(p.service, p.action) for p in planned] == [("serving", Action.RESTART)]
    assert planned[0].line().startswith("serving: services/serving/app.py changed (")
    assert planned[0].line().endswith("-> restart")


def test_requirements_change_rebuilds_only_the_services_using_it(tree: Path, planner: Planner) -> None:
    req = tree / "services/serving/requirements.txt"
    req.write_text("fastapi==0.1\nuvicorn==0.3\n")
    planned, _ = planner.plan({req})
    assert [(p.service, p.action) for p in planned] == [("serving", Action.REBUILD)]
    assert "requirements.txt changed (" in planned[0].reason


def test_touch_whitespace_or_comment_only_dependency_edit_does_nothing(tree: Path, planner: Planner) -> None:
    req = tree / "services/serving/requirements.txt"
    req.write_text(req.read_text())
    assert planner.plan({req}) == ([], [])
    req.write_text("  fastapi==0.1\n\n\nuvicorn==0.2   \n")
    assert planner.plan({req}) == ([], [])
    req.write_text("# pinned for the demo\nfastapi==0.1\nuvicorn==0.2\n")
    assert planner.plan({req}) == ([], [])


def test_whitespace_in_source_still_counts(tree: Path, planner: Planner) -> None:
    app = tree / "services/serving/app.py"
    app.write_text("if True:\n        print('v1')\n")
    assert [p.action for p in planner.plan({app})[0]] == [Action.RESTART]


def test_rebuild_supersedes_restart_in_one_burst(tree: Path, planner: Planner) -> None:
    (tree / "services/serving/app.py").write_text("print('v3')\n")
    (tree / "docker/serving/Dockerfile").write_text("FROM base\nRUN true\n")
    planned, _ = planner.plan({tree / "services/serving/app.py", tree / "docker/serving/Dockerfile"})
    assert [(p.service, p.action) for p in planned] == [("serving", Action.REBUILD)]


def test_thousand_files_give_one_action_per_service_and_note_the_branch_switch(tree: Path, planner: Planner) -> None:
    batch = set()
    for i in range(1000):
        path = tree / "services/serving" / f"gen_{i}.py"
        path.write_text(f"N = {i}\n")
        batch.add(path)
    (tree / ".git").mkdir()
    (tree / ".git/HEAD").write_text("ref: refs/heads/feature\n")
    batch.add(tree / ".git/HEAD")
    planned, notes = planner.plan(batch)
    assert [(p.service, p.action) for p in planned] == [("serving", Action.RESTART)]
    assert planned[0].reason.startswith("1000 files changed")
    assert notes == ["git: branch switch or checkout (1000 files changed) -> coalesced"]


@pytest.mark.parametrize(
    "rel",
    [
        ".git/index",
        "services/serving/__pycache__/app.cpython-311.pyc",
        "services/serving/app.pyc",
        ".venv/lib/x.py",
        ".pytest_cache/v/cache",
        "mlruns/0/meta.yaml",
        "data/train.npz",
        "models/m.pt",
        "services/serving/.app.py.swp",
        "services/serving/app.py~",
        "services/serving/4913",
        "services/serving/.#app.py",
    ],
)
def test_default_ignores(rel: str) -> None:
    assert is_ignored(Path(rel))


def test_ignored_and_unwatched_paths_do_nothing(tree: Path, planner: Planner) -> None:
    cache = tree / "services/serving/__pycache__/app.cpython-311.pyc"
    cache.parent.mkdir()
    cache.write_bytes(b"\0")
    (tree / "services/training/train.py").write_text("def main(): return 1\n")  # bind-mounted, no rule
    assert planner.plan({cache, tree / "services/training/train.py"}) == ([], [])


def test_a_container_rewriting_the_same_bytes_does_nothing(tree: Path, planner: Planner) -> None:
    hook = tree / "services/training/hooks/post.sh"
    hook.write_text("echo\n")
    assert planner.plan({hook}) == ([], [])
    hook.write_text("echo changed\n")
    assert [(p.service, p.action) for p in planner.plan({hook})[0]] == [("training", Action.EXEC)]


def test_debouncer_waits_for_quiet_and_caps_the_wait() -> None:
    debouncer = Debouncer(quiet_s=0.1, max_wait_s=1.0)
    assert not debouncer.due(0.0)
    debouncer.add(Path("a"), 0.0)
    debouncer.add(Path("b"), 0.05)
    assert not debouncer.due(0.1)
    assert debouncer.due(0.16)
    assert debouncer.take() == {Path("a"), Path("b")}
    assert not debouncer.due(10.0)
    for i in range(30):  # a storm that never goes quiet still yields a batch after max_wait
        debouncer.add(Path(f"f{i}"), 2.0 + i * 0.05)
    assert debouncer.due(3.0)
    assert debouncer.first_change_at() == 2.0


def test_a_burst_of_many_files_waits_longer_for_quiet() -> None:
    debouncer = Debouncer(quiet_s=0.05, burst_files=20, burst_quiet_s=0.5)
    debouncer.add(Path("saved.py"), 0.0)
    assert debouncer.due(0.06)  # a save: acted on at once
    debouncer.take()
    for i in range(25):  # a checkout writing 25 files, then pausing mid-way
        debouncer.add(Path(f"f{i}.py"), 1.0 + i * 0.001)
    assert not debouncer.due(1.2)  # a pause longer than quiet_s does not split the burst
    debouncer.add(Path("f25.py"), 1.3)
    assert not debouncer.due(1.7)
    assert debouncer.due(1.81)
    assert len(debouncer.take()) == 26


@pytest.mark.parametrize("rel", ["services/serving/models/slot.py", "services/training/data/source.py"])
def test_a_package_named_like_a_data_folder_is_source_below_the_top(rel: str) -> None:
    """data/, models/, mlruns/ are the stack's data only at the checkout's top (as .gitignore has them)."""
    assert not is_ignored(Path(rel))
