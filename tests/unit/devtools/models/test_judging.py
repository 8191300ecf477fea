"""devtools.models.judging: the comparison judged (canary, unknown p99, inclusive thresholds, nothing compared
yet, when there is nothing to judge), pure."""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from devtools.models import judging
from devtools.models.judging import Thresholds
from testing.cli_harness import FakeDocker, recorded_config

MODEL = "digits-classifier"


ALIAS_PATH = "/api/2.0/mlflow/registered-models/alias"


MODEL_PATH = "/api/2.0/mlflow/registered-models/get"


PASSING: dict[str, Any] = {
    "model": MODEL, "mode": "shadow", "canary_share": 0.1, "since": "2026-12-05T18:00:00+00:00",
    "champion": {"alias": "champion", "version": "3", "run_id": "a" * 32, "requests": 1200, "errors": 0,
                 "p50_ms": 4.0, "p99_ms": 10.0},
    "challenger": {"alias": "challenger", "version": "4", "run_id": "b" * 32, "requests": 600, "errors": 3,
                   "p50_ms": 4.5, "p99_ms": 12.0, "routed": False, "state_reason": None},
    "compared": 600, "agreed": 591, "agreement": 0.985, "kind": "classification", "shadow_dropped": 2,
}  # fmt: skip


def comparison(**changes: Any) -> dict[str, Any]:
    """PASSING with some fields changed; `champion` / `challenger` dicts are merged into theirs."""
    answer = copy.deepcopy(PASSING)
    for key, value in changes.items():
        if key in ("champion", "challenger"):
            answer[key].update(value)
        else:
            answer[key] = value
    return answer


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


def test_canary_mode_has_no_agreement_and_names_the_share() -> None:
    canary = comparison(mode="canary", canary_share=0.25, compared=0, agreed=0, agreement=None,
                        challenger={"routed": False, "state_reason": "5 failures in a row"})  # fmt: skip

    results = judging.checks(canary, Thresholds())
    lines = judging.table(canary)

    assert (results[-1].passed, results[-1].shown) == (None, "n/a (canary)")
    assert lines[0].startswith(f"{MODEL}: canary mode (the challenger answers 25% of the requests)")
    assert "  the challenger is out of canary routing: 5 failures in a row" in lines
    assert lines[-1].strip().startswith("agreement (classification): n/a (canary)")
    assert judging.verdicts(results)[-1] == "  skip  agreement   n/a (canary)"


def test_p99_is_skipped_while_either_is_unknown() -> None:
    results = judging.checks(comparison(champion={"p99_ms": None}), Thresholds())

    assert (results[2].name, results[2].passed) == ("p99_ratio", None)
    assert results[2].shown == "n/a (the champion's p99 is not known yet)"
    assert judging.failures(results) == []


def test_thresholds_are_inclusive() -> None:
    edge = comparison(challenger={"requests": 200, "errors": 2, "p99_ms": 15.0}, compared=200, agreed=190,
                      agreement=0.95)  # fmt: skip

    results = judging.checks(edge, Thresholds())

    assert [check.passed for check in results] == [True, True, True, True]
    assert [check.value for check in results] == [200, 0.01, 1.5, 0.95]


def test_shadow_with_nothing_compared_yet_is_not_judged_on_agreement() -> None:
    results = judging.checks(comparison(compared=0, agreed=0, agreement=None), Thresholds())

    assert (results[-1].passed, results[-1].shown) == (None, "n/a (no answers compared yet)")


def test_refusal_only_without_a_challenger_or_its_data() -> None:
    assert judging.refusal(comparison()) is None
    off = comparison(mode="off", challenger={"version": None, "state_reason": "no challenger followed"})
    assert "(no challenger followed)" in str(judging.refusal(off))
    assert "has scored no requests" in str(judging.refusal(comparison(challenger={"requests": 0})))
