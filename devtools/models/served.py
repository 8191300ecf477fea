"""What the stack's serving container serves: its /model answer (and any other JSON it answers, e.g.
/comparison), asked at the URL this machine uses (the published port; on a remote engine, the SSH
tunnel's)."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any, cast
from urllib.parse import urlsplit

from contract import provenance as keys
from contract.status import Comparison, ModelStatus

from devtools.errors import DevtoolsError, ExitCode
from devtools.remote.site import site_of
from devtools.stack.config import ComposeConfig
from devtools.stack.project import ComposeProject

SERVICE = "serving"
DEFAULT_MODEL = "digits-classifier"  # docker-compose.yml's MODEL_NAME default


def origins(project: ComposeProject, config: ComposeConfig | None = None) -> dict[str, str]:
    """service -> http://HOST:PORT, for each service with a URL published on this machine."""
    local = site_of(project).seen_here(project, config)
    return {name: origin(url) for name, _, url in local.published_urls()}


def model_name(given: str | None = None) -> str:
    """The registered model the stack serves: `given`, else MODEL_NAME (as Compose passes it to serving),
    else the demo's."""
    return given or os.environ.get("MODEL_NAME") or DEFAULT_MODEL


def published(urls: dict[str, str], service: str = SERVICE) -> str:
    """The service's URL among `origins`; NOT_RUNNING when it publishes no port."""
    if service not in urls:
        raise DevtoolsError(f"{service} publishes no port in this stack's Compose files", ExitCode.NOT_RUNNING)
    return urls[service]


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


class AskedStatus(ModelStatus, total=False):
    """serving's /model, and the URL this machine asked it at."""

    url: str


def model_status(project: ComposeProject, config: ComposeConfig | None = None) -> AskedStatus:
    """serving's /model, plus the URL it was asked at; NOT_RUNNING when serving does not answer."""
    return model_status_at(published(origins(project, config)))


def model_status_at(url: str) -> AskedStatus:
    return cast(AskedStatus, {**ask(url, "/model"), "url": url})


def comparison(url: str) -> Comparison:
    """serving's /comparison: its champion and challenger on live traffic (contract.status.Comparison)."""
    return cast(Comparison, ask(url, "/comparison"))


def ask(url: str, path: str, timeout: float = 5) -> dict[str, Any]:
    """serving's JSON answer to GET `path`; NOT_RUNNING when serving does not answer, FAILURE when it
    answers with an HTTP error (e.g. 404: a serving older than the endpoint)."""
    try:
        with urllib.request.urlopen(f"{url}{path}", timeout=timeout) as answer:
            status: dict[str, Any] = json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        hint = "a serving older than this devtools? `devtools up`" if exc.code == 404 else "`devtools logs serving`"
        raise DevtoolsError(
            f"serving at {url} answered GET {path} with HTTP {exc.code} {exc.reason} ({hint})", ExitCode.FAILURE
        ) from exc
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise DevtoolsError(
            f"serving does not answer at {url} ({getattr(exc, 'reason', exc)}); start it with `devtools up`",
            ExitCode.NOT_RUNNING,
        ) from exc
    return status


def describe(status: ModelStatus) -> str:
    """One line: what is served, by which alias, since when; or why nothing is."""
    name, alias = status.get("name"), status.get("alias")
    if status.get("version") is None:
        return f"serving {name}@{alias}: no model loaded ({status.get('not_ready_reason') or 'starting'})"
    since = f"run {str(status.get('run_id'))[:12]}, loaded {status.get('loaded_at')}"
    return f"serving {name}@{alias}: version {status['version']} ({since})"


def answered_by(runtime: Mapping[str, Any] | None) -> str | None:
    """`answered by: onnxruntime (CPUExecutionProvider)`, or the pyfunc and why; None from an older serving."""
    if not isinstance(runtime, Mapping) or not runtime.get("name"):
        return None
    if runtime.get("providers"):
        return f"answered by: {runtime['name']} ({', '.join(runtime['providers'])})"
    reason = f": {runtime['reason']}" if runtime.get("reason") else ""
    return f"answered by: {runtime['name']}{reason}"


def made_by(provenance: dict[str, str] | None) -> str | None:
    """`made by: image ..., lock ..., commit ...` from a version's provenance tags; None without any."""
    if not provenance:
        return None
    image = provenance.get(keys.IMAGE, "")
    image = image if "@sha256:" in image else provenance.get(keys.IMAGE_ID, image)
    parts = [f"image {image}"] if image and image != "unknown" else []
    if provenance.get(keys.LOCK_SHA256, "unknown") != "unknown":
        parts.append(f"lock {provenance[keys.LOCK_SHA256][:12]}")
    commit = provenance.get(keys.GIT_COMMIT, "unknown")
    if commit != "unknown":
        parts.append(f"commit {commit[:12]}{'+diff' if provenance.get(keys.GIT_DIRTY) == 'true' else ''}")
    if provenance.get(keys.REPRO_OF):
        parts.append(f"reproduces {provenance[keys.REPRO_OF][:12]}")
    return f"made by: {', '.join(parts)}" if parts else None


def describe_challenger(status: ModelStatus) -> str | None:
    """One line on the challenger serving follows (mode, version, or why none); None when it follows none."""
    challenger = status.get("challenger")
    if not isinstance(challenger, dict):
        return None
    alias, mode = challenger.get("alias"), challenger.get("mode")
    canary_share = challenger.get("canary_share")
    share = f" {float(canary_share):.0%}" if canary_share is not None else ""
    if challenger.get("version") is None:
        return f"challenger @{alias} ({mode}{share}): none ({challenger.get('state_reason') or 'not loaded'})"
    state = f"; {challenger['state_reason']}" if challenger.get("state_reason") else ""
    return f"challenger @{alias} ({mode}{share}): version {challenger['version']}{state}; `devtools promote` compares"
