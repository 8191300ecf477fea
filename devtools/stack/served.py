"""What the stack's serving container serves: its /model answer, asked at the URL this machine uses
(the published port; on a remote engine, the SSH tunnel's)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

from devtools.errors import DevtoolsError, ExitCode
from devtools.stack.config import ComposeConfig
from devtools.stack.project import ComposeProject

SERVICE = "serving"


def base_url(project: ComposeProject, config: ComposeConfig | None = None) -> str | None:
    """http://HOST:PORT of serving as published on this machine, or None when it publishes nothing."""
    local = replace(project, remote=False).config() if project.remote or config is None else config
    return next((origin(url) for name, _, url in local.published_urls() if name == SERVICE), None)


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def model_status(project: ComposeProject, config: ComposeConfig | None = None) -> dict[str, Any]:
    """serving's /model, plus the URL it was asked at; NOT_RUNNING when serving does not answer."""
    url = base_url(project, config)
    if url is None:
        raise DevtoolsError("serving publishes no port in this stack's Compose files", ExitCode.NOT_RUNNING)
    return model_status_at(url)


def model_status_at(url: str) -> dict[str, Any]:
    try:
        with urllib.request.urlopen(f"{url}/model", timeout=5) as answer:
            status: dict[str, Any] = json.loads(answer.read())
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise DevtoolsError(
            f"serving does not answer at {url} ({getattr(exc, 'reason', exc)}); start it with `devtools up`",
            ExitCode.NOT_RUNNING,
        ) from exc
    return {**status, "url": url}


def describe(status: dict[str, Any]) -> str:
    """One line: what is served, by which alias, since when; or why nothing is."""
    name, alias = status.get("name"), status.get("alias")
    if status.get("version") is None:
        return f"serving {name}@{alias}: no model loaded ({status.get('not_ready_reason') or 'starting'})"
    since = f"run {str(status.get('run_id'))[:12]}, loaded {status.get('loaded_at')}"
    return f"serving {name}@{alias}: version {status['version']} ({since})"
