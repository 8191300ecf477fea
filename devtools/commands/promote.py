"""devtools promote: judge serving's champion/challenger comparison, and when the challenger passes (or
--force), move the champion's alias to it in MLflow and wait until serving answers with it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer
from contract.thresholds import Thresholds

# The promotion limits both sides agree on (contract.thresholds): the options' defaults.
DEFAULTS = Thresholds()

if TYPE_CHECKING:
    from devtools.models.judging import Check


def _positive(value: float) -> float:
    if not value > 0:
        raise typer.BadParameter(f"must be more than 0, got {value}")
    return value


def promote(
    min_requests: Annotated[
        int, typer.Option("--min-requests", min=1, help="Requests the challenger must have scored at least.")
    ] = DEFAULTS.min_requests,
    min_agreement: Annotated[
        float,
        typer.Option(
            "--min-agreement",
            min=0.0,
            max=1.0,
            help="Shadow mode: the share of compared answers that must agree with the champion's (same class; "
            "a regression within serving's tolerance). Not judged in canary mode or before anything is compared.",
        ),
    ] = DEFAULTS.min_agreement,
    max_error_rate: Annotated[
        float,
        typer.Option("--max-error-rate", min=0.0, max=1.0, help="The challenger's errors / requests, at most."),
    ] = DEFAULTS.max_error_rate,
    max_p99_ratio: Annotated[
        float,
        typer.Option(
            "--max-p99-ratio",
            callback=_positive,
            help="The challenger's p99 latency at most this many times the champion's (skipped while either "
            "is unknown).",
        ),
    ] = DEFAULTS.max_p99_ratio,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Promote even when a threshold fails (not without a challenger or with no requests scored).",
        ),
    ] = False,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the comparison, the checks and the outcome as JSON.")
    ] = False,
    timeout: Annotated[
        float,
        typer.Option("--timeout", min=0.0, help="Seconds to wait for serving to answer with the new champion."),
    ] = 60.0,
) -> None:
    """Make the challenger the champion when serving's comparison says it is good enough.

    Asks serving for its champion/challenger comparison (GET /comparison), shows it, and judges the
    challenger on four checks: requests (it scored at least --min-requests), error rate (errors /
    requests at most --max-error-rate), p99 ratio (its p99 latency at most --max-p99-ratio times the
    champion's; skipped while either is unknown) and agreement (shadow mode: the share of compared
    answers that agree with the champion's, at least --min-agreement; n/a in canary mode). When every
    check passes (or with --force), moves the registered model's champion alias to the challenger's
    version in MLflow, deletes the challenger alias, and waits until serving answers with that version.

    Exit 11 when it does not promote: no challenger loaded, none of its requests scored yet (even with
    --force), a check failed (without --force), or the aliases moved since serving compared them. Exit 8
    when serving or MLflow does not answer, 7 when serving does not swap within --timeout.

    With a promotion key (DEVTOOLS_SIGNING_KEY, or .devtools/signing/promotion-key.pem), the challenger's
    version is signed before the alias moves (`devtools sign`); exit 17 when it cannot be signed.
    """
    import json

    from devtools.errors import DevtoolsError, ExitCode
    from devtools.models import judging, local_secrets, mlflow_api, promotion, served, signing
    from devtools.stack.project import ComposeProject

    urls = served.origins(ComposeProject.dev())
    serving = served.published(urls)
    comparison = served.comparison(serving)
    refused = judging.refusal(comparison)
    if refused:
        raise DevtoolsError(refused, ExitCode.PROMOTE_REFUSED)
    limits = Thresholds(min_requests, min_agreement, max_error_rate, max_p99_ratio)
    results = judging.checks(comparison, limits)
    failed = judging.failures(results)
    outcome = {"comparison": comparison, "checks": [check.as_json() for check in results]}

    def show_json(**more: Any) -> None:
        if json_output:
            typer.echo(json.dumps({**outcome, **more}, indent=2))

    if not json_output:
        for line in [*judging.table(comparison), "checks:", *judging.verdicts(results)]:
            typer.echo(line)
    if failed and not force:
        show_json(promoted=False, forced=False, version=None)
        raise DevtoolsError(f"not promoted: {_which(failed)}; --force promotes anyway", ExitCode.PROMOTE_REFUSED)
    if failed and not json_output:
        typer.echo(f"--force: promoting although {_which(failed)}")

    pair = judging.Pair.of(comparison)
    model, alias, version = pair.model, pair.champion_alias, str(pair.challenger)
    project = ComposeProject.dev()
    api = local_secrets.mlflow_api(project, served.published(urls, mlflow_api.SERVICE))
    key = signing.key_path(project.root)
    if key.exists():  # the promotion path signs what it promotes (serving verifies it when given the key)
        signed_by = signing.sign_version(api, model, version, key)
        if not json_output:
            typer.echo(f"signed: {model} version {version} with key {signed_by}")
    previous = promotion.move_champion(api, pair)
    was = f"was {previous}" if previous else "no champion before"
    answered = promotion.wait_for_version(serving, version, timeout)
    show_json(promoted=True, forced=bool(failed), version=version, previous=previous, serving_version=answered)
    if answered != version:
        raise DevtoolsError(
            f"{model}@{alias} is version {version} in MLflow now ({was}), but serving still answers with "
            f"{f'version {answered}' if answered else 'no version'} after {timeout:g}s; `devtools model` says why",
            ExitCode.UNHEALTHY,
        )
    if not json_output:
        typer.echo(f"promoted: {model}@{alias} -> version {version} ({was}); serving answers with version {version}")


def _which(failed: list[Check]) -> str:
    return ", ".join(f"{check.label} {check.shown}" for check in failed)
