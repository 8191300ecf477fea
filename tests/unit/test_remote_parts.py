"""A remote engine, the parts without one: which files the remote override syncs, what an archive holds,
the watcher's sync (an engine stand-in records what it was asked), the link lost and back, the project's
files, and the SSH tunnel's bookkeeping. The real remote engine: tests/docker/test_remote.py (this file
has its own name: pytest needs unique basenames)."""

from __future__ import annotations

import io
import json
import socket
import tarfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from devtools.errors import DevtoolsError, ExitCode
from devtools.stack import forward, remote
from devtools.stack.config import ComposeConfig
from devtools.stack.project import ComposeProject, Variant
from testing.cli_harness import FIXTURES

RECORDED = FIXTURES / "compose_config_remote.yml"


def remote_config(root: Path) -> ComposeConfig:
    return ComposeConfig(yaml.safe_load(RECORDED.read_text().replace("@ROOT@", str(root))))


def test_the_remote_override_syncs_the_bind_mounted_folders_into_volumes(tmp_path: Path) -> None:
    config = remote_config(tmp_path)
    project = ComposeProject(tmp_path, "mlstack", remote=True)
    assert [(r.service, r.path, r.target, r.key, r.volume) for r in remote.sync_roots(project, config)] == [
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


def checkout(tmp_path: Path) -> remote.SyncRoot:
    folder = tmp_path / "services" / "serving"
    (folder / "__pycache__").mkdir(parents=True)
    (folder / "app.py").write_text("print('app')\n")
    (folder / "model.bin").write_bytes(bytes(range(256)) * 8)  # binary: copied as it is
    (folder / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"\0")
    (folder / "app.py.swp").write_text("vim")
    return remote.SyncRoot("serving", folder, "/app/serving", "serving-src", "mlstack_serving-src")


def members(data: bytes) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return {member.name: member for member in tar.getmembers()}


def test_an_archive_holds_the_files_by_rule_as_the_dev_users(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = checkout(tmp_path)
    monkeypatch.setattr(remote, "host_ids", lambda: (1234, 1235))
    packed = remote.archive(root, remote.files_under(tmp_path, root.path), tmp_path)
    held = members(packed.data)
    assert sorted(held) == ["app.py", "model.bin"] and packed.files == 2  # no cache, no editor swap file
    assert {(m.uid, m.gid) for m in held.values()} == {(1234, 1235)}
    monkeypatch.setenv(remote.SYNC_LIMIT_ENV, "0.001")  # ~1 KB: the 2 KB binary is over it
    packed = remote.archive(root, [root.path / "app.py", root.path / "model.bin"], tmp_path)
    assert sorted(members(packed.data)) == ["app.py"]
    assert packed.skipped == [f"services/serving/model.bin (0 MB > the 0 MB of {remote.SYNC_LIMIT_ENV})"]


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


def test_the_watcher_copies_changes_removes_deletions_and_keeps_them_while_the_link_is_down(tmp_path: Path) -> None:
    root = checkout(tmp_path)
    engine = Engine()
    syncer = remote.Syncer(ComposeProject(tmp_path, "mlstack", remote=True), [root], engine)  # type: ignore[arg-type]
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


def test_a_tunnel_to_a_port_taken_here_is_refused_before_ssh_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[list[str]] = []
    monkeypatch.setattr(forward.proc, "spawn", lambda argv, log: started.append(list(argv)))
    project = ComposeProject(tmp_path, "mlstack", remote=True)
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = f"127.0.0.1:{holder.getsockname()[1]}"
        with pytest.raises(DevtoolsError) as error:
            forward.open_forwards(
                project, "ssh://me@gpu-box:2222", [forward.Forward("mlflow", taken, "127.0.0.1:32768")]
            )
    assert error.value.code is ExitCode.PORT_IN_USE and not started
    assert error.value.message.startswith(f"port {taken} on this machine is already in use, so mlflow on gpu-box")
    with pytest.raises(DevtoolsError, match="over SSH only") as error:
        forward.open_forwards(project, "tcp://gpu-box:2376", [])
    assert error.value.code is ExitCode.USAGE


def test_ps_lines_come_from_the_tunnels_record(tmp_path: Path) -> None:
    project = ComposeProject(tmp_path, "mlstack", remote=True)
    state = forward.state_path(project)
    state.parent.mkdir(parents=True)
    forwards = [{"service": "serving", "local": "127.0.0.1:8080", "remote": "127.0.0.1:32769"}]
    state.write_text(json.dumps({"pid": 2**22 + 7, "host": "me@gpu-box:2222", "forwards": forwards}))
    assert forward.status(project) == [
        "127.0.0.1:8080 -> me@gpu-box:2222 127.0.0.1:32769 (serving, tunnel closed: `devtools up` opens it again)"
    ]
    assert not forward.close(project) and not state.exists()  # a dead tunnel's record is dropped


def test_a_tunnel_down_closed_is_not_opened_again_by_a_watcher(tmp_path: Path) -> None:
    project = ComposeProject(tmp_path, "mlstack", remote=True)
    with pytest.raises(DevtoolsError) as error:
        forward.ensure(project, "ssh://me@gpu-box:2222")
    assert error.value.code is ExitCode.NOT_RUNNING and "`devtools up` opens it again" in error.value.message


def test_a_tunnel_that_cannot_open_again_yet_is_tried_again_later(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The link is down: reopening fails (and closes the old record first); the record must stay, so the
    watcher's next try, once the link is back, opens it rather than calling the stack down."""
    project = ComposeProject(tmp_path, "mlstack", remote=True)
    state = forward.state_path(project)
    state.parent.mkdir(parents=True)
    state.write_text(json.dumps({"pid": 0, "host": "me@gpu-box", "engine": "unix:///tmp/x.sock", "forwards": []}))
    attempts: list[str] = []

    def link_down(project: ComposeProject, endpoint: str, forwards: list[forward.Forward]) -> int:
        forward.close(project)
        attempts.append(endpoint)
        raise DevtoolsError("the SSH tunnel to me@gpu-box did not open", ExitCode.DOCKER_UNAVAILABLE)

    monkeypatch.setattr(forward, "open_forwards", link_down)
    monkeypatch.setattr(ComposeProject, "config", lambda self: ComposeConfig({"services": {}}))
    for _ in range(2):
        with pytest.raises(DevtoolsError) as error:
            forward.ensure(project, "ssh://me@gpu-box")
        assert error.value.code is ExitCode.DOCKER_UNAVAILABLE  # lost, kept trying: not NOT_RUNNING
    assert len(attempts) == 2 and json.loads(state.read_text())["host"] == "me@gpu-box"
