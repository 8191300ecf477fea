"""The stack's MLflow, through its REST API (urllib: devtools never imports mlflow): the registered
model aliases `devtools promote` reads, moves and deletes, the runs a failed multi-node job leaves
open, and the runs (their record and their artifacts) `devtools repro` rebuilds. Every call devtools
makes to MLflow goes through here.

The server reads a GET's parameters from the query string and any other method's from a JSON body
(mlflow/server/handlers.py, _get_request_message), DELETE included, as MLflow's own client sends them.
"""

from __future__ import annotations

import base64
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from contract import credentials

from devtools.errors import DevtoolsError, ExitCode

SERVICE = "mlflow"
MODEL_ENDPOINT = "/api/2.0/mlflow/registered-models/get"
ALIAS_ENDPOINT = "/api/2.0/mlflow/registered-models/alias"
RUN_ENDPOINT = "/api/2.0/mlflow/runs/get"
RUN_UPDATE_ENDPOINT = "/api/2.0/mlflow/runs/update"
RUN_SEARCH_ENDPOINT = "/api/2.0/mlflow/runs/search"
VERSION_ENDPOINT = "/api/2.0/mlflow/model-versions/get"
VERSION_TAG_ENDPOINT = "/api/2.0/mlflow/model-versions/set-tag"
LOGGED_MODEL_ENDPOINT = "/api/2.0/mlflow/logged-models/"
PROXIED = "mlflow-artifacts:/"
PROXIED_ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"  # list (?path=) and download (/<path>)
ARTIFACT_ENDPOINT = "/get-artifact"  # the server's own artifact download (the UI's), any artifact store
OPEN_RUN_STATES = ("RUNNING", "SCHEDULED")


@dataclass(frozen=True)
class RunRecord:
    """A run as MLflow answers it: its latest metrics, params and tags."""

    run_id: str
    experiment_id: str
    status: str
    start_time_ms: int
    metrics: dict[str, float]
    params: dict[str, str]
    tags: dict[str, str]

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> RunRecord:
        info, data = raw.get("info", {}), raw.get("data", {})

        def pairs(kind: str) -> dict[str, Any]:
            return {str(entry["key"]): entry.get("value") for entry in data.get(kind, []) if "key" in entry}

        return cls(
            run_id=str(info.get("run_id") or info.get("run_uuid") or ""),
            experiment_id=str(info.get("experiment_id", "")),
            status=str(info.get("status", "")),
            start_time_ms=int(info.get("start_time") or 0),
            metrics={key: float(value) for key, value in pairs("metrics").items()},
            params={key: str(value) for key, value in pairs("params").items()},
            tags={key: str(value) for key, value in pairs("tags").items()},
        )


@dataclass(frozen=True)
class MlflowApi:
    url: str  # http://HOST:PORT, as published on this machine
    timeout_s: float = 10.0
    # The account devtools calls as, where the server has authentication (the prod stack: the promoter).
    account: str | None = None
    password: str | None = field(default=None, repr=False)

    def model_version(self, model: str, version: str) -> dict[str, Any]:
        """The version's record: source, run_id, tags ({"key": ..., "value": ...} pairs)."""
        params = {"name": model, "version": version}
        try:
            answer = self._call("GET", VERSION_ENDPOINT, params, f"read version {version} of {model!r}")
        except _Refused as exc:
            raise exc.error() from exc
        return dict(answer.get("model_version", {}))

    def set_version_tag(self, model: str, version: str, key: str, value: str) -> None:
        body = {"name": model, "version": version, "key": key, "value": value}
        try:
            self._call("POST", VERSION_TAG_ENDPOINT, body, f"tag version {version} of {model!r} with {key}")
        except _Refused as exc:
            raise exc.error() from exc

    def artifact_root(self, source: str) -> str:
        """A version's source as the proxied artifact path it lives under (`1/models/m-.../artifacts`)."""
        action = f"resolve the artifacts of {source}"
        try:
            if source.startswith("models:/m-"):
                found = self._call("GET", LOGGED_MODEL_ENDPOINT + source[len("models:/") :], {}, action)
                uri = str(found.get("model", {}).get("info", {}).get("artifact_uri", ""))
            elif source.startswith("runs:/"):
                run_id, _, sub = source[len("runs:/") :].partition("/")
                found = self._call("GET", RUN_ENDPOINT, {"run_id": run_id}, action)
                uri = str(found.get("run", {}).get("info", {}).get("artifact_uri", "")).rstrip("/") + "/" + sub
            else:
                uri = source
        except _Refused as exc:
            raise exc.error() from exc
        if not uri.startswith(PROXIED):
            raise DevtoolsError(f"{source}: artifacts at {uri or 'nowhere'}, not proxied by MLflow", ExitCode.FAILURE)
        return uri[len(PROXIED) :].strip("/")

    def download_tree(self, root: str, target: Path) -> list[str]:
        """Every file under the proxied artifact path `root`, into `target`; their relative paths."""
        files: list[str] = []
        pending = [""]
        while pending:
            sub = pending.pop()
            path = f"{root}/{sub}".rstrip("/")
            try:
                listing = self._call("GET", PROXIED_ARTIFACTS, {"path": path}, f"list the artifacts under {path}")
            except _Refused as exc:
                raise exc.error() from exc
            for entry in listing.get("files", []):
                name = f"{sub}/{entry['path']}".strip("/") if sub else str(entry["path"])
                if entry.get("is_dir"):
                    pending.append(name)
                    continue
                quoted = urllib.parse.quote(f"{root}/{name}")
                try:
                    data = self._request("GET", f"{PROXIED_ARTIFACTS}/{quoted}", None, f"download {name}")
                except _Refused as exc:
                    raise exc.error() from exc
                (target / name).parent.mkdir(parents=True, exist_ok=True)
                (target / name).write_bytes(data)
                files.append(name)
        return sorted(files)

    def aliases(self, model: str) -> dict[str, str]:
        """The registered model's aliases and the versions they point at; {} when there is no such model.

        The model's own record, not GET .../alias: that answers a missing alias with the same 400
        INVALID_PARAMETER_VALUE as a malformed one, told apart only by its message.
        """
        try:
            answer = self._call("GET", MODEL_ENDPOINT, {"name": model}, f"read the registered model {model!r}")
        except _Refused as exc:
            if exc.status == 404 and exc.error_code == "RESOURCE_DOES_NOT_EXIST":
                return {}
            raise exc.error() from exc
        found = answer.get("registered_model", {}).get("aliases", [])
        return {
            str(entry["alias"]): str(entry["version"]) for entry in found if "alias" in entry and "version" in entry
        }

    def set_alias(self, model: str, alias: str, version: str) -> None:
        body = {"name": model, "alias": alias, "version": version}
        self._checked("POST", body, f"set {model}@{alias} to version {version}")

    def delete_alias(self, model: str, alias: str) -> None:
        self._checked("DELETE", {"name": model, "alias": alias}, f"delete {model}@{alias}")

    def run(self, run_id: str) -> RunRecord | None:
        """The run; None when MLflow has no such run."""
        try:
            answer = self._call("GET", RUN_ENDPOINT, {"run_id": run_id}, f"read the run {run_id}")
        except _Refused as exc:
            if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE") and exc.status in (400, 404):
                return None
            raise exc.error() from exc
        return RunRecord.parse(answer.get("run", {}))

    def runs_tagged(self, experiment_id: str, tag: str, value: str) -> list[RunRecord]:
        """The experiment's runs with tag=value, the newest first."""
        body = {
            "experiment_ids": [experiment_id],
            "filter": f"tags.`{tag}` = '{value}'",
            "order_by": ["attributes.start_time DESC"],
            "max_results": 100,
        }
        try:
            answer = self._call("POST", RUN_SEARCH_ENDPOINT, body, f"search the runs tagged {tag}={value}")
        except _Refused as exc:
            raise exc.error() from exc
        return [RunRecord.parse(raw) for raw in answer.get("runs", [])]

    def artifact(self, run_id: str, path: str) -> bytes | None:
        """One artifact file of the run; None when the run has no such file."""
        query = urlencode({"run_uuid": run_id, "path": path})
        try:
            return self._request("GET", f"{ARTIFACT_ENDPOINT}?{query}", None, f"download {path} of the run {run_id}")
        except _Refused as exc:
            if exc.status == 404 or exc.error_code == "RESOURCE_DOES_NOT_EXIST":
                return None
            raise exc.error() from exc

    def run_status(self, run_id: str) -> str:
        """The run's status (RUNNING, FINISHED, FAILED, KILLED, SCHEDULED)."""
        try:
            answer = self._call("GET", RUN_ENDPOINT, {"run_id": run_id}, f"read the run {run_id}")
        except _Refused as exc:
            raise exc.error() from exc
        return str(answer.get("run", {}).get("info", {}).get("status", ""))

    def end_run(self, run_id: str, status: str, end_time_ms: int) -> None:
        body = {"run_id": run_id, "status": status, "end_time": str(end_time_ms)}
        try:
            self._call("POST", RUN_UPDATE_ENDPOINT, body, f"end the run {run_id} {status}")
        except _Refused as exc:
            raise exc.error() from exc

    def end_if_open(self, run_id: str, status: str = "FAILED") -> bool:
        """Ends the run with `status` when it is still open; True when it did."""
        if self.run_status(run_id) not in OPEN_RUN_STATES:
            return False
        self.end_run(run_id, status, int(time.time() * 1000))
        return True

    def _checked(self, method: str, body: dict[str, Any], action: str) -> None:
        try:
            self._call(method, ALIAS_ENDPOINT, body, action)
        except _Refused as exc:
            raise exc.error() from exc

    def _call(self, method: str, endpoint: str, params: dict[str, Any], action: str) -> dict[str, Any]:
        if method == "GET":
            endpoint, data = f"{endpoint}?{urlencode(params)}", None
        else:
            data = json.dumps(params).encode()
        text = self._request(method, endpoint, data, action)
        try:
            parsed = json.loads(text) if text.strip() else {}
        except ValueError as exc:
            raise DevtoolsError(
                f"MLflow at {self.url} answered {method} {endpoint} with something other than JSON", ExitCode.FAILURE
            ) from exc
        return parsed if isinstance(parsed, dict) else {}

    def _request(self, method: str, endpoint: str, data: bytes | None, action: str) -> bytes:
        headers = {"Accept": "application/json"}
        if self.account and self.password is not None:
            token = base64.b64encode(f"{self.account}:{self.password}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        if data is not None:
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(f"{self.url}{endpoint}", data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as answer:
                return bytes(answer.read())
        except urllib.error.HTTPError as exc:
            raise _Refused(self.url, action, exc.code, _error_body(exc), self.account) from exc
        except (urllib.error.URLError, OSError) as exc:
            raise DevtoolsError(
                f"MLflow does not answer at {self.url} ({getattr(exc, 'reason', exc)}), so it could not {action}; "
                "start it with `devtools up`",
                ExitCode.NOT_RUNNING,
            ) from exc


class _Refused(Exception):
    """MLflow answered an HTTP error: its status, error code and message."""

    def __init__(self, url: str, action: str, status: int, body: dict[str, Any], account: str | None = None) -> None:
        super().__init__(action)
        self.url, self.action, self.status, self.account = url, action, status, account
        self.error_code = str(body.get("error_code") or "")
        self.message = " ".join(str(body.get("message") or "").split())

    def error(self) -> DevtoolsError:
        if self.status in (401, 403):
            return DevtoolsError(
                f"{credentials.refusal(self.status, self.account, self.action)}; MLflow at {self.url}",
                ExitCode.ACCESS_DENIED,
            )
        said = ": ".join(part for part in (self.error_code, self.message[:300]) if part) or "no message"
        return DevtoolsError(
            f"MLflow at {self.url} refused to {self.action}: HTTP {self.status}, {said}", ExitCode.FAILURE
        )


def _error_body(exc: urllib.error.HTTPError) -> dict[str, Any]:
    """MLflow's error answer ({"error_code": ..., "message": ...}); {} when it is not JSON."""
    try:
        body = json.loads(exc.read() or b"{}")
    except (ValueError, OSError):
        return {}
    return body if isinstance(body, dict) else {}
