"""The SSH tunnel to a remote engine, without one: a local port already taken, `ps`'s lines from the
tunnel's record, a tunnel `down` closed stays closed, one that cannot open yet is tried again. The real
remote engine: tests/docker/test_remote.py."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from devtools.errors import DevtoolsError, ExitCode
from devtools.remote import tunnel
from devtools.stack.config import ComposeConfig
from devtools.stack.project import ComposeProject


def test_a_tunnel_to_a_port_taken_here_is_refused_before_ssh_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[list[str]] = []
    monkeypatch.setattr(tunnel.proc, "spawn", lambda argv, log: started.append(list(argv)))
    project = ComposeProject(tmp_path, "mlstack", remote=True)
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = f"127.0.0.1:{holder.getsockname()[1]}"
        with pytest.raises(DevtoolsError) as error:
            tunnel.open_forwards(project, "ssh://me@gpu-box:2222", [tunnel.Forward("mlflow", taken, "127.0.0.1:32768")])
    assert error.value.code is ExitCode.PORT_IN_USE and not started
    assert error.value.message.startswith(f"port {taken} on this machine is already in use, so mlflow on gpu-box")
    with pytest.raises(DevtoolsError, match="over SSH only") as error:
        tunnel.open_forwards(project, "tcp://gpu-box:2376", [])
    assert error.value.code is ExitCode.USAGE


def test_ps_lines_come_from_the_tunnels_record(tmp_path: Path) -> None:
    project = ComposeProject(tmp_path, "mlstack", remote=True)
    state = tunnel.state_path(project)
    state.parent.mkdir(parents=True)
    forwards = [{"service": "serving", "local": "127.0.0.1:8080", "remote": "127.0.0.1:32769"}]
    state.write_text(json.dumps({"pid": 2**22 + 7, "host": "me@gpu-box:2222", "forwards": forwards}))
    assert tunnel.status(project) == [
        "127.0.0.1:8080 -> me@gpu-box:2222 127.0.0.1:32769 (serving, tunnel closed: `devtools up` opens it again)"
    ]
    assert not tunnel.close(project) and not state.exists()  # a dead tunnel's record is dropped


def test_a_tunnel_down_closed_is_not_opened_again_by_a_watcher(tmp_path: Path) -> None:
    project = ComposeProject(tmp_path, "mlstack", remote=True)
    with pytest.raises(DevtoolsError) as error:
        tunnel.ensure(project, "ssh://me@gpu-box:2222", lambda: ComposeConfig({"services": {}}))
    assert error.value.code is ExitCode.NOT_RUNNING and "`devtools up` opens it again" in error.value.message


def test_a_tunnel_that_cannot_open_again_yet_is_tried_again_later(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The link is down: reopening fails (and closes the old record first); the record must stay, so the
    watcher's next try, once the link is back, opens it rather than calling the stack down."""
    project = ComposeProject(tmp_path, "mlstack", remote=True)
    state = tunnel.state_path(project)
    state.parent.mkdir(parents=True)
    state.write_text(json.dumps({"pid": 0, "host": "me@gpu-box", "engine": "unix:///tmp/x.sock", "forwards": []}))
    attempts: list[str] = []

    def link_down(project: ComposeProject, endpoint: str, forwards: list[tunnel.Forward]) -> int:
        tunnel.close(project)
        attempts.append(endpoint)
        raise DevtoolsError("the SSH tunnel to me@gpu-box did not open", ExitCode.DOCKER_UNAVAILABLE)

    monkeypatch.setattr(tunnel, "open_forwards", link_down)
    for _ in range(2):
        with pytest.raises(DevtoolsError) as error:
            tunnel.ensure(project, "ssh://me@gpu-box", lambda: ComposeConfig({"services": {}}))
        assert error.value.code is ExitCode.DOCKER_UNAVAILABLE  # lost, kept trying: not NOT_RUNNING
    assert len(attempts) == 2 and json.loads(state.read_text())["host"] == "me@gpu-box"
