"""devtools promote: the checks on serving's /comparison and the alias moves it asks of MLflow's REST API,
against real local HTTP servers standing in for serving and MLflow; exit codes and --json."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from testing.cli_harness import FakeDocker, recorded_config
from testing.comparisons import MODEL, PASSING, comparison
from testing.moto_server import free_port

ALIAS_PATH = "/api/2.0/mlflow/registered-models/alias"


MODEL_PATH = "/api/2.0/mlflow/registered-models/get"


@dataclass
class Stack:
    """What the stand-ins answer, and what MLflow was asked: (method, path, parameters, content type)."""

    comparison: dict[str, Any] = field(default_factory=lambda: comparison())
    aliases: dict[str, str] = field(default_factory=lambda: {"champion": "3", "challenger": "4"})
    serving_version: str | None = "3"
    swaps: bool = True  # serving follows @champion as soon as MLflow moves it
    refuse: tuple[int, dict[str, Any]] | None = None  # MLflow's answer to a POST or DELETE
    asked: list[tuple[str, str, dict[str, Any], str | None]] = field(default_factory=list)

    def changes(self) -> list[tuple[str, dict[str, Any]]]:
        return [(method, params) for method, _, params, _ in self.asked if method != "GET"]


def _handler(stack: Stack, role: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            if role == "serving" and url.path == "/comparison":
                return self._answer(200, stack.comparison)
            if role == "serving" and url.path == "/model":
                return self._answer(200, {"name": MODEL, "alias": "champion", "version": stack.serving_version})
            if role == "mlflow" and url.path == MODEL_PATH:
                params = {key: values[0] for key, values in parse_qs(url.query).items()}
                stack.asked.append(("GET", url.path, params, None))
                if params["name"] != stack.comparison["model"]:
                    body = {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": f"{params['name']} not found"}
                    return self._answer(404, body)
                aliases = [{"alias": alias, "version": version} for alias, version in stack.aliases.items()]
                # MLflow's JSON leaves out an empty list, as protobuf does.
                return self._answer(
                    200, {"registered_model": {"name": params["name"], **({"aliases": aliases} if aliases else {})}}
                )
            return self._answer(404, {"detail": "Not Found"})

        def _change(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
            stack.asked.append((self.command, self.path, body, self.headers.get("Content-Type")))
            if role != "mlflow" or self.path != ALIAS_PATH:
                return self._answer(404, {})
            if stack.refuse is not None:
                return self._answer(*stack.refuse)
            if self.command == "POST":
                stack.aliases[body["alias"]] = body["version"]
                if stack.swaps and body["alias"] == stack.comparison["champion"]["alias"]:
                    stack.serving_version = body["version"]
            else:
                stack.aliases.pop(body["alias"], None)
            return self._answer(200, {})

        do_POST = do_DELETE = _change

        def log_message(self, *_: Any) -> None:
            pass

    return Handler


@pytest.fixture
def stack(docker: FakeDocker, stack_root: Path) -> Iterator[Stack]:
    """serving and MLflow stand-ins on the ports the recorded Compose config publishes."""
    state = Stack()
    servers = {role: ThreadingHTTPServer(("127.0.0.1", 0), _handler(state, role)) for role in ("serving", "mlflow")}
    for server in servers.values():
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    config = recorded_config(stack_root, "dev")
    for role, default in (("serving", 8080), ("mlflow", 5000)):
        config = config.replace(f'published: "{default}"', f'published: "{servers[role].server_address[1]}"')
    docker.respond_to(["config"], stdout=config)
    yield state
    for server in servers.values():
        server.shutdown()
        server.server_close()


def _one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


def test_a_passing_challenger_takes_the_champion_alias(stack: Stack, cli) -> None:
    result = cli("promote")

    assert result.exit_code == 0, result.stderr
    out = result.stdout.splitlines()
    assert out[0] == f"{MODEL}: shadow mode (the challenger scores a copy of each request), compared since " \
        "2026-12-05T18:00:00+00:00"  # fmt: skip
    assert out[1].split() == ["version", "requests", "errors", "error", "rate", "p50", "ms", "p99", "ms"]
    assert out[2].split() == ["@champion", "3", "1200", "0", "0.00%", "4.0", "10.0"]
    assert out[3].split() == ["@challenger", "4", "600", "3", "0.50%", "4.5", "12.0"]
    assert out[4].strip() == "agreement (classification): 98.50% (591 of 600 compared agreed); shadow copies dropped: 2"
    assert [line.split()[:2] for line in out[6:10]] == [
        ["pass", "requests"], ["pass", "error"], ["pass", "p99"], ["pass", "agreement"]
    ]  # fmt: skip
    assert "1.20 <= 1.50 (12.0 ms vs the champion's 10.0 ms)" in out[8]
    assert out[-1] == f"promoted: {MODEL}@champion -> version 4 (was 3); serving answers with version 4"
    assert stack.asked == [
        ("GET", MODEL_PATH, {"name": MODEL}, None),
        ("POST", ALIAS_PATH, {"name": MODEL, "alias": "champion", "version": "4"}, "application/json"),
        # MLflow's server reads a DELETE's parameters from its JSON body, as its own client sends them.
        ("DELETE", ALIAS_PATH, {"name": MODEL, "alias": "challenger"}, "application/json"),
    ]
    assert stack.aliases == {"champion": "4"}


def test_the_aliases_named_by_the_comparison_are_the_ones_moved(stack: Stack, cli) -> None:
    stack.comparison = comparison(
        model="diabetes-regressor", champion={"alias": "prod"}, challenger={"alias": "next"}, kind="regression"
    )
    stack.aliases = {"prod": "3", "next": "4"}

    result = cli("promote")

    assert result.exit_code == 0, result.stderr
    assert stack.changes() == [
        ("POST", {"name": "diabetes-regressor", "alias": "prod", "version": "4"}),
        ("DELETE", {"name": "diabetes-regressor", "alias": "next"}),
    ]
    assert result.stdout.splitlines()[-1].startswith("promoted: diabetes-regressor@prod -> version 4 (was 3)")


def test_a_failing_threshold_refuses_with_exit_11_and_changes_nothing(stack: Stack, cli) -> None:
    stack.comparison = comparison(challenger={"errors": 30, "p99_ms": 21.0})

    result = cli("promote")

    assert result.exit_code == 11
    assert "  fail  error rate  5.00% > 1.00% (30 of 600)" in result.stdout.splitlines()
    assert _one_line(result.stderr) == (
        "devtools: not promoted: error rate 5.00% > 1.00% (30 of 600), p99 ratio 2.10 > 1.50 (21.0 ms vs the "
        "champion's 10.0 ms); --force promotes anyway"
    )
    assert stack.asked == [] and stack.aliases == {"champion": "3", "challenger": "4"}


def test_thresholds_are_options(stack: Stack, cli) -> None:
    result = cli("promote", "--min-requests", "1000", "--min-agreement", "0.99")

    assert result.exit_code == 11
    assert _one_line(result.stderr) == (
        "devtools: not promoted: requests 600 < 1000, agreement 98.50% < 99.00% (600 compared); --force promotes anyway"
    )
    assert stack.asked == []


def test_force_promotes_despite_a_failing_threshold(stack: Stack, cli) -> None:
    stack.comparison = comparison(challenger={"requests": 50, "errors": 0})

    result = cli("promote", "--force")

    assert result.exit_code == 0, result.stderr
    assert "--force: promoting although requests 50 < 200" in result.stdout
    assert [method for method, _ in stack.changes()] == ["POST", "DELETE"]
    assert stack.aliases == {"champion": "4"}


@pytest.mark.parametrize("force", [[], ["--force"]])
def test_no_challenger_is_exit_11(stack: Stack, cli, force: list[str]) -> None:
    stack.comparison = comparison(
        challenger={"version": None, "run_id": None, "requests": 0, "state_reason": "no version holds the alias"}
    )

    result = cli("promote", *force)

    assert result.exit_code == 11 and result.stdout == ""
    assert _one_line(result.stderr) == (
        f"devtools: no challenger to promote: {MODEL}@challenger is not loaded in serving (no version holds the "
        "alias); train one with `devtools train -- --promote challenger`"
    )
    assert stack.asked == []


def test_no_data_is_exit_11_even_with_force(stack: Stack, cli) -> None:
    stack.comparison = comparison(challenger={"requests": 0, "errors": 0, "p50_ms": None, "p99_ms": None}, compared=0)

    result = cli("promote", "--force")

    assert result.exit_code == 11 and result.stdout == ""
    assert _one_line(result.stderr) == (
        f"devtools: not promoted: the challenger ({MODEL}@challenger, version 4) has scored no requests yet "
        "(shadow mode); send traffic to serving and run it again"
    )
    assert stack.asked == []


@pytest.mark.parametrize(("now", "where"), [({"challenger": "5"}, "now version 5"), ({}, "now gone")])
def test_a_challenger_alias_moved_meanwhile_is_exit_11_and_nothing_set(
    stack: Stack, cli, now: dict[str, str], where: str
) -> None:
    stack.aliases = {"champion": "3", **now}

    result = cli("promote")

    assert result.exit_code == 11
    assert _one_line(result.stderr) == (
        f"devtools: not promoted: {MODEL}@challenger moved since serving compared version 4 ({where}); run it "
        "again once serving compares the new one"
    )
    assert stack.changes() == [] and stack.aliases == {"champion": "3", **now}


def test_a_champion_alias_moved_meanwhile_is_exit_11_and_nothing_set(stack: Stack, cli) -> None:
    stack.aliases = {"champion": "5", "challenger": "4"}

    result = cli("promote", "--force")

    assert result.exit_code == 11
    assert "champion moved since serving compared the challenger with version 3 (now version 5)" in result.stderr
    assert stack.changes() == []


def test_serving_not_answering_is_exit_8(docker: FakeDocker, stack_root: Path, cli) -> None:
    config = recorded_config(stack_root, "dev").replace('published: "8080"', f'published: "{free_port()}"')
    docker.respond_to(["config"], stdout=config)

    result = cli("promote")

    assert result.exit_code == 8
    assert "serving does not answer at http://127.0.0.1:" in _one_line(result.stderr)


def test_mlflow_refusing_names_its_message_with_exit_1(stack: Stack, cli) -> None:
    stack.refuse = (400, {"error_code": "INVALID_PARAMETER_VALUE", "message": "Invalid alias\nname"})

    result = cli("promote")

    assert result.exit_code == 1
    assert _one_line(result.stderr).endswith(
        f"refused to set {MODEL}@champion to version 4: HTTP 400, INVALID_PARAMETER_VALUE: Invalid alias name"
    )


def test_serving_that_does_not_swap_in_time_is_exit_7(stack: Stack, cli) -> None:
    stack.swaps = False

    result = cli("promote", "--timeout", "0.6")

    assert result.exit_code == 7
    assert _one_line(result.stderr) == (
        f"devtools: {MODEL}@champion is version 4 in MLflow now (was 3), but serving still answers with version 3 "
        "after 0.6s; `devtools model` says why"
    )
    assert stack.aliases == {"champion": "4"}


def test_json_carries_the_comparison_the_checks_and_the_outcome(stack: Stack, cli) -> None:
    result = cli("promote", "--json")

    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["comparison"] == PASSING
    assert data["promoted"] is True and data["version"] == "4" and data["previous"] == "3"
    assert [(check["name"], check["passed"]) for check in data["checks"]] == [
        ("requests", True), ("error_rate", True), ("p99_ratio", True), ("agreement", True)
    ]  # fmt: skip
    assert data["checks"][0] == {"name": "requests", "passed": True, "value": 600, "limit": 200}


def test_json_when_refused_is_still_json_and_the_error_one_line(stack: Stack, cli) -> None:
    stack.comparison = comparison(mode="canary", compared=0, agreed=0, agreement=None, challenger={"errors": 12})

    result = cli("promote", "--json")

    assert result.exit_code == 11
    data = json.loads(result.stdout)
    assert data["promoted"] is False and data["version"] is None
    assert {check["name"]: check["passed"] for check in data["checks"]}["agreement"] is None
    assert _one_line(result.stderr).startswith("devtools: not promoted: error rate 2.00% > 1.00%")


def test_bad_thresholds_are_usage_errors(stack: Stack, cli) -> None:
    assert cli("promote", "--max-p99-ratio", "0").exit_code == 2
    assert cli("promote", "--min-agreement", "1.5").exit_code == 2
    assert stack.asked == []
