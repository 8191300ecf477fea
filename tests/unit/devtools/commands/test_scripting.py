"""Scriptable output: `--json` of ps, doctor and model carries what the human output shows; shell
completion is on; NO_COLOR reaches Compose; native Windows is one line and exit 2."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from testing.cli_harness import FIXTURES, REPO, FakeDocker, compose_prefix, recorded_config


@pytest.fixture(autouse=True)
def _allowed(docker: FakeDocker) -> None:
    """`ps` answers nothing (no container) unless a test scripts its rows."""
    docker.allow(["ps"])


def test_ps_json_carries_every_column_of_the_table(docker: FakeDocker, cli) -> None:
    docker.respond_to(["ps"], stdout=(FIXTURES / "compose_ps.jsonl").read_text())
    table = cli("ps").stdout.splitlines()
    data = json.loads(cli("ps", "--json").stdout)
    assert data["running"] is True and data["forwards"] == []
    by_service = {row["service"]: row for row in data["containers"]}
    assert sorted(by_service) == sorted(line.split()[0] for line in table[1:])
    assert by_service["serving"]["state"] == "running" and by_service["serving"]["health"] == "healthy"
    assert by_service["serving"]["ports"] == ["127.0.0.1:8080->8080"]
    assert by_service["base"]["state"] == "exited" and by_service["base"]["exit_code"] == 0
    assert {"image", "image_source"} <= by_service["mlflow"].keys()


def test_ps_json_with_nothing_running(docker: FakeDocker, cli) -> None:
    assert json.loads(cli("ps", "--json").stdout) == {"running": False, "containers": [], "forwards": []}


def test_doctor_json_lists_each_check_and_exits_as_doctor_does(docker: FakeDocker, cli, monkeypatch) -> None:
    monkeypatch.setattr("shutil.which", lambda name: None)  # no docker CLI: the first check fails
    result = cli("doctor", "--json")
    data = json.loads(result.stdout)
    assert result.exit_code == 1 and data["ok"] is False
    assert data["checks"][0] == {
        "name": "docker CLI", "ok": False, "detail": "not found on PATH", "fix": data["checks"][0]["fix"],
    }  # fmt: skip
    assert "docs.docker.com" in data["checks"][0]["fix"]


class _Serving(BaseHTTPRequestHandler):
    answer: ClassVar[dict[str, Any]] = {}

    def do_GET(self) -> None:
        body = json.dumps(self.answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def serving() -> Iterator[int]:
    server = HTTPServer(("127.0.0.1", 0), _Serving)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()


def test_model_says_what_serving_serves_and_the_last_swap_error(
    docker: FakeDocker, cli, stack_root: Path, serving: int
) -> None:
    docker.respond_to(["config"], stdout=recorded_config(stack_root, "dev").replace("8080", str(serving)))
    _Serving.answer = {
        "name": "digits-classifier", "alias": "champion", "version": "3", "run_id": "a" * 32,
        "loaded_at": "2026-12-05T16:00:00+00:00", "not_ready_reason": None,
        "last_swap_error": "smoke test failed: output shape (2,) != (2, 10)", "last_swap_error_version": "4",
    }  # fmt: skip
    shown = cli("model").stdout.splitlines()
    assert shown == [
        f"serving digits-classifier@champion: version 3 (run {'a' * 12}, loaded 2026-12-05T16:00:00+00:00)",
        "last swap error (version 4): smoke test failed: output shape (2,) != (2, 10)",
    ]
    data = json.loads(cli("model", "--json").stdout)
    assert data["version"] == "3" and data["alias"] == "champion" and data["url"] == f"http://127.0.0.1:{serving}"


def test_model_shows_what_made_the_served_version(docker: FakeDocker, cli, stack_root: Path, serving: int) -> None:
    docker.respond_to(["config"], stdout=recorded_config(stack_root, "dev").replace("8080", str(serving)))
    _Serving.answer = {
        "name": "digits-classifier", "alias": "champion", "version": "3", "run_id": "a" * 32,
        "loaded_at": "2026-12-05T16:00:00+00:00", "not_ready_reason": None, "last_swap_error": None,
        "provenance": {
            "provenance.image": "127.0.0.1:5001/mlstack/training@sha256:" + "b" * 64,
            "provenance.image_id": "sha256:" + "c" * 64, "provenance.lock_sha256": "d" * 64,
            "mlflow.source.git.commit": "e" * 40, "provenance.git_dirty": "true",
        },
        "runtime": {"name": "pyfunc", "providers": None, "reason": "SERVING_RUNTIME=pyfunc"},
    }  # fmt: skip
    assert cli("model").stdout.splitlines()[1] == "  answered by: pyfunc: SERVING_RUNTIME=pyfunc"
    assert cli("model").stdout.splitlines()[2] == (
        f"  made by: image 127.0.0.1:5001/mlstack/training@sha256:{'b' * 64}, lock {'d' * 12}, commit {'e' * 12}+diff"
    )
    _Serving.answer["provenance"] = {}  # a version registered before runs recorded it
    del _Serving.answer["runtime"]  # and a serving older than accelerated artifacts
    assert cli("model").stdout.splitlines()[1] == "last swap error: none"


def test_model_names_the_challenger_and_why_there_is_none(
    docker: FakeDocker, cli, stack_root: Path, serving: int
) -> None:
    docker.respond_to(["config"], stdout=recorded_config(stack_root, "dev").replace("8080", str(serving)))
    champion = {
        "name": "digits-classifier", "alias": "champion", "version": "3", "run_id": "a" * 32,
        "loaded_at": "2026-12-05T16:00:00+00:00", "not_ready_reason": None, "last_swap_error": None,
    }  # fmt: skip
    challenger = {"alias": "challenger", "mode": "canary", "canary_share": 0.1, "version": "4", "state_reason": None}
    _Serving.answer = {**champion, "challenger": challenger}
    assert cli("model").stdout.splitlines()[1] == (
        "challenger @challenger (canary 10%): version 4; `devtools promote` compares"
    )
    none = {**challenger, "mode": "shadow", "canary_share": None, "version": None}
    _Serving.answer = {
        **champion,
        "challenger": {**none, "state_reason": "no version of digits-classifier holds @challenger"},
    }
    assert cli("model").stdout.splitlines()[1] == (
        "challenger @challenger (shadow): none (no version of digits-classifier holds @challenger)"
    )
    _Serving.answer = {**champion, "challenger": None}
    assert cli("model").stdout.splitlines()[1] == "last swap error: none"


def test_model_when_serving_does_not_answer_is_exit_8(docker: FakeDocker, cli, stack_root: Path) -> None:
    from testing.moto_server import free_port

    docker.respond_to(["config"], stdout=recorded_config(stack_root, "dev").replace("8080", str(free_port())))
    result = cli("model")
    assert result.exit_code == 8 and "serving does not answer at http://127.0.0.1:" in result.stderr


def test_no_color_reaches_compose(docker: FakeDocker, cli, stack_root: Path, monkeypatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    docker.allow(["down"])
    assert cli("down").exit_code == 0
    prefix = compose_prefix(stack_root, "docker-compose.yml", "docker-compose.dev.yml")
    assert docker.calls == [[*prefix, "--profile", "*", "--ansi", "never", "down", "--remove-orphans"]]


def test_shell_completion_is_on() -> None:
    # Typer finds the shell among devtools' parents (shellingham): run it from bash, as a person would (the
    # `; exit` keeps bash from exec'ing it away).
    command = f"'{sys.executable}' -m devtools --show-completion; exit $?"
    done = subprocess.run(["bash", "-c", command], capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0 and "complete" in done.stdout and "devtools" in done.stdout


def test_native_windows_is_one_line_and_exit_2() -> None:
    # The check reads sys.platform when devtools starts; set after the imports, which branch on it themselves.
    code = "import sys; from devtools.cli import main; sys.platform = 'win32'; main()"
    done = subprocess.run([sys.executable, "-c", code, "ps"], capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "devtools: native Windows is not supported: run devtools in WSL2 (wsl --install, then Docker Desktop's "
        "WSL2 integration or Docker Engine inside the distro); README, Supported hosts"
    ]
