"""The source mirrored to a remote engine, without one: which files the remote override syncs, what an
archive holds, the watcher's sync (an engine stand-in records what it was asked), the link lost and back.
The real remote engine: tests/docker/test_remote.py."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from devtools.errors import DevtoolsError, ExitCode
from devtools.remote import mirror
from devtools.stack.config import ComposeConfig
from devtools.stack.project import ComposeProject, Variant
from testing.cli_harness import FIXTURES

RECORDED = FIXTURES / "compose_config_remote.yml"


def remote_config(root: Path) -> ComposeConfig:
    return ComposeConfig(yaml.safe_load(RECORDED.read_text().replace("@ROOT@", str(root))))


def checkout(tmp_path: Path) -> mirror.SyncRoot:
    folder = tmp_path / "services" / "serving"
    (folder / "__pycache__").mkdir(parents=True)
    (folder / "app.py").write_text("print('app')\n")
    (folder / "model.bin").write_bytes(bytes(range(256)) * 8)  # binary: copied as it is
    (folder / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"\0")
    (folder / "app.py.swp").write_text("vim")
    return mirror.SyncRoot("serving", folder, "/app/serving", "serving-src", "mlstack_serving-src")


def members(data: bytes) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return {member.name: member for member in tar.getmembers()}


class Engine:
    """Stands in for EngineApi: records copies and removals; `down` makes every call fail as a lost link."""

    def __init__(self) -> None:
        self.copied: list[tuple[str, list[str]]] = []
        self.removed: list[list[str]] = []
        self.down = False
        self.reconnects = 0

    def _check(self) -> None:
        if self.down:
            raise DevtoolsError("the Docker engine's host 127.0.0.1:2222 is not reachable", ExitCode.DOCKER_UNAVAILABLE)

    def containers(self, project: str, service: str | None = None, **_: Any) -> list[str]:
        self._check()
        return [f"{project}-{service}-1"]

    def put_archive(self, container: str, path: str, data: bytes) -> None:
        self._check()
        self.copied.append((path, sorted(members(data))))

    def exec_(self, container: str, argv: list[str], user: str = "0:0") -> tuple[int, str]:
        self._check()
        self.removed.append(argv)
        return 0, ""

    def reconnect(self) -> None:
        self.reconnects += 1


def test_the_remote_override_syncs_the_bind_mounted_folders_into_volumes(tmp_path: Path) -> None:
    config = remote_config(tmp_path)
    project = ComposeProject(tmp_path, "mlstack", remote=True)
    assert [(r.service, r.path, r.target, r.key, r.volume) for r in mirror.sync_roots(project, config)] == [
        ("serving", tmp_path / "services/serving", "/app/serving", "serving-src", "mlstack_serving-src"),
        ("training", tmp_path / "services/training", "/app/training", "training-src", "mlstack_training-src"),
        ("training", tmp_path / "services/contract", "/app/contract", "contract-src", "mlstack_contract-src"),
    ]
    for name in ("serving", "training", "seed"):  # nothing of the checkout is bind-mounted there
        assert all(volume["type"] == "volume" for volume in config.services[name].get("volumes", [])), name
    for name in ("mlflow", "serving"):  # published on the remote's loopback, at a port it picks
        [port] = config.services[name]["ports"]
        assert port["host_ip"] == "127.0.0.1" and "published" not in port
    assert project.files[-1] == tmp_path / "docker-compose.remote.yml"
    assert ComposeProject(tmp_path, "mlstack", Variant.PROD, remote=True).files == (tmp_path / "docker-compose.yml",)


def test_an_archive_holds_the_files_by_rule_as_the_dev_users(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = checkout(tmp_path)
    monkeypatch.setattr(mirror, "host_ids", lambda: (1234, 1235))
    packed = mirror.archive(root, mirror.files_under(tmp_path, root.path), tmp_path)
    held = members(packed.data)
    assert sorted(held) == ["app.py", "model.bin"] and packed.files == 2  # no cache, no editor swap file
    assert {(m.uid, m.gid) for m in held.values()} == {(1234, 1235)}
    monkeypatch.setenv(mirror.SYNC_LIMIT_ENV, "0.001")  # ~1 KB: the 2 KB binary is over it
    packed = mirror.archive(root, [root.path / "app.py", root.path / "model.bin"], tmp_path)
    assert sorted(members(packed.data)) == ["app.py"]
    assert packed.skipped == [f"services/serving/model.bin (0 MB > the 0 MB of {mirror.SYNC_LIMIT_ENV})"]


def test_the_watcher_copies_changes_removes_deletions_and_keeps_them_while_the_link_is_down(tmp_path: Path) -> None:
    root = checkout(tmp_path)
    engine = Engine()
    syncer = mirror.Syncer(ComposeProject(tmp_path, "mlstack", remote=True), [root], engine)  # type: ignore[arg-type]
    app, gone = root.path / "app.py", root.path / "old.py"
    lines, done = syncer.push([app, gone, tmp_path / "README.md"])  # README.md: not under a synced folder
    assert engine.copied == [("/app/serving", ["app.py"])]
    assert engine.removed == [["rm", "-rf", "--", "/app/serving/old.py"]]
    assert lines == ["serving: synced 1 changed, 1 removed"] and done == [app, gone]

    engine.down = True
    app.write_text("print('edited while the link was down')\n")
    lines, done = syncer.push([app])
    assert syncer.lost and syncer.pending == {app} and done == []
    assert lines[0].startswith("engine link lost (the Docker engine's host 127.0.0.1:2222") and engine.reconnects == 1
    (root.path / "new.py").write_text("NEW = 1\n")
    assert syncer.push([root.path / "new.py"]) == ([], [])  # still down: said once, both kept
    assert syncer.pending == {app, root.path / "new.py"}

    engine.down = False
    lines, done = syncer.push([])  # the watcher's retry
    assert engine.copied[-1] == ("/app/serving", ["app.py", "new.py"])
    assert lines == ["serving: synced 2 changed, 0 removed", "engine link back: 2 file(s) synced"]
    assert not syncer.lost and not syncer.pending and sorted(done) == [app, root.path / "new.py"]
