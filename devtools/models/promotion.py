"""The promotion `devtools promote` makes once the comparison is judged: the registered model's aliases
checked and moved in MLflow (the champion's to the challenger's version, the challenger's deleted),
then serving awaited until it answers with that version."""

from __future__ import annotations

import time

from devtools.errors import DevtoolsError, ExitCode
from devtools.models import served
from devtools.models.judging import Pair
from devtools.models.mlflow_api import MlflowApi

POLL_S = 0.5


def move_champion(api: MlflowApi, pair: Pair) -> str | None:
    """Check that MLflow's aliases still point at the versions serving compared, point the champion's
    at the challenger's version, then delete the challenger's. The champion's version before, or None.
    PROMOTE_REFUSED, and nothing changed, when either alias moved since."""
    model, version = pair.model, pair.challenger
    aliases = api.aliases(model)
    now, previous = aliases.get(pair.challenger_alias), aliases.get(pair.champion_alias)
    if version is None or now != version:
        raise DevtoolsError(
            f"not promoted: {model}@{pair.challenger_alias} moved since serving compared "
            f"{_where(version, 'none')} (now {_where(now)}); run it again once serving compares the new one",
            ExitCode.PROMOTE_REFUSED,
        )
    if previous != pair.champion:
        raise DevtoolsError(
            f"not promoted: {model}@{pair.champion_alias} moved since serving compared the challenger with "
            f"{_where(pair.champion, 'none')} (now {_where(previous)}); run it again once serving compares them",
            ExitCode.PROMOTE_REFUSED,
        )
    api.set_alias(model, pair.champion_alias, version)
    try:
        api.delete_alias(model, pair.challenger_alias)
    except DevtoolsError as exc:
        raise DevtoolsError(
            f"{model}@{pair.champion_alias} now points at version {version}, but @{pair.challenger_alias} is left: "
            f"{exc.message}",
            exc.code,
        ) from exc
    return previous


def wait_for_version(serving: str, version: str, timeout_s: float) -> str | None:
    """Poll serving's /model until it answers with `version` or `timeout_s` passes; the last version
    it answered with (None: none, or it never answered)."""
    deadline, seen = time.monotonic() + timeout_s, None
    while True:
        try:
            status = served.ask(serving, "/model")
            seen = None if status.get("version") is None else str(status["version"])
        except DevtoolsError:
            pass  # restarting (a reload) or a hiccup: it may answer at the next poll
        if seen == version or time.monotonic() >= deadline:
            return seen
        time.sleep(POLL_S)


def _where(version: str | None, missing: str = "gone") -> str:
    return f"version {version}" if version else missing
